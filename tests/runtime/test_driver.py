"""The single-writer driver: inputs in order, timers re-armed from next_deadline() on a
virtual clock, refused inputs reported without stopping the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from callcenter.core.clock import VirtualClock
from callcenter.core.errors import EngineError
from callcenter.runtime.dispatch import CommandRouter
from callcenter.runtime.driver import Driver, Rejected


@dataclass(frozen=True)
class ReminderSet:
    name: str
    after: float


@dataclass(frozen=True)
class Ring:
    name: str
    at: float


class UnknownReminder(EngineError):
    code = "unknown_reminder"


class Reminders:
    """A tiny pure engine: reminders that ring at a time; cancelling an unknown one is refused."""

    def __init__(self) -> None:
        self.due: dict[str, float] = {}
        self.out: list[Any] = []

    def handle(self, event: Any, now: float) -> None:
        if isinstance(event, ReminderSet):
            self.due[event.name] = now + event.after
        elif isinstance(event, str):
            if event == "boom":
                raise ZeroDivisionError("engine bug")
            if event not in self.due:
                raise UnknownReminder(f"no reminder named {event!r}")
            del self.due[event]

    def handle_timer(self, now: float) -> None:
        for name, at in sorted(self.due.items(), key=lambda kv: kv[1]):
            if at <= now:
                self.out.append(Ring(name, now))
                del self.due[name]

    def take_commands(self) -> list[Any]:
        out, self.out = self.out, []
        return out

    def next_deadline(self) -> float | None:
        return min(self.due.values(), default=None)


async def run_until(clock: VirtualClock, driver: Driver[Any], until: float) -> None:
    """Step the virtual clock timer by timer, letting the driver settle after each."""
    while (due := clock.next_timer()) is not None and due <= until:
        clock.advance_to(due)
        await driver.idle()
    clock.advance_to(until)
    await driver.idle()


@pytest.fixture
async def setup():  # type: ignore[no-untyped-def]
    clock = VirtualClock(start=1000.0)
    rung: list[Ring] = []
    router = CommandRouter()
    router.register(Ring, rung.append)
    driver = Driver(Reminders(), clock, router, name="reminders")
    driver.start()
    yield clock, driver, rung
    await driver.stop()


async def test_timers_fire_on_the_virtual_clock_in_order(setup) -> None:  # type: ignore[no-untyped-def]
    clock, driver, rung = setup
    await driver.submit(ReminderSet("tea", 180))
    await driver.submit(ReminderSet("egg", 60))
    assert clock.next_timer() == 1060.0  # re-armed to the engine's earliest deadline
    clock.advance(59.9)
    await driver.idle()
    assert rung == []
    clock.advance(0.1)
    await driver.idle()
    assert rung == [Ring("egg", 1060.0)]
    assert clock.next_timer() == 1180.0
    await run_until(clock, driver, 1500.0)
    assert rung == [Ring("egg", 1060.0), Ring("tea", 1180.0)]
    assert clock.next_timer() is None


async def test_cancelled_deadline_disarms_the_timer(setup) -> None:  # type: ignore[no-untyped-def]
    clock, driver, rung = setup
    await driver.submit(ReminderSet("tea", 30))
    await driver.submit("tea")
    assert clock.next_timer() is None
    clock.advance(60)
    await driver.idle()
    assert rung == []


async def test_refused_input_raises_for_the_submitter_and_engine_goes_on(setup) -> None:  # type: ignore[no-untyped-def]
    clock, driver, rung = setup
    with pytest.raises(UnknownReminder, match="no reminder named 'coffee'"):
        await driver.submit("coffee")
    driver.post("coffee")  # a posted refusal is logged, not raised
    with pytest.raises(Rejected, match="internal error handling str: engine bug"):
        await driver.submit("boom")
    await driver.submit(ReminderSet("egg", 5))
    clock.advance(5)
    await driver.idle()
    assert rung == [Ring("egg", 1005.0)]
    assert driver.rejected == 3


async def test_stop_handles_what_is_already_queued() -> None:
    clock = VirtualClock(start=0.0)
    engine = Reminders()
    driver = Driver(engine, clock, lambda cmds: None)
    driver.start()
    for i in range(10):
        driver.post(ReminderSet(f"r{i}", i + 1))
    await driver.stop()
    assert len(engine.due) == 10
