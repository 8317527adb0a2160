"""The ACD's pending deadlines, in (time, sequence) order: what the router arms and the
timers part (``timers.py``) fires."""

from __future__ import annotations

import heapq

Timer = tuple[float, int, str, str, int]  # (when, sequence, kind, id, token)


class TimerHeap:
    """The pending deadlines. One sequence numbers both the timers and the contacts (it
    breaks ties in both orders); snapshots keep it as one."""

    def __init__(self, positions_every: float | None) -> None:
        self.heap: list[Timer] = []
        self.seq = 0
        self.positions_every = positions_every
        self.positions_armed = False
        self.hours_armed = False  # the minute tick that moves voicemails in and out of routing

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def arm(self, kind: str, ident: str, when: float, token: int) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (when, self.seq, kind, ident, token))

    def arm_positions(self, now: float) -> None:
        if self.positions_every is not None and not self.positions_armed:
            self.positions_armed = True
            self.arm("positions", "", now + self.positions_every, 0)

    def arm_hours(self, now: float) -> None:
        """Look at opening hours again at the next whole minute (calendars open and close on
        whole minutes) while voicemails wait."""
        if not self.hours_armed:
            self.hours_armed = True
            self.arm("hours", "", (now // 60 + 1) * 60, 0)
