"""The live wallboard: ``/wallboard`` (page) and ``/ws/supervisor`` (feed), supervisors only.

The feed folds every interaction event from the bus into today's figures per queue
(offered, answered, abandoned, answered within the queue's service-level time, waits, talk
time) and per agent (handled today), and reads waiting contacts, longest wait, estimated
wait and agents by state from the ACD engine itself. Supervisors get a full ``snapshot``
on connect, then an ``update`` at most every half second while anything changes, so the
board follows an event within a second. Thresholds from ``wallboard:`` in the config mark a
queue as ``warning`` or ``trouble``.

Supervisor actions (each logged with who did it): ``POST /api/v1/supervisor/agents/{id}/state``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import WSMsgType, web

from callcenter.acd import model as m
from callcenter.appkeys import BUS, CENTER, CONFIG
from callcenter.auth.web import Refused, json_error, require, session_of
from callcenter.core.events import InteractionEvent
from callcenter.runtime.bus import BusMessage
from callcenter.runtime.center import Center
from callcenter.runtime.ws_sender import WsSender
from callcenter.supervisor.tally import Tally

STATIC = Path(__file__).with_name("static") / "wallboard"
SUPERVISOR_ROLES = ("supervisor",)
SERIES_EVERY_S = 60.0
SHORT_ABANDON_S = 5.0  # the same threshold the reports use (docs/metrics.md)
SERIES_KEEP = 6 * 60  # six hours of minutes


class WallboardFeed:
    def __init__(self, center: Center) -> None:
        self.center = center
        self.cfg = center.config.wallboard
        self.zone = ZoneInfo(self.cfg.timezone)
        self.sl_s = {q.name: q.service_level_s for q in center.config.queues}
        self.wrap_s = {q.name: q.wrap_up_s for q in center.config.queues}
        self.today: dict[str, Tally] = defaultdict(Tally)
        self.handled: dict[str, int] = defaultdict(int)
        self.day = self._day(center.clock.now())
        self.queued_at: dict[str, tuple[float, str]] = {}
        self.first_offer: dict[str, float] = {}
        self.series: deque[dict[str, Any]] = deque(maxlen=SERIES_KEEP)
        self.subscribers: set[WsSender] = set()
        self.dirty = False
        self._tasks: list[asyncio.Task[None]] = []

    def _day(self, now: float) -> str:
        return datetime.fromtimestamp(now, self.zone).strftime("%Y-%m-%d")

    # Folding events ---------------------------------------------------------------------------

    def apply(self, e: dict[str, Any]) -> None:
        kind, cid, at = e["type"], e.get("contact_id"), float(e["at"])
        day = self._day(at)
        if day != self.day:
            self.day, self.today, self.handled = day, defaultdict(Tally), defaultdict(int)
        if kind.startswith(("contact.", "agent.")):
            self.dirty = True
        if kind == "contact.queued" and cid and cid not in self.queued_at:
            queue = e.get("queue") or ""
            self.queued_at[cid] = (at, queue)
            self.today[queue].offered += 1
        elif kind == "contact.offered" and cid in self.queued_at:
            self.first_offer.setdefault(cid, at)
        elif kind == "contact.connected" and cid in self.queued_at:
            since, queue = self.queued_at[cid]
            waited = self.first_offer.get(cid, at) > since + 1e-9
            self.today[queue].answer(at - since, self.sl_s.get(queue, 20.0), waited=waited)
        elif kind == "contact.wrap_up" and cid in self.queued_at:
            self.today[self.queued_at[cid][1]].talk(float(e["data"].get("talk_s", 0.0)))
            if e.get("agent_id"):
                self.handled[e["agent_id"]] += 1
        elif kind == "contact.ended" and cid in self.queued_at:
            since, queue = self.queued_at.pop(cid)
            self.first_offer.pop(cid, None)
            reason = e["data"].get("reason")
            if reason == "abandoned":
                self.today[queue].abandon(short=at - since < SHORT_ABANDON_S)
            elif reason in ("overflow_disconnect", "voicemail"):
                self.today[queue].overflowed += 1

    # Snapshots --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        engine, now = self.center.engine, self.center.clock.now()
        queues = []
        for q in self.center.config.queues:
            live = engine.queue_snapshot(q.name, now)
            t = self.today[q.name]
            f = t.figures(wrap_per_contact=self.wrap_s[q.name])
            sl = f["service_level"]
            queues.append(
                {
                    "name": q.name,
                    "waiting": live.waiting,
                    "longest_wait_s": live.longest_wait_s,
                    "ewt_s": live.ewt_s,
                    "agents": _agent_counts(live.agents),
                    "offered_today": t.offered,
                    "answered_today": t.answered,
                    "service_level": sl,
                    "asa_s": f["asa_seconds"],
                    "aht_s": f["aht_seconds"],
                    "abandon_rate": f["abandon_rate"],
                    "status": self._status(live.waiting, live.longest_wait_s, sl),
                }
            )
        agents = []
        for a in sorted(engine.agents.values(), key=lambda a: a.agent_id):
            agents.append(
                {
                    "agent_id": a.agent_id,
                    "name": a.name,
                    "state": a.state.value,
                    "reason": a.reason,
                    "since": a.since,
                    "contact_id": next(iter(a.contacts), None),
                    "handled_today": self.handled.get(a.agent_id, 0),
                }
            )
        return {
            "center": self.center.config.server.name,
            "server_time": now,
            "queues": queues,
            "agents": agents,
            "series": list(self.series),
            "reasons": list(self.center.config.desk.not_ready_reasons),
        }

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

    def sample(self) -> None:
        snap = self.snapshot()
        today = Tally.total(self.today.values()).figures()
        self.series.append(
            {
                "t": snap["server_time"],
                "waiting": sum(q["waiting"] for q in snap["queues"]),
                "service_level": today["service_level"],
                "answered": today["answered"],
            }
        )

    # Running -----------------------------------------------------------------------------------

    async def run(self, sub: Any) -> None:
        async for message in sub:
            assert isinstance(message, BusMessage)
            self.apply(dict(message.payload))

    async def push(self) -> None:
        next_sample = 0.0
        while True:
            await asyncio.sleep(0.5)
            now = self.center.clock.now()
            if now >= next_sample:
                self.sample()
                next_sample = now + SERIES_EVERY_S
                self.dirty = True
            if self.dirty and self.subscribers:
                self.dirty = False
                frame = {"type": "update", **self.snapshot()}
                for sender in tuple(self.subscribers):
                    sender.send(frame)


def _agent_counts(counts: Any) -> dict[str, int]:
    """Ringing agents are shown with those on a contact: they are taken for this moment."""
    out = {k: v for k, v in counts.items() if k != "offered"}
    out["on_contact"] = out.get("on_contact", 0) + counts.get("offered", 0)
    return out


FEED = web.AppKey("wallboard_feed", WallboardFeed)


def install(app: web.Application) -> None:
    app.cleanup_ctx.append(_feed_ctx)
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/ws/supervisor", supervisor_socket)
    app.router.add_post("/api/v1/supervisor/agents/{agent_id}/state", force_state)
    app.router.add_post("/api/v1/supervisor/contacts/{contact_id}/move", move_contact)
    app.router.add_post("/api/v1/supervisor/contacts/{contact_id}/priority", raise_priority)
    app.router.add_static("/static/wallboard", STATIC)


async def _feed_ctx(app: web.Application) -> AsyncIterator[None]:
    feed = WallboardFeed(app[CENTER])
    sub = app[BUS].subscribe("contact.*", "agent.*", maxsize=10_000)
    tasks = [
        asyncio.create_task(feed.run(sub), name="wallboard-fold"),
        asyncio.create_task(feed.push(), name="wallboard-push"),
    ]
    app[FEED] = feed
    yield
    sub.close()
    for task in tasks:
        task.cancel()
    for task in tasks:
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
    ws = web.WebSocketResponse(heartbeat=20)
    try:
        await require(request, *SUPERVISOR_ROLES)
    except Refused as refusal:
        await ws.prepare(request)
        await ws.close(code=4401 if refusal.status_code == 401 else 4403, message=b"supervisors only")
        return ws
    await ws.prepare(request)
    feed = request.app[FEED]
    sender = WsSender(ws)
    sender.send({"type": "snapshot", **feed.snapshot()})
    feed.subscribers.add(sender)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                sender.send(
                    {
                        "type": "error",
                        "code": "read_only",
                        "message": "the wallboard feed takes no messages; use the API for actions",
                    }
                )
    finally:
        feed.subscribers.discard(sender)
        await sender.stop()
    return ws


async def force_state(request: web.Request) -> web.Response:
    principal = await require(request, *SUPERVISOR_ROLES)
    center = request.app[CENTER]
    agent_id = request.match_info["agent_id"]
    try:
        body = await request.json()
    except ValueError:
        return json_error(400, 'the body must be JSON: {"state": "ready"|"not_ready"|"logged_out"}')
    state = body.get("state") if isinstance(body, dict) else None
    reasons = request.app[CONFIG].desk.not_ready_reasons
    if state not in ("ready", "not_ready", "logged_out"):
        return json_error(400, "state must be ready, not_ready or logged_out", "state")
    reason = body.get("reason") or (reasons[0] if reasons else "break")
    if state == "not_ready" and reason not in reasons:
        return json_error(400, f"reason must be one of {', '.join(reasons)}", "reason")
    event = {
        "ready": m.AgentReady(agent_id=agent_id),
        "logged_out": m.AgentLoggedOut(agent_id=agent_id),
        "not_ready": m.AgentNotReady(agent_id=agent_id, reason=reason),
    }[state]
    try:
        await center.submit(event)
    except m.AcdError as exc:
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
    return web.json_response({"agent_id": agent_id, "state": center.engine.agents[agent_id].state.value})


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except ValueError:
        return json_error(400, "the body must be a JSON object")
    if not isinstance(body, dict):
        return json_error(400, "the body must be a JSON object")
    return body


async def _contact_action(
    request: web.Request, event: object, action: str, details: dict[str, Any]
) -> web.Response:
    principal = await require(request, *SUPERVISOR_ROLES)
    center = request.app[CENTER]
    contact_id = request.match_info["contact_id"]
    try:
        await center.submit(event)
    except m.AcdError as exc:
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
    return web.json_response(
        {
            "contact_id": contact_id,
            "queue": center.engine.contacts[contact_id].queue,
            "position": where[0] if where else None,
        }
    )


async def move_contact(request: web.Request) -> web.Response:
    """Move a waiting contact to another queue; it keeps its waiting time."""
    principal = await require(request, *SUPERVISOR_ROLES)
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    to_queue = body.get("to_queue")
    if not isinstance(to_queue, str) or not to_queue:
        return json_error(400, "to_queue is required", "to_queue")
    event = m.ContactMoved(
        contact_id=request.match_info["contact_id"], to_queue=to_queue, by=principal.username
    )
    return await _contact_action(request, event, "move", {"to_queue": to_queue})


async def raise_priority(request: web.Request) -> web.Response:
    """Give a waiting contact a better priority class and/or a head start in seconds."""
    principal = await require(request, *SUPERVISOR_ROLES)
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    pclass, head = body.get("priority_class"), body.get("head_start_s")
    if pclass is not None and (
        not isinstance(pclass, int) or isinstance(pclass, bool) or not 0 <= pclass <= 9
    ):
        return json_error(400, "priority_class is a whole number from 0 (first) to 9", "priority_class")
    if head is not None and (
        not isinstance(head, int | float) or isinstance(head, bool) or not 0 < head <= 86400
    ):
        return json_error(
            400, "head_start_s is a number of seconds, above 0 and at most a day", "head_start_s"
        )
    if pclass is None and head is None:
        return json_error(400, "give priority_class or head_start_s", "priority_class")
    event = m.PriorityChanged(
        contact_id=request.match_info["contact_id"],
        by=principal.username,
        priority_class=pclass,
        head_start_s=head,
    )
    return await _contact_action(request, event, "priority", {"priority_class": pclass, "head_start_s": head})
