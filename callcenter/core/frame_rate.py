"""How fast one WebSocket connection may send frames: a token bucket, plus a flood gauge.

Theory of operation
-------------------
A connection may send ``burst`` frames at once and ``per_s`` frames a second on average.
A frame beyond that is *dropped*: the caller answers it with a ``rate_limited`` error frame
and does nothing else with it, and the connection stays. Each dropped frame adds one to a
flood gauge that drains at ``per_s`` a second; when the gauge passes ``flood_drops`` the
client is flooding far beyond the limit (it keeps sending more than twice the rate) and
the caller closes the connection (``CLOSE_FLOODING``). Time is an argument (a monotonic
clock's seconds); the caller reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from callcenter.core.ws_frames import ErrorFrame

CLOSE_FLOODING = 1008  # RFC 6455 "policy violation"


class Verdict(Enum):
    TAKE = "take"  # handle the frame
    DROP = "drop"  # answer rate_limited, do nothing else
    CLOSE = "close"  # flooding: close the connection with CLOSE_FLOODING


@dataclass(slots=True)
class FrameRate:
    """One connection's budget; call ``frame(now)`` for each frame received."""

    per_s: float
    burst: float
    flood_drops: float
    _tokens: float = -1.0
    _flood: float = 0.0
    _at: float | None = None

    def frame(self, now: float) -> Verdict:
        if self._at is None:
            self._tokens = self.burst
        else:
            elapsed = max(0.0, now - self._at)
            self._tokens = min(self.burst, self._tokens + elapsed * self.per_s)
            self._flood = max(0.0, self._flood - elapsed * self.per_s)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return Verdict.TAKE
        self._flood += 1.0
        return Verdict.CLOSE if self._flood > self.flood_drops else Verdict.DROP


def rate_limited_frame(per_s: float) -> ErrorFrame:
    """The error frame a dropped frame gets."""
    return ErrorFrame(
        code="rate_limited",
        message=f"too many frames: at most {per_s:g} a second on this connection; this one was dropped",
    )
