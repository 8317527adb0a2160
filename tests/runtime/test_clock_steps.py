"""The two time lines: engines and their timers run on the clock's step-free line, the log
on the wall clock. The wall clock here is set back an hour and then forward two, between
inputs: every timer still fires after its delay, in order, and each logged event carries
the wall time of its step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from callcenter.acd.messages import AgentLoggedIn, AgentReady, ContactEnded, OfferAccepted
from callcenter.config.sections import CenterConfig, QueueConfig
from callcenter.core.clock import TimerHandle, VirtualClock
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.core.ids import SequentialIds
from callcenter.runtime.center import Center
from callcenter.runtime.cluster.wire import Entry, decode_entry, encode_entry
from callcenter.runtime.driver import Driver, on_the_wall
from callcenter.runtime.memory_bus import MemoryBus
from callcenter.runtime.system_clock import SystemClock

BOOT = 1000.0  # the loop's monotonic time when the clock is made
EPOCH = 1_750_000_000.0  # the wall clock then
HOUR = 3600.0


class Loop:
    """What ``SystemClock`` uses of an asyncio loop (``time``, ``call_at``), moved by hand."""

    def __init__(self) -> None:
        self.timers = VirtualClock(BOOT)

    def time(self) -> float:
        return self.timers.now()

    def call_at(self, when: float, callback: Any) -> TimerHandle:
        return self.timers.call_at(when, callback)


class Wall:
    """A wall clock that follows the loop until it is stepped."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.step = 0.0

    def __call__(self) -> float:
        return EPOCH + (self.loop.time() - BOOT) + self.step


@dataclass(frozen=True)
class Remind:
    name: str
    after: float


class Reminders:
    """A pure engine: reminders that ring ``after`` seconds; each step logs what it did."""

    def __init__(self) -> None:
        self.due: dict[str, float] = {}
        self.out: list[Any] = []

    def handle(self, event: Remind, now: float) -> None:
        self.due[event.name] = now + event.after
        self._log("set", now, name=event.name, due=now + event.after)

    def handle_timer(self, now: float) -> None:
        for name, due in sorted(self.due.items(), key=lambda kv: kv[1]):
            if due <= now:
                del self.due[name]
                self._log("rang", now, name=name, engine_now=now)
                self._log("a second before", now - 1.0, name=name)

    def _log(self, type_: str, at: float, **data: Any) -> None:
        self.out.append(RecordEvent(event=InteractionEvent(type=type_, at=at, data=data)))

    def take_commands(self) -> list[Any]:
        out, self.out = self.out, []
        return out

    def next_deadline(self) -> float | None:
        return min(self.due.values(), default=None)


async def test_timers_keep_their_delay_and_the_log_keeps_the_wall_clock_across_steps() -> None:
    loop = Loop()
    wall = Wall(loop)
    clock = SystemClock(loop, wall=wall)
    logged: list[InteractionEvent] = []
    driver = Driver(Reminders(), clock, lambda cs: logged.extend(c.event for c in cs), name="reminders")
    driver.start()

    async def advance_to(t: float) -> list[str]:
        """Move the loop to ``t`` seconds after boot; the reminders that rang meanwhile."""
        before = len(logged)
        loop.timers.advance_to(BOOT + t)
        await driver.idle()
        return [e.data["name"] for e in logged[before:] if e.type == "rang"]

    await driver.submit(Remind("a", 10.0))  # due at +10
    await driver.submit(Remind("b", 20.0))  # due at +20
    wall.step = -HOUR  # NTP sets the wall clock back an hour
    assert await advance_to(5.0) == []
    await driver.submit(Remind("c", 10.0))  # due at +15
    assert await advance_to(9.9) == []  # the step delays nothing ...
    assert await advance_to(10.0) == ["a"]  # ... and "a" rings after its 10 s
    wall.step = +HOUR  # then two hours forward
    assert await advance_to(14.9) == []  # nothing rings early
    assert await advance_to(15.0) == ["c"]
    assert await advance_to(20.0) == ["b"]
    assert await advance_to(100.0) == []
    await driver.stop()

    step_free = EPOCH  # the engine's time line at boot: the wall clock then, never stepped
    rang = [e for e in logged if e.type == "rang"]
    assert [e.data["engine_now"] for e in rang] == [step_free + 10, step_free + 15, step_free + 20]
    assert [(e.type, e.data["name"], e.at) for e in logged] == [
        ("set", "a", EPOCH),
        ("set", "b", EPOCH),
        ("set", "c", EPOCH + 5 - HOUR),
        ("rang", "a", EPOCH + 10 - HOUR),
        ("a second before", "a", EPOCH + 9 - HOUR),
        ("rang", "c", EPOCH + 15 + HOUR),
        ("a second before", "c", EPOCH + 14 + HOUR),
        ("rang", "b", EPOCH + 20 + HOUR),
        ("a second before", "b", EPOCH + 19 + HOUR),
    ]


def test_a_system_clock_adapter_timer_on_the_wall_line_waits_its_delay() -> None:
    """``call_at`` takes a wall-clock time (an adapter's ``now() + delay``); after a step
    it still means that many seconds from when it was armed."""
    loop = Loop()
    wall = Wall(loop)
    clock = SystemClock(loop, wall=wall)
    wall.step = -HOUR
    fired: list[float] = []
    clock.call_at(clock.now() + 30.0, lambda: fired.append(loop.time()))
    clock.call_at_monotonic(clock.monotonic() + 20.0, lambda: fired.append(loop.time()))
    wall.step = +HOUR  # a step after arming changes nothing
    loop.timers.advance(60.0)
    assert fired == [BOOT + 20.0, BOOT + 30.0]
    assert clock.monotonic() == EPOCH + 60.0 and clock.now() == EPOCH + 60.0 + HOUR


def test_a_virtual_clock_has_one_time_line() -> None:
    clock = VirtualClock(50.0)
    fired: list[float] = []
    clock.call_at_monotonic(55.0, lambda: fired.append(clock.monotonic()))
    clock.advance(10.0)
    assert fired == [55.0] and clock.monotonic() == clock.now() == 60.0
    record = RecordEvent(event=InteractionEvent(type="x", at=60.0))
    assert on_the_wall([record], 60.0, clock.now()) == [record]  # nothing to move


def test_a_cluster_entry_carries_the_holders_wall_clock() -> None:
    """The holder stamps the engine's time and its wall clock; every replica logs the
    entry's events at that wall time, so they all derive the same events."""
    entry = Entry(3, EPOCH + 10.0, "timer", node="n1/abc", wall=EPOCH + 10.0 - HOUR)
    assert decode_entry(encode_entry(entry)) == entry
    older = msgspec.msgpack.decode(encode_entry(entry))
    del older["wall"]  # a node of this wire version that did not send it
    assert decode_entry(msgspec.msgpack.encode(older)).wall is None
    rang = RecordEvent(event=InteractionEvent(type="rang", at=entry.now))
    assert entry.wall is not None
    moved = on_the_wall([rang], entry.now, entry.wall)
    assert moved == [RecordEvent(event=InteractionEvent(type="rang", at=EPOCH + 10.0 - HOUR))]


class Recorded:
    """The interaction log port, kept in memory."""

    def __init__(self) -> None:
        self.events: list[InteractionEvent] = []

    def append(self, event: InteractionEvent) -> None:
        self.events.append(event)

    async def flush(self, timeout: float | None = None) -> None:
        return None

    async def read(self, *, after: int = 0, limit: int = 1000, contact_id: str | None = None) -> list[Any]:
        return []


async def test_the_acds_ring_time_and_wrap_up_keep_their_length_when_the_wall_clock_steps() -> None:
    """The real ACD in the running center: an offer rings for ``ring_time_s`` and a wrap-up
    lasts ``wrap_up_s`` on the step-free line; the log says when, by the wall clock."""
    loop = Loop()
    wall = Wall(loop)
    log = Recorded()
    config = CenterConfig(queues=[QueueConfig(name="general", ring_time_s=20.0, wrap_up_s=30.0)])
    center = Center(config, clock=SystemClock(loop, wall=wall), log=log, bus=MemoryBus(), ids=SequentialIds())
    center.start()

    async def advance_to(t: float) -> list[str]:
        before = len(log.events)
        loop.timers.advance_to(BOOT + t)
        await center.acd.idle()
        return [e.type for e in log.events[before:]]

    await center.submit(AgentLoggedIn(agent_id="alice", skills={}))
    await center.submit(AgentReady(agent_id="alice"))
    await center.contact_arrived(contact_id="c-1", channel="chat", queue="general", caller=None)
    assert [o.agent_id for o in center.engine.offers.values()] == ["alice"]
    wall.step = -HOUR
    assert "contact.offer_timed_out" not in await advance_to(19.9)  # rings its 20 s ...
    assert "contact.offer_timed_out" in await advance_to(20.0)  # ... and not an hour more
    at = {e.type: e.at for e in log.events if e.contact_id == "c-1"}
    assert at["contact.arrived"] == at["contact.offered"] == EPOCH
    assert at["contact.offer_timed_out"] == EPOCH + 20 - HOUR

    await center.submit(AgentReady(agent_id="alice"))  # a missed offer made her NOT_READY
    offer = next(iter(center.engine.offers.values()))  # offered again
    await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
    await center.submit(ContactEnded(contact_id="c-1", by="agent"))  # 30 s of wrap-up from +20
    wall.step = +HOUR
    assert await advance_to(49.9) == []  # nothing ends early ...
    assert await advance_to(50.0) == ["agent.state"]  # ... nor late
    done = log.events[-1]
    assert (done.data["state"], done.data["previous"], done.at) == ("AVAILABLE", "WRAP_UP", EPOCH + 50 + HOUR)
    await center.stop()
