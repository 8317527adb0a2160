"""Staffing: agents needed per interval for a service-level target, by Erlang C and Erlang A.

The forecast per interval (calls, mean handling time) comes either from the interaction
log, as the mean of the same weekday in the four weeks before the day asked for, or from
an uploaded CSV ``interval,calls[,aht]`` (interval as ``HH:MM``, its start). Erlang A also
needs the callers' mean patience, estimated from the log's abandonments:

    patience ~= (total waiting time of every queued caller, answered or not)
                / (number of abandonments)

which is the maximum-likelihood estimate of the mean of an exponential patience when the
waits of the answered callers are censored observations (docs/metrics.md).
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.acd.erlang import agents_for_service_level
from callcenter.supervisor.metrics import Counts
from callcenter.supervisor.reports import fold_range

DEFAULT_AHT_S = 180.0
WEEKS = 4
MAX_CSV_ROWS = 24 * 60


class StaffingError(ValueError):
    """A bad staffing parameter or forecast line; ``field`` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ForecastRow:
    start: str  # HH:MM, local time of day
    calls: float
    aht_s: float


@dataclass(frozen=True, slots=True)
class Forecast:
    interval_s: float
    rows: list[ForecastRow]
    source: str  # "log" or "csv"
    patience_s: float | None = None
    days: tuple[str, ...] = ()  # the log days averaged


@dataclass(frozen=True, slots=True)
class Target:
    service_level: float = 0.8
    threshold_s: float = 20.0
    shrinkage: float = 0.0
    max_occupancy: float | None = None


def patience_estimate(counts: Counts) -> float | None:
    """Mean patience (s): waiting time of answered and abandoned callers / abandonments."""
    if counts.abandoned == 0:
        return None
    return (counts.answered_wait_s + counts.abandoned_wait_s) / counts.abandoned


def parse_forecast_csv(
    text: str, interval_s: float, default_aht_s: float = DEFAULT_AHT_S
) -> list[ForecastRow]:
    """Rows of ``interval,calls[,aht]``; a header line is allowed. Each problem names the line."""
    try:
        lines = list(csv.reader(io.StringIO(text.replace("\x00", ""))))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise StaffingError(f"the forecast is not CSV: {exc}", "csv") from None
    rows: list[ForecastRow] = []
    seen: set[str] = set()
    for n, fields in enumerate(lines, start=1):
        if not fields or not "".join(fields).strip():
            continue
        if n == 1 and fields[0].strip().lower() in ("interval", "start", "time"):
            continue
        where = f"csv line {n}"
        if len(fields) not in (2, 3):
            raise StaffingError(f"{where}: expected interval,calls[,aht]", where)
        start = _slot(fields[0].strip(), interval_s, where)
        if start in seen:
            raise StaffingError(f"{where}: interval {start} appears twice", where)
        seen.add(start)
        calls = _number(fields[1], where, "calls")
        aht = _number(fields[2], where, "aht") if len(fields) == 3 and fields[2].strip() else default_aht_s
        if aht <= 0:
            raise StaffingError(f"{where}: aht must be above 0 seconds", where)
        rows.append(ForecastRow(start, calls, aht))
        if len(rows) > MAX_CSV_ROWS:
            raise StaffingError(f"at most {MAX_CSV_ROWS} intervals", where)
    if not rows:
        raise StaffingError("the forecast has no intervals", "csv")
    return sorted(rows, key=lambda r: r.start)


def _slot(text: str, interval_s: float, where: str) -> str:
    try:
        hh, mm = (int(x) for x in text.split(":"))
    except ValueError:
        raise StaffingError(f"{where}: interval must be HH:MM, not {text!r}", where) from None
    minutes = hh * 60 + mm
    if not (0 <= hh < 24 and 0 <= mm < 60) or (minutes * 60) % interval_s:
        raise StaffingError(
            f"{where}: {text} is not the start of a {int(interval_s // 60)}-minute interval", where
        )
    return f"{hh:02d}:{mm:02d}"


def _number(text: str, where: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise StaffingError(f"{where}: {name} must be a number, not {text.strip()!r}", where) from None
    if not math.isfinite(value) or value < 0:
        raise StaffingError(f"{where}: {name} must be a number of at least 0", where)
    return value


async def forecast_from_log(
    engine: AsyncEngine,
    day: date,
    zone: ZoneInfo,
    interval_s: float,
    *,
    queue: str | None,
    service_level_s: dict[str, float],
    now: float,
) -> Forecast:
    """Mean contacts offered per interval over the same weekday in the 4 weeks before
    ``day`` (the weeks that have any contact), with the mean handling time per interval
    (over those days; the days' mean where an interval handled none) and the patience."""
    days = [day - timedelta(weeks=k) for k in range(WEEKS, 0, -1)]
    first, last = _midnight(days[0], zone), _midnight(days[-1] + timedelta(days=1), zone)
    fold = await fold_range(
        engine, first, last, service_level_s=service_level_s, repeat_window_s=0.0, now=now
    )
    slots: dict[str, Counts] = defaultdict(Counts)
    overall = Counts()
    used: set[date] = set()
    for (bucket, q, _agent), counts in fold.cells.items():
        local = datetime.fromtimestamp(bucket, zone)
        if local.date() not in days or (queue and q != queue) or q is None:
            continue
        minutes = (local.hour * 60 + local.minute) // int(interval_s // 60) * int(interval_s // 60)
        slots[f"{minutes // 60:02d}:{minutes % 60:02d}"].add(counts)
        overall.add(counts)
        if counts.offered:
            used.add(local.date())
    weeks = len(used)
    mean_aht = _aht(overall) or DEFAULT_AHT_S
    rows = []
    for m in range(0, 24 * 60, int(interval_s // 60)):
        start = f"{m // 60:02d}:{m % 60:02d}"
        c = slots.get(start, Counts())
        rows.append(ForecastRow(start, c.offered / weeks if weeks else 0.0, _aht(c) or mean_aht))
    return Forecast(
        interval_s, rows, "log", patience_estimate(overall), tuple(d.isoformat() for d in sorted(used))
    )


def _aht(c: Counts) -> float | None:
    return (c.talk_s + c.hold_s + c.wrap_s) / c.handled if c.handled else None


def _midnight(day: date, zone: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def staffing_table(forecast: Forecast, target: Target) -> list[dict[str, Any]]:
    """One row per interval: the forecast, the load, and the agents Erlang C and (with a
    patience) Erlang A need, with the service level, ASA and occupancy they give."""
    out = []
    for row in forecast.rows:
        lam = row.calls / forecast.interval_s
        entry: dict[str, Any] = {
            "start": row.start,
            "calls": row.calls,
            "aht_s": row.aht_s,
            "load_erlangs": lam * row.aht_s,
        }
        for model, name in (("C", "erlang_c"), ("A", "erlang_a")):
            entry[name] = _solve(lam, row.aht_s, model, forecast.patience_s, target)
        out.append(entry)
    return out


def _solve(
    lam: float, aht: float, model: str, patience: float | None, target: Target
) -> dict[str, Any] | None:
    if model == "A" and not patience:
        return None
    if lam <= 0:
        return {
            "agents": 0,
            "scheduled": 0,
            "service_level": None,
            "asa_s": None,
            "occupancy": None,
            "p_abandon": None,
        }
    s = agents_for_service_level(
        lam,
        aht,
        target.service_level,
        target.threshold_s,
        model=model,
        patience=patience,
        max_occupancy=target.max_occupancy,
        shrinkage=target.shrinkage,
    )
    return {
        "agents": s.agents,
        "scheduled": s.scheduled,
        "service_level": s.service_level,
        "asa_s": s.asa,
        "occupancy": s.occupancy,
        "p_abandon": s.p_abandon,
    }


def summary(table: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Peak agents and total agent-hours by each model over the table's intervals."""
    out: dict[str, Any] = {"calls": sum(r["calls"] for r in table)}
    for name in ("erlang_c", "erlang_a"):
        cells = [r[name] for r in table if r[name] is not None]
        out[name] = {"peak_agents": max((c["agents"] for c in cells), default=0)} if cells else None
    return out
