"""The clocks the test suite must pass at, as offsets from the real time for libfaketime.

``python scripts/clocks.py`` prints one line per clock: ``name offset_s description``. The
instants are the next ones after the real time (the next Saturday 03:00 in the demo bank's
time zone, the next 31 December 23:59:59 UTC, ...), so a run is always about to cross the
boundary it is named after. ``scripts/test-clocks.sh`` runs the suite under each.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Jerusalem")  # the demo bank's time zone (config/callcenter.yaml)
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def next_local(now: datetime, weekday: str, hour: int, minute: int, second: int = 0) -> datetime:
    """The next instant after ``now`` that reads ``weekday hour:minute:second`` in ZONE."""
    local = now.astimezone(ZONE)
    for days in range(0, 8):
        day = (local + timedelta(days=days)).date()
        if WEEKDAYS[day.weekday()] != weekday:
            continue
        at = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ZONE)
        if at > now:
            return at
    raise AssertionError("a weekday comes back within eight days")


def next_transition(now: datetime) -> datetime:
    """The next daylight-saving change in ZONE (the first UTC minute its offset differs)."""
    at = now.replace(second=0, microsecond=0)
    offset = at.astimezone(ZONE).utcoffset()
    step = timedelta(hours=1)
    for _ in range(24 * 400):
        later = at + step
        if later.astimezone(ZONE).utcoffset() != offset:
            while later.astimezone(ZONE).utcoffset() != offset:  # back to the exact minute
                later -= timedelta(minutes=1)
            return later + timedelta(minutes=1)
        at = later
    raise AssertionError(f"{ZONE} has no daylight-saving change within 400 days")


def clocks(now: datetime) -> list[tuple[str, datetime, str]]:
    dst = next_transition(now)
    dst2 = next_transition(dst + timedelta(days=1))
    new_year = datetime(now.year, 12, 31, 23, 59, 59, tzinfo=UTC)
    if new_year <= now:
        new_year = new_year.replace(year=now.year + 1)
    return [
        ("saturday-0300", next_local(now, "sat", 3, 0), "Saturday 03:00, the bank closed"),
        ("friday-1500", next_local(now, "fri", 15, 0), "Friday 15:00, just after Friday's closing"),
        ("sunday-0659", next_local(now, "sun", 6, 59), "Sunday 06:59, a minute before the week opens"),
        ("sunday-0700", next_local(now, "sun", 7, 0), "Sunday 07:00, the week opens"),
        ("local-midnight", next_local(now, "wed", 23, 58), "Wednesday 23:58, the center's day ends"),
        ("dst-change", dst - timedelta(minutes=3), f"3 minutes before the clocks change ({dst:%F %R}Z)"),
        ("dst-change-2", dst2 - timedelta(minutes=3), f"3 minutes before the next change ({dst2:%F %R}Z)"),
        ("new-year-utc", new_year, "31 December 23:59:59 UTC"),
    ]


def main(argv: list[str]) -> int:
    """No argument: every clock, a line each. ``--offset NAME``: that clock's offset from now,
    in whole seconds (what ``faketime -f`` takes), to be used at once."""
    now = datetime.now(UTC)
    if argv[:1] == ["--offset"] and len(argv) == 2:
        found = [at for name, at, _ in clocks(now) if name == argv[1]]
        if not found:
            known = ", ".join(name for name, _, _ in clocks(now))
            print(f"clocks.py: no clock {argv[1]!r} (known: {known})", file=sys.stderr)
            return 2
        print(f"{int((found[0] - now).total_seconds()):+d}")
        return 0
    for name, at, text in clocks(now):
        offset = int((at - now).total_seconds())
        print(f"{name} {offset} {at.astimezone(ZONE):%a %Y-%m-%d %H:%M:%S %Z}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
