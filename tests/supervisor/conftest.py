"""A hand-written interaction log for the report and metrics tests, and its expected figures.

Two agents (a1, a2), two queues (general, cards; service level within 20 s), two 15-minute
intervals from ``t0``. Times below are seconds after ``t0``:

interval 1 [0, 900)
  c1 general  arrives 10, answered by a1 at 25 (wait 15, within), held 100-130,
              released 205 (talk 180 incl. 30 held), a1 wraps up 205-235, survey 5 at 240
  c2 general  arrives 60, answered by a2 at 100 (wait 40, late), released 400 (talk 300),
              transferred by a2 to cards at 400; a2 wraps up 400-430;
     cards    answered by a1 at 410 (wait 10, within), released 460 (talk 50),
              a1 wraps up 460-490, survey 3 at 500
  c3 cards    arrives 300 (caller of c1: a repeat), abandons at 360 (wait 60)
  c4 general  arrives 500, abandons at 503 (a short abandon)
  a1: available 0, on contact 25-235, not ready 235-405, available 405, on contact 410-490
interval 2 [900, 1800)
  c5 general  arrives 950, answered by a2 at 955 (wait 5), released 1075 (talk 120),
              a2 wraps up 1075-1105, survey 4 at 1110
  c6 cards    arrives 1000 (caller of c2: a repeat), abandons at 1030 (wait 30)
  c7 general  arrives 1200, overflows to voicemail at 1500 (after 300 s waiting)
  both agents log out at 1800
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from callcenter.core.events import InteractionEvent

THRESHOLDS = {"general": 20.0, "cards": 20.0}


def _contact(
    t0: float, t: float, kind: str, cid: str, queue: str | None, agent: str | None = None, **data: Any
) -> InteractionEvent:
    return InteractionEvent(type=kind, at=t0 + t, contact_id=cid, queue=queue, agent_id=agent, data=data)


def _agent(t0: float, t: float, agent: str, state: str, previous: str) -> InteractionEvent:
    return InteractionEvent(
        type="agent.state",
        at=t0 + t,
        agent_id=agent,
        data={"state": state, "reason": None, "previous": previous},
    )


def day_events(t0: float) -> list[InteractionEvent]:
    c, a = _contact, _agent
    return [
        a(t0, 0, "a1", "AVAILABLE", "LOGGED_OUT"),
        a(t0, 0, "a2", "AVAILABLE", "LOGGED_OUT"),
        c(t0, 10, "contact.arrived", "c1", "general", channel="voice", caller="+100"),
        c(t0, 10, "contact.queued", "c1", "general", channel="voice"),
        c(t0, 25, "contact.connected", "c1", "general", "a1", wait_s=15.0),
        a(t0, 25, "a1", "ON_CONTACT", "AVAILABLE"),
        c(t0, 60, "contact.arrived", "c2", "general", channel="voice", caller="+200"),
        c(t0, 60, "contact.queued", "c2", "general", channel="voice"),
        c(t0, 100, "contact.connected", "c2", "general", "a2", wait_s=40.0),
        a(t0, 100, "a2", "ON_CONTACT", "AVAILABLE"),
        c(t0, 100, "contact.held", "c1", "general", "a1"),
        c(t0, 130, "contact.retrieved", "c1", "general", "a1"),
        c(t0, 205, "contact.wrap_up", "c1", "general", "a1", talk_s=180.0),
        a(t0, 205, "a1", "WRAP_UP", "ON_CONTACT"),
        c(t0, 205, "contact.ended", "c1", "general", reason="completed"),
        a(t0, 235, "a1", "NOT_READY", "WRAP_UP"),
        InteractionEvent(type="ivr.survey", at=t0 + 240, contact_id="c1", data={"rating": 5}),
        c(t0, 300, "contact.arrived", "c3", "cards", channel="voice", caller="+100"),
        c(t0, 300, "contact.queued", "c3", "cards", channel="voice"),
        c(t0, 360, "contact.ended", "c3", "cards", reason="abandoned"),
        c(t0, 400, "contact.wrap_up", "c2", "general", "a2", talk_s=300.0),
        c(t0, 400, "contact.transferred", "c2", "general", "a2", to_queue="cards", by_agent="a2"),
        c(t0, 400, "contact.queued", "c2", "cards", channel="voice"),
        a(t0, 400, "a2", "WRAP_UP", "ON_CONTACT"),
        a(t0, 405, "a1", "AVAILABLE", "NOT_READY"),
        c(t0, 410, "contact.connected", "c2", "cards", "a1", wait_s=350.0),
        a(t0, 410, "a1", "ON_CONTACT", "AVAILABLE"),
        a(t0, 430, "a2", "AVAILABLE", "WRAP_UP"),
        c(t0, 460, "contact.wrap_up", "c2", "cards", "a1", talk_s=50.0),
        a(t0, 460, "a1", "WRAP_UP", "ON_CONTACT"),
        c(t0, 460, "contact.ended", "c2", "cards", reason="completed"),
        a(t0, 490, "a1", "AVAILABLE", "WRAP_UP"),
        InteractionEvent(type="ivr.survey", at=t0 + 500, contact_id="c2", data={"rating": 3}),
        c(t0, 500, "contact.arrived", "c4", "general", channel="voice", caller="+300"),
        c(t0, 500, "contact.queued", "c4", "general", channel="voice"),
        c(t0, 503, "contact.ended", "c4", "general", reason="abandoned"),
        c(t0, 950, "contact.arrived", "c5", "general", channel="voice", caller="+400"),
        c(t0, 950, "contact.queued", "c5", "general", channel="voice"),
        c(t0, 955, "contact.connected", "c5", "general", "a2", wait_s=5.0),
        a(t0, 955, "a2", "ON_CONTACT", "AVAILABLE"),
        c(t0, 1000, "contact.arrived", "c6", "cards", channel="voice", caller="+200"),
        c(t0, 1000, "contact.queued", "c6", "cards", channel="voice"),
        c(t0, 1030, "contact.ended", "c6", "cards", reason="abandoned"),
        c(t0, 1075, "contact.wrap_up", "c5", "general", "a2", talk_s=120.0),
        a(t0, 1075, "a2", "WRAP_UP", "ON_CONTACT"),
        c(t0, 1075, "contact.ended", "c5", "general", reason="completed"),
        a(t0, 1105, "a2", "AVAILABLE", "WRAP_UP"),
        InteractionEvent(type="ivr.survey", at=t0 + 1110, contact_id="c5", data={"rating": 4}),
        c(t0, 1200, "contact.arrived", "c7", "general", channel="voice", caller="+500"),
        c(t0, 1200, "contact.queued", "c7", "general", channel="voice"),
        c(t0, 1500, "contact.overflowed", "c7", "general", reason="max_wait", to="voicemail"),
        c(t0, 1500, "contact.ended", "c7", "general", reason="voicemail"),
        a(t0, 1800, "a1", "LOGGED_OUT", "AVAILABLE"),
        a(t0, 1800, "a2", "LOGGED_OUT", "AVAILABLE"),
    ]


# Expected figures, worked out by hand from the story above.
# Agent time, interval 1: a1 staffed 25 + 180 + 30 + 5 + 50 + 30 + 410 = 730 s (not ready
# 235-405 is not staffed), busy 180 + 30 + 50 + 30 = 290 s; a2 staffed 900, busy 300 + 30.
# Interval 2: a1 staffed 900, busy 0; a2 staffed 900, busy 120 + 30 = 150.
INTERVAL_1 = {
    "offered": 5,
    "answered": 3,
    "answered_within": 2,
    "abandoned": 2,
    "short_abandoned": 1,
    "overflowed": 0,
    "transfers": 1,
    "handled": 3,
    "service_level": 2 / (3 + 2 - 1),  # within / (answered + abandoned + overflowed - short)
    "asa_s": (15 + 40 + 10) / 3,
    "aht_s": ((150 + 30 + 30) + (300 + 30) + (50 + 30)) / 3,  # talk + hold + wrap
    "hold_s": 30 / 3,
    "occupancy": (290 + 330) / (730 + 900),
    "ratings": 2,
    "csat": 1 / 2,
    "csat_mean": (5 + 3) / 2,
    "repeat_rate": 1 / 4,  # c3 repeats c1; c1, c2, c3, c4 ended
    "abandon_rate": (2 - 1) / (3 + 2 - 1),
}
INTERVAL_2 = {
    "offered": 3,
    "answered": 1,
    "answered_within": 1,
    "abandoned": 1,
    "short_abandoned": 0,
    "overflowed": 1,
    "transfers": 0,
    "handled": 1,
    "service_level": 1 / (1 + 1 + 1),
    "asa_s": 5.0,
    "aht_s": 120 + 30,
    "hold_s": 0.0,
    "occupancy": 150 / 1800,
    "ratings": 1,
    "csat": 1.0,
    "csat_mean": 4.0,
    "repeat_rate": 1 / 3,  # c6 repeats c2; c5, c6, c7 ended
    "abandon_rate": 1 / 2,
}
DAY = {
    "offered": 8,
    "answered": 4,
    "answered_within": 3,
    "abandoned": 3,
    "short_abandoned": 1,
    "overflowed": 1,
    "transfers": 1,
    "handled": 4,
    "service_level": 3 / (4 + 3 + 1 - 1),
    "asa_s": (15 + 40 + 10 + 5) / 4,
    "aht_s": (210 + 330 + 80 + 150) / 4,
    "occupancy": (620 + 150) / (1630 + 1800),
    "ratings": 3,
    "csat": 2 / 3,
    "csat_mean": 4.0,
    "repeat_rate": 2 / 7,
    "abandon_rate": 2 / 6,
}
GENERAL_DAY = {  # c1, c2 (until its transfer), c4, c5, c7; no agent time by queue
    "offered": 5,
    "answered": 3,
    "answered_within": 2,
    "abandoned": 1,
    "short_abandoned": 1,
    "overflowed": 1,
    "transfers": 1,
    "handled": 3,
    "service_level": 2 / (3 + 1 + 1 - 1),
    "asa_s": (15 + 40 + 5) / 3,
    "aht_s": (210 + 330 + 150) / 3,
    "occupancy": None,
    "ratings": 2,
    "csat": 1.0,
    "csat_mean": 4.5,
}
A1_DAY = {  # answered c1 (general) and c2 (cards)
    "answered": 2,
    "answered_within": 2,
    "handled": 2,
    "transfers": 0,
    "offered": 0,
    "aht_s": (210 + 80) / 2,
    "asa_s": (15 + 10) / 2,
    "occupancy": 290 / (730 + 900),
    "ratings": 2,
    "csat": 0.5,
}


def assert_figures(got: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        if value is None or isinstance(value, int):
            assert got[key] == value, key
        else:
            assert got[key] == pytest.approx(value), key


@pytest.fixture
def case() -> SimpleNamespace:
    """The story: ``events(t0)``, the expected figures, ``check(got, expected)``."""
    return SimpleNamespace(
        events=day_events,
        thresholds=THRESHOLDS,
        interval_1=INTERVAL_1,
        interval_2=INTERVAL_2,
        day=DAY,
        general_day=GENERAL_DAY,
        a1_day=A1_DAY,
        check=assert_figures,
    )
