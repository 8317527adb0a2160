"""Interval reports: the figures of ``metrics.MetricsFold`` by interval x queue x agent.

A report reads the stored events of its range (plus a look-back for repeat contacts and
agents' states, and a look-ahead for wrap-ups that end after the range) into a fresh fold
and groups its 15-minute cells into the requested intervals, cut in the center's time zone.

Parameters (``parse_request``), every problem a ``ReportError`` naming the parameter:
- ``from`` / ``to``: ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` in the center's time zone, or
  epoch seconds. ``to`` is exclusive, but a bare date means the end of that day, so
  ``from=2026-03-02&to=2026-03-02`` is that one day; without ``to``, the report
  ends with the day ``from`` falls in; without both, it is today.
- ``interval``: ``15``, ``30``, ``60`` (minutes) or ``day``; ranges are capped per interval.
- ``queue``, ``agent``: keep only that queue's or agent's figures.
- ``by``: ``queue`` or ``agent`` gives one row per interval and queue (or agent);
  without it one row per interval.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.core.client_json import instant_in_range
from callcenter.metrics.fold import BUCKET_S, REPEAT_WINDOW_S, Counts, MetricsFold, figures
from callcenter.storage import schema
from callcenter.storage.schema import stored

INTERVALS = {"15": 900.0, "30": 1800.0, "60": 3600.0, "day": 86400.0}
MAX_DAYS = {"15": 93, "30": 186, "60": 372, "day": 732}
LOOKAHEAD_S = 3600.0  # wrap-ups and agent states that end after the range
AGENT_LOOKBACK_S = 86400.0  # an agent's state at the range's start is in the day before


class ReportError(ValueError):
    """A bad report parameter: ``field`` names it, ``str(self)`` says what is wrong."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ReportRequest:
    start: float
    end: float
    interval: str
    queue: str | None = None
    agent: str | None = None
    by: str | None = None


def parse_request(query: Mapping[str, str], zone: ZoneInfo, now: float) -> ReportRequest:
    """Check the query parameters; defaults: today in ``zone`` by the hour."""
    interval = query.get("interval", "60")
    if interval not in INTERVALS:
        raise ReportError("interval must be 15, 30, 60 (minutes) or day", "interval")
    today = datetime.fromtimestamp(now, zone).date()
    start = _instant(query.get("from") or today.isoformat(), zone, "from", end=False)
    if query.get("to"):
        end = _instant(query["to"], zone, "to", end=True)
    else:  # the end of the day ``from`` falls in
        end = _instant(datetime.fromtimestamp(start, zone).date().isoformat(), zone, "to", end=True)
    if end < start:
        raise ReportError("to is before from", "to")
    if end == start:
        raise ReportError("the range from..to is empty", "to")
    if end - start > MAX_DAYS[interval] * 86400.0 + 3600.0:  # an hour of slack for DST
        raise ReportError(
            f"at most {MAX_DAYS[interval]} days at interval={interval}; choose a longer interval",
            "to",
        )
    by = query.get("by") or None
    if by not in (None, "queue", "agent"):
        raise ReportError("by must be queue or agent", "by")
    return ReportRequest(start, end, interval, query.get("queue") or None, query.get("agent") or None, by)


def _instant(text: str, zone: ZoneInfo, name: str, *, end: bool) -> float:
    try:
        at = float(text)
    except ValueError:
        at = _parse_instant(text, zone, name, end=end)
    if not instant_in_range(at):
        raise ReportError(f"{name} must be a time from 1970 to 8999", name)
    return at


def _parse_instant(text: str, zone: ZoneInfo, name: str, *, end: bool) -> float:
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end:
                day += timedelta(days=1)
            return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.timestamp()
    except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
        raise ReportError(f"{name} must be YYYY-MM-DD, YYYY-MM-DDTHH:MM or epoch seconds", name) from None


def interval_start(at: float, interval: str, zone: ZoneInfo) -> float:
    """The start of the interval holding ``at``, cut in local time (days at local midnight)."""
    local = datetime.fromtimestamp(at, zone)
    if interval == "day":
        return datetime(local.year, local.month, local.day, tzinfo=zone).timestamp()
    minutes = int(INTERVALS[interval] // 60)
    return at - (local.minute % minutes) * 60 - local.second - local.microsecond / 1e6


def intervals(start: float, end: float, interval: str, zone: ZoneInfo) -> list[tuple[float, float]]:
    """The report's intervals as (start, end) pairs, the first and last clipped to the range."""
    keys: list[float] = []
    t = (start // BUCKET_S) * BUCKET_S
    while t < end:
        key = interval_start(max(t, start), interval, zone)
        if not keys or key != keys[-1]:
            keys.append(key)
        t += BUCKET_S
    edges = [max(k, start) for k in keys] + [end]
    return list(pairwise(edges))


def build_report(fold: MetricsFold, req: ReportRequest, zone: ZoneInfo) -> dict[str, Any]:
    """Rows of figures per interval (and per queue or agent with ``req.by``), and a total."""
    spans = intervals(req.start, req.end, req.interval, zone)
    index = {s: i for i, (s, _e) in enumerate(spans)}
    grouped: dict[tuple[int, str | None], Counts] = defaultdict(Counts)
    total = Counts()
    slot: dict[float, int] = {}
    for (bucket, queue, agent), counts in fold.cells.items():
        if not req.start <= bucket < req.end:
            continue
        if (req.queue and queue != req.queue) or (req.agent and agent != req.agent):
            continue
        total.add(counts)
        i = slot.get(bucket)
        if i is None:  # many cells share a bucket: find its interval once
            i = slot[bucket] = index[max(interval_start(bucket, req.interval, zone), req.start)]
        key = {"queue": queue, "agent": agent, None: None}[req.by]
        if req.by is None or key is not None:
            grouped[(i, key)].add(counts)
    rows = []
    keys = sorted({k for _i, k in grouped}, key=lambda k: k or "") if req.by else [None]
    for i, (s, e) in enumerate(spans):
        for key in keys:
            row: dict[str, Any] = {"start": _iso(s, zone), "end": _iso(e, zone)}
            if req.by:
                row[req.by] = key
            rows.append(row | figures(grouped.get((i, key), Counts())))
    return {
        "from": _iso(req.start, zone),
        "to": _iso(req.end, zone),
        "interval": req.interval,
        "timezone": zone.key,
        "queue": req.queue,
        "agent": req.agent,
        "by": req.by,
        "rows": rows,
        "total": figures(total),
        "counting": COUNTING,
    }


COUNTING = (
    "contacts counts each contact once; offered counts it once in each queue it was offered"
    " to, so a transferred contact adds 1 to contacts and 1 to offered in every queue it reached"
)


def _iso(at: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, zone).isoformat(timespec="seconds")


def to_csv(report: Mapping[str, Any]) -> str:
    """The report's rows as CSV (one header line; empty cells for figures with no base)."""
    rows = report["rows"]
    out = io.StringIO()
    if not rows:
        return ""
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()


async def fold_range(
    engine: AsyncEngine,
    start: float,
    end: float,
    *,
    service_level_s: Mapping[str, float],
    repeat_window_s: float = REPEAT_WINDOW_S,
    now: float | None = None,
    batch: int = 5000,
) -> MetricsFold:
    """A fold of the stored events around [start, end), advanced to the end of what it read.

    Events are read in sequence order, from ``start`` minus the repeat window (or a day)
    to ``end`` plus ``LOOKAHEAD_S`` (capped at ``now``), in batches."""
    fold = MetricsFold(service_level_s=service_level_s, repeat_window_s=repeat_window_s)
    first = start - max(repeat_window_s, AGENT_LOOKBACK_S)
    last = end + LOOKAHEAD_S if now is None else min(end + LOOKAHEAD_S, max(now, end))
    ev = schema.events
    after = 0
    async with engine.connect() as conn:
        while True:
            query = (
                select(ev)
                .where(ev.c.at >= first, ev.c.at < last, ev.c.seq > after)
                .order_by(ev.c.seq)
                .limit(batch)
            )
            got = [stored(r) for r in await conn.execute(query)]
            fold.apply_all(got)
            if len(got) < batch:
                break
            after = got[-1].seq
    fold.advance(last)
    return fold
