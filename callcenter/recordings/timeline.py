"""A contact's timeline for supervisors: its summary row and its interaction-log events in
order (``GET /api/v1/contacts/{contact_id}/timeline``), the page that shows it with the
contact's recordings (``GET /contacts/{contact_id}``), and the list of a range's contacts
the reports page links to it from (``GET /api/v1/contacts``). See docs/recordings.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
from aiohttp import web
from sqlalchemy import select

from callcenter.appkeys import CONFIG, DB, LOG
from callcenter.auth.guard import Refused, encode, require, session_of
from callcenter.core.api import Operation, Param
from callcenter.ports.interaction_log import LogUnavailable
from callcenter.storage.recording_index import logged_recordings
from callcenter.storage.schema import contacts, events

STATIC = Path(__file__).with_name("static")
TIMELINE_MAX = 2000


class TimelineEvent(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    at: float
    type: str
    agent_id: str | None
    queue: str | None
    data: dict[str, Any]


class Timeline(msgspec.Struct, frozen=True, kw_only=True):
    contact_id: str
    timezone: Annotated[str, msgspec.Meta(description="the center's (wallboard.timezone)")]
    contact: dict[str, Any] | None
    events: list[TimelineEvent]
    truncated: bool


class ContactRow(msgspec.Struct, frozen=True, kw_only=True):
    contact_id: str
    channel: str | None
    queue: str | None
    agent_id: str | None
    arrived_at: float | None
    ended_at: float | None
    end_reason: str | None
    recordings: int


class ContactList(msgspec.Struct, frozen=True, kw_only=True):
    contacts: list[ContactRow]
    truncated: bool


async def flushed(request: web.Request) -> None:
    """The log written so far (what was logged a moment ago is found), or 503."""
    try:
        await request.app[LOG].flush()  # a recording logged a moment ago is found
    except LogUnavailable as exc:
        raise Refused(503, str(exc)) from None


async def timeline(request: web.Request) -> web.Response:
    await require(request, "supervisor")
    contact_id = request.match_info["contact_id"]
    await flushed(request)
    async with request.app[DB].connect() as conn:
        row = (
            (await conn.execute(select(contacts).where(contacts.c.contact_id == contact_id)))
            .mappings()
            .first()
        )
        rows = (
            (
                await conn.execute(
                    select(events)
                    .where(events.c.contact_id == contact_id)
                    .order_by(events.c.seq)
                    .limit(TIMELINE_MAX + 1)
                )
            )
            .mappings()
            .all()
        )
    if row is None and not rows:
        raise Refused(404, f"no contact {contact_id!r} in the interaction log", "contact_id")
    listed = [
        TimelineEvent(
            seq=r["seq"],
            at=r["at"],
            type=r["type"],
            agent_id=r["agent_id"],
            queue=r["queue"],
            data=r["data"] or {},
        )
        for r in rows[:TIMELINE_MAX]
    ]
    summary = dict(row) if row is not None else None
    zone = request.app[CONFIG].wallboard.timezone
    return encode(
        Timeline(
            contact_id=contact_id,
            timezone=zone,
            contact=summary,
            events=listed,
            truncated=len(rows) > TIMELINE_MAX,
        )
    )


def _instant(request: web.Request, name: str) -> float | None:
    text = request.query.get(name, "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise Refused(400, f"{name} must be epoch seconds", name) from None
    if not 0 <= value <= 1e11:
        raise Refused(400, f"{name} must be epoch seconds from 1970 to the year 5138", name)
    return value


async def list_contacts(request: web.Request) -> web.Response:
    """Contacts that arrived in ``[from, to)``, newest first, each with its number of
    recordings: the reports page links each to its timeline."""
    await require(request, "supervisor")
    start, end = _instant(request, "from"), _instant(request, "to")
    limit = request.query.get("limit", "200")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise Refused(400, "limit must be a whole number from 1 to 1000", "limit")
    query = select(contacts).order_by(contacts.c.arrived_at.desc(), contacts.c.contact_id)
    if start is not None:
        query = query.where(contacts.c.arrived_at >= start)
    if end is not None:
        query = query.where(contacts.c.arrived_at < end)
    for name in ("queue", "agent_id"):
        if value := request.query.get("agent" if name == "agent_id" else name):
            query = query.where(contacts.c[name] == value)
    await flushed(request)
    async with request.app[DB].connect() as conn:
        rows = (await conn.execute(query.limit(int(limit) + 1))).mappings().all()
        heard = await logged_recordings(conn, [r["contact_id"] for r in rows[: int(limit)]])
    listed = [
        ContactRow(
            contact_id=r["contact_id"],
            channel=r["channel"],
            queue=r["queue"],
            agent_id=r["agent_id"],
            arrived_at=r["arrived_at"],
            ended_at=r["ended_at"],
            end_reason=r["end_reason"],
            recordings=len(heard.get(r["contact_id"], [])),
        )
        for r in rows[: int(limit)]
    ]
    return encode(ContactList(contacts=listed, truncated=len(rows) > int(limit)))


async def contact_page(request: web.Request) -> web.StreamResponse:
    found = await session_of(request)
    if found is None:
        raise web.HTTPFound(f"/login?next=/contacts/{request.match_info['contact_id']}")
    if found[0].role not in ("supervisor", "admin"):
        return web.Response(status=403, text="A contact's timeline is for supervisors.")
    return web.FileResponse(STATIC / "contact.html", headers={"Cache-Control": "no-cache"})


_CONTACT = Param(name="contact_id", where="path", required=True, description="the contact")
ROUTES = (
    (
        Operation(
            method="GET",
            path="/api/v1/contacts/{contact_id}/timeline",
            summary="A contact's summary and its interaction-log events in order",
            tag="recordings",
            who=("supervisor",),
            params=(_CONTACT,),
            response=Timeline,
            errors={404: "no such contact", 503: "the log is not reachable"},
        ),
        timeline,
    ),
    (
        Operation(
            method="GET",
            path="/api/v1/contacts",
            summary="Contacts that arrived in a range, newest first, with their number of recordings",
            tag="recordings",
            who=("supervisor",),
            params=(
                Param(name="from", kind=float, description="arrived at or after (epoch seconds)"),
                Param(name="to", kind=float, description="arrived before (epoch seconds)"),
                Param(name="queue", description="one queue"),
                Param(name="agent", description="one agent"),
                Param(
                    name="limit", kind=Annotated[int, msgspec.Meta(ge=1, le=1000)], description="default 200"
                ),
            ),
            response=ContactList,
            errors={503: "the log is not reachable"},
        ),
        list_contacts,
    ),
)
