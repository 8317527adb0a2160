"""Who may hand calls in: carriers on ``/media-stream`` by their secret, AudioSocket peers
by address.

A carrier names itself in the URL's ``carrier`` query parameter and proves it with its
configured secret (``telephony.carriers``), in one of two ways:

- the secret itself in the URL: ``/media-stream?carrier=NAME&secret=SECRET``;
- a signature, as carriers sign webhooks: ``X-Carrier-Signature: <hex HMAC-SHA256 of the
  full URL with the carrier's secret as key>``. The full URL is what the carrier dialled,
  ``wss://host[:port]/media-stream?carrier=NAME...``; the scheme may be spelt ``ws``,
  ``wss``, ``http`` or ``https`` (a TLS proxy in front changes what the server sees), the
  host, port, path and query are taken as the server received them.

Both are compared in constant time. Without a credential the answer is 401; an unknown
carrier, a wrong secret or a wrong signature is 403; both before the WebSocket upgrade, and
logged as ``telephony.refused`` with the peer's address and the reason (never the secret
or the query string).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from yarl import URL

from callcenter.config.telephony import CarrierConfig

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Carrier-Signature"
_SCHEMES = ("wss", "ws", "https", "http")
_DUMMY_KEY = b"\0" * 32  # compared against when the carrier is unknown, to spend the same time


@dataclass(frozen=True, slots=True)
class CarrierRefused(Exception):
    """A request that is not from a configured carrier: ``status`` 401 (no credential) or
    403 (a wrong one), ``reason`` a short word for the log (never the secret)."""

    status: int
    reason: str
    message: str


def refused_log(front_end: str, address: object, reason: str) -> None:
    """The one log line of a refused caller (the event name, the address and the reason)."""
    log.warning("telephony.refused front_end=%s address=%s reason=%s", front_end, address, reason)


def sign(secret: str, url: str) -> str:
    """The ``X-Carrier-Signature`` value for ``url`` (what a carrier sends)."""
    return hmac.new(secret.encode(), url.encode(), hashlib.sha256).hexdigest()


class CarrierKeys:
    """The configured carriers' secrets, read once at start."""

    def __init__(self, carriers: Iterable[CarrierConfig]) -> None:
        self._keys = {carrier.name: carrier.secret_value().encode() for carrier in carriers}

    def authenticate(self, url: URL, headers: Mapping[str, str]) -> str:
        """The name of the carrier that sent this request; ``CarrierRefused`` otherwise.
        ``url`` is the request's URL as the server received it (``request.url``)."""
        name = url.query.get("carrier", "")
        secret = url.query.get("secret")
        signature = headers.get(SIGNATURE_HEADER)
        if not name or (secret is None and signature is None):
            raise CarrierRefused(
                401,
                "no_credential",
                f"only configured carriers may hand calls over: give ?carrier= with the carrier's "
                f"secret (?secret=) or {SIGNATURE_HEADER}",
            )
        key = self._keys.get(name)
        known = key is not None
        key = key if key is not None else _DUMMY_KEY
        if secret is not None:
            good = hmac.compare_digest(secret.encode(), key)
            reason = "bad_secret"
        else:
            good = _signed(key, url, (signature or "").strip().lower())
            reason = "bad_signature"
        if not known:
            raise CarrierRefused(403, "unknown_carrier", "unknown carrier or wrong credential")
        if not good:
            raise CarrierRefused(403, reason, "unknown carrier or wrong credential")
        return name


def _signed(key: bytes, url: URL, signature: str) -> bool:
    matched = False
    for scheme in _SCHEMES:  # every spelling is checked, so the time does not tell which
        expected = hmac.new(key, str(url.with_scheme(scheme)).encode(), hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected.encode(), signature.encode())
    return matched


class AddressAllowList:
    """The networks a listener accepts peers from (``telephony.audiosocket_allow``)."""

    def __init__(self, networks: Iterable[str]) -> None:
        self._networks = [ipaddress.ip_network(text, strict=False) for text in networks]

    def allows(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)
