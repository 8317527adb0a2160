"""The interaction log across a failover: what a dead holder had not written yet.

Only the node that sequenced an entry writes the entry's events to the log. A holder
killed between applying entries and its log's next flush would take their events with it,
so every other replica keeps the events it derived itself, with the applied-stream id of
their entry, until the holder says they are durable: after each flush it stores the last
entry id whose events are written (``<prefix>:acd:log_durable``, fenced like its other
writes). The next holder writes those kept events that came after that mark and that the
log does not hold yet (same type, contact, agent and time: every replica derives the same
events, stamped with the same time).
"""

from __future__ import annotations

import logging
from collections import deque

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.core.events import InteractionEvent
from callcenter.runtime.cluster_wire import id_after, text
from callcenter.runtime.redis_keys import RedisKeys
from callcenter.storage import schema
from callcenter.storage.log import MAX_PENDING, InteractionLog

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
            ev.c.at >= min(e.at for e in events))
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
