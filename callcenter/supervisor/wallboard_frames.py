"""The frames of the wallboard feed (``/ws/supervisor``): a ``snapshot`` on connect, then
``update``s with the same fields; the feed takes no frames (each gets an ``error``,
``read_only``). Figures (``today``) are the dicts of ``metrics/cells.figures``, the same
as the reports API's: a queue's ``offered`` counts each contact offered to it (a transferred
contact once in every queue it reached), the board's ``today.contacts`` counts each contact
once.
"""

from __future__ import annotations

from typing import Any

import msgspec

from callcenter.core.ws_frames import ErrorFrame, ServerFrame


class QueueRow(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    waiting: int
    longest_wait_s: float
    ewt_s: float | None
    agents: dict[str, int]  # agents by state (ringing ones counted as on_contact)
    offered_today: int
    answered_today: int
    service_level: float | None
    asa_s: float | None
    aht_s: float | None
    abandon_rate: float | None
    status: str  # "", "warning" or "trouble"
    today: dict[str, Any]
    # waiting contacts by channel ("voice", "chat", "callback", "voicemail" ...), only
    # channels with someone waiting; the values add up to ``waiting``
    waiting_by_channel: dict[str, int] = {}
    open: bool = True  # false while the queue's opening hours (``hours:``) are closed
    opens_at: float | None = None  # when a closed queue opens next (epoch seconds); None: open or never


class AgentRow(msgspec.Struct, frozen=True, kw_only=True):
    agent_id: str
    name: str
    state: str
    reason: str | None
    since: float
    contact_id: str | None
    channel: str | None
    skills: dict[str, int]
    handled_today: int
    occupancy_today: float | None
    # who the agent's contact is: the CRM's name for an identified customer, else the
    # name a chat customer gave, else the caller's number or address; None without a contact
    customer: str | None = None


class Thresholds(msgspec.Struct, frozen=True, kw_only=True):
    warn_waiting: int
    trouble_waiting: int
    trouble_service_level: float


class Listening(msgspec.Struct, frozen=True, kw_only=True):
    listen_id: str
    contact_id: str
    agent_id: str | None
    by: str


class Board(ServerFrame, kw_only=True, frozen=True):
    """What a wallboard shows; sent as ``Snapshot`` or ``Update``."""

    center: str
    server_time: float
    queues: list[QueueRow]
    agents: list[AgentRow]
    today: dict[str, Any]
    series: list[dict[str, Any]]
    thresholds: Thresholds
    reasons: list[str]
    skills: list[str]
    listening: list[Listening]
    # the center's time zone (``wallboard.timezone``, an IANA name) and its date at
    # ``server_time`` (YYYY-MM-DD): the board shows the center's clock and "today" by them
    timezone: str = "UTC"
    today_date: str = ""


class Snapshot(Board, tag="snapshot", frozen=True):
    pass


class Update(Board, tag="update", frozen=True):
    pass


WallboardFrame = Snapshot | Update | ErrorFrame
