"""Chat sessions that resume on any node: their resumable part kept in Redis.

Each session has a hash (``RedisKeys.chat``: contact id, customer, entry, queued, rated,
ended, the node carrying it) and a list of its replayable frames (``chat_frames``, capped
at ``MAX_HISTORY``), both with a TTL of the chat grace, renewed while the session lives
on its node. Writes are queued and sent by one task in pipelines, in order, so a frame
costs the page nothing; a write that fails (Redis away) is retried.

A customer who reconnects to another node with the token gets the session from here; the
node claims the contact (``ClusterCenter.claim``: an ``own`` entry every replica applies),
so the reaper does not end it and the node it was on, if alive, forgets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

from callcenter.chat.protocol import Start
from callcenter.chat.sessions import MAX_HISTORY, ChatSession, Frame
from callcenter.runtime.cluster.node_center import ClusterCenter
from callcenter.runtime.cluster.wire import raise_if_cancelled, stop_tasks, text, write_head

log = logging.getLogger(__name__)

Op = tuple[str, str, Any]  # (what, token, payload)


class RedisChatStore:
    """``ChatStore`` (``chat/sessions.py``) in the cluster's Redis."""

    def __init__(self, center: ClusterCenter, grace_s: float) -> None:
        self.center, self.redis, self.keys = center, center.redis, center.keys
        self.ttl_ms = max(1, int(grace_s * 1000))
        self._live: dict[str, ChatSession] = {}
        self._outbox: deque[Op] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._write_loop(), name="chat-store")]

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self.flushed()
        await stop_tasks(self._tasks)

    async def flushed(self) -> None:
        """Wait until every write queued so far is in Redis."""
        while self._outbox:
            await asyncio.sleep(0.02)

    # ChatStore --------------------------------------------------------------------------------

    def saved(self, session: ChatSession) -> None:
        self._live[session.token] = session
        self._put(
            "meta",
            session.token,
            {
                "contact_id": session.contact_id,
                "name": session.name or "",
                "email": session.email or "",
                "phone": session.phone or "",
                "entry": session.entry,
                "queued": int(session.queued),
                "rated": int(session.rated),
                "ended": int(session.ended),
                "node": self.center.owner,
            },
        )

    def frame(self, session: ChatSession, frame: Frame) -> None:
        self._put("frame", session.token, json.dumps(frame, default=str))

    def forget(self, session: ChatSession) -> None:
        self._live.pop(session.token, None)
        self._put("forget", session.token, None)

    async def load(self, token: str) -> ChatSession | None:
        meta_raw: Any = await self.redis.hgetall(self.keys.chat(token))
        if not meta_raw:
            return None
        meta = {text(k): text(v) for k, v in meta_raw.items()}
        frames: Any = await self.redis.lrange(self.keys.chat_frames(token), -MAX_HISTORY, -1)
        start = Start(
            name=meta["name"] or None,
            email=meta["email"] or None,
            phone=meta["phone"] or None,
            entry=meta["entry"] or None,
        )
        session = ChatSession(meta["contact_id"], start, token=token)
        session.history = [json.loads(text(f)) for f in frames]
        session.ended, session.rated, session.queued = (
            meta["ended"] == "1",
            meta["rated"] == "1",
            meta["queued"] == "1",
        )
        if not session.ended:
            session.store = self
            self.saved(session)  # carried by this node now
            if session.queued:
                self.center.claim(session.contact_id)
        return session

    # Internals --------------------------------------------------------------------------------

    def _put(self, what: str, token: str, payload: Any) -> None:
        self._outbox.append((what, token, payload))
        self._wake.set()

    async def _write_loop(self) -> None:
        while True:
            raise_if_cancelled()
            if not self._outbox:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # renew the TTLs of live sessions
                    async with asyncio.timeout(self.ttl_ms / 3000):
                        await self._wake.wait()
                if not self._outbox:
                    for token, session in list(self._live.items()):
                        if session.store is self:
                            self._outbox.append(("touch", token, None))
                        else:  # resumed on another node
                            del self._live[token]
                    if not self._outbox:
                        continue
            await write_head(
                self._outbox,
                self._write,
                limit=200,
                backoff_s=0.3,
                on_error=lambda exc: log.warning("chat store: writing failed: %s", exc),
            )

    async def _write(self, batch: list[Op]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for what, token, payload in batch:
                meta, frames = self.keys.chat(token), self.keys.chat_frames(token)
                if what == "forget":
                    pipe.delete(meta, frames)
                    continue
                if what == "meta":
                    pipe.hset(meta, mapping=payload)
                elif what == "frame":
                    pipe.rpush(frames, payload)
                    pipe.ltrim(frames, -MAX_HISTORY, -1)
                pipe.pexpire(meta, self.ttl_ms)
                pipe.pexpire(frames, self.ttl_ms)
            await pipe.execute()
