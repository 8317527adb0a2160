"""SDP offer/answer for one G.711 audio stream with RFC 4733 events (RFC 3264, 4566).

``parse_offer`` reads what the caller offers (address, port, payload types, direction);
``Offer.negotiate`` picks the first offered codec we speak (PCMU, then PCMA in offer order)
and the telephone-event payload; ``answer_sdp`` writes our answer. Errors name the line.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

CODECS = {"pcmu": 0, "pcma": 8}
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


class SdpError(ValueError):
    """The SDP body is malformed (``line`` names the offending line type) or unusable."""

    def __init__(self, message: str, *, line: str = "") -> None:
        super().__init__(f"SDP {line}: {message}" if line else f"SDP: {message}")
        self.line = line


class NoCommonCodec(SdpError):
    """The offer is well formed but offers nothing we speak (answered with 488)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Negotiated:
    """What both sides agreed: ``codec`` is 'pcmu' or 'pcma'."""

    codec: str
    payload_type: int
    dtmf_payload_type: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    address: str
    port: int
    payload_types: tuple[int, ...]
    rtpmap: tuple[tuple[int, str], ...]
    direction: str

    @property
    def held(self) -> bool:
        """The caller put us on hold: it will not receive (sendonly/inactive, or c=0.0.0.0)."""
        return self.direction in ("sendonly", "inactive") or self.address == "0.0.0.0"

    def negotiate(self) -> Negotiated:
        names = dict(self.rtpmap)
        dtmf = next(
            (pt for pt, name in self.rtpmap if name == "telephone-event/8000" and pt in self.payload_types),
            None,
        )
        for pt in self.payload_types:
            name = names.get(pt, {0: "pcmu/8000", 8: "pcma/8000"}.get(pt, ""))
            codec = name.split("/")[0]
            if codec in CODECS and name.endswith("/8000"):
                return Negotiated(codec=codec, payload_type=pt, dtmf_payload_type=dtmf)
        raise NoCommonCodec("no common codec (we speak PCMU and PCMA)", line="m")


def parse_offer(body: bytes) -> Offer:
    """Parse the first audio stream of an SDP body. Raises ``SdpError``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("not UTF-8") from None
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines or lines[0] != "v=0":
        raise SdpError("must start with v=0", line="v")
    session_addr: str | None = None
    media_addr: str | None = None
    session_dir = "sendrecv"
    media_dir: str | None = None
    media: tuple[int, tuple[int, ...]] | None = None
    in_audio = seen_media = False
    rtpmap: list[tuple[int, str]] = []
    for line in lines[1:]:
        kind, eq, value = line.partition("=")
        if not eq or len(kind) != 1:
            raise SdpError(f"{line[:40]!r} is not type=value")
        if kind == "m":
            seen_media = True
            in_audio = media is None and value.startswith("audio ")
            if in_audio:
                media = _media_line(value)
        elif kind == "c":
            addr = _connection(value)
            if not seen_media:
                session_addr = addr
            elif in_audio:
                media_addr = addr
        elif kind == "a" and (in_audio or not seen_media):
            name, _, rest = value.partition(":")
            if name in DIRECTIONS:
                if in_audio:
                    media_dir = name
                else:
                    session_dir = name
            elif name == "rtpmap" and in_audio:
                rtpmap.append(_rtpmap(rest))
    if media is None:
        raise SdpError("no audio stream", line="m")
    address = media_addr or session_addr
    if address is None:
        raise SdpError("no connection address", line="c")
    return Offer(
        address=address,
        port=media[0],
        payload_types=media[1],
        rtpmap=tuple(rtpmap),
        direction=media_dir or session_dir,
    )


def _media_line(value: str) -> tuple[int, tuple[int, ...]]:
    parts = value.split()
    if len(parts) < 4 or not parts[1].isdigit() or int(parts[1]) > 65535:
        raise SdpError(f"{value[:40]!r} is not 'audio port RTP/AVP pt...'", line="m")
    if parts[2] not in ("RTP/AVP", "RTP/AVPF"):
        raise SdpError(f"unsupported transport {parts[2]!r}", line="m")
    if not all(p.isdigit() and int(p) < 128 for p in parts[3:]):
        raise SdpError("payload types must be 0-127", line="m")
    return int(parts[1]), tuple(int(p) for p in parts[3:])


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] != "IP4":
        raise SdpError(f"{value[:40]!r} is not 'IN IP4 address'", line="c")
    address = parts[2].split("/")[0]
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        raise SdpError(f"{address!r} is not an IPv4 address", line="c") from None
    return address


def _rtpmap(rest: str) -> tuple[int, str]:
    pt, _, encoding = rest.partition(" ")
    if not pt.isdigit() or "/" not in encoding:
        raise SdpError(f"{rest[:40]!r} is not 'pt name/rate'", line="a=rtpmap")
    name, _, rate = encoding.strip().lower().partition("/")
    return int(pt), f"{name}/{rate.split('/')[0]}"


def answer_sdp(
    *, address: str, port: int, negotiated: Negotiated, offer_direction: str, session_id: int, version: int
) -> bytes:
    """Our answer: one audio stream, the agreed codec, telephone-event if offered."""
    pt = negotiated.payload_type
    fmts = [str(pt)]
    attrs = [f"a=rtpmap:{pt} {negotiated.codec.upper()}/8000"]
    if negotiated.dtmf_payload_type is not None:
        dtmf = negotiated.dtmf_payload_type
        fmts.append(str(dtmf))
        attrs += [f"a=rtpmap:{dtmf} telephone-event/8000", f"a=fmtp:{dtmf} 0-16"]
    attrs += ["a=ptime:20", f"a={_ANSWER_DIRECTION.get(offer_direction, 'sendrecv')}"]
    lines = [
        "v=0",
        f"o=callcenter {session_id} {version} IN IP4 {address}",
        "s=callcenter",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(fmts)}",
        *attrs,
    ]
    return ("\r\n".join(lines) + "\r\n").encode()
