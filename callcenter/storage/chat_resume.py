"""What a chat's resume needs, in the center's database (SQLite or PostgreSQL), so that a
customer's resume token outlives the process: a row per live chat session in
``chat_resume`` (keyed by the SHA-256 of the token, never the token itself) and its
replayable frames in ``chat_resume_frames``.

Writes are queued and sent by one task in batches, in order (a frame costs the page
nothing); a batch the database refuses stays queued and is retried with a backoff. Data
that cannot be written at all (an unexpected error) is dropped with an error logged: the
interaction log, not this table, is the record of the conversation. What was queued in the
last ``interval_s`` before a kill -9 may be missing, as in the log.

Restart recovery (``runtime/recovery.py``) reads it before any traffic: ``hold`` keeps the
records of the chats it puts aside for their customers and deletes every other one (their
chats are over), so a token of a chat that ended is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.core.client_json import clean_text
from callcenter.ports.chat_resume import ResumeRecord
from callcenter.storage.schema import chat_resume, chat_resume_frames

log = logging.getLogger(__name__)

Op = tuple[str, tuple[Any, ...]]
BATCH = 500
BACKOFF_MAX_S = 5.0


def _transient(exc: BaseException) -> bool:
    """The database is away or busy (retry), not refusing this write for good."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OperationalError, InterfaceError, OSError))


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _text(value: str | None) -> str | None:
    """Text the database takes (``clean_text``: lone surrogates and NUL become U+FFFD)."""
    return None if value is None else clean_text(value)


class SqlChatResume:
    def __init__(self, engine: AsyncEngine, now: Callable[[], float], *, interval_s: float = 0.02) -> None:
        self.engine = engine
        self.now = now
        self.interval_s = interval_s
        self._outbox: deque[Op] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_loop(), name="chat-resume-writer")

    async def stop(self) -> None:
        """Write what is queued (for at most 2 s), then stop the writer."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self.flushed()
        if self._outbox:
            log.error("chat resume store: %d write(s) not done at shutdown", len(self._outbox))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def flushed(self) -> None:
        """Wait until every write queued so far is in the database."""
        while self._outbox:
            self._wake.set()
            await asyncio.sleep(0.01)

    # Writes (queued) ----------------------------------------------------------------------------

    def save(self, token: str, contact_id: str, fields: dict[str, Any]) -> None:
        """The session's details and flags (name, email, phone, entry, queued, rated, ended)."""
        self._put("save", token_sha256(token), contact_id, fields)

    def add_frame(self, token: str, n: int, frame: dict[str, Any], *, keep: int) -> None:
        """Frame number ``n`` of the conversation; only the last ``keep`` are kept."""
        self._put("frame", token_sha256(token), n, json.dumps(frame, default=str), keep)

    def forget(self, token: str) -> None:
        self._put("forget", token_sha256(token))

    def forget_contact(self, contact_id: str) -> None:
        self._put("forget_contact", contact_id)

    # Reads --------------------------------------------------------------------------------------

    async def load(self, token: str) -> ResumeRecord | None:
        digest = token_sha256(token)
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(chat_resume).where(chat_resume.c.token_sha256 == digest))
            ).first()
            if row is None:
                return None
            query = (
                select(chat_resume_frames.c.n, chat_resume_frames.c.frame)
                .where(chat_resume_frames.c.token_sha256 == digest)
                .order_by(chat_resume_frames.c.n)
            )
            frames = [(n, json.loads(f)) for n, f in await conn.execute(query)]
        r = row._mapping
        return ResumeRecord(
            contact_id=r["contact_id"],
            name=r["name"],
            email=r["email"],
            phone=r["phone"],
            entry=r["entry"],
            queued=bool(r["queued"]),
            rated=bool(r["rated"]),
            ended=bool(r["ended"]),
            held_since=r["held_since"],
            frames=[f for _, f in frames],
            next_n=(frames[-1][0] + 1) if frames else 0,
        )

    async def hold(self, contact_ids: Iterable[str], now: float) -> dict[str, float]:
        """At a restart, before any traffic: keep the records of ``contact_ids`` (marked held
        since ``now`` unless they already were, by an earlier restart) and delete every other
        record. Returns, per contact that has a record, since when it is held."""
        wanted = set(contact_ids)
        held: dict[str, float] = {}
        drop: list[str] = []
        async with self.engine.begin() as conn:
            rows = await conn.execute(
                select(chat_resume.c.token_sha256, chat_resume.c.contact_id, chat_resume.c.held_since)
            )
            for digest, contact_id, since in rows:
                if contact_id in wanted:
                    held[contact_id] = min(held.get(contact_id, now), since if since is not None else now)
                else:
                    drop.append(digest)
            if held:
                await conn.execute(
                    update(chat_resume)
                    .where(chat_resume.c.contact_id.in_(list(held)))
                    .where(chat_resume.c.held_since.is_(None))
                    .values(held_since=now)
                )
            for i in range(0, len(drop), BATCH):
                chunk = drop[i : i + BATCH]
                await conn.execute(delete(chat_resume).where(chat_resume.c.token_sha256.in_(chunk)))
                await conn.execute(
                    delete(chat_resume_frames).where(chat_resume_frames.c.token_sha256.in_(chunk))
                )
        return held

    # The writer ---------------------------------------------------------------------------------

    def _put(self, *op: Any) -> None:
        self._outbox.append((op[0], op[1:]))
        self._wake.set()

    async def _write_loop(self) -> None:
        backoff = 0.1
        while True:
            if not self._outbox:
                self._wake.clear()
                await self._wake.wait()
                await asyncio.sleep(self.interval_s)  # gather a batch
            batch = [self._outbox[i] for i in range(min(BATCH, len(self._outbox)))]
            try:
                await self._write(batch)
            except Exception as exc:
                # one write the database will never take is dropped; the others go on
                done = False if _transient(exc) else await self._write_one_by_one(batch)
                if not done:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("chat resume store: writing failed, retrying in %.1f s: %s", backoff, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(BACKOFF_MAX_S, backoff * 2)
                    continue
            backoff = 0.1
            self.last_error = None
            for _ in batch:
                self._outbox.popleft()

    async def _write(self, batch: list[Op]) -> None:
        async with self.engine.begin() as conn:
            for what, args in batch:
                await self._apply(conn, what, args)

    async def _write_one_by_one(self, batch: list[Op]) -> bool:
        """Each write on its own; False (the batch stays queued) if the database went away."""
        for i, op in enumerate(batch):
            try:
                await self._write([op])
            except Exception as exc:
                if _transient(exc):
                    for _ in range(i):
                        self._outbox.popleft()
                    return False
                log.exception("chat resume store: a %s write that cannot be done is dropped", op[0])
        return True

    async def _apply(self, conn: AsyncConnection, what: str, args: tuple[Any, ...]) -> None:
        if what == "save":
            digest, contact_id, fields = args
            values = {
                "contact_id": contact_id,
                "name": _text(fields.get("name")),
                "email": _text(fields.get("email")),
                "phone": _text(fields.get("phone")),
                "entry": _text(fields.get("entry")),
                "queued": int(bool(fields.get("queued"))),
                "rated": int(bool(fields.get("rated"))),
                "ended": int(bool(fields.get("ended"))),
                "updated_at": self.now(),
                "held_since": None,  # written by a live session: not held any more
            }
            done = await conn.execute(
                update(chat_resume).where(chat_resume.c.token_sha256 == digest).values(**values)
            )
            if done.rowcount == 0:
                await conn.execute(insert(chat_resume).values(token_sha256=digest, **values))
        elif what == "frame":
            digest, n, frame, keep = args
            await conn.execute(insert(chat_resume_frames).values(token_sha256=digest, n=n, frame=frame))
            if n >= keep and n % 100 == 0:
                await conn.execute(
                    delete(chat_resume_frames)
                    .where(chat_resume_frames.c.token_sha256 == digest)
                    .where(chat_resume_frames.c.n <= n - keep)
                )
        elif what == "forget":
            (digest,) = args
            await conn.execute(delete(chat_resume).where(chat_resume.c.token_sha256 == digest))
            await conn.execute(delete(chat_resume_frames).where(chat_resume_frames.c.token_sha256 == digest))
        elif what == "forget_contact":
            (contact_id,) = args
            digests = select(chat_resume.c.token_sha256).where(chat_resume.c.contact_id == contact_id)
            await conn.execute(
                delete(chat_resume_frames).where(chat_resume_frames.c.token_sha256.in_(digests))
            )
            await conn.execute(delete(chat_resume).where(chat_resume.c.contact_id == contact_id))
