"""The event bus port: how projections, wallboards and other nodes hear what happened.

``runtime.memory_bus.MemoryBus`` serves one process; ``runtime.cluster.redis_bus.RedisBus`` a cluster.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class BusMessage:
    topic: str
    payload: Mapping[str, Any]


class Subscription(Protocol):
    dropped: int

    def __aiter__(self) -> AsyncIterator[BusMessage]: ...
    async def get(self) -> BusMessage: ...
    def close(self) -> None: ...


class EventBus(Protocol):
    def publish(self, topic: str, payload: Mapping[str, Any]) -> None: ...
    def subscribe(self, *patterns: str, maxsize: int = 1000) -> Subscription: ...
    async def close(self) -> None: ...
