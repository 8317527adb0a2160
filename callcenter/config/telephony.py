"""Telephony settings. The lead hooks ``TelephonyConfig`` into ``CenterConfig``.

Validation of single values happens in ``__post_init__`` (raising ``ValueError``) so the
YAML loader can report it with file and line, like the other config classes.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Annotated, Literal

import msgspec

Transport = Literal["udp", "tcp"]


_DIAL_FROM = re.compile(r"^[0-9A-Za-z+._-]{1,64}$")


def _check_dial_uri(template: str) -> None:
    if not template:
        return
    if not template.startswith("sip:") or "{number}" not in template:
        raise ValueError(f"dial_uri {template!r} must be a sip: URI with {{number}} in it")
    try:
        uri = template.format(number="1")
    except (KeyError, IndexError, ValueError):
        raise ValueError(f"dial_uri {template!r} may hold no placeholder but {{number}}") from None
    if any(c.isspace() or c in '<>"' for c in uri):
        raise ValueError(f"dial_uri {template!r} must not contain spaces, quotes or angle brackets")


_CARRIER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
SECRET_MIN = 16  # characters; a shorter carrier secret or metrics token is refused at load


def secret_from(kind: str, secret: str, secret_env: str) -> str:
    """Exactly one of ``secret`` and ``secret_env`` (the name of an environment variable
    that holds it); the value must be at least ``SECRET_MIN`` characters. Raises
    ``ValueError`` naming the problem, never the secret."""
    if bool(secret) == bool(secret_env):
        raise ValueError(f"a {kind} needs exactly one of 'secret' and 'secret_env'")
    value = secret or os.environ.get(secret_env, "")
    if secret_env and not value:
        raise ValueError(f"the environment variable {secret_env} (secret_env) is not set or empty")
    if len(value) < SECRET_MIN:
        raise ValueError(f"a {kind} secret must be at least {SECRET_MIN} characters")
    return value


class CarrierConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A carrier or PBX allowed to hand calls over ``/media-stream`` (docs/telephony.md):
    its ``name`` (in the URL's ``carrier`` parameter and on its calls) and its secret, given
    in the file (``secret``) or by the name of an environment variable (``secret_env``)."""

    name: str
    secret: str = ""
    secret_env: str = ""

    def __post_init__(self) -> None:
        if not _CARRIER_NAME.match(self.name):
            raise ValueError(
                f"carrier name {self.name!r} must start with a lowercase letter and hold only "
                "lowercase letters, digits, '-' and '_' (64 at most)"
            )
        secret_from("carrier", self.secret, self.secret_env)

    def secret_value(self) -> str:
        """The secret itself (read from the environment when ``secret_env`` names it)."""
        return secret_from("carrier", self.secret, self.secret_env)


def _check_networks(networks: list[str]) -> None:
    for text in networks:
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(
                f"audiosocket_allow: {text!r} is not an IP address or network (127.0.0.1, 10.0.0.0/8, ::1)"
            ) from None


def _check_port(name: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise ValueError(f"{name} {port} is outside 0-65535")


class TelephonyConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where the SIP, RTP and AudioSocket listeners bind and how calls are timed out.

    ``sip_port`` 0 picks a free port (tests). ``public_address`` is what the SDP answer
    advertises for RTP; empty means ``sip_host``. ``ring_seconds`` is how long the server
    sends 180 Ringing before it answers (0 answers at once; a caller may CANCEL meanwhile).
    ``no_rtp_timeout_s`` hangs up a confirmed call whose caller sends no RTP for that long
    (not while the call is on hold). Recordings go under ``recordings_dir`` when ``record``.

    While a call waits in a queue, ``callback_key`` (empty: off) takes a callback to the
    calling number and keeps the place in line; ``callback_offer`` is said once on queueing,
    ``callback_confirm`` before the call ends. ``agent_lines``: a call to ``agent-<id>``
    becomes that agent's audio leg (a desk phone); SIP has no authentication here, so turn
    it on only where the SIP port is reachable by trusted phones alone. ``agent_leg_wait_s``
    is how long a connected call waits for its agent's leg before saying so in the log
    (the caller hears comfort audio meanwhile and is bridged as soon as the leg comes).
    ``default_called`` is the number a call that carries none is taken to have dialled
    (AudioSocket calls never carry one), so it reaches that number's IVR flow.

    Who may hand calls in: ``carriers`` lists the carriers ``/media-stream`` accepts (none:
    it refuses every call), each authenticated by its secret; ``audiosocket_allow`` the
    addresses or networks AudioSocket accepts connections from (default loopback only).

    Outbound dialling for callbacks: ``dial_uri`` is a SIP URI template with ``{number}``
    (e.g. ``sip:{number}@127.0.0.1:5070``, the carrier or PBX that reaches customers); when
    an agent accepts a callback contact the server dials the callback number there over
    its SIP UDP socket and bridges the answered call to the agent. Empty turns dialling
    off: the agent phones the customer by hand. ``dial_from`` is the caller id (the From
    user part); ``dial_ring_s`` how long the call may ring before it is cancelled and the
    callback ends as not answered.
    """

    enabled: bool = True
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    transports: tuple[Transport, ...] = ("udp", "tcp")
    rtp_port_min: int = 20000
    rtp_port_max: int = 20999
    public_address: str = ""
    ring_seconds: float = 0.0
    no_rtp_timeout_s: float = 30.0
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = 9092
    audiosocket_allow: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.0/8", "::1"])
    carriers: list[CarrierConfig] = msgspec.field(default_factory=list)
    recordings_dir: str = "recordings"
    record: bool = False
    max_calls: int = 1000
    callback_key: str = "*"
    callback_offer: str = "To be called back without losing your place in line, press star."
    callback_confirm: str = "Thank you. We will call you back when it is your turn. Goodbye."
    # a queue's overflow to voicemail: said when no overflow message is given, and the
    # longest message kept (a longer one is cut there and still delivered)
    voicemail_prompt: str = "Please leave a message after the tone."
    voicemail_max_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 120.0
    agent_lines: bool = False
    agent_leg_wait_s: float = 10.0
    default_called: str = ""
    dial_uri: str = ""
    dial_from: str = "callcenter"
    dial_ring_s: float = 30.0

    def __post_init__(self) -> None:
        _check_port("sip_port", self.sip_port)
        _check_port("audiosocket_port", self.audiosocket_port)
        _check_port("rtp_port_min", self.rtp_port_min)
        _check_port("rtp_port_max", self.rtp_port_max)
        if self.rtp_port_min > self.rtp_port_max:
            raise ValueError("rtp_port_min must not exceed rtp_port_max")
        if not self.transports or any(t not in ("udp", "tcp") for t in self.transports):
            raise ValueError("transports must list 'udp' and/or 'tcp'")
        if self.ring_seconds < 0:
            raise ValueError("ring_seconds must be >= 0")
        if self.no_rtp_timeout_s <= 0:
            raise ValueError("no_rtp_timeout_s must be > 0")
        if self.max_calls < 1:
            raise ValueError("max_calls must be >= 1")
        if self.callback_key not in ("", *"0123456789*#"):
            raise ValueError(f"callback_key {self.callback_key!r} must be one key (0-9, *, #) or empty")
        if self.agent_leg_wait_s <= 0:
            raise ValueError("agent_leg_wait_s must be > 0")
        _check_dial_uri(self.dial_uri)
        if not _DIAL_FROM.match(self.dial_from):
            raise ValueError(f"dial_from {self.dial_from!r} is not a SIP user part (letters, digits, +._-)")
        if self.dial_ring_s <= 0:
            raise ValueError("dial_ring_s must be > 0")
        _check_networks(self.audiosocket_allow)
        names = [carrier.name for carrier in self.carriers]
        if len(set(names)) != len(names):
            raise ValueError(f"carriers: a name is listed twice ({', '.join(sorted(names))})")

    @property
    def media_address(self) -> str:
        """The address written into SDP ``c=`` lines."""
        return self.public_address or self.sip_host
