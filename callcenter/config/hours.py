"""Opening hours: is a calendar from the config open at a given instant, and when does it
open next? Local times are the calendar's own time zone; an instant is epoch seconds."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from callcenter.config.model import WEEKDAYS, HoursConfig, parse_span

DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SEARCH_DAYS = 400  # closed dates can close a calendar for a while; beyond this it never opens


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


def next_opening(hours: HoursConfig, now: float) -> datetime | None:
    """When the calendar next opens, in its own time zone: ``now`` itself when it is open,
    ``None`` when it does not open within ``SEARCH_DAYS``. A span that starts in a
    daylight-saving gap opens when the clocks jump into it (02:30-05:00 on a night the
    clocks go from 02:00 to 03:00 opens at 03:00)."""
    zone = _zone(hours.timezone)
    if is_open(hours, now):
        return datetime.fromtimestamp(now, zone)
    today = datetime.fromtimestamp(now, zone).date()
    for days in range(SEARCH_DAYS):
        day = today + timedelta(days=days)
        if day.isoformat() in hours.closed_dates:
            continue
        for start in sorted(parse_span(span)[0] for span in hours.weekly.get(WEEKDAYS[day.weekday()], ())):
            instant = datetime.combine(day, time(start // 60, start % 60), tzinfo=zone).timestamp()
            if instant <= now:
                continue
            # a start in a daylight-saving gap: the span is open from the moment the clocks
            # jump past it (is_open reads the wall clock), at most an hour before
            for _ in range(120):
                if instant - 60 <= now or not is_open(hours, instant - 60):
                    break
                instant -= 60
            return datetime.fromtimestamp(instant, zone)
    return None


def describe_opening(opens: datetime, now: float) -> str:
    """``opens`` as a person would say it, from ``now`` in the same time zone: "today at
    20:00", "tomorrow at 7:00", "on Sunday at 7:00", "on Sunday 3 January at 7:00"."""
    today = datetime.fromtimestamp(now, opens.tzinfo).date()
    clock = f"{opens.hour}:{opens.minute:02d}"
    ahead = (opens.date() - today).days
    if ahead <= 0:
        return f"today at {clock}"
    if ahead == 1:
        return f"tomorrow at {clock}"
    day = DAY_NAMES[opens.weekday()]
    if ahead < 7:
        return f"on {day} at {clock}"
    return f"on {day} {opens.day} {opens.strftime('%B')} at {clock}"


class HoursTable:
    """Named calendars from the config; a name not configured counts as always open."""

    def __init__(self, calendars: dict[str, HoursConfig]) -> None:
        self._calendars = dict(calendars)

    def is_open(self, name: str | None, now: float) -> bool:
        if name is None or name not in self._calendars:
            return True
        return is_open(self._calendars[name], now)

    def opening(self, name: str | None, now: float) -> str:
        """When the calendar opens next, said as ``describe_opening`` says it ("" when it is
        open now, unknown, or never opens)."""
        if name is None or name not in self._calendars or self.is_open(name, now):
            return ""
        opens = next_opening(self._calendars[name], now)
        return describe_opening(opens, now) if opens is not None else ""
