"""Core building blocks: virtual clock ordering, id generators, causal context."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.core.clock import SystemClock, VirtualClock
from callcenter.core.context import Context
from callcenter.core.ids import RandomIds, SequentialIds


def test_virtual_clock_fires_equal_times_in_the_order_set() -> None:
    clock = VirtualClock(start=10.0)
    fired: list[str] = []
    clock.call_at(12.0, lambda: fired.append("b"))
    clock.call_at(11.0, lambda: fired.append("a"))
    clock.call_at(12.0, lambda: fired.append("c"))
    cancelled = clock.call_at(11.5, lambda: fired.append("x"))
    cancelled.cancel()
    assert clock.advance(1.5) == 1 and fired == ["a"] and clock.now() == 11.5
    assert clock.advance_to(12.0) == 2 and fired == ["a", "b", "c"]
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance_to(5.0)


def test_virtual_clock_timer_sees_its_own_time() -> None:
    clock = VirtualClock()
    seen: list[float] = []
    clock.call_at(3.0, lambda: seen.append(clock.now()))
    clock.advance(10)
    assert seen == [3.0] and clock.now() == 10.0


async def test_system_clock_schedules_on_the_loop() -> None:
    clock = SystemClock(asyncio.get_running_loop())
    done = asyncio.Event()
    start = clock.now()
    clock.call_at(start + 0.01, done.set)
    await asyncio.wait_for(done.wait(), 2)
    assert clock.now() >= start + 0.01 - 0.002


def test_sequential_ids_are_deterministic_per_kind() -> None:
    a, b = SequentialIds(), SequentialIds()
    seq_a = [a.new("contact"), a.new("contact"), a.new("context")]
    assert seq_a == ["c-000001", "c-000002", "x-000001"]
    assert [b.new("contact"), b.new("contact"), b.new("context")] == seq_a


def test_random_ids_are_unique_and_time_ordered() -> None:
    t = [1_700_000_000_000]
    ids = RandomIds(lambda: t[0])
    first = ids.new("contact")
    t[0] += 1
    second = ids.new("contact")
    assert first.startswith("c-") and first != second and first < second
    assert len({ids.new("contact") for _ in range(1000)}) == 1000


def test_context_chain() -> None:
    ids = SequentialIds()
    root = Context.root(ids)
    child = root.child(ids)
    grandchild = child.child(ids)
    assert root.parent_id is None
    assert (child.parent_id, grandchild.parent_id) == (root.id, child.id)


def test_fast_init_keeps_a_frozen_dataclass_as_it_was() -> None:
    import dataclasses
    import inspect

    from callcenter.core.fastinit import fast_init

    made: list[str] = []

    @fast_init
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Offered:
        offer_id: str
        ring_s: float = 30.0
        attributes: dict[str, str] = dataclasses.field(default_factory=dict)

        def __post_init__(self) -> None:
            made.append(self.offer_id)

    @fast_init
    @dataclasses.dataclass(frozen=True, slots=True)
    class Pair:
        left: int
        right: int = 2

    a, b = Offered(offer_id="o1"), Offered(offer_id="o2", ring_s=5.0, attributes={"tier": "top"})
    assert (a.ring_s, a.attributes, b.ring_s, b.attributes) == (30.0, {}, 5.0, {"tier": "top"})
    assert a.attributes is not Offered(offer_id="o3").attributes  # a fresh dict each time
    assert made == ["o1", "o2", "o3"]
    assert dataclasses.replace(b, ring_s=1.0) == Offered(
        offer_id="o2", ring_s=1.0, attributes={"tier": "top"}
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.ring_s = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        Offered("o4")  # type: ignore[call-arg]  # still keyword-only
    with pytest.raises(TypeError, match="offer_id"):
        Offered()  # type: ignore[call-arg]
    assert Pair(1) == Pair(left=1, right=2) and hash(Pair(1)) == hash(Pair(1, 2))
    assert list(inspect.signature(Offered).parameters) == ["offer_id", "ring_s", "attributes"]

    @dataclasses.dataclass
    class Loose:
        x: int

    with pytest.raises(TypeError, match="frozen, slotted dataclass"):
        fast_init(Loose)
