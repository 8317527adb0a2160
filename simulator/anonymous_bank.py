"""The Anonymous Bank call records (Technion SEE center, February 1999) as typed records.

One row per call, tab separated: ``vru+line call_id customer_id priority type date
vru_entry vru_exit vru_time q_start q_exit q_time outcome ser_start ser_exit ser_time
server``. Times are ``H:MM:SS`` on the row's date; ``0:00:00`` means the stage did not
happen. Quirks handled here (and counted by :func:`quirks`):

- ``PHANTOM`` rows are not calls (``usable`` drops them);
- 25 rows have a negative VRU time (exit before entry; ``usable`` drops them too, as the
  published figures do);
- ``AGENT`` rows with ``NO_SERVER`` (agent unknown: ``agent`` is None) and ``AGENT`` rows
  without a service start (``ser_start`` is None);
- service often starts 1 s before the queue exit (kept as recorded);
- 22 customer ids were saved in spreadsheet notation (``6.02701E+11``): their digits are
  lost, so they are kept as the text found (still one id per such customer at best);
- the date is the day of the VRU entry: a later stage whose clock time is more than
  12 hours before the entry's happened after midnight, on the next day.
"""

from __future__ import annotations

import csv
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from callcenter.metrics.forecast import DEFAULT_AHT_S, Forecast, ForecastRow

FILE_NAME = "anonymous_bank_february_1999.tsv"
NOT_HAPPENED = "0:00:00"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecord:
    vru_line: str
    call_id: int
    customer_id: str | None  # None when the caller was not identified (0 in the file)
    priority: int  # 0 and 1 regular, 2 priority (90 s head start)
    type: str  # PS, PE, IN, NE, NW, TT
    day: date  # of the VRU entry
    vru_entry: datetime
    vru_exit: datetime | None
    vru_s: int
    q_start: datetime | None
    q_exit: datetime | None
    q_s: int
    outcome: str  # AGENT, HANG, PHANTOM
    ser_start: datetime | None
    ser_exit: datetime | None
    ser_s: int
    agent: str | None

    @property
    def queued(self) -> bool:
        return self.q_start is not None

    @property
    def served(self) -> bool:
        return self.outcome == "AGENT"

    @property
    def abandoned(self) -> bool:
        """Hung up while waiting in the queue (not in the VRU)."""
        return self.outcome == "HANG" and self.queued


@dataclass(frozen=True, slots=True)
class Quirks:
    rows: int
    phantom: int
    agent_without_name: int
    agent_without_service_start: int
    negative_vru: int
    service_before_queue_exit: int
    stages_after_midnight: int
    customer_id_scientific: int


def read_records(path: str | Path) -> list[CallRecord]:
    """Every row of the file, in file order (PHANTOM rows included; see :func:`usable`)."""
    with open(path, newline="", encoding="ascii") as f:
        return [_record(row, n) for n, row in enumerate(csv.DictReader(f, delimiter="\t"), start=2)]


def _record(row: dict[str, str], line: int) -> CallRecord:
    try:
        day = _day(row["date"])
        entry = _at(day, row["vru_entry"], None)
        if entry is None:
            raise ValueError("vru_entry is missing")
        customer = row["customer_id"].strip()
        server = row["server"].strip()
        return CallRecord(
            vru_line=row["vru+line"],
            call_id=int(row["call_id"]),
            customer_id=None if customer in ("", "0") else customer,
            priority=int(row["priority"]),
            type=row["type"].strip(),
            day=day,
            vru_entry=entry,
            vru_exit=_at(day, row["vru_exit"], entry),
            vru_s=int(row["vru_time"]),
            q_start=_at(day, row["q_start"], entry),
            q_exit=_at(day, row["q_exit"], entry),
            q_s=int(row["q_time"]),
            outcome=row["outcome"].strip(),
            ser_start=_at(day, row["ser_start"], entry),
            ser_exit=_at(day, row["ser_exit"], entry),
            ser_s=int(row["ser_time"]),
            agent=None if server in ("", "NO_SERVER") else server,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"line {line}: {exc}") from None


@functools.lru_cache(maxsize=4096)
def _day(text: str) -> date:
    return datetime.strptime(text, "%y%m%d").date()


def _at(day: date, text: str, entry: datetime | None) -> datetime | None:
    """``H:MM:SS`` on ``day``; None for ``0:00:00`` unless it is the entry itself."""
    text = text.strip()
    if text == NOT_HAPPENED and entry is not None:
        return None
    h, m, s = (int(x) for x in text.split(":"))
    moment = datetime(day.year, day.month, day.day) + timedelta(hours=h, minutes=m, seconds=s)
    if entry is not None and moment < entry - timedelta(hours=12):
        moment += timedelta(days=1)  # the stage happened after midnight
    return moment


def quirks(records: Sequence[CallRecord]) -> Quirks:
    return Quirks(
        rows=len(records),
        phantom=sum(r.outcome == "PHANTOM" for r in records),
        agent_without_name=sum(r.outcome == "AGENT" and r.agent is None for r in records),
        agent_without_service_start=sum(r.outcome == "AGENT" and r.ser_start is None for r in records),
        negative_vru=sum(r.vru_s < 0 for r in records),
        service_before_queue_exit=sum(
            r.ser_start is not None and r.q_exit is not None and r.ser_start < r.q_exit for r in records
        ),
        stages_after_midnight=sum(
            any(t is not None and t.date() > r.day for t in (r.vru_exit, r.q_start, r.ser_exit))
            for r in records
        ),
        customer_id_scientific=sum("E+" in (r.customer_id or "") for r in records),
    )


def usable(records: Iterable[CallRecord]) -> list[CallRecord]:
    """The calls to count: PHANTOM rows and rows with negative VRU time dropped."""
    return [r for r in records if r.outcome != "PHANTOM" and r.vru_s >= 0]


def hourly_arrivals(records: Iterable[CallRecord]) -> dict[int, list[float]]:
    """Mean calls arriving (by VRU entry) per hour 0..23, per weekday (0 = Monday): the
    count over every date of that weekday in the data, divided by the number of such dates.

    Pass ``usable(records)`` for the published figures."""
    counts: dict[date, list[int]] = defaultdict(lambda: [0] * 24)
    for r in records:
        counts[r.vru_entry.date()][r.vru_entry.hour] += 1
    per_weekday: dict[int, list[list[int]]] = defaultdict(list)
    for day, hours in counts.items():
        per_weekday[day.weekday()].append(hours)
    return {
        wd: [sum(day[h] for day in days) / len(days) for h in range(24)]
        for wd, days in sorted(per_weekday.items())
    }


def hourly_handling(records: Iterable[CallRecord]) -> dict[int, list[float | None]]:
    """Mean service time (s) of served calls per weekday and hour of service start."""
    total: dict[int, list[float]] = defaultdict(lambda: [0.0] * 24)
    count: dict[int, list[int]] = defaultdict(lambda: [0] * 24)
    for r in records:
        if r.served and r.ser_start is not None and r.ser_s > 0:
            wd, h = r.ser_start.weekday(), r.ser_start.hour
            total[wd][h] += r.ser_s
            count[wd][h] += 1
    return {
        wd: [total[wd][h] / count[wd][h] if count[wd][h] else None for h in range(24)] for wd in sorted(count)
    }


def patience_estimate(records: Iterable[CallRecord]) -> float | None:
    """Mean patience (s) for exponential patience: the total time all queued callers waited
    (answered and abandoned) divided by the number who abandoned; None without abandons."""
    waited, abandons = 0, 0
    for r in records:
        if r.queued:
            waited += max(0, r.q_s)
            abandons += r.abandoned
    return waited / abandons if abandons else None


def forecast(records: Sequence[CallRecord], weekday: int) -> Forecast:
    """An hourly staffing forecast for ``weekday`` (0 = Monday) from ``usable`` records:
    mean arrivals per hour, mean service time per hour (the weekday's mean where an hour
    served nobody), and the patience estimated from all the records' abandonments."""
    arrivals = hourly_arrivals(records).get(weekday, [0.0] * 24)
    handling = hourly_handling(records).get(weekday, [None] * 24)
    served = [r.ser_s for r in records if r.served and r.ser_start is not None and r.ser_s > 0]
    mean = sum(served) / len(served) if served else DEFAULT_AHT_S
    rows = [ForecastRow(f"{h:02d}:00", arrivals[h], handling[h] or mean) for h in range(24)]
    return Forecast(3600.0, rows, "anonymous-bank", patience_estimate(records))
