"""The in-memory event bus: topic patterns, fan-out, and slow subscribers that lose their
oldest messages instead of stalling publishers."""

from __future__ import annotations

import asyncio

from callcenter.runtime.memory_bus import MemoryBus


async def test_subscribers_get_matching_topics_in_order() -> None:
    bus = MemoryBus()
    contacts = bus.subscribe("contact.*")
    everything = bus.subscribe()
    offered = bus.subscribe("contact.offered")
    bus.publish("contact.queued", {"id": 1})
    bus.publish("agent.state", {"id": 2})
    bus.publish("contact.offered", {"id": 3})
    assert [(await contacts.get()).payload["id"] for _ in range(2)] == [1, 3]
    assert [(await everything.get()).payload["id"] for _ in range(3)] == [1, 2, 3]
    assert (await offered.get()).topic == "contact.offered"
    await bus.close()


async def test_slow_subscriber_drops_oldest_and_counts() -> None:
    bus = MemoryBus()
    slow = bus.subscribe(maxsize=3)
    for i in range(10):
        bus.publish("tick", {"n": i})
    assert slow.dropped == 7
    assert [(await slow.get()).payload["n"] for _ in range(3)] == [7, 8, 9]


async def test_closing_ends_iteration() -> None:
    bus = MemoryBus()
    sub = bus.subscribe("x")
    bus.publish("x", {"n": 1})

    async def drain() -> list[int]:
        return [m.payload["n"] async for m in sub]

    task = asyncio.create_task(drain())
    await asyncio.sleep(0)
    await bus.close()
    assert await asyncio.wait_for(task, 2) == [1]
    bus.publish("x", {"n": 2})  # no subscribers left: nothing to deliver, no error
