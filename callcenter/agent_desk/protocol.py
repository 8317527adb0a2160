"""The desk WebSocket protocol, version 1 (revision 1.1 adds browser audio: the
``webrtc_*`` messages): message shapes and their validation.

Every frame is a JSON object with a ``type``. Client messages may carry an ``id`` (a
string or number the client chooses); the server answers each with ``ack`` (same ``id``)
or ``error`` (same ``id``, a stable ``code``, a ``message`` and, for bad fields, the
``field``). A message that fails validation changes nothing. docs/desk-protocol.md is the
reference; this module is its executable form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from callcenter.core.client_json import JsonLimits
from callcenter.runtime.frames import FrameError, build, decode_object

PROTOCOL_VERSION = 1
PROTOCOL_REVISION = "1.1"
MAX_FRAME_BYTES = 64 * 1024  # the default of limits.frame_max_bytes
MAX_TEXT = 4000
MAX_SDP = 32 * 1024
LIMITS = JsonLimits(max_bytes=MAX_FRAME_BYTES)


ProtocolError = FrameError  # the desk's name for a refused frame


# Client -> server -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    protocol: int
    resume: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class SetState:
    state: Literal["ready", "not_ready", "logged_out"]
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Accept:
    offer_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Decline:
    offer_id: str
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold:
    contact_id: str
    on: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Mute:
    contact_id: str
    on: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    contact_id: str
    to_queue: str | None = None
    to_agent: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class End:
    contact_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    contact_id: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Disposition:
    contact_id: str
    code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateTicket:
    contact_id: str
    kind: Literal["complaint", "request", "follow-up"]
    subject: str
    due: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatSend:
    contact_id: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WrapUpDone:
    contact_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebRtcOffer:
    """The desk's SDP offer for its audio connection; the ack carries the answer."""

    sdp: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WebRtcIce:
    """A trickled ICE candidate (``candidate`` as in the browser's RTCIceCandidate);
    none means the browser has no more."""

    candidate: str | None = None
    sdp_mid: str | None = None
    sdp_mline_index: int | None = field(default=None, metadata={"min": 0, "max": 64})


@dataclass(frozen=True, slots=True, kw_only=True)
class WebRtcClose:
    """The desk stops its audio (the page is closing, the agent turned audio off)."""


ClientMessage = (
    Hello
    | Heartbeat
    | SetState
    | Accept
    | Decline
    | Hold
    | Mute
    | Transfer
    | End
    | Note
    | Disposition
    | CreateTicket
    | ChatSend
    | WrapUpDone
    | WebRtcOffer
    | WebRtcIce
    | WebRtcClose
)

CLIENT_TYPES: dict[str, type] = {
    "hello": Hello,
    "heartbeat": Heartbeat,
    "set_state": SetState,
    "accept": Accept,
    "decline": Decline,
    "hold": Hold,
    "mute": Mute,
    "transfer": Transfer,
    "end": End,
    "note": Note,
    "disposition": Disposition,
    "create_ticket": CreateTicket,
    "chat_send": ChatSend,
    "wrap_up_done": WrapUpDone,
    "webrtc_offer": WebRtcOffer,
    "webrtc_ice": WebRtcIce,
    "webrtc_close": WebRtcClose,
}
TEXT_LIMITS = {"webrtc_offer": MAX_SDP}  # an SDP is longer than any text a person types


@dataclass(frozen=True, slots=True)
class Parsed:
    msg_id: Any
    message: Any


def parse_client_frame(raw: str | bytes, limits: JsonLimits = LIMITS) -> Parsed:
    """Validate one client frame; raise ``ProtocolError`` naming what is wrong."""
    data = decode_object(raw, limits)
    msg_id = data.pop("id", None)
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, str | int)):
        raise ProtocolError("bad_field", "id must be a string or a number", field="id")
    kind = data.pop("type", None)
    cls = CLIENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(sorted(CLIENT_TYPES))
        raise ProtocolError(
            "unknown_type", f"unknown message type {kind!r} (known: {known})", field="type", msg_id=msg_id
        )
    limit = TEXT_LIMITS.get(kind, MAX_TEXT) if isinstance(kind, str) else MAX_TEXT
    return Parsed(msg_id, build(cls, data, msg_id=msg_id, max_text=limit))
