"""Clocks. Engines never read a clock: time is handed to them as ``now`` (seconds since the
Unix epoch, float). Drivers and adapters read it from a ``Clock``.

A clock also schedules callbacks (``call_at``), because the single-writer driver re-arms
exactly one timer from the engine's ``next_deadline()``. Two implementations:

* ``SystemClock`` reads the wall clock and schedules on an asyncio loop handed to it.
* ``VirtualClock`` only moves when told to (``advance``/``advance_to``) and runs due
  callbacks in (time, sequence) order, so equal-time timers fire in the order they were set.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` once at ``when`` (epoch seconds); past times run as soon as possible."""
        ...


class SystemClock:
    """Wall-clock time; timers on the given asyncio loop (passed in, not imported)."""

    def __init__(self, loop: Any) -> None:
        self._loop = loop

    def now(self) -> float:
        return datetime.now(UTC).timestamp()

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        delay = max(0.0, when - self.now())
        handle: TimerHandle = self._loop.call_at(self._loop.time() + delay, callback)
        return handle


class _VirtualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock that stands still until advanced; for tests and the simulator."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._seq = 0
        self._heap: list[tuple[float, int, _VirtualTimer]] = []

    def now(self) -> float:
        return self._now

    def now_ms(self) -> int:
        return int(self._now * 1000)

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _VirtualTimer(max(when, self._now), callback)
        self._seq += 1
        heapq.heappush(self._heap, (timer.when, self._seq, timer))
        return timer

    def next_timer(self) -> float | None:
        """When the earliest pending timer is due, or ``None``."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def advance_to(self, when: float) -> int:
        """Move time forward to ``when``, firing due timers in order; return how many fired."""
        if when < self._now:
            raise ValueError(f"virtual clock cannot go back from {self._now} to {when}")
        fired = 0
        while self._heap and self._heap[0][0] <= when:
            at, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self._now = at
            timer.callback()
            fired += 1
        self._now = when
        return fired

    def advance(self, seconds: float) -> int:
        return self.advance_to(self._now + seconds)
