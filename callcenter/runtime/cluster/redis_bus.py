"""The event bus over a Redis Stream, for several nodes.

``publish`` stays synchronous and never waits on Redis: messages go to a local buffer that
one writer task sends with pipelined XADDs (capped with an approximate MAXLEN). One reader
task per node runs XREAD on the stream from where the node joined and fans messages out
to local subscriptions, so every node (the publisher's too) sees every message in the
stream's single order. If Redis goes away the buffer is kept and re-sent, ``healthy`` and
``last_error`` say why, and reading resumes from the last id seen.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from callcenter.ports.event_bus import BusMessage
from callcenter.runtime.cluster.redis_keys import RedisKeys
from callcenter.runtime.cluster.wire import raise_if_cancelled, stop_tasks, write_head
from callcenter.runtime.memory_bus import MemorySubscription, matches

log = logging.getLogger(__name__)


class RedisBus:
    def __init__(self, redis: Redis, keys: RedisKeys, *, node_id: str, maxlen: int = 100_000) -> None:
        self._redis = redis
        self._keys = keys
        self.node_id = node_id
        self._maxlen = maxlen
        self._outbox: deque[tuple[str, str]] = deque()
        self._wake = asyncio.Event()
        self._subscriptions: set[MemorySubscription] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_id = "$"
        self._closing = False
        self.healthy = True
        self.last_error: str | None = None

    async def start(self) -> None:
        """Join the stream at its current end and start the writer and reader tasks."""
        info = (
            await self._redis.xinfo_stream(self._keys.bus_stream)
            if await self._redis.exists(self._keys.bus_stream)
            else None
        )
        self._last_id = info["last-generated-id"] if info else "0-0"
        if isinstance(self._last_id, bytes):
            self._last_id = self._last_id.decode()
        self._tasks = [
            asyncio.create_task(self._write_loop(), name="redis-bus-writer"),
            asyncio.create_task(self._read_loop(), name="redis-bus-reader"),
        ]

    def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        self._outbox.append((topic, json.dumps(payload, separators=(",", ":"), default=str)))
        self._wake.set()

    def subscribe(self, *patterns: str, maxsize: int = 1000) -> MemorySubscription:
        sub = MemorySubscription(self, patterns or ("*",), maxsize)
        self._subscriptions.add(sub)
        return sub

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every published message has been sent to Redis."""
        async with asyncio.timeout(timeout):
            while self._outbox:
                self._wake.set()
                await asyncio.sleep(0.005)

    async def close(self) -> None:
        try:
            await self.flush(2.0)
        except TimeoutError:
            log.warning("closing the bus with %d unsent messages", len(self._outbox))
        self._closing = True
        self._wake.set()
        await stop_tasks(self._tasks)
        for sub in tuple(self._subscriptions):
            sub.close()

    # MemorySubscription calls this on close
    def _discard(self, sub: MemorySubscription) -> None:
        self._subscriptions.discard(sub)

    async def _write_loop(self) -> None:
        while not self._closing:
            raise_if_cancelled()
            if not self._outbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            if await write_head(
                self._outbox, self._publish_batch, limit=500, backoff_s=0.5, on_error=self._fail
            ):
                self.healthy, self.last_error = True, None

    async def _publish_batch(self, batch: list[tuple[str, str]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for topic, payload in batch:
                pipe.xadd(
                    self._keys.bus_stream,
                    {"t": topic, "p": payload, "n": self.node_id},
                    maxlen=self._maxlen,
                    approximate=True,
                )
            await pipe.execute()

    async def _read_loop(self) -> None:
        while not self._closing:
            raise_if_cancelled()
            try:
                streams: dict[Any, Any] = {self._keys.bus_stream: self._last_id}
                replies = await self._redis.xread(streams, count=1000, block=1000)
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                self._fail(exc)
                await asyncio.sleep(0.5)
                continue
            entries_by_stream: list[Any] = list(replies or ())  # redis-py types this loosely
            for _stream, entries in entries_by_stream:
                for entry_id, fields in entries:
                    self._last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    self._deliver(fields)

    def _deliver(self, fields: Mapping[Any, Any]) -> None:
        def text(key: str) -> str:
            value = fields.get(key.encode(), fields.get(key))
            return value.decode() if isinstance(value, bytes) else str(value)

        topic = text("t")
        try:
            payload = json.loads(text("p"))
        except ValueError:
            log.warning("dropping a bus message with a payload that is not JSON on %s", topic)
            return
        message = BusMessage(topic, payload)
        for sub in tuple(self._subscriptions):
            if any(matches(p, topic) for p in sub.patterns):
                sub.deliver(message)

    def _fail(self, exc: BaseException) -> None:
        if self.healthy:
            log.error("redis bus: %s", exc)
        self.healthy, self.last_error = False, f"{type(exc).__name__}: {exc}"
