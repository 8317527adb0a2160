"""Arrival times: a non-homogeneous Poisson process with a rate that is constant within
each hour (base rate x hour-of-day factor x weekday factor), or the times of a trace file.

Within an hour of constant rate, gaps between arrivals are exponential; at the hour's end
the process restarts with the next hour's rate (memorylessness makes that exact).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from callcenter.core.errors import ConfigError
from simulator.scenario import Arrivals

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float  # seconds from the scenario start
    queue: str | None = None
    priority: int | None = None
    service_s: float | None = None
    kind: str | None = None


def rate_at(spec: Arrivals, moment: datetime) -> float:
    """Arrivals per second in force at ``moment`` (a local time of the scenario)."""
    rate = spec.rate_per_hour / 3600.0
    if spec.hourly:
        rate *= spec.hourly[moment.hour]
    if spec.weekdays:
        rate *= spec.weekdays.get(WEEKDAYS[moment.weekday()], 1.0)
    return rate


def poisson(spec: Arrivals, start: datetime, duration: float, rng: random.Random) -> Iterator[Arrival]:
    """Arrival times in [0, duration) seconds from ``start``."""
    t = 0.0
    while t < duration:
        moment = start + timedelta(seconds=t)
        hour_end = moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        segment_end = min(duration, t + (hour_end - moment).total_seconds())
        rate = rate_at(spec, moment)
        if rate > 0:
            t += rng.expovariate(rate)
            while t < segment_end:
                yield Arrival(at=t)
                t += rng.expovariate(rate)
        t = segment_end


def read_trace(path: Path) -> list[Arrival]:
    """A CSV trace: ``at`` (seconds from start) and optional queue/priority/service_s/type."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or "at" not in reader.fieldnames:
                raise ConfigError([f"{path}:1: the header needs an 'at' column"])
            out: list[Arrival] = []
            problems: list[str] = []
            for line, row in enumerate(reader, start=2):
                try:
                    out.append(
                        Arrival(
                            at=float(row["at"]),
                            queue=row.get("queue") or None,
                            priority=int(row["priority"]) if row.get("priority") else None,
                            service_s=float(row["service_s"]) if row.get("service_s") else None,
                            kind=row.get("type") or None,
                        )
                    )
                except ValueError as exc:
                    problems.append(f"{path}:{line}: {exc}")
    except FileNotFoundError:
        raise ConfigError([f"{path}: trace file not found"]) from None
    if problems:
        raise ConfigError(problems)
    out.sort(key=lambda a: a.at)
    return out
