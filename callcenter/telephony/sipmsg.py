"""A small, strict SIP message parser and builder (RFC 3261 section 7 and 20).

Why not a library: ``sipmessage`` parses leniently and raises bare ``ValueError``s that do
not name the header, and knows nothing of framing over TCP; we need every refusal to name
the header so the 400 can say what was wrong. See docs/telephony.md.

Rules enforced: CRLF line ends; a request line ``METHOD SP URI SP SIP/2.0`` with a token
method and a schemed URI; a status line ``SIP/2.0 SP 3DIGIT SP reason``; header names are
tokens; folded lines continue the previous header; compact forms are expanded; UTF-8 only;
Content-Length, when present, is a non-negative integer no larger than the body received
(the body is cut to it); requests carry Via, From, To, Call-ID and CSeq; CSeq is
``number METHOD`` and its method matches the request's; Max-Forwards is 0-255; From and To
hold a SIP URI. Parsing is pure: bytes in, a message or ``SipParseError`` out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_MESSAGE = 65535

COMPACT = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
}
_CANONICAL = {
    n.lower(): n
    for n in (
        "Call-ID",
        "CSeq",
        "Via",
        "From",
        "To",
        "Contact",
        "Content-Length",
        "Content-Type",
        "Max-Forwards",
        "Allow",
        "Accept",
        "Supported",
        "User-Agent",
        "Server",
        "Record-Route",
        "Route",
        "Warning",
        "Reason",
        "Content-Encoding",
        "Subject",
    )
}
_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_NAME_ADDR = re.compile(r'^\s*(?:"(?:[^"\\]|\\.)*"\s*|[^<>"]*?)?<([^<>]+)>(.*)$')
REQUIRED = ("Via", "From", "To", "Call-ID", "CSeq")


class SipParseError(ValueError):
    """A message broke a rule; ``header`` names the header (None for the start line)."""

    def __init__(self, message: str, *, header: str | None = None) -> None:
        super().__init__(f"{header}: {message}" if header else message)
        self.header = header
        self.detail = message


def canonical(name: str) -> str:
    low = name.lower()
    if low in COMPACT:
        return COMPACT[low]
    return _CANONICAL.get(low, name)


@dataclass(slots=True)
class SipMessage:
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, name: str) -> str | None:
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        low = name.lower()
        return [value for key, value in self.headers if key.lower() == low]

    def need(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SipParseError("missing", header=name)
        return value

    @property
    def call_id(self) -> str:
        return self.need("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.need("CSeq"))

    def _encode(self, start: str) -> bytes:
        lines = [start]
        lines += [f"{k}: {v}" for k, v in self.headers if k.lower() != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass(slots=True)
class SipRequest(SipMessage):
    method: str = ""
    uri: str = ""

    def to_bytes(self) -> bytes:
        return self._encode(f"{self.method} {self.uri} SIP/2.0")


@dataclass(slots=True)
class SipResponse(SipMessage):
    status: int = 0
    reason: str = ""

    def to_bytes(self) -> bytes:
        return self._encode(f"SIP/2.0 {self.status} {self.reason}")


def parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or not _TOKEN.match(parts[1]):
        raise SipParseError(f"{value!r} is not 'number METHOD'", header="CSeq")
    number = int(parts[0])
    if number >= 2**31:
        raise SipParseError("sequence number must be below 2**31", header="CSeq")
    return number, parts[1]


def parse_name_addr(value: str, header: str) -> tuple[str, str]:
    """``"Bob" <sip:bob@host>;tag=x`` -> (uri, params after the address)."""
    match = _NAME_ADDR.match(value)
    if match:
        uri, rest = match.group(1).strip(), match.group(2)
    else:
        uri, _, rest = value.strip().partition(";")
        rest = ";" + rest if rest else ""
    if not _URI.match(uri):
        raise SipParseError(f"{uri!r} is not a URI", header=header)
    return uri, rest


def param(params: str, name: str) -> str | None:
    """The value of ``;name=value`` in a header's parameter string (None if absent)."""
    for part in params.split(";"):
        key, _, val = part.strip().partition("=")
        if key.lower() == name.lower():
            return val.strip()
    return None


def uri_user(uri: str) -> str:
    """The user part of ``sip:user@host``; empty if the URI names only a host."""
    _, _, rest = uri.partition(":")
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    user, at, _ = rest.partition("@")
    return user.split(":", 1)[0] if at else ""


def tag_of(header_value: str) -> str | None:
    _, params = parse_name_addr(header_value, "To")
    return param(params, "tag")


def _split_lines(head: str) -> list[str]:
    lines: list[str] = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and len(lines) > 1:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return lines


def _start_line(line: str) -> SipRequest | SipResponse:
    parts = line.split(" ", 2)
    if len(parts) == 3 and parts[0] == "SIP/2.0":
        if not (len(parts[1]) == 3 and parts[1].isdigit() and parts[1][0] in "123456"):
            raise SipParseError(f"bad status code {parts[1]!r}")
        return SipResponse(status=int(parts[1]), reason=parts[2])
    if len(parts) == 3 and parts[2] == "SIP/2.0":
        if not _TOKEN.match(parts[0]):
            raise SipParseError(f"bad method {parts[0]!r}")
        if not _URI.match(parts[1]):
            raise SipParseError(f"bad Request-URI {parts[1]!r}")
        return SipRequest(method=parts[0], uri=parts[1])
    raise SipParseError(f"bad start line {line[:60]!r}")


def parse_message(data: bytes) -> SipRequest | SipResponse:
    """Parse one whole datagram or framed stream message. Raises ``SipParseError``."""
    if len(data) > MAX_MESSAGE:
        raise SipParseError("message too large")
    head_bytes, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise SipParseError("no blank line after the headers")
    try:
        head = head_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError(f"not UTF-8 at byte {exc.start}") from None
    lines = _split_lines(head)
    message = _start_line(lines[0])
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.match(name):
            raise SipParseError(f"bad header line {line[:60]!r}", header=name[:40] or None)
        message.headers.append((canonical(name), value.strip()))
    message.body = _checked_body(message, body)
    _check_headers(message)
    return message


def _checked_body(message: SipMessage, body: bytes) -> bytes:
    lengths = message.get_all("Content-Length")
    if not lengths:
        return body
    if len(lengths) > 1 or not lengths[0].isdigit():
        raise SipParseError(f"{','.join(lengths)!r} is not one non-negative integer", header="Content-Length")
    length = int(lengths[0])
    if length > len(body):
        raise SipParseError(f"says {length} bytes, body has {len(body)}", header="Content-Length")
    return body[:length]


def _check_headers(message: SipRequest | SipResponse) -> None:
    for name in REQUIRED:
        values = message.get_all(name)
        if not values or not values[0]:
            raise SipParseError("missing", header=name)
        if name in ("From", "To", "Call-ID", "CSeq") and len(values) > 1:
            raise SipParseError("appears more than once", header=name)
    _, method = parse_cseq(message.need("CSeq"))
    if isinstance(message, SipRequest):
        if method != message.method:
            raise SipParseError(f"method {method} does not match {message.method}", header="CSeq")
        forwards = message.get("Max-Forwards")
        if forwards is not None and not (forwards.isdigit() and int(forwards) <= 255):
            raise SipParseError(f"{forwards!r} is not 0-255", header="Max-Forwards")
    parse_name_addr(message.need("From"), "From")
    parse_name_addr(message.need("To"), "To")
    if not message.need("Via").upper().startswith("SIP/2.0/"):
        raise SipParseError("must start with SIP/2.0/<transport>", header="Via")


def build_response(
    request: SipRequest,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> SipResponse:
    """A response to ``request`` (RFC 3261 8.2.6): Via, From, To, Call-ID, CSeq copied,
    our To tag added when the request had none."""
    copied = [(k, v) for k, v in request.headers if k in ("Via", "From", "Call-ID", "CSeq")]
    to = request.need("To")
    if to_tag and tag_of(to) is None:
        to = f"{to};tag={to_tag}"
    copied.insert(2, ("To", to))
    return SipResponse(status=status, reason=reason, headers=copied + (headers or []), body=body)


class StreamFramer:
    """Cuts a TCP byte stream into SIP messages by Content-Length (RFC 3261 18.3).

    ``feed`` returns whole messages; it raises ``SipParseError`` when the stream cannot be
    framed (the connection must then be closed). CRLF keep-alives are skipped.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        messages: list[bytes] = []
        while True:
            while self._buffer[:2] == b"\r\n":
                del self._buffer[:2]
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_MESSAGE:
                    raise SipParseError("headers too large")
                return messages
            length = _stream_length(bytes(self._buffer[:end]))
            total = end + 4 + length
            if total > MAX_MESSAGE:
                raise SipParseError("message too large", header="Content-Length")
            if len(self._buffer) < total:
                return messages
            messages.append(bytes(self._buffer[:total]))
            del self._buffer[:total]


_CL_LINE = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$", re.I | re.M)


def _stream_length(head: bytes) -> int:
    match = _CL_LINE.search(head)
    if match is None:
        return 0
    if not match.group(1).isdigit():
        raise SipParseError("not a number", header="Content-Length")
    return int(match.group(1))
