"""The interaction log across a failover: what a dead holder had not written yet.

Only the node that sequenced an entry writes the entry's events to the log. A holder
killed between applying entries and its log's next flush would take their events with it,
so every other replica keeps the events it derived itself, with the applied-stream id of
their entry, until the holder says they are durable: after each flush it stores the last
entry id whose events are written (``<prefix>:acd:log_durable``, fenced like its other
writes). The next holder writes those kept events that came after that mark and that the
log does not hold yet (same type, contact, agent and time: every replica derives the same
events, stamped with the same time).

``Writes`` is what a replica's center writes through: log appends and bus publishes go
on only while this node applies an entry it sequenced; otherwise the events are kept here.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.core.events import InteractionEvent
from callcenter.ports.event_bus import EventBus, Subscription
from callcenter.ports.interaction_log import MAX_PENDING, InteractionLog
from callcenter.runtime.cluster.redis_keys import RedisKeys
from callcenter.runtime.cluster.wire import ReplicaState, id_after, text
from callcenter.storage import schema

log = logging.getLogger(__name__)


class LogCatchUp:
    def __init__(self, keep: int = MAX_PENDING) -> None:
        self.pending: deque[tuple[str, InteractionEvent]] = deque(maxlen=keep)

    def keep(self, entry_id: str, event: InteractionEvent) -> None:
        self.pending.append((entry_id, event))

    def drop_until(self, mark: str) -> None:
        while self.pending and not id_after(self.pending[0][0], mark):
            self.pending.popleft()

    @staticmethod
    async def durable_mark(redis: Redis, keys: RedisKeys) -> str:
        raw = await redis.get(keys.log_durable)
        return text(raw) if raw is not None else "0-0"

    async def write_missing(self, db: AsyncEngine, target: InteractionLog, mark: str) -> int:
        """Append to ``target`` the kept events after ``mark`` that the log lacks."""
        events = [e for entry_id, e in self.pending if id_after(entry_id, mark)]
        self.pending.clear()
        if not events:
            return 0
        ev = schema.events
        query = select(ev.c.type, ev.c.contact_id, ev.c.agent_id, ev.c.at).where(
            ev.c.at >= min(e.at for e in events)
        )
        try:
            async with db.connect() as conn:
                have = {tuple(row) for row in await conn.execute(query)}
        except (SQLAlchemyError, OSError) as exc:
            log.error("cannot tell which of %d events the previous holder logged: %s", len(events), exc)
            return 0
        missing = [e for e in events if (e.type, e.contact_id, e.agent_id, e.at) not in have]
        for event in missing:
            target.append(event)
        return len(missing)


class CatchingUp(Protocol):
    """What the log writer needs of the node (``node_center.ClusterCenter``): whether this
    node writes the log now, where its replica stands, and what it holds back."""

    writing: bool
    state: ReplicaState | None
    log_catch_up: LogCatchUp


class Writes:
    """Passes log appends and bus publishes through only while this node is the writer."""

    def __init__(self, center: CatchingUp, log_: InteractionLog, bus: EventBus) -> None:
        self._center, self._log, self._bus = center, log_, bus

    # InteractionLog
    def append(self, event: InteractionEvent) -> None:
        center = self._center
        if center.writing:
            self._log.append(event)
        elif center.state is not None:  # until the writer says it is durable (above)
            center.log_catch_up.keep(center.state.entry_id, event)

    async def flush(self, timeout: float | None = None) -> None:
        await self._log.flush(timeout)

    def backlog_error(self) -> str | None:
        """The log's bound (``storage/log.py``), on this node's log or, as only the holder
        writes, on what this replica keeps until the holder says it is written."""
        backlog = getattr(self._log, "backlog_error", None)
        reason: str | None = backlog() if backlog is not None else None
        kept, limit = len(self._center.log_catch_up.pending), getattr(self._log, "max_pending", MAX_PENDING)
        if reason is None and kept >= limit:
            reason = f"the lease holder has not logged {kept} events (at most {limit}); is its database away?"
        return reason

    async def read(self, *, after: int = 0, limit: int = 1000, contact_id: str | None = None) -> Any:
        return await self._log.read(after=after, limit=limit, contact_id=contact_id)

    # EventBus
    def publish(self, topic: str, payload: Any) -> None:
        if self._center.writing:
            self._bus.publish(topic, payload)

    def subscribe(self, *patterns: str, maxsize: int = 1000) -> Subscription:
        return self._bus.subscribe(*patterns, maxsize=maxsize)

    async def close(self) -> None:
        await self._bus.close()
