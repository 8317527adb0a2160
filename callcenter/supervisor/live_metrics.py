"""The live fold: one ``MetricsFold`` per app that the wallboard, ``/metrics`` and the
chart of the last hours all read, so the live figures are the reports' figures.

At start the fold reads the stored events of the last ``LIVE_DAYS`` days, then follows
the bus; events that arrive on the bus while the log is read are recognised and not
counted twice. ``LiveMetrics.series`` holds one point a minute (waiting contacts per
queue and in all, today's service level) for the last ``SERIES_KEEP_S``; the points of
the hours before a restart are sampled from the fold while it reads the log, so the chart
survives a restart.

``install(app)`` may be called by every module that needs the fold; it adds the context once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from callcenter.appkeys import BUS, CLOCK, CONFIG, DB, LOG
from callcenter.config.hours import center_zone, day_bounds
from callcenter.core.events import StoredEvent
from callcenter.metrics.cells import Counts, WindowCounts, figures
from callcenter.metrics.fold import MetricsFold, normalise
from callcenter.ports.event_bus import BusMessage
from callcenter.ports.interaction_log import LogUnavailable
from callcenter.storage import schema
from callcenter.storage.schema import stored
from callcenter.supervisor import prometheus

LIVE_DAYS = 8
PRUNE_EVERY_S = 3600.0
SERIES_EVERY_S = 60.0
SERIES_KEEP_S = 6 * 3600.0

log = logging.getLogger(__name__)


class LiveMetrics:
    """The app's live fold, its day in the center's time zone, and the chart's points."""

    def __init__(self, fold: MetricsFold, zone: ZoneInfo, queues: list[str]) -> None:
        self.fold, self.zone, self.queues = fold, zone, queues
        self.window = WindowCounts(fold.cells)
        self.series: deque[dict[str, Any]] = deque()
        self.sample_every_s = SERIES_EVERY_S
        self.next_sample = 0.0

    def day(self, now: float) -> tuple[float, float]:
        """[start, end) of the local day holding ``now``."""
        return day_bounds(self.zone, now)

    def today(self, now: float) -> tuple[dict[str, Counts], dict[str, Counts], Counts]:
        """Today's counts per queue, per agent and in all, agents' time booked up to ``now``."""
        self.fold.advance(now)
        return self.window.slices(*self.day(now))

    def sample(self, now: float) -> None:
        """One chart point: contacts waiting now, and today's service level so far."""
        live = self.fold.live(now)
        by_queue, _agents, total = self.window.slices(*self.day(now))
        self.series.append(
            {
                "t": now,
                "waiting": sum(q.waiting for q in live.queues.values()),
                "service_level": figures(total)["service_level"],
                "queues": {
                    q: {
                        "waiting": live.queues[q].waiting if q in live.queues else 0,
                        "service_level": figures(by_queue[q])["service_level"] if q in by_queue else None,
                    }
                    for q in self.queues
                },
            }
        )
        while self.series and self.series[0]["t"] < now - SERIES_KEEP_S:
            self.series.popleft()
        self.next_sample = now + self.sample_every_s

    def sample_until(self, at: float) -> None:
        """While reading the log: the points due before an event at ``at``; the first
        event read sets where the chart begins."""
        if not self.series and self.next_sample == 0.0:
            self.next_sample = at - at % self.sample_every_s + self.sample_every_s
        while self.next_sample <= at:
            self.sample(self.next_sample)


METRICS = web.AppKey("metrics_fold", MetricsFold)
LIVE = web.AppKey("live_metrics", LiveMetrics)
REGISTRY = web.AppKey("metrics_registry", object)


def install(app: web.Application) -> None:
    if _live_ctx not in app.cleanup_ctx:
        app.cleanup_ctx.append(_live_ctx)


async def _live_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    fold = MetricsFold(service_level_s={q.name: q.service_level_s for q in config.queues})
    live = LiveMetrics(fold, center_zone(config), [q.name for q in config.queues])
    sub = app[BUS].subscribe("contact.*", "agent.*", "ivr.*")
    now = app[CLOCK].now()
    try:
        await app[LOG].flush()
    except LogUnavailable as exc:  # start from what is written; the bus brings the rest
        log.warning("live metrics start from the written log only: %s", exc)
    seen = await _prime(app, live, now - LIVE_DAYS * 86400.0, now)
    live.sample(app[CLOCK].now())
    app[METRICS], app[LIVE] = fold, live
    app[REGISTRY] = prometheus.registry_for(fold, app[CLOCK].now, live.queues)
    tasks = [
        asyncio.create_task(_follow(fold, sub, seen), name="metrics-fold"),
        asyncio.create_task(_sampler(live, app), name="metrics-series"),
    ]
    yield
    sub.close()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _prime(
    app: web.Application, live: LiveMetrics, since: float, subscribed_at: float
) -> set[tuple[Any, ...]]:
    """Fold the stored events since ``since``; return the keys of those stored after the
    subscription began (the bus may hand them over again)."""
    ev = schema.events
    seen: set[tuple[Any, ...]] = set()
    series_since = subscribed_at - SERIES_KEEP_S
    after = 0
    async with app[DB].connect() as conn:
        while True:
            query = select(ev).where(ev.c.at >= since, ev.c.seq > after).order_by(ev.c.seq).limit(5000)
            rows: list[StoredEvent] = [stored(r) for r in await conn.execute(query)]
            for e in rows:
                if e.at >= series_since:
                    live.sample_until(min(e.at, subscribed_at))
                live.fold.apply(e)
                if e.at >= subscribed_at:
                    seen.add(_key(e))
            if len(rows) < 5000:
                return seen
            after = rows[-1].seq


def _key(event: Any) -> tuple[Any, ...]:
    kind, at, cid, agent, _queue, _data = normalise(event)
    return kind, at, cid, agent


async def _follow(fold: MetricsFold, sub: Any, seen: set[tuple[Any, ...]]) -> None:
    last_prune = 0.0
    async for message in sub:
        assert isinstance(message, BusMessage)
        payload = message.payload
        if seen and _key(payload) in seen:
            seen.discard(_key(payload))
            continue
        try:
            fold.apply(payload)
        except (KeyError, TypeError, ValueError):  # one bad payload must not stop the figures
            log.exception("metrics fold skipped a malformed event: %r", payload)
            continue
        at = float(payload["at"])
        if at - last_prune > PRUNE_EVERY_S:
            fold.prune(at - LIVE_DAYS * 86400.0)
            last_prune = at


async def _sampler(live: LiveMetrics, app: web.Application) -> None:
    clock = app[CLOCK]
    while True:
        await asyncio.sleep(max(0.05, min(1.0, live.next_sample - clock.now())))
        now = clock.now()
        if now >= live.next_sample:
            live.sample(now)
