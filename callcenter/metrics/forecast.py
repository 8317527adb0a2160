"""The interval forecast staffing reads: contacts and mean handling time per interval,
and the callers' mean patience. Read from an uploaded CSV ``interval,calls[,aht]``
(interval as ``HH:MM``, its start) or built by the supervisor's staffing (from the log)
and the simulator's replay (from recorded calls). The patience estimate is

    patience ~= (total waiting time of every queued caller, answered or not)
                / (number of abandonments)

the maximum-likelihood estimate of the mean of an exponential patience when the waits of
the answered callers are censored observations (docs/metrics.md).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from callcenter.metrics.cells import Counts

DEFAULT_AHT_S = 180.0
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
