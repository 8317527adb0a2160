"""The simulator's run-summary tally reads the fold's definitions (metrics.figures), on
hand-computed cases."""

from __future__ import annotations

import pytest

from callcenter.metrics.tally import Tally


def test_figures_on_a_hand_computed_slice() -> None:
    t = Tally(offered=6)
    t.answer(5.0, 20.0, waited=False)  # in time, no wait
    t.answer(15.0, 20.0, waited=True)  # in time
    t.answer(40.0, 20.0, waited=True)  # late
    t.abandon(short=True)  # left within the short-abandon threshold
    t.abandon(short=False)
    t.talk(100.0)
    t.talk(200.0)
    f = t.figures(wrap_per_contact=10.0)
    assert f["service_level"] == pytest.approx(
        2 / (5 - 1)
    )  # in time / (answered + abandoned + overflowed - short)
    assert f["asa_seconds"] == pytest.approx(60.0 / 3)
    assert f["aht_seconds"] == pytest.approx(150.0 + 10.0)
    assert f["p_wait"] == pytest.approx(4 / 5)  # two answered after waiting, two abandoned
    assert f["abandon_rate"] == pytest.approx((2 - 1) / (5 - 1))  # short abandons leave both sides


def test_empty_slices_have_no_figures_and_totals_add_up() -> None:
    assert Tally().figures()["service_level"] is None
    a, b = Tally(offered=2), Tally(offered=3)
    a.answer(10, 20, waited=True)
    b.abandon(short=False)
    total = Tally.total([a, b])
    assert (total.offered, total.answered, total.abandoned) == (5, 1, 1)


def test_overflowed_contacts_count_against_service_level_as_in_the_reports() -> None:
    t = Tally(offered=2, overflowed=1)
    t.answer(5.0, 20.0, waited=False)
    assert t.figures()["service_level"] == pytest.approx(1 / 2)
