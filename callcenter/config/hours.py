"""Opening hours: is a calendar from the config open at a given instant, and when does it
open next? Local times are the calendar's own time zone; an instant is epoch seconds."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.config.sections import WEEKDAYS, CenterConfig, HoursConfig, parse_span

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


# The words of an opening per language the center speaks (the flows' ``language``, the chat
# widget's): the day names Monday first, and the phrases. Another language falls back to
# English.
_WORDS: dict[str, dict[str, Any]] = {
    "en": {
        "days": DAY_NAMES,
        "months": [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        "today": "today at {clock}",
        "tomorrow": "tomorrow at {clock}",
        "week": "on {day} at {clock}",
        "date": "on {day} {date} {month} at {clock}",
        "closed": "We are closed. We open again {when}.",
        "closed_unknown": "We are closed.",
    },
    "ko": {
        "days": ["월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"],
        "months": [f"{n}월" for n in range(1, 13)],
        "today": "오늘 {clock}",
        "tomorrow": "내일 {clock}",
        "week": "{day} {clock}",
        "date": "{month} {date}일 {day} {clock}",
        "closed": "지금은 상담 시간이 아닙니다. {when}에 다시 엽니다.",
        "closed_unknown": "지금은 상담 시간이 아닙니다.",
    },
    "he": {
        "days": ["שני", "שלישי", "רביעי", "חמישי", "שישי", "שבת", "ראשון"],
        "months": [
            "ינואר",
            "פברואר",
            "מרץ",
            "אפריל",
            "מאי",
            "יוני",
            "יולי",
            "אוגוסט",
            "ספטמבר",
            "אוקטובר",
            "נובמבר",
            "דצמבר",
        ],
        "today": "היום ב-{clock}",
        "tomorrow": "מחר ב-{clock}",
        "week": "ביום {day} ב-{clock}",
        "date": "ביום {day}, {date} ב{month}, ב-{clock}",
        "closed": "אנחנו סגורים כעת. נפתח שוב {when}.",
        "closed_unknown": "אנחנו סגורים כעת.",
    },
    "zh-CN": {
        "days": ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"],
        "months": [f"{n}月" for n in range(1, 13)],
        "today": "今天 {clock}",
        "tomorrow": "明天 {clock}",
        "week": "{day} {clock}",
        "date": "{month}{date}日{day} {clock}",
        "closed": "我们现在不在服务时间。{when} 重新开放。",
        "closed_unknown": "我们现在不在服务时间。",
    },
}
# A language whose words are kept under a fuller code: Chinese of any script or region
# (zh, zh-Hans, zh-TW...) is said in Simplified Chinese, the one the pages ship.
_ALIASES = {"zh": "zh-CN"}
LANGUAGES = tuple(_WORDS)


def _words(language: str | None) -> dict[str, Any]:
    """The words of ``language`` (``ko``, ``ko-KR``, ``he``, ``zh-CN``, ``zh``...), English
    when not known."""
    code = (language or "en").split("-")[0].split("_")[0].lower()
    return _WORDS.get(_ALIASES.get(code, code), _WORDS["en"])


def describe_opening(opens: datetime, now: float, language: str | None = "en") -> str:
    """``opens`` as a person would say it, from ``now`` in the same time zone, in
    ``language``: "today at 20:00", "tomorrow at 7:00", "on Sunday at 7:00", "on Sunday 3
    January at 7:00" (Korean "내일 7:00", Hebrew "מחר ב-7:00", Chinese "明天 7:00"...)."""
    words = _words(language)
    today = datetime.fromtimestamp(now, opens.tzinfo).date()
    clock = f"{opens.hour}:{opens.minute:02d}"
    ahead = (opens.date() - today).days
    day = words["days"][opens.weekday()]
    month = words["months"][opens.month - 1]
    if ahead <= 0:
        phrase = "today"
    elif ahead == 1:
        phrase = "tomorrow"
    elif ahead < 7:
        phrase = "week"
    else:
        phrase = "date"
    return str(words[phrase]).format(clock=clock, day=day, date=opens.day, month=month)


def closed_message(hours: HoursConfig, now: float, language: str | None = "en") -> str:
    """What a closed line or chat says, in ``language``: "We are closed. We open again on
    Monday at 8:00." ("" while the calendar is open; without an opening in sight, only
    "We are closed.")."""
    if is_open(hours, now):
        return ""
    words = _words(language)
    opens = next_opening(hours, now)
    if opens is None:
        return str(words["closed_unknown"])
    return str(words["closed"]).format(when=describe_opening(opens, now, language))


class HoursTable:
    """Named calendars from the config; a name not configured counts as always open."""

    def __init__(self, calendars: dict[str, HoursConfig]) -> None:
        self._calendars = dict(calendars)

    def is_open(self, name: str | None, now: float) -> bool:
        if name is None or name not in self._calendars:
            return True
        return is_open(self._calendars[name], now)

    def opening(self, name: str | None, now: float) -> str:
        """When the calendar opens next, said as ``describe_opening`` says it in English
        ("" when it is open now, unknown, or never opens)."""
        return self.opening_in(name, now, "en")

    def opening_in(self, name: str | None, now: float, language: str | None) -> str:
        """``opening`` in ``language`` (``describe_opening``'s languages; else English)."""
        if name is None or name not in self._calendars or self.is_open(name, now):
            return ""
        opens = next_opening(self._calendars[name], now)
        return describe_opening(opens, now, language) if opens is not None else ""

    def closed_message(self, name: str | None, now: float, language: str | None = "en") -> str:
        """``closed_message`` of the calendar ("" when it is open or not configured)."""
        if name is None or name not in self._calendars:
            return ""
        return closed_message(self._calendars[name], now, language)


def center_zone(config: CenterConfig) -> ZoneInfo:
    """The center's time zone, where its day starts (``wallboard.timezone``, docs/metrics.md):
    the desk's "Today", the wallboard's and the reports' day."""
    return ZoneInfo(config.wallboard.timezone)


def day_bounds(zone: ZoneInfo, now: float) -> tuple[float, float]:
    """[start, end) of the local day in ``zone`` holding ``now``, as epoch seconds."""
    local = datetime.fromtimestamp(now, zone).date()
    after = local + timedelta(days=1)
    start = datetime(local.year, local.month, local.day, tzinfo=zone)
    return start.timestamp(), datetime(after.year, after.month, after.day, tzinfo=zone).timestamp()
