"""The customer chat WebSocket protocol (``/ws/chat``), version 1.

Customer -> server frames (JSON objects with a ``type``):
  ``start``  {name?, email?, phone?, entry?, resume?, login_token?, language?}  first frame; ``entry``
             is the widget id a chat flow claims (``/chat?entry=web-bank``; default: the
             chat's default flow); ``resume`` is the token from an earlier ``session``
             frame, to continue the same chat after a reconnect; name, e-mail and phone are
             what the customer typed (claims, never an identification); ``login_token`` a
             token signed by the bank's web login (``chat/login_token.py``); a forged,
             expired or malformed one is refused with an ``error`` naming ``login_token``
             and no chat starts (the socket stays open for another ``start``);
             ``language`` the page's language (``en``, ``zh-CN``; docs/i18n.md), which
             server-side words of this chat may use (one not shipped counts as the nearest
             shipped one, else English);
  ``text``   {text}       something the customer typed;
  ``choose`` {key}        a menu button pressed (the same as keying that digit);
  ``typing`` {}           the customer is typing (forwarded to the agent);
  ``rate``   {rating, comment?}  1-5 at the end;
  ``leave``  {}           the customer closes the chat.
Server -> customer frames: ``session`` {contact_id, token, resumed}, ``prompt`` {text,
options: [{key, label}], key?, params?}, ``queued`` {position, ewt_s}, ``agent_joined``
{name}, ``agent_left`` {} (the agent part is over; the IVR may ask for a rating next),
``message`` {from, text, key?, params?; an agent's also name, at}, ``ended`` {reason, rate:
bool}, ``error`` {code, message, field}. A prompt or message in the server's own words
(not a flow's, not an agent's) also carries its catalogue ``key`` and ``params``, and the
page shows it in its language; ``text`` is the English for any other client.

Both ways they are ``msgspec`` structs tagged on ``type`` (``core/ws_frames.py``): a
customer's frame is validated in one call and refused naming its field; the server's are
encoded as they are typed here.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from callcenter.core.client_json import JsonLimits
from callcenter.core.ws_frames import (
    NON_BLANK,
    ClientFrame,
    ErrorFrame,
    FrameError,
    ServerFrame,
    decode_frame,
)

MAX_FRAME_BYTES = 16 * 1024  # the default of limits.chat_frame_max_bytes
MAX_TEXT = 2000
LIMITS = JsonLimits(max_bytes=MAX_FRAME_BYTES)

Line = Annotated[str, msgspec.Meta(pattern=NON_BLANK, max_length=MAX_TEXT)]
LanguageTag = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$", description="like en or zh-CN")
]
Params = dict[str, str | int | float]  # a catalogue message's placeholders

ChatProtocolError = FrameError  # the chat's name for a refused frame


# Customer -> server -------------------------------------------------------------------


class Start(ClientFrame, tag="start", frozen=True):
    name: Line | None = None
    email: Line | None = None
    phone: Line | None = None
    entry: Line | None = None
    resume: Line | None = None
    login_token: Line | None = None
    language: LanguageTag | None = None


class Text(ClientFrame, tag="text", frozen=True):
    text: Line


class Choose(ClientFrame, tag="choose", frozen=True):
    key: Line


class Typing(ClientFrame, tag="typing", frozen=True):
    pass


class Rate(ClientFrame, tag="rate", frozen=True):
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Line | None = None


class Leave(ClientFrame, tag="leave", frozen=True):
    pass


CustomerMessage = Start | Text | Choose | Typing | Rate | Leave


def parse(raw: str | bytes, limits: JsonLimits = LIMITS) -> Any:
    """One customer frame as a message object, or ``ChatProtocolError`` naming the problem."""
    return decode_frame(raw, CustomerMessage, limits=limits)[1]


# Server -> customer -------------------------------------------------------------------


class Session(ServerFrame, tag="session", frozen=True):
    """The chat's contact id and its secret resume token."""

    contact_id: str
    token: str
    resumed: bool


class Option(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label: str


class Prompt(ServerFrame, tag="prompt", frozen=True):
    text: str
    options: list[Option]
    key: str | UnsetType = UNSET
    params: Params | UnsetType = UNSET


class Queued(ServerFrame, tag="queued", frozen=True):
    position: int
    ewt_s: float | None


class AgentJoined(ServerFrame, tag="agent_joined", frozen=True):
    name: str


class AgentLeft(ServerFrame, tag="agent_left", frozen=True):
    pass


class Message(ServerFrame, tag="message", frozen=True):
    """A line of the conversation: ``from`` customer, agent (with ``name`` and ``at``) or system."""

    from_: str = msgspec.field(name="from")
    text: str
    name: str | UnsetType = UNSET
    at: float | UnsetType = UNSET
    key: str | UnsetType = UNSET
    params: Params | UnsetType = UNSET


class Ended(ServerFrame, tag="ended", frozen=True):
    reason: str
    rate: bool


ChatFrame = Session | Prompt | Queued | AgentJoined | AgentLeft | Message | Ended | ErrorFrame
REPLAYED = (Prompt, Message, Queued, AgentJoined, AgentLeft, Ended)  # kept for a resume
