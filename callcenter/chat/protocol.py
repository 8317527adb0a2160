"""The customer chat WebSocket protocol (``/ws/chat``), version 1.

Customer -> server frames (JSON objects with a ``type``):
  ``start``  {name?, email?, phone?, resume?}  first frame; ``resume`` is the token from an
             earlier ``session`` frame, to continue the same chat after a reconnect;
  ``text``   {text}       something the customer typed;
  ``choose`` {key}        a menu button pressed (the same as keying that digit);
  ``typing`` {}           the customer is typing (forwarded to the agent);
  ``rate``   {rating, comment?}  1-5 at the end;
  ``leave``  {}           the customer closes the chat.
Server -> customer frames: ``session`` {contact_id, token}, ``prompt`` {text, options:
[{key, label}]}, ``queued`` {position, ewt_s}, ``agent_joined`` {name}, ``message``
{from, text, at}, ``typing`` {from}, ``ended`` {reason, rate: bool}, ``error`` {code,
message, field}.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass
from typing import Any

MAX_FRAME_BYTES = 16 * 1024
MAX_TEXT = 2000


class ChatProtocolError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field

    def frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    resume: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Choose:
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Typing:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Rate:
    rating: int
    comment: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Leave:
    pass


_TYPES: dict[str, type] = {
    "start": Start,
    "text": Text,
    "choose": Choose,
    "typing": Typing,
    "rate": Rate,
    "leave": Leave,
}


def parse(raw: str | bytes) -> Any:
    """One customer frame as a message object, or ``ChatProtocolError`` naming the problem."""
    if len(raw) > MAX_FRAME_BYTES:
        raise ChatProtocolError("frame_too_large", f"frames are limited to {MAX_FRAME_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ChatProtocolError("bad_json", "the frame is not JSON") from None
    if not isinstance(data, dict):
        raise ChatProtocolError("bad_frame", "a frame must be a JSON object")
    kind = data.pop("type", None)
    cls = _TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ChatProtocolError("unknown_type", f"unknown message type {kind!r}", "type")
    allowed = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    for key, value in data.items():
        if key not in allowed:
            raise ChatProtocolError("bad_field", f"unknown field {key!r}", key)
        if key == "rating":
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
                raise ChatProtocolError("bad_field", "rating must be a whole number from 1 to 5", key)
        elif value is not None and not isinstance(value, str):
            raise ChatProtocolError("bad_field", f"{key} must be text", key)
        elif isinstance(value, str) and len(value) > MAX_TEXT:
            raise ChatProtocolError("bad_field", f"{key} is longer than {MAX_TEXT} characters", key)
    for key, f in cls.__dataclass_fields__.items():  # type: ignore[attr-defined]
        if f.default is MISSING and f.default_factory is MISSING and key not in data:
            raise ChatProtocolError("bad_field", f"{key} is required", key)
    if cls is Text and not data["text"].strip():
        raise ChatProtocolError("bad_field", "text must not be empty", "text")
    return cls(**data)
