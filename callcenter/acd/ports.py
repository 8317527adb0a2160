"""What the ACD engine is given from outside: a random source and the opening hours.

Ids come as ``callcenter.core.ids.IdGenerator``; time is the ``now`` of each call.
"""

from __future__ import annotations

from typing import Protocol


class RandomSource(Protocol):
    """``random.Random`` fits; the ``random`` routing strategy draws from it."""

    def random(self) -> float: ...


class HoursLike(Protocol):
    """``callcenter.config.hours.HoursTable`` fits."""

    def is_open(self, name: str | None, now: float) -> bool: ...

    def opening(self, name: str | None, now: float) -> str:
        """When a closed calendar opens next, as words ("tomorrow at 7:00"); "" if unknown."""
        ...
