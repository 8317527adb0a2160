"""When an agent group works: its shift on each day of a scenario, with its breaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from callcenter.config.sections import parse_span
from simulator.scenario import AgentGroup, Scenario


@dataclass(frozen=True, slots=True)
class Period:
    """One stretch of work, in epoch seconds: logged in at ``on``; ``off`` is None when the
    shift outlasts the scenario; ``breaks`` are (start, end) inside it."""

    on: float
    off: float | None
    breaks: list[tuple[float, float]] = field(default_factory=list)


def work_periods(s: Scenario, group: AgentGroup) -> list[Period]:
    """The group's periods that overlap the scenario, in time order."""
    t0, end = s.start.timestamp(), s.start.timestamp() + s.duration
    start_min, end_min = parse_span(group.shift)
    if (start_min, end_min) == (0, 1440) and not group.breaks:  # on all the time
        return [Period(t0, None)]
    day0 = s.start.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for d in range(int(s.duration // 86400) + 2):
        day = day0 + timedelta(days=d)
        on = (day + timedelta(minutes=start_min)).timestamp()
        off = (day + timedelta(minutes=end_min)).timestamp()
        if off <= t0 or on >= end:
            continue
        breaks = []
        for br in group.breaks:
            b_at = (day + timedelta(minutes=parse_span(f"{br.at}-24:00")[0])).timestamp()
            if max(on, t0) < b_at < off:
                breaks.append((b_at, b_at + br.minutes * 60))
        out.append(Period(max(on, t0), off if off < end else None, breaks))
    return out
