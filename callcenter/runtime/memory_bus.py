"""Event bus: how projections, wallboards and other nodes hear what happened.

``EventBus`` is the port; ``MemoryBus`` serves one process (the embedded default). A topic
is a dotted name (``contact.queued``); a subscription takes exact topics or a prefix
pattern ending in ``*`` (``contact.*``, or ``*`` for everything). Each subscriber has a
bounded queue: a subscriber that falls behind loses its oldest messages and is told how
many through ``dropped``, so one slow wallboard cannot stall the center.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from callcenter.ports.event_bus import BusMessage


def matches(pattern: str, topic: str) -> bool:
    if pattern.endswith("*"):
        return topic.startswith(pattern[:-1])
    return pattern == topic


class _Owner(Protocol):
    def _discard(self, sub: MemorySubscription) -> None: ...


class MemorySubscription:
    def __init__(self, bus: _Owner, patterns: tuple[str, ...], maxsize: int) -> None:
        self._bus = bus
        self.patterns = patterns
        self._queue: asyncio.Queue[BusMessage | None] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.closed = False

    def deliver(self, message: BusMessage) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(message)

    async def get(self) -> BusMessage:
        message = await self._queue.get()
        if message is None:
            raise StopAsyncIteration
        return message

    def __aiter__(self) -> AsyncIterator[BusMessage]:
        return self

    async def __anext__(self) -> BusMessage:
        return await self.get()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._bus._discard(self)
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class MemoryBus:
    """In-process bus (see module docstring)."""

    def __init__(self) -> None:
        self._subscriptions: set[MemorySubscription] = set()

    def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        message = BusMessage(topic, payload)
        for sub in tuple(self._subscriptions):
            if any(matches(p, topic) for p in sub.patterns):
                sub.deliver(message)

    def subscribe(self, *patterns: str, maxsize: int = 1000) -> MemorySubscription:
        sub = MemorySubscription(self, patterns or ("*",), maxsize)
        self._subscriptions.add(sub)
        return sub

    def _discard(self, sub: MemorySubscription) -> None:
        self._subscriptions.discard(sub)

    async def close(self) -> None:
        for sub in tuple(self._subscriptions):
            sub.close()
