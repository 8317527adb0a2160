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

No data can stop the log:

* Every value is encodable: text columns and JSON go through ``core.client_json.clean_text`` /
  ``json_dumps`` (lone surrogates and NUL become U+FFFD, NaN becomes text).
* The writer never dies: whatever a write raises, the batch stays at the front of the
  buffer, ``healthy``/``last_error`` say why, and it is tried again with backoff.
* A data error (the database refused a value, or it could not be encoded), or a batch that
  failed ``_SPLIT_AFTER`` times in a row, is split in halves until the one event at fault
  is found; that event is set aside whole in ``dead_events`` with the reason
  (``dead_letter.py``, a ``log.dead_lettered`` warning, counted in ``dead_lettered``) and
  the events around it are written in order. A connection or schema error never sets an
  event aside: it is retried.

The buffer is the fallback while the database is away, and it is bounded: once it holds
``max_pending`` events, ``backlog_error()`` says why, and the center refuses new contacts
(those already accepted go on, and their events are still kept) until the database is
back and the backlog has drained below the bound. ``health()`` says whether events reach
the database (writer running, last write good, oldest unwritten event younger than
``stall_after`` seconds).

``flush()`` waits at most ``flush_timeout`` seconds until everything appended so far is
written (or set aside), else raises ``LogUnavailable`` with the reason, so no reader waits
on the log without a bound. ``close()`` flushes for at most ``close_timeout`` seconds; the
events still unwritten are appended to the spill file (``spill.py``) and reported, and the
next ``start()`` appends them again before anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.core.client_json import clean_text
from callcenter.core.events import InteractionEvent, StoredEvent
from callcenter.ports.interaction_log import MAX_PENDING, LogUnavailable
from callcenter.storage import dead_letter, log_batch, schema, spill
from callcenter.storage.projections import Row
from callcenter.storage.schema import stored

log = logging.getLogger(__name__)

_RENUMBERED = "renumbered"
FLUSH_TIMEOUT = 5.0  # seconds a reader waits on flush() by default
STALL_AFTER = 30.0  # seconds the oldest unwritten event may wait before health says so
CLOSE_TIMEOUT = 10.0  # seconds close() tries to write before spilling
_SPLIT_AFTER = 3  # failures in a row of one batch before it is split to find a bad event
_BACKOFF_MIN, _BACKOFF_MAX = 0.1, 10.0


@dataclass(frozen=True, slots=True)
class _Failure:
    reason: str
    data_error: bool  # the event's values are at fault, not the connection or the schema


def _describe(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return clean_text(f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}")


def _is_data_error(exc: BaseException) -> bool:
    """A value of the batch is at fault (splitting finds it); else the connection or schema."""
    if isinstance(exc, DataError | IntegrityError):
        return True
    sqlstate = str(getattr(getattr(exc, "orig", None), "sqlstate", None) or "")
    if sqlstate[:2] in ("22", "23"):  # SQL data exception or integrity violation
        return True
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        return True  # a parameter could not be bound (encoded)
    return not isinstance(exc, SQLAlchemyError | OSError | TimeoutError)


class SqlInteractionLog:
    """The interaction log on SQLite or PostgreSQL (see module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        batch_max: int = 1000,
        flush_interval: float = 0.02,
        max_pending: int = MAX_PENDING,
        flush_timeout: float = FLUSH_TIMEOUT,
        stall_after: float = STALL_AFTER,
        close_timeout: float = CLOSE_TIMEOUT,
        spill_path: Path | None = None,
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self.max_pending = max_pending
        self.flush_timeout = flush_timeout
        self.stall_after = stall_after
        self.close_timeout = close_timeout
        self.spill_path = spill_path
        self._now, self._monotonic = now, monotonic
        self._batch_max = batch_max
        self._interval = flush_interval
        self._buffer: deque[InteractionEvent] = deque()
        self._since: deque[float] = deque()  # monotonic append time of each buffered event
        self._next_seq = 1
        self._appended = 0
        self._handled = 0  # written or set aside
        self._open_rows: dict[str, Row] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._durable = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._give_up_at = float("inf")
        self._failures = 0
        self._backoff = _BACKOFF_MIN
        self.healthy = True
        self.last_error: str | None = None
        self.dead_lettered = 0  # events in ``dead_events`` (all time)
        self.unwritten_at_close = 0  # events close() could not write (spilled or reported)

    # Public methods for the owner (app.py) ------------------------------------------

    async def start(self) -> None:
        """Read the last sequence number, append what the spill file holds (before anything
        else), and start the flusher. Call once."""
        self._next_seq = await self._high_water() + 1
        try:
            self.dead_lettered = await dead_letter.count(self._engine)
        except (SQLAlchemyError, OSError) as exc:
            log.error("cannot count the interaction log's dead letters: %s", _describe(exc))
        if self.spill_path is not None:
            for event in spill.take(self.spill_path):
                self.append(event)
        self._task = asyncio.create_task(self._run(), name="interaction-log-flusher")

    async def close(self) -> None:
        """Write everything buffered within ``close_timeout`` seconds, then stop; spill and
        report what could not be written. Appends after this raise."""
        self._closing = True
        self._give_up_at = self._monotonic() + self.close_timeout
        self._wake.set()
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            # the writer gives up by itself after the bound; a write that hangs is cancelled
            done, _ = await asyncio.wait({task}, timeout=self.close_timeout + 1.0)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        async with self._durable:
            self._durable.notify_all()
        self.unwritten_at_close = len(self._buffer)
        if self._buffer:
            self._spill()

    # Public methods for writers and readers ------------------------------------------

    def append(self, event: InteractionEvent) -> None:
        """Buffer ``event`` for writing. Never blocks."""
        if self._closing:
            raise RuntimeError("the interaction log is closed")
        self._buffer.append(event)
        self._since.append(self._monotonic())
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

    @property
    def oldest_pending_s(self) -> float:
        """How long the oldest unwritten event has waited (0 when none waits)."""
        return max(0.0, self._monotonic() - self._since[0]) if self._since else 0.0

    def unavailable(self) -> str | None:
        """Why events are not reaching the database now, or None when they are."""
        if self._task is None or self._task.done():
            return "the interaction log writer is not running"
        if not self.healthy:
            return f"the interaction log's last write failed: {self.last_error}"
        age = self.oldest_pending_s
        if age > self.stall_after:
            return (
                f"the oldest of {len(self._buffer)} unwritten events has waited {age:.1f} s "
                f"(more than {self.stall_after:g} s)"
            )
        return None

    def health(self) -> dict[str, Any]:
        """The log's part of /healthz."""
        reason = self.unavailable()
        return {
            "ok": reason is None,
            "reason": reason,
            "last_seq": self.last_seq,
            "pending": self.pending,
            "oldest_pending_s": round(self.oldest_pending_s, 3),
            "last_error": self.last_error,
            "dead_lettered": self.dead_lettered,
        }

    def backlog_error(self) -> str | None:
        """Why new contacts must wait (the log holds ``max_pending`` unwritten events), or None."""
        if len(self._buffer) < self.max_pending:
            return None
        return (
            f"the interaction log holds {len(self._buffer)} events it could not write "
            f"(at most {self.max_pending}): {self.last_error or 'the database is slow'}"
        )

    async def flush(self, timeout: float | None = None) -> None:
        """Return once every event appended before this call is written (or set aside);
        raise ``LogUnavailable`` after ``timeout`` seconds (default ``flush_timeout``)."""
        bound = self.flush_timeout if timeout is None else timeout
        target = self._appended
        self._wake.set()
        try:
            async with asyncio.timeout(bound), self._durable:
                await self._durable.wait_for(lambda: self._handled >= target or self._task is None)
        except TimeoutError:
            waiting = target - self._handled
            raise LogUnavailable(
                f"the interaction log has not written {waiting} events within {bound:g} s: "
                f"{self.unavailable() or self.last_error or 'the database is slow'}"
            ) from None
        if self._handled < target:
            raise LogUnavailable("the interaction log stopped before everything was written")

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

    # Internals: the writer -----------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                if not await self._step():
                    break
            except Exception as exc:  # never die: keep the buffer, report, retry
                log.exception("interaction log writer failed, will retry")
                if not await self._failed(_describe(exc)):
                    break
        async with self._durable:
            self._durable.notify_all()

    async def _step(self) -> bool:
        """Write one batch (or wait for one); False when the writer is done."""
        if not self._buffer:
            if self._closing:
                return False
            self._wake.clear()
            await self._wake.wait()
            return True
        if len(self._buffer) < self._batch_max and not self._closing and self._interval > 0:
            await asyncio.sleep(self._interval)  # gather a batch
        events = [self._buffer[i] for i in range(min(self._batch_max, len(self._buffer)))]
        failure = await self._try_write(events)
        if failure is None or failure is _RENUMBERED:
            return True
        assert isinstance(failure, _Failure)
        self._failures += 1
        if failure.data_error or self._failures >= _SPLIT_AFTER:
            found = await self._isolate(events)
            if found is None:
                return True
            failure = found
        return await self._failed(failure.reason)

    async def _failed(self, reason: str) -> bool:
        """Report a failed write and back off; False when shutting down past the bound."""
        self.healthy, self.last_error = False, reason
        if self._closing and self._monotonic() >= self._give_up_at:
            return False
        log.error("interaction log write failed, will retry in %.1f s: %s", self._backoff, reason)
        delay = self._backoff
        if self._closing:  # never wait past the bound
            delay = min(delay, max(0.0, self._give_up_at - self._monotonic()))
        with contextlib.suppress(TimeoutError):  # close() cuts one wait short: a try at once
            async with asyncio.timeout(delay):
                await self._stopping.wait()
                self._stopping.clear()
        self._backoff = min(self._backoff * 2, _BACKOFF_MAX)
        return True

    async def _isolate(self, events: list[InteractionEvent]) -> _Failure | None:
        """``events`` (the buffer's front) failed as a batch: write them in halves, in order,
        down to the one event at fault, and set that one aside if its values are to blame.
        None when every event was written or set aside; else the failure that stopped it."""
        failing = events
        while len(failing) > 1:
            half = failing[: len(failing) // 2]
            outcome = await self._try_write(half)
            if outcome is _RENUMBERED:
                continue
            failing = failing[len(half) :] if outcome is None else half
        outcome = await self._try_write(failing)
        if outcome is None or outcome is _RENUMBERED:
            return None
        assert isinstance(outcome, _Failure)
        if not outcome.data_error:
            return outcome
        return await self._dead_letter(failing[0], outcome.reason)

    async def _dead_letter(self, event: InteractionEvent, reason: str) -> _Failure | None:
        row = dead_letter.dead_row(event, reason, self._now())
        try:
            await dead_letter.insert(self._engine, row)
        except Exception as exc:
            return _Failure(
                f"cannot set aside an event the database refused ({reason}): {_describe(exc)}", False
            )
        log.warning(
            "log.dead_lettered: event %s of contact %s set aside in dead_events: %s",
            row["type"],
            row["contact_id"],
            row["reason"],
        )
        self.dead_lettered += 1
        await self._done(1, seqs=0)
        return None

    async def _try_write(self, events: list[InteractionEvent]) -> _Failure | str | None:
        """Write ``events`` (the buffer's front): ``None`` when done, ``_RENUMBERED`` to retry
        now, else the failure."""
        batch = list(enumerate(events, start=self._next_seq))
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
            return _Failure(_describe(exc), True)
        except Exception as exc:
            return _Failure(_describe(exc), _is_data_error(exc))
        await self._done(len(events), seqs=len(events))
        return None

    async def _done(self, count: int, *, seqs: int) -> None:
        """``count`` events at the buffer's front are written (``seqs`` numbers used) or set aside."""
        for _ in range(count):
            self._buffer.popleft()
            self._since.popleft()
        self._next_seq += seqs
        self._failures, self._backoff = 0, _BACKOFF_MIN
        self.healthy, self.last_error = True, None
        async with self._durable:
            self._handled += count
            self._durable.notify_all()

    def _spill(self) -> None:
        count = len(self._buffer)
        types = ", ".join(f"{t} x{n}" for t, n in Counter(e.type for e in self._buffer).most_common())
        if self.spill_path is None:
            log.error("interaction log stopped with %d events unwritten and no spill file: %s", count, types)
            return
        try:
            spill.write(self.spill_path, self._buffer)
        except Exception as exc:
            log.critical(
                "interaction log stopped with %d events unwritten; cannot spill them to %s (%s): %s",
                count,
                self.spill_path,
                exc,
                types,
            )
            return
        log.error(
            "interaction log stopped with %d events unwritten (%s): spilled to %s, "
            "replayed at the next start",
            count,
            types,
            self.spill_path,
        )
        self._buffer.clear()
        self._since.clear()

    # Internals: the database ---------------------------------------------------------

    async def _high_water(self) -> int:
        async with self._engine.connect() as conn:
            last = (await conn.execute(select(func.max(schema.events.c.seq)))).scalar()
        return int(last or 0)

    async def _write(self, batch: Sequence[tuple[int, InteractionEvent]]) -> None:
        async with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await log_batch.copy_events(conn, batch)
            else:
                await conn.execute(schema.events.insert(), [log_batch.event_row(s, e) for s, e in batch])
            rows = await log_batch.fold_batch(conn, batch, self._open_rows)
            if rows:
                await conn.execute(log_batch.upsert(conn), [log_batch.clean_row(r) for r in rows.values()])
        for cid, row in rows.items():
            if row["state"] == "ended":
                self._open_rows.pop(cid, None)
            else:
                self._open_rows[cid] = row
