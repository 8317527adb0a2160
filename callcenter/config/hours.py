"""Opening hours: is a calendar from the config open at a given instant?"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from callcenter.config.model import WEEKDAYS, HoursConfig, parse_span


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_open(hours: HoursConfig, now: float) -> bool:
    """True when ``now`` (epoch seconds) falls in one of the calendar's spans."""
    if hours.always_open:
        return True
    local = datetime.fromtimestamp(now, _zone(hours.timezone))
    if local.strftime("%Y-%m-%d") in hours.closed_dates:
        return False
    minute = local.hour * 60 + local.minute
    for span in hours.weekly.get(WEEKDAYS[local.weekday()], ()):
        start, end = parse_span(span)
        if start <= minute < end:
            return True
    return False


class HoursTable:
    """Named calendars from the config; a name not configured counts as always open."""

    def __init__(self, calendars: dict[str, HoursConfig]) -> None:
        self._calendars = dict(calendars)

    def is_open(self, name: str | None, now: float) -> bool:
        if name is None or name not in self._calendars:
            return True
        return is_open(self._calendars[name], now)
