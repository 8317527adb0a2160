"""Retention: recordings older than ``recordings.retention_days`` are deleted, one
``recording.deleted`` event per file, on a schedule.

``Sweeper.sweep(now)`` is one pass (a test runs it with its own ``now``); the server's
``RetentionSchedule`` runs it every ``sweep_interval_s`` on the app's clock (the first pass
at start), so a virtual clock drives it in tests. Only the server sweeps: the events go
through its one log writer (a second process appending to the log would race it for
sequence numbers). A recording's age is
counted from its log event (when the bridge or the voicemail ended), not from the file's
time stamp, so a copied or restored folder keeps its dates. A path outside
``recordings_dir`` is never touched, whatever the log says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.core.clock import Clock, TimerHandle
from callcenter.core.events import InteractionEvent
from callcenter.storage.recording_files import inside
from callcenter.storage.recording_index import DELETED, KINDS
from callcenter.storage.schema import events

log = logging.getLogger(__name__)
Append = Callable[[InteractionEvent], None]


class Sweeper:
    """Deletes what is past retention. Remembers the last event it looked at, so each pass
    reads only recordings that aged past the cut-off since the one before."""

    def __init__(self, engine: AsyncEngine, append: Append, root: str | Path, retention_s: float) -> None:
        self.engine, self.append, self.root, self.retention_s = engine, append, Path(root), retention_s
        self.seen_seq = 0

    async def sweep(self, now: float) -> list[dict[str, Any]]:
        """One pass at ``now``: delete the files of recordings logged before
        ``now - retention``; log and return one ``recording.deleted`` data per file."""
        cutoff = now - self.retention_s
        recordings = (events.c.seq > self.seen_seq, events.c.type.in_(tuple(KINDS)))
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(events.c.seq, events.c.at, events.c.contact_id, events.c.type, events.c.data)
                    .where(*recordings, events.c.at < cutoff)
                    .order_by(events.c.seq)
                )
            ).all()
            # the next pass starts before the first recording still too young (a log's times
            # need not rise with its sequence: clocks of several nodes, a restored spill)
            young = (
                await conn.execute(select(func.min(events.c.seq)).where(*recordings, events.c.at >= cutoff))
            ).scalar()
        if rows:
            self.seen_seq = rows[-1].seq if young is None else min(rows[-1].seq, young - 1)
        deleted = []
        for _seq, at, contact_id, type_, data in rows:
            path = (data or {}).get("path")
            target = inside(self.root, path) if isinstance(path, str) else None
            if target is None or not target.is_file():
                continue  # gone already, or not ours to touch
            size = target.stat().st_size
            try:
                target.unlink()
            except OSError as exc:
                log.warning("retention: could not delete %s: %s", target, exc)
                continue
            facts = {
                "contact_id": contact_id,
                "kind": KINDS[type_],
                "path": path,
                "recorded_at": at,
                "bytes": size,
                "reason": "retention",
                "retention_days": round(self.retention_s / 86400, 6),
            }
            self.append(InteractionEvent(type=DELETED, at=now, contact_id=contact_id, data=facts))
            deleted.append(facts)
        if deleted:
            log.info("retention: deleted %d recording(s) logged before %s", len(deleted), cutoff)
        return deleted


class RetentionSchedule:
    """Runs ``sweeper.sweep(clock.now())`` now and then every ``interval_s`` on ``clock``.
    ``stop()`` cancels the timer and waits for a pass that is running."""

    def __init__(self, sweeper: Sweeper, clock: Clock, interval_s: float) -> None:
        self.sweeper, self.clock, self.interval_s = sweeper, clock, interval_s
        self._timer: TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.passes = 0

    def start(self) -> None:
        self._fire()

    def _fire(self) -> None:
        self._timer = None
        if self._stopped:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        self._timer = self.clock.call_at(self.clock.now() + self.interval_s, self._fire)

    async def _run(self) -> None:
        try:
            await self.sweeper.sweep(self.clock.now())
        except Exception:  # the next pass tries again; the server keeps serving
            log.exception("retention sweep failed")
        self.passes += 1

    async def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
