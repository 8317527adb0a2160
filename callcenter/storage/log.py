"""The interaction log: append-only events, written in batches in sequence order.

Theory of operation
-------------------
``append`` is synchronous and cheap: it puts the event in a buffer, so an engine's driver
never waits on the database. Sequence numbers are given at write time, in append order,
continuing from the highest in the table; if another writer took a number first (a
unique-key conflict), the high-water mark is read again and the batch renumbered. One flusher task
writes the buffer in batches (at most ``batch_max`` events per transaction), either as soon
as a batch is full or ``flush_interval`` seconds after the first buffered event. Each batch
inserts the events and upserts the ``contacts`` projection rows they change in the same
transaction, so the projection always agrees with the events written.

If a write fails (database gone), the batch stays at the front of the buffer and is tried
again with backoff; nothing appended is dropped. ``healthy``/``last_error`` tell /healthz.
The buffer is the fallback while the database is away, and it is bounded: once it holds
``max_pending`` events, ``backlog_error()`` says why, and the center refuses new contacts
(those already accepted go on, and their events are still kept) until the database is
back and the backlog has drained below the bound.
``flush()`` waits until everything appended so far is durable; ``close()`` flushes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.core.events import InteractionEvent, StoredEvent
from callcenter.storage import schema
from callcenter.storage.database import json_dumps
from callcenter.storage.projections import COLUMNS, Row, fold_contact

log = logging.getLogger(__name__)

_IN_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
_RENUMBERED = "renumbered"
MAX_PENDING = 200_000  # unwritten events kept while the database is away (~1 KB each)
_EVENT_COLUMNS = ("seq", "at", "contact_id", "agent_id", "queue", "type", "data", "context_id", "parent_id")


def _describe(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


class InteractionLog(Protocol):
    def append(self, event: InteractionEvent) -> None: ...
    async def flush(self) -> None: ...
    async def read(
        self, *, after: int = 0, limit: int = 1000, contact_id: str | None = None
    ) -> list[StoredEvent]: ...


def _event_row(seq: int, e: InteractionEvent) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": e.at,
        "contact_id": e.contact_id,
        "agent_id": e.agent_id,
        "queue": e.queue,
        "type": e.type,
        "data": dict(e.data),
        "context_id": e.context_id,
        "parent_id": e.parent_id,
    }


def stored(row: Any) -> StoredEvent:
    m = row._mapping
    return StoredEvent(
        seq=m["seq"],
        at=m["at"],
        contact_id=m["contact_id"],
        agent_id=m["agent_id"],
        queue=m["queue"],
        type=m["type"],
        data=m["data"],
        context_id=m["context_id"],
        parent_id=m["parent_id"],
    )


class SqlInteractionLog:
    """The interaction log on SQLite or PostgreSQL (see module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        batch_max: int = 1000,
        flush_interval: float = 0.02,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._engine = engine
        self.max_pending = max_pending
        self._batch_max = batch_max
        self._interval = flush_interval
        self._buffer: deque[InteractionEvent] = deque()
        self._next_seq = 1
        self._appended = 0
        self._written = 0
        self._open_rows: dict[str, Row] = {}
        self._wake = asyncio.Event()
        self._durable = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.healthy = True
        self.last_error: str | None = None

    # Public methods for the owner (app.py) ------------------------------------------

    async def start(self) -> None:
        """Read the last sequence number and start the flusher. Call once."""
        self._next_seq = await self._high_water() + 1
        self._task = asyncio.create_task(self._run(), name="interaction-log-flusher")

    async def close(self) -> None:
        """Write everything buffered, then stop. Appends after this raise."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    # Public methods for writers and readers ------------------------------------------

    def append(self, event: InteractionEvent) -> None:
        """Buffer ``event`` for writing. Never blocks."""
        if self._closing:
            raise RuntimeError("the interaction log is closed")
        self._buffer.append(event)
        self._appended += 1
        if len(self._buffer) == 1 or len(self._buffer) >= self._batch_max:
            self._wake.set()

    @property
    def last_seq(self) -> int:
        """The highest sequence number this log has written."""
        return self._next_seq - 1

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def backlog_error(self) -> str | None:
        """Why new contacts must wait (the log holds ``max_pending`` unwritten events), or None."""
        if len(self._buffer) < self.max_pending:
            return None
        return (
            f"the interaction log holds {len(self._buffer)} events it could not write "
            f"(at most {self.max_pending}): {self.last_error or 'the database is slow'}"
        )

    async def flush(self) -> None:
        """Return once every event appended before this call is written."""
        target = self._appended
        self._wake.set()
        async with self._durable:
            await self._durable.wait_for(lambda: self._written >= target or self._task is None)
        if self._written < target:
            raise RuntimeError("the interaction log stopped before everything was written")

    async def read(
        self, *, after: int = 0, limit: int = 1000, contact_id: str | None = None
    ) -> list[StoredEvent]:
        """Durable events with ``seq > after`` in sequence order (optionally one contact's)."""
        ev = schema.events
        query = select(ev).where(ev.c.seq > after).order_by(ev.c.seq).limit(limit)
        if contact_id is not None:
            query = query.where(ev.c.contact_id == contact_id)
        async with self._engine.connect() as conn:
            return [stored(r) for r in await conn.execute(query)]

    # Internals -------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            if not self._buffer:
                if self._closing:
                    break
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(self._buffer) < self._batch_max and not self._closing and self._interval > 0:
                await asyncio.sleep(self._interval)  # gather a batch
            events = [self._buffer[i] for i in range(min(self._batch_max, len(self._buffer)))]
            error = await self._try_write(list(enumerate(events, start=self._next_seq)))
            if error is _RENUMBERED:
                continue
            if error is not None:
                self.healthy, self.last_error = False, error
                log.error("interaction log write failed, will retry: %s", error)
                if self._closing and backoff > 5:
                    log.critical("giving up on %d unwritten events at shutdown", len(self._buffer))
                    break
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.1
            self.healthy, self.last_error = True, None
            for _ in events:
                self._buffer.popleft()
            self._next_seq += len(events)
            async with self._durable:
                self._written += len(events)
                self._durable.notify_all()
        async with self._durable:
            self._durable.notify_all()

    async def _try_write(self, batch: list[tuple[int, InteractionEvent]]) -> str | None:
        """Write one batch: ``None`` when done, ``_RENUMBERED`` to retry now, else the error."""
        try:
            await self._write(batch)
        except IntegrityError as exc:
            try:
                high = await self._high_water() + 1
            except (SQLAlchemyError, OSError):
                high = self._next_seq
            if high != self._next_seq:  # another writer took these numbers
                log.warning("another writer took sequence numbers; renumbering from %d", high)
                self._next_seq = high
                return _RENUMBERED
            return _describe(exc)
        except (SQLAlchemyError, OSError) as exc:
            return _describe(exc)
        return None

    async def _high_water(self) -> int:
        async with self._engine.connect() as conn:
            last = (await conn.execute(select(func.max(schema.events.c.seq)))).scalar()
        return int(last or 0)

    async def _write(self, batch: Sequence[tuple[int, InteractionEvent]]) -> None:
        async with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await self._copy_events(conn, batch)
            else:
                await conn.execute(schema.events.insert(), [_event_row(s, e) for s, e in batch])
            rows = await self._fold(conn, batch)
            if rows:
                await conn.execute(self._upsert(conn), list(rows.values()))
        for cid, row in rows.items():
            if row["state"] == "ended":
                self._open_rows.pop(cid, None)
            else:
                self._open_rows[cid] = row

    @staticmethod
    async def _copy_events(conn: AsyncConnection, batch: Sequence[tuple[int, InteractionEvent]]) -> None:
        """PostgreSQL: COPY the batch (several times faster than a multi-row INSERT)."""
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        records = [
            (
                s,
                e.at,
                e.contact_id,
                e.agent_id,
                e.queue,
                e.type,
                json_dumps(dict(e.data)),
                e.context_id,
                e.parent_id,
            )
            for s, e in batch
        ]
        try:
            await driver.copy_records_to_table("events", records=records, columns=_EVENT_COLUMNS)
        except Exception as exc:  # the raw driver's errors are not wrapped by SQLAlchemy
            if type(exc).__module__.split(".")[0] != "asyncpg":
                raise
            if getattr(exc, "sqlstate", None) == "23505":  # another writer took these numbers
                raise IntegrityError("COPY events", None, exc) from exc
            raise OperationalError("COPY events", None, exc) from exc

    async def _fold(
        self, conn: AsyncConnection, batch: Sequence[tuple[int, InteractionEvent]]
    ) -> dict[str, Row]:
        # A contact's life begins with ``contact.arrived`` under a freshly minted id, so a
        # contact whose first event here is its arrival has no row yet: no lookup needed.
        first_type: dict[str, str] = {}
        for _, e in batch:
            if e.contact_id is not None and e.contact_id not in first_type:
                first_type[e.contact_id] = e.type
        rows: dict[str, Row] = {}
        missing = [
            cid
            for cid, kind in first_type.items()
            if kind != "contact.arrived" and cid not in self._open_rows
        ]
        c = schema.contacts
        if missing and conn.dialect.name == "postgresql":
            # one array parameter: the same prepared statement for every batch
            query = select(c).where(c.c.contact_id == any_(bindparam("ids", type_=ARRAY(String))))
            for r in await conn.execute(query, {"ids": missing}):
                rows[r.contact_id] = dict(r._mapping)
            missing = []
        for i in range(0, len(missing), _IN_CHUNK):
            chunk = missing[i : i + _IN_CHUNK]
            for r in await conn.execute(select(c).where(c.c.contact_id.in_(chunk))):
                rows[r.contact_id] = dict(r._mapping)
        for seq, event in batch:
            cid = event.contact_id
            if cid is None:
                continue
            current = rows.get(cid) or self._open_rows.get(cid)
            folded = fold_contact(current, event, seq)
            if folded is not None:
                rows[cid] = folded
        return rows

    @staticmethod
    def _upsert(conn: AsyncConnection) -> Any:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(schema.contacts)
        keep = ("contact_id", "first_seq")
        return stmt.on_conflict_do_update(
            index_elements=["contact_id"],
            set_={c: stmt.excluded[c] for c in COLUMNS if c not in keep},
        )
