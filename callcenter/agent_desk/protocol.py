"""The desk WebSocket protocol, version 1: message shapes and their validation.

Every frame is a JSON object with a ``type``. Client messages may carry an ``id`` (a
string or number the client chooses); the server answers each with ``ack`` (same ``id``)
or ``error`` (same ``id``, a stable ``code``, a ``message`` and, for bad fields, the
``field``). A message that fails validation changes nothing. docs/desk-protocol.md is the
reference; this module is its executable form.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields
from typing import Any, Literal, get_args, get_origin, get_type_hints

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
MAX_TEXT = 4000


class ProtocolError(Exception):
    """A client frame is not acceptable; becomes an ``error`` frame."""

    def __init__(self, code: str, message: str, *, field: str | None = None, msg_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.msg_id = msg_id

    def frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.msg_id is not None:
            out["id"] = self.msg_id
        return out


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
    if len(raw) > MAX_FRAME_BYTES:
        raise ProtocolError("frame_too_large", f"frames are limited to {MAX_FRAME_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad_json", f"the frame is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_frame", "a frame must be a JSON object")
    msg_id = data.pop("id", None)
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, str | int)):
        raise ProtocolError("bad_field", "id must be a string or a number", field="id")
    kind = data.pop("type", None)
    cls = CLIENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(sorted(CLIENT_TYPES))
        raise ProtocolError("unknown_type", f"unknown message type {kind!r} (known: {known})",
                            field="type", msg_id=msg_id)
    return Parsed(msg_id, _build(cls, data, msg_id))


def _build(cls: type, data: dict[str, Any], msg_id: Any) -> Any:
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    for key in data:
        if key not in names:
            raise ProtocolError("bad_field", f"unknown field {key!r}", field=key, msg_id=msg_id)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ProtocolError("bad_field", f"{f.name} is required", field=f.name, msg_id=msg_id)
            continue
        values[f.name] = _check(hints[f.name], data[f.name], f.name, msg_id)
    return cls(**values)


def _check(tp: Any, value: Any, name: str, msg_id: Any) -> Any:
    args = get_args(tp)
    if type(None) in args:
        if value is None:
            return None
        tp = next(a for a in args if a is not type(None))
        args = get_args(tp)
    if get_origin(tp) is Literal:
        if value not in args:
            allowed = ", ".join(map(repr, args))
            raise ProtocolError("bad_field", f"{name} must be one of {allowed}", field=name, msg_id=msg_id)
        return value
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
        if ok and not value.strip():
            raise ProtocolError("bad_field", f"{name} must not be empty", field=name, msg_id=msg_id)
        if ok and len(value) > MAX_TEXT:
            raise ProtocolError("bad_field", f"{name} is longer than {MAX_TEXT} characters",
                                field=name, msg_id=msg_id)
    if not ok:
        want = {bool: "true or false", int: "a whole number"}.get(tp, "text")
        raise ProtocolError("bad_field", f"{name} must be {want}", field=name, msg_id=msg_id)
    return value
