"""The supervisor REST bodies as msgspec types: wallboard actions, listen-in, reports and
staffing (requests forbid unknown fields; limits are ``Meta`` constraints, so the OpenAPI
document states them). Checks that need the config or the engine (known skills, not-ready
reasons, queues) stay in the handlers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct, field

Level = Annotated[int, Meta(ge=1, le=5)]

# Requests ----------------------------------------------------------------------------


class ForceState(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    state: Literal["ready", "not_ready", "logged_out"]
    reason: Annotated[str | None, Meta(description="with not_ready: one of desk.not_ready_reasons")] = None


class SkillsChange(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    skills: Annotated[
        dict[str, Level], Meta(description='the new skills and levels (1-5), like {"cards": 4}; replaces all')
    ]


class MoveContact(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    to_queue: Annotated[str, Meta(min_length=1)]


class PriorityChange(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """At least one of the two."""

    priority_class: Annotated[int, Meta(ge=0, le=9, description="0 is served first")] | None = None
    head_start_s: Annotated[float, Meta(gt=0, le=86400, description="seconds of head start")] | None = None


class ListenOffer(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    sdp: Annotated[str, Meta(description="the browser's SDP offer, ICE candidates gathered")]


# Responses ---------------------------------------------------------------------------


class AgentStateNow(Struct, frozen=True, kw_only=True):
    agent_id: str
    state: str


class AgentSkillsNow(Struct, frozen=True, kw_only=True):
    agent_id: str
    skills: dict[str, int]


class ContactPlace(Struct, frozen=True, kw_only=True):
    contact_id: str
    queue: str | None
    position: Annotated[int | None, Meta(description="1 is next; null when not waiting")]


class ListenStarted(Struct, frozen=True, kw_only=True):
    listen_id: str
    sdp: Annotated[str, Meta(description="the server's SDP answer")]
    contact_id: str
    agent_id: str | None


class ListenEnded(Struct, frozen=True, kw_only=True):
    listen_id: str
    ended: bool


class Report(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Figures per interval (and per queue or agent with ``by``), and the total; the
    figures are defined in docs/metrics.md (null where there is no base)."""

    from_: str = field(name="from")
    to: str
    interval: str
    timezone: str
    queue: str | None
    agent: str | None
    by: Literal["queue", "agent"] | None
    rows: list[dict[str, Any]]
    total: dict[str, Any]
    # the center's date now (YYYY-MM-DD in ``timezone``): the pages' "today", not the browser's
    today: str = ""
    # how contacts are counted: ``contacts`` once each, ``offered`` once per queue offered to
    counting: str = ""


class StaffingTarget(Struct, frozen=True, kw_only=True):
    service_level: float
    t: float
    shrinkage: float
    max_occupancy: float | None


class Staffing(Struct, frozen=True, kw_only=True):
    """Agents needed per interval by Erlang C and Erlang A (docs/erlang.md)."""

    date: str
    interval: str
    queue: str | None
    source: Literal["log", "csv"]
    days_averaged: list[str]
    patience_s: float | None
    target: StaffingTarget
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    timezone: str = "UTC"  # the zone ``date`` and the rows' times are in (the center's)
    today: str = ""  # the center's date now (YYYY-MM-DD)
