"""The live wallboard: ``/wallboard`` (page) and ``/ws/supervisor`` (feed), supervisors only.

Today's figures per queue (offered, answered, service level, ASA, AHT, abandon rate) and
per agent (handled, occupancy) are read from the app's live ``MetricsFold``
(``supervisor/live.py``), the same fold and definitions as the reports, so the board at
the end of a day shows that day's report. Waiting contacts, longest wait, estimated wait
and agents by state come from the ACD engine itself. Supervisors get a full ``snapshot``
on connect, then an ``update`` at most every ``PUSH_EVERY_S`` while the fold moves, so the
board follows an event within a second. Thresholds from ``wallboard:`` in the config mark a
queue as ``warning`` or ``trouble``; the chart's points are ``LiveMetrics.series``.

Supervisor actions (each logged as ``supervisor.action`` with who did it):
``POST /api/v1/supervisor/agents/{id}/state``, ``.../agents/{id}/skills``,
``.../contacts/{id}/move``, ``.../contacts/{id}/priority``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import WSMsgType, web

from callcenter.acd.errors import AcdError
from callcenter.acd.messages import (
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentSkillsChanged,
    ContactMoved,
    PriorityChanged,
)
from callcenter.acd.views import QueueSnapshot
from callcenter.appkeys import CONFIG
from callcenter.auth.guard import api_route, encode, read_body, read_json
from callcenter.auth.web import Refused, json_error, require, session_of
from callcenter.config import hours
from callcenter.core.api import Operation, Who, convert_body
from callcenter.core.client_json import InputRefused
from callcenter.core.events import InteractionEvent
from callcenter.core.ws_frames import ErrorFrame
from callcenter.metrics.fold import Counts, figures
from callcenter.runtime.center import Center
from callcenter.runtime.keys import CENTER
from callcenter.supervisor import listen, live_metrics
from callcenter.supervisor.bodies import (
    AgentSkillsNow,
    AgentStateNow,
    ContactPlace,
    ForceState,
    MoveContact,
    PriorityChange,
    SkillsChange,
)
from callcenter.supervisor.listen import ListenIn
from callcenter.supervisor.live_metrics import LIVE, LiveMetrics
from callcenter.supervisor.wallboard_frames import (
    AgentRow,
    Board,
    Listening,
    QueueRow,
    Snapshot,
    Thresholds,
    Update,
)
from callcenter.web.ws_sender import WsSender

STATIC = Path(__file__).with_name("static") / "wallboard"
SUPERVISOR_ROLES = ("supervisor",)
PUSH_EVERY_S = 0.5
_EMPTY = Counts()


class WallboardFeed:
    def __init__(self, center: Center, live: LiveMetrics, listen_in: ListenIn | None = None) -> None:
        self.center, self.live, self.listen = center, live, listen_in
        self.cfg = center.config.wallboard
        self.subscribers: set[WsSender] = set()
        self.pushed_at: tuple[int, int, tuple[str, ...]] = (-1, -1, ())  # folded, last point, listens

    async def close(self) -> None:
        """The server is going away: tell every open wallboard (1001) instead of letting
        shutdown wait for them."""
        for sender in tuple(self.subscribers):
            await sender.ws.close(code=1001, message=b"server shutting down")

    # Snapshots --------------------------------------------------------------------------------

    def snapshot(self, frame: type[Board] = Snapshot) -> Board:
        """What the board shows now, as a ``Snapshot`` (or an ``Update``) frame."""
        engine, now = self.center.engine, self.center.clock.now()
        line = self.center.clock.monotonic()  # the engine's time line: waits, agents' since
        by_queue, by_agent, total = self.live.today(now)
        config = self.center.config
        queues = []
        for q in config.queues:
            snap = engine.queue_snapshot(q.name, line)
            f = figures(by_queue.get(q.name, _EMPTY))
            calendar = config.hours.get(q.hours) if q.hours is not None else None
            is_open = calendar is None or hours.is_open(calendar, now)
            opens = None if is_open or calendar is None else hours.next_opening(calendar, now)
            queues.append(
                QueueRow(
                    name=q.name,
                    waiting=snap.waiting,
                    longest_wait_s=snap.longest_wait_s,
                    # an estimate for nobody is no estimate: "est. wait" is for those waiting
                    ewt_s=snap.ewt_s if snap.waiting > 0 else None,
                    agents=_agent_counts(snap.agents),
                    offered_today=f["offered"],
                    answered_today=f["answered"],
                    service_level=f["service_level"],
                    asa_s=f["asa_s"],
                    aht_s=f["aht_s"],
                    abandon_rate=f["abandon_rate"],
                    status=self._status(snap.waiting, snap.longest_wait_s, f["service_level"]),
                    today=f,
                    waiting_by_channel=waiting_by_channel(snap),
                    open=is_open,
                    opens_at=opens.timestamp() if opens is not None else None,
                )
            )
        agents = []
        for a in sorted(engine.agents.values(), key=lambda a: a.agent_id):
            f = figures(by_agent.get(a.agent_id, _EMPTY))
            contact_id = next(iter(a.contacts), None)
            contact = engine.contacts.get(contact_id) if contact_id else None
            agents.append(
                AgentRow(
                    agent_id=a.agent_id,
                    name=a.name,
                    state=a.state.value,
                    reason=a.reason,
                    since=a.since,
                    contact_id=contact_id,
                    channel=contact.channel if contact is not None else None,
                    skills=dict(a.skills),
                    handled_today=f["handled"],
                    occupancy_today=f["occupancy"],
                    customer=self._customer(contact_id, contact),
                )
            )
        zone = _zone(self.cfg.timezone)
        return frame(
            center=self.center.config.server.name,
            server_time=line,  # the page's clock offset for the agents' since (engine line)
            queues=queues,
            agents=agents,
            today=figures(total),
            series=list(self.live.series),
            thresholds=Thresholds(
                warn_waiting=self.cfg.warn_waiting,
                trouble_waiting=self.cfg.trouble_waiting,
                trouble_service_level=self.cfg.trouble_service_level,
            ),
            reasons=list(self.center.config.desk.not_ready_reasons),
            skills=[s.name for s in self.center.config.skills],
            listening=[
                Listening(listen_id=x.listen_id, contact_id=x.contact_id, agent_id=x.agent_id, by=x.by)
                for x in (self.listen.listens.values() if self.listen is not None else ())
            ],
            timezone=zone.key,
            today_date=datetime.fromtimestamp(now, zone).date().isoformat(),
        )

    def _customer(self, contact_id: str | None, contact: Any) -> str | None:
        """Who the agent's contact is, in words a supervisor knows (see ``AgentRow``)."""
        if contact_id is None:
            return None
        crm = self.center.crm
        named = getattr(crm, "customer_name", None)
        name = named(contact_id) if named is not None else None
        if name:
            return str(name)
        if contact is None:
            return None
        return contact.attributes.get("name") or contact.caller or None

    def _status(self, waiting: int, longest: float, sl: float | None) -> str:
        c = self.cfg
        if (
            waiting >= c.trouble_waiting
            or longest >= c.trouble_longest_wait_s
            or (sl is not None and sl < c.trouble_service_level)
        ):
            return "trouble"
        if waiting >= c.warn_waiting or longest >= c.warn_longest_wait_s:
            return "warning"
        return ""

    # Running -----------------------------------------------------------------------------------

    async def push(self) -> None:
        """Send an update when the fold took events or the chart took a point."""
        while True:
            await asyncio.sleep(PUSH_EVERY_S)
            last_point = len(self.live.series) and int(self.live.series[-1]["t"])
            listens = tuple(self.listen.listens) if self.listen is not None else ()
            moved = (self.live.fold.applied, last_point, listens)
            if moved != self.pushed_at and self.subscribers:
                self.pushed_at = moved
                frame = self.snapshot(Update)
                for sender in tuple(self.subscribers):
                    sender.send(frame)


def waiting_by_channel(snap: QueueSnapshot) -> dict[str, int]:
    """Waiting contacts of one queue by channel, as the engine counts them (voicemails
    held while the queue is closed included), without the channels that have none."""
    return {ch: n for ch, n in snap.waiting_by_channel.items() if n}


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _agent_counts(counts: Any) -> dict[str, int]:
    """Ringing agents are shown with those on a contact: they are taken for this moment."""
    out = {k: v for k, v in counts.items() if k != "offered"}
    out["on_contact"] = out.get("on_contact", 0) + counts.get("offered", 0)
    return out


FEED = web.AppKey("wallboard_feed", WallboardFeed)


def install(app: web.Application) -> None:
    live_metrics.install(app)
    listen.install(app)
    app.cleanup_ctx.append(_feed_ctx)
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/ws/supervisor", supervisor_socket)
    for operation, handler in ROUTES:
        api_route(app, operation, handler)
    app.router.add_static("/static/wallboard", STATIC)


async def _feed_ctx(app: web.Application) -> AsyncIterator[None]:
    feed = WallboardFeed(app[CENTER], app[LIVE], app.get(listen.LISTEN))
    task = asyncio.create_task(feed.push(), name="wallboard-push")
    app[FEED] = feed
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def wallboard_page(request: web.Request) -> web.StreamResponse:
    found = await session_of(request)
    if found is None:
        raise web.HTTPFound("/login?next=/wallboard")
    if found[0].role not in ("supervisor", "admin"):
        return web.Response(status=403, text="The wallboard is for supervisors.")
    return web.FileResponse(STATIC / "wallboard.html")


async def supervisor_socket(request: web.Request) -> web.StreamResponse:
    limits = request.app[CONFIG].limits
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=limits.frame_max_bytes * 2)  # over it: 1009
    try:
        await require(request, *SUPERVISOR_ROLES)
    except Refused as refusal:
        await ws.prepare(request)
        await ws.close(code=4401 if refusal.status_code == 401 else 4403, message=b"supervisors only")
        return ws
    await ws.prepare(request)
    feed = request.app[FEED]
    sender = WsSender(ws)
    sender.send(feed.snapshot())
    feed.subscribers.add(sender)
    rate = limits.frame_rate()
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and await sender.admit(rate):
                sender.send(
                    ErrorFrame(
                        code="read_only",
                        message="the wallboard feed takes no messages; use the API for actions",
                    )
                )
    finally:
        feed.subscribers.discard(sender)
        await sender.stop()
    return ws


async def force_state(request: web.Request) -> web.Response:
    principal = await require(request, *SUPERVISOR_ROLES)
    center = request.app[CENTER]
    agent_id = request.match_info["agent_id"]
    body = await read_body(request, ForceState)
    state = body.state
    reasons = request.app[CONFIG].desk.not_ready_reasons
    reason = body.reason or (reasons[0] if reasons else "break")
    if state == "not_ready" and reason not in reasons:
        return json_error(400, f"reason must be one of {', '.join(reasons)}", "reason")
    event = {
        "ready": AgentReady(agent_id=agent_id),
        "logged_out": AgentLoggedOut(agent_id=agent_id),
        "not_ready": AgentNotReady(agent_id=agent_id, reason=reason),
    }[state]
    try:
        await center.submit(event)
    except AcdError as exc:
        return json_error(409 if exc.code == "illegal_transition" else 404, str(exc))
    center.record(
        InteractionEvent(
            type="supervisor.action",
            at=center.clock.now(),
            agent_id=agent_id,
            data={
                "action": "force_state",
                "state": state,
                "reason": reason if state == "not_ready" else None,
                "by": principal.username,
            },
        )
    )
    return encode(AgentStateNow(agent_id=agent_id, state=center.engine.agents[agent_id].state.value))


async def change_skills(request: web.Request) -> web.Response:
    """Replace an agent's skills, e.g. ``{"skills": {"cards": 4, "banking": 2}}`` (levels 1-5).

    Routing takes the new skills at once (a waiting contact they now match is offered);
    they hold until the agent logs in again with the skills of their user record."""
    principal = await require(request, *SUPERVISOR_ROLES)
    center = request.app[CENTER]
    agent_id = request.match_info["agent_id"]
    raw = await read_json(request)
    skills = raw.get("skills")
    known = {s.name for s in request.app[CONFIG].skills}
    for name, level in skills.items() if isinstance(skills, dict) else ():  # the field each names
        if name not in known:
            problem = f"unknown skill {name!r}; skills are {', '.join(sorted(known))}"
            return json_error(400, problem, f"skills.{name}")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            problem = f"the level of {name!r} must be a whole number from 1 to 5"
            return json_error(400, problem, f"skills.{name}")
    try:
        skills = convert_body(raw, SkillsChange).skills
    except InputRefused as exc:
        return json_error(exc.status, exc.message, exc.field)
    agent = center.engine.agents.get(agent_id)
    if agent is None:
        return json_error(404, f"no agent {agent_id!r} is logged in")
    before = dict(agent.skills)
    try:
        await center.submit(AgentSkillsChanged(agent_id=agent_id, skills=skills, by=principal.username))
    except AcdError as exc:
        return json_error(404 if exc.code == "unknown_agent" else 400, str(exc))
    center.record(
        InteractionEvent(
            type="supervisor.action",
            at=center.clock.now(),
            agent_id=agent_id,
            data={"action": "skills", "skills": skills, "before": before, "by": principal.username},
        )
    )
    return encode(AgentSkillsNow(agent_id=agent_id, skills=dict(center.engine.agents[agent_id].skills)))


async def _contact_action(
    request: web.Request, event: object, action: str, details: dict[str, Any]
) -> web.Response:
    principal = await require(request, *SUPERVISOR_ROLES)
    center = request.app[CENTER]
    contact_id = request.match_info["contact_id"]
    try:
        await center.submit(event)
    except AcdError as exc:
        status = {"unknown_contact": 404, "unknown_queue": 400, "bad_input": 400}.get(exc.code, 409)
        return json_error(status, str(exc))
    center.record(
        InteractionEvent(
            type="supervisor.action",
            at=center.clock.now(),
            contact_id=contact_id,
            data={"action": action, **details, "by": principal.username},
        )
    )
    where = center.engine.position(contact_id)
    queue = center.engine.contacts[contact_id].queue
    return encode(ContactPlace(contact_id=contact_id, queue=queue, position=where[0] if where else None))


async def move_contact(request: web.Request) -> web.Response:
    """Move a waiting contact to another queue; it keeps its waiting time."""
    principal = await require(request, *SUPERVISOR_ROLES)
    to_queue = (await read_body(request, MoveContact)).to_queue
    event = ContactMoved(
        contact_id=request.match_info["contact_id"], to_queue=to_queue, by=principal.username
    )
    return await _contact_action(request, event, "move", {"to_queue": to_queue})


async def raise_priority(request: web.Request) -> web.Response:
    """Give a waiting contact a better priority class and/or a head start in seconds."""
    principal = await require(request, *SUPERVISOR_ROLES)
    body = await read_body(request, PriorityChange)
    pclass, head = body.priority_class, body.head_start_s
    if pclass is None and head is None:
        return json_error(400, "give priority_class or head_start_s", "priority_class")
    event = PriorityChanged(
        contact_id=request.match_info["contact_id"],
        by=principal.username,
        priority_class=pclass,
        head_start_s=head,
    )
    return await _contact_action(request, event, "priority", {"priority_class": pclass, "head_start_s": head})


SUPERVISORS: tuple[Who, ...] = ("supervisor",)
_STATE_ERRORS = {404: "no such agent is logged in", 409: "not a legal change from the agent's state"}
_CONTACT_ERRORS = {404: "no such waiting contact", 409: "the contact is no longer waiting"}
ROUTES = (
    (
        Operation(
            method="POST",
            path="/api/v1/supervisor/agents/{agent_id}/state",
            summary="Force an agent ready, not ready (with a reason) or logged out",
            tag="supervisor",
            who=SUPERVISORS,
            body=ForceState,
            response=AgentStateNow,
            errors=_STATE_ERRORS,
        ),
        force_state,
    ),
    (
        Operation(
            method="POST",
            path="/api/v1/supervisor/agents/{agent_id}/skills",
            summary="Replace a logged-in agent's skills until they log in again",
            tag="supervisor",
            who=SUPERVISORS,
            body=SkillsChange,
            response=AgentSkillsNow,
            errors={404: "no such agent is logged in"},
        ),
        change_skills,
    ),
    (
        Operation(
            method="POST",
            path="/api/v1/supervisor/contacts/{contact_id}/move",
            summary="Move a waiting contact to another queue (it keeps its waiting time)",
            tag="supervisor",
            who=SUPERVISORS,
            body=MoveContact,
            response=ContactPlace,
            errors=_CONTACT_ERRORS,
        ),
        move_contact,
    ),
    (
        Operation(
            method="POST",
            path="/api/v1/supervisor/contacts/{contact_id}/priority",
            summary="Give a waiting contact a better priority class or a head start",
            tag="supervisor",
            who=SUPERVISORS,
            body=PriorityChange,
            response=ContactPlace,
            errors=_CONTACT_ERRORS,
        ),
        raise_priority,
    ),
)
