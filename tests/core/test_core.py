"""Core building blocks: virtual clock ordering, id generators, causal context, log records."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from callcenter.core.clock import VirtualClock
from callcenter.core.context import Context
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.core.ids import SequentialIds
from callcenter.runtime.ids import RandomIds
from callcenter.runtime.system_clock import SystemClock


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


def test_log_records_are_frozen_keyword_only_values() -> None:
    """What engines, drivers and the cluster rely on: a record cannot change once made,
    says which field is missing, compares by value, and survives the cluster's pickling."""
    event = InteractionEvent(type="contact.arrived", at=5.0, contact_id="c1", data={"channel": "chat"})
    same = InteractionEvent(type="contact.arrived", at=5.0, contact_id="c1", data={"channel": "chat"})
    assert event == same and RecordEvent(event=event) == RecordEvent(event=same)
    assert event != msgspec.structs.replace(event, at=6.0)
    assert (event.agent_id, event.queue, event.context_id, event.parent_id) == (None, None, None, None)
    assert InteractionEvent(type="x", at=0.0).data == {}
    assert InteractionEvent(type="x", at=0.0).data is not InteractionEvent(type="x", at=0.0).data
    with pytest.raises(AttributeError):
        event.at = 7.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        InteractionEvent("contact.arrived", 5.0)  # type: ignore[call-arg]  # keyword-only
    with pytest.raises(TypeError, match="'at'"):
        InteractionEvent(type="contact.arrived")  # type: ignore[call-arg]
    moved = msgspec.structs.replace(event, queue="sales")
    assert (moved.queue, moved.contact_id, event.queue) == ("sales", "c1", None)
    assert msgspec.structs.asdict(event) == {
        "type": "contact.arrived",
        "at": 5.0,
        "contact_id": "c1",
        "agent_id": None,
        "queue": None,
        "data": {"channel": "chat"},
        "context_id": None,
        "parent_id": None,
    }
    assert RecordEvent(event=event) == RecordEvent(event=msgspec.structs.replace(moved, queue=None))
