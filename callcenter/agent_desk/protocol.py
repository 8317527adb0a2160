"""The desk WebSocket protocol, version 1: message shapes and their validation.

Every frame is a JSON object with a ``type``. Client messages may carry an ``id`` (a
string or number the client chooses); the server answers each with ``ack`` (same ``id``)
or ``error`` (same ``id``, a stable ``code``, a ``message`` and, for bad fields, the
``field``). A message that fails validation changes nothing. docs/desk-protocol.md is the
reference; this module is its executable form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from callcenter.runtime.frames import FrameError, parse_frame

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
MAX_TEXT = 4000


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


ClientMessage = (Hello | Heartbeat | SetState | Accept | Decline | Hold | Mute | Transfer | End | Note
                 | Disposition | CreateTicket | ChatSend | WrapUpDone)

CLIENT_TYPES: dict[str, type] = {
    "hello": Hello, "heartbeat": Heartbeat, "set_state": SetState, "accept": Accept,
    "decline": Decline, "hold": Hold, "mute": Mute, "transfer": Transfer, "end": End,
    "note": Note, "disposition": Disposition, "create_ticket": CreateTicket,
    "chat_send": ChatSend, "wrap_up_done": WrapUpDone,
}


@dataclass(frozen=True, slots=True)
class Parsed:
    msg_id: Any
    message: Any


def parse_client_frame(raw: str | bytes) -> Parsed:
    """Validate one client frame; raise ``ProtocolError`` naming what is wrong."""
    msg_id, message = parse_frame(raw, CLIENT_TYPES, max_bytes=MAX_FRAME_BYTES, max_text=MAX_TEXT,
                                  with_id=True)
    return Parsed(msg_id, message)
