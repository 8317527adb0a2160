"""The customer chat WebSocket protocol (``/ws/chat``), version 1.

Customer -> server frames (JSON objects with a ``type``):
  ``start``  {name?, email?, phone?, entry?, resume?, login_token?}  first frame; ``entry``
             is the widget id a chat flow claims (``/chat?entry=web-bank``; default: the
             chat's default flow); ``resume`` is the token from an earlier ``session``
             frame, to continue the same chat after a reconnect; name, e-mail and phone are
             what the customer typed (claims, never an identification); ``login_token`` a
             token signed by the bank's web login (``chat/login_token.py``); a forged,
             expired or malformed one is refused with an ``error`` naming ``login_token``
             and no chat starts (the socket stays open for another ``start``);
  ``text``   {text}       something the customer typed;
  ``choose`` {key}        a menu button pressed (the same as keying that digit);
  ``typing`` {}           the customer is typing (forwarded to the agent);
  ``rate``   {rating, comment?}  1-5 at the end;
  ``leave``  {}           the customer closes the chat.
Server -> customer frames: ``session`` {contact_id, token}, ``prompt`` {text, options:
[{key, label}]}, ``queued`` {position, ewt_s}, ``agent_joined`` {name}, ``agent_left`` {}
(the agent part is over; the IVR may ask for a rating next), ``message``
{from, text, at}, ``typing`` {from}, ``ended`` {reason, rate: bool}, ``error`` {code,
message, field}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from callcenter.core.client_json import JsonLimits
from callcenter.runtime.frames import FrameError, parse_frame

MAX_FRAME_BYTES = 16 * 1024  # the default of limits.chat_frame_max_bytes
MAX_TEXT = 2000
LIMITS = JsonLimits(max_bytes=MAX_FRAME_BYTES)


ChatProtocolError = FrameError  # the chat's name for a refused frame


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    entry: str | None = None
    resume: str | None = None
    login_token: str | None = None


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
    rating: int = field(metadata={"min": 1, "max": 5})
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


def parse(raw: str | bytes, limits: JsonLimits = LIMITS) -> Any:
    """One customer frame as a message object, or ``ChatProtocolError`` naming the problem."""
    return parse_frame(raw, _TYPES, limits=limits, max_text=MAX_TEXT)[1]
