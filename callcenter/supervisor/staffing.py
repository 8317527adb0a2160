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

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.acd.erlang import agents_for_service_level
from callcenter.metrics.cells import Counts
from callcenter.metrics.forecast import DEFAULT_AHT_S, Forecast, ForecastRow, patience_estimate
from callcenter.supervisor.reports import fold_range

WEEKS = 4


@dataclass(frozen=True, slots=True)
class Target:
    service_level: float = 0.8
    threshold_s: float = 20.0
    shrinkage: float = 0.0
    max_occupancy: float | None = None


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
