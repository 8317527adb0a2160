"""Opening hours: open or closed at an instant, and when a closed calendar opens next, in
its own time zone (weekends, closed dates, daylight-saving nights), said as a person would."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter.acd.contacts import fill_opening
from callcenter.config.hours import HoursTable, describe_opening, is_open, next_opening
from callcenter.config.sections import HoursConfig

TZ = ZoneInfo("Asia/Jerusalem")
BANK = HoursConfig(
    timezone="Asia/Jerusalem",
    weekly={
        "sun": ["07:00-24:00"],
        "mon": ["07:00-24:00"],
        "tue": ["07:00-24:00"],
        "wed": ["07:00-24:00"],
        "thu": ["07:00-24:00"],
        "fri": ["07:00-14:00"],
        "sat": ["20:00-24:00"],
    },
)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


@pytest.mark.parametrize(
    ("now", "open_", "opening"),
    [
        ("2026-12-12 03:00", False, "today at 20:00"),  # Saturday night
        ("2026-12-11 15:00", False, "tomorrow at 20:00"),  # Friday after closing
        ("2026-12-13 06:59", False, "today at 7:00"),  # Sunday, a minute before
        ("2026-12-13 07:00", True, ""),
        ("2026-12-09 23:59", True, ""),  # Wednesday, the last minute
        ("2026-12-11 13:59", True, ""),
        ("2026-12-11 14:00", False, "tomorrow at 20:00"),
    ],
)
def test_the_bank_calendar_through_the_week(now: str, open_: bool, opening: str) -> None:
    table = HoursTable({"bank": BANK})
    assert is_open(BANK, at(now)) is open_
    assert table.opening("bank", at(now)) == opening


def test_a_week_ahead_names_the_date_and_closed_dates_are_skipped() -> None:
    holidays = HoursConfig(
        timezone="Asia/Jerusalem", weekly={"sun": ["08:00-12:00"]}, closed_dates=["2026-12-13"]
    )
    opens = next_opening(holidays, at("2026-12-12 10:00"))
    assert opens == datetime(2026, 12, 20, 8, 0, tzinfo=TZ)
    assert describe_opening(opens, at("2026-12-12 10:00")) == "on Sunday 20 December at 8:00"
    assert (
        describe_opening(datetime(2026, 12, 15, 9, 30, tzinfo=TZ), at("2026-12-12 10:00"))
        == "on Tuesday at 9:30"
    )


def test_a_span_in_the_spring_forward_gap_opens_when_the_clocks_jump_into_it() -> None:
    # Israel: Friday 2027-03-26 at 02:00 the clocks jump to 03:00; 02:30 never happens
    night = HoursConfig(timezone="Asia/Jerusalem", weekly={"fri": ["02:30-05:00"]})
    before = datetime(2027, 3, 26, 1, 50, tzinfo=TZ).timestamp()
    opens = next_opening(night, before)
    assert opens is not None and (opens.hour, opens.minute) == (3, 0)
    assert opens.timestamp() - before == 10 * 60  # 01:50 + 10 minutes to the jump
    assert is_open(night, opens.timestamp()) and not is_open(night, opens.timestamp() - 60)


def test_a_calendar_that_never_opens_leaves_the_sentence_out() -> None:
    never = HoursConfig(timezone="UTC")
    assert next_opening(never, at("2026-12-12 03:00")) is None
    assert HoursTable({"never": never}).opening("never", at("2026-12-12 03:00")) == ""
    assert fill_opening("We are closed. We open {opens}. Goodbye.", "") == "We are closed. Goodbye."
    assert (
        fill_opening("We are closed. We open {opens}.", "tomorrow at 7:00")
        == "We are closed. We open tomorrow at 7:00."
    )
    assert fill_opening("Goodbye.", "tomorrow at 7:00") == "Goodbye."
