"""Clocks. Engines never read a clock: time is handed to them as ``now`` (seconds on the
epoch scale, float). Drivers and adapters read it from a ``Clock``.

A clock has two time lines:

* ``now()`` is the wall clock: what a log line or a report says happened at. An NTP step
  moves it, backwards too.
* ``monotonic()`` never steps: wall time when the clock was made plus the monotonic time
  elapsed since. Engines run on it (the driver hands it to them as ``now``), so their
  deadlines mean "so many seconds from now" even if the wall clock is set back an hour.

A clock also schedules callbacks, because the single-writer driver re-arms exactly one
timer from the engine's ``next_deadline()``: ``call_at_monotonic`` for a time on the
monotonic line (engine deadlines), ``call_at`` for a time on the wall line (an adapter's
``now() + delay``). Either way the wait is kept by a monotonic timer, so a step after
arming changes nothing. Two implementations:

* ``SystemClock`` (``callcenter/runtime/system_clock.py``) reads the system's clocks and
  schedules on an asyncio loop.
* ``VirtualClock`` only moves when told to (``advance``/``advance_to``) and runs due
  callbacks in (time, sequence) order, so equal-time timers fire in the order they were set.
  It never steps: its two lines are one.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Wall time: seconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Step-free time on the epoch scale (see module docstring); engines run on it."""
        ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` once at ``when`` on the wall line (``now()``); past times run as
        soon as possible."""
        ...

    def call_at_monotonic(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` once when ``monotonic()`` reaches ``when``; past times run as soon
        as possible."""
        ...


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

    def monotonic(self) -> float:
        return self._now

    def now_ms(self) -> int:
        return int(self._now * 1000)

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _VirtualTimer(max(when, self._now), callback)
        self._seq += 1
        heapq.heappush(self._heap, (timer.when, self._seq, timer))
        return timer

    def call_at_monotonic(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        return self.call_at(when, callback)

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
