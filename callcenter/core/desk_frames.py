"""The frames the server sends to an agent's desk (docs/desk-protocol.md, "Server events").

They are built where what they tell happens: the center (offers, states, contacts), the
CRM link (screen pops), the voice runtime (callback dialling), the chat (customer lines)
and the desk service (welcome, acks); so they live here, below all of them. The desk's own
requests are in ``agent_desk/protocol.py``. A field that is ``UNSET`` is not sent; one that
is ``None`` is sent as ``null``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from callcenter.core.ws_frames import ErrorFrame, MsgId, ServerFrame

PROTOCOL_VERSION = 1
PROTOCOL_REVISION = "1.1"


class AgentInfo(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    name: str


class TranscriptLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a chat so far, as the interaction log keeps it."""

    from_: str = msgspec.field(name="from")
    text: str
    at: float


class DeskContact(msgspec.Struct, frozen=True, kw_only=True):
    """A contact the agent has, as ``welcome`` lists it: ``status`` is ``connected``,
    ``held``, ``dialing`` (a callback being dialled) or ``wrap_up`` (with ``reason``, how
    it ended, and ``wrap_up_deadline``); ``transcript`` is an open chat's lines so far."""

    contact_id: str
    channel: str
    queue: str
    caller: str | None
    status: str
    reason: str | None = None
    wrap_up_deadline: float | None = None
    muted: bool = False
    disposition: str | None = None
    number: str | None = None
    transcript: list[TranscriptLine] = msgspec.field(default_factory=list)


class HistoryItem(msgspec.Struct, frozen=True, kw_only=True):
    """A contact the agent finished today (the center's day), for the desk's "Today" list."""

    contact_id: str
    channel: str | None
    queue: str | None
    caller: str | None
    customer: str | None
    disposition: str | None
    ended_at: float


class AudioInfo(msgspec.Struct, frozen=True, kw_only=True):
    webrtc: bool
    ice_servers: list[dict[str, Any]]
    connected: bool


class Offer(ServerFrame, tag="offer", frozen=True):
    """A contact offered to the agent; ``screen_pop`` and ``screen_pop_pending`` come with
    the CRM (``crm_link/live.py``), not in ``welcome``."""

    offer_id: str
    contact_id: str
    agent_id: str
    queue: str
    channel: str
    ring_deadline: float
    trace: str
    caller: str | None
    attributes: dict[str, str]
    screen_pop: dict[str, Any] | UnsetType = UNSET
    screen_pop_pending: bool | UnsetType = UNSET


class Welcome(ServerFrame, tag="welcome", kw_only=True, frozen=True):
    """The answer to ``hello``: everything the desk shows, so a reconnect shows it again."""

    protocol: int = PROTOCOL_VERSION
    agent: AgentInfo
    state: str
    reason: str | None
    since: float
    server_time: float
    offers: list[Offer]
    contacts: list[DeskContact]
    reasons: list[str]
    dispositions: list[str]
    queues: list[str]
    agents: list[str]
    revision: str = PROTOCOL_REVISION
    audio: AudioInfo
    wrap_up_deadline: float | None = None
    history: list[HistoryItem] = msgspec.field(default_factory=list)
    reconnect_grace_s: float = 30.0
    timezone: str = "UTC"


class State(ServerFrame, tag="state", frozen=True):
    state: str | None
    reason: str | None
    since: float
    wrap_up_deadline: float | None


class OfferWithdrawn(ServerFrame, tag="offer_withdrawn", frozen=True):
    offer_id: str
    contact_id: str
    reason: str


class ScreenPop(ServerFrame, tag="screen_pop", frozen=True):
    """The real card of an offer that went out with ``screen_pop_pending``."""

    contact_id: str
    offer_id: str
    screen_pop: dict[str, Any]


class Contact(ServerFrame, tag="contact", frozen=True):
    """A contact of the agent changed: ``status`` and what goes with it (``channel``,
    ``queue`` and ``caller`` when connected, ``reason`` and ``wrap_up_deadline`` at wrap-up,
    ``muted``, the ``dial*`` fields of a callback; ``closed`` carries what the "Today" list
    shows: ``ended_at``, ``disposition``)."""

    contact_id: str
    status: str
    channel: str | UnsetType = UNSET
    queue: str | UnsetType = UNSET
    caller: str | None | UnsetType = UNSET
    reason: str | UnsetType = UNSET
    wrap_up_deadline: float | UnsetType = UNSET
    muted: bool | UnsetType = UNSET
    ended_at: float | UnsetType = UNSET
    disposition: str | None | UnsetType = UNSET
    number: str | UnsetType = UNSET
    dial: str | UnsetType = UNSET
    dial_status: int | UnsetType | None = UNSET
    dial_reason: str | UnsetType = UNSET


class ChatMessage(ServerFrame, tag="chat_message", frozen=True):
    contact_id: str
    from_: str = msgspec.field(name="from")
    text: str
    at: float


class Typing(ServerFrame, tag="typing", frozen=True):
    """The customer of a chat is typing."""

    contact_id: str


class WebRtcState(ServerFrame, tag="webrtc_state", frozen=True):
    state: str


class SdpAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """As the browser's ``RTCSessionDescriptionInit``."""

    type: str = "answer"
    sdp: str


class Ack(ServerFrame, tag="ack", frozen=True):
    """A request was done; some requests' acks carry what they made."""

    state: str | UnsetType = UNSET
    ticket_id: str | UnsetType = UNSET
    answer: SdpAnswer | UnsetType = UNSET
    id: MsgId | UnsetType = UNSET


DeskFrame = (
    Welcome
    | State
    | Offer
    | OfferWithdrawn
    | ScreenPop
    | Contact
    | ChatMessage
    | Typing
    | WebRtcState
    | Ack
    | ErrorFrame
)
