"""One 20 ms media clock for every call in the process.

A timer per call costs a task and a wake-up per call every 20 ms; one clock that walks the
live channels costs one wake-up for all of them. Deadlines are absolute (``loop.time()``
based, ``call_at``) so scheduling delay does not accumulate as drift. If the loop stalls for
more than ``max_catch_up`` ticks the clock resynchronises instead of bursting frames.
The clock counts frames sent late by more than ``late_threshold`` (the bench's figure).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger(__name__)

FRAME_SECONDS = 0.02  # one media frame (``media``: 160 samples at 8 kHz), one tick


class FrameSink(Protocol):
    def on_tick(self) -> None: ...


class MediaClock:
    """Calls ``on_tick()`` on every registered sink each 20 ms while any sink is registered.

    Use from the event loop thread only. ``add``/``remove`` are cheap and idempotent; the
    timer stops by itself when the last sink is removed, so nothing is left behind.
    """

    def __init__(
        self, *, interval: float = FRAME_SECONDS, late_threshold: float = 0.02, max_catch_up: int = 5
    ) -> None:
        self._interval = interval
        self._late_threshold = late_threshold
        self._max_catch_up = max_catch_up
        self._sinks: dict[int, FrameSink] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self.ticks = 0
        self.frame_ticks = 0
        self.late_frame_ticks = 0
        self.max_lateness = 0.0

    def add(self, sink: FrameSink) -> None:
        self._sinks[id(sink)] = sink
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._deadline = loop.time() + self._interval
            self._handle = loop.call_at(self._deadline, self._tick)

    def remove(self, sink: FrameSink) -> None:
        self._sinks.pop(id(sink), None)
        if not self._sinks and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    @property
    def active(self) -> bool:
        return self._handle is not None

    def __len__(self) -> int:
        return len(self._sinks)

    def reset_stats(self) -> None:
        self.ticks = self.frame_ticks = self.late_frame_ticks = 0
        self.max_lateness = 0.0

    @property
    def late_ratio(self) -> float:
        """Share of sink-ticks that ran more than ``late_threshold`` after their deadline."""
        return self.late_frame_ticks / self.frame_ticks if self.frame_ticks else 0.0

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        lateness = now - self._deadline
        sinks = list(self._sinks.values())
        self.ticks += 1
        self.frame_ticks += len(sinks)
        self.max_lateness = max(self.max_lateness, lateness)
        if lateness > self._late_threshold:
            self.late_frame_ticks += len(sinks)
        for sink in sinks:
            try:
                sink.on_tick()
            except Exception:  # one broken channel must not stop everyone's audio
                log.exception("media clock sink failed")
        if not self._sinks:
            self._handle = None
            return
        self._deadline += self._interval
        if now - self._deadline > self._interval * self._max_catch_up:
            self._deadline = now + self._interval
        self._handle = loop.call_at(self._deadline, self._tick)
