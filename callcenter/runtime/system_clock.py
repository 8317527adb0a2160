"""The system's clocks, for a running server (``core/clock.py`` says what a clock is).

``now()`` reads the wall clock. ``monotonic()`` is the wall time read when the clock was
made plus the asyncio loop's time elapsed since (the loop's time is monotonic), so it
stays near the wall clock but never steps with it. Timers are the loop's own, armed on its
monotonic time: a deadline on the monotonic line maps onto the loop's time exactly, and a
wall-clock ``when`` becomes a delay from the wall time read when it is armed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from callcenter.core.clock import TimerHandle


class SystemClock:
    """Wall and step-free time; timers on the given asyncio loop. ``wall`` reads the wall
    clock (``time.time``; tests hand in one they can set back)."""

    def __init__(self, loop: Any, wall: Callable[[], float] = time.time) -> None:
        self._loop = loop
        self._wall = wall
        self._origin: float = wall() - loop.time()  # monotonic() - loop.time(), fixed

    def now(self) -> float:
        return self._wall()

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def monotonic(self) -> float:
        return self._origin + float(self._loop.time())

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        delay = max(0.0, when - self.now())
        handle: TimerHandle = self._loop.call_at(self._loop.time() + delay, callback)
        return handle

    def call_at_monotonic(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        handle: TimerHandle = self._loop.call_at(when - self._origin, callback)
        return handle
