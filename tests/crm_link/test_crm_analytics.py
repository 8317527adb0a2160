"""Customer analytics on hand-computed cases, the tie rules, and population-sized inputs."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.crm_link.analytics import (
    ContactRecord,
    CustomerActivity,
    Order,
    activity_from_orders,
    churn_risk,
    churn_risks,
    clv,
    clv_steady,
    expected_lifetime,
    is_repeat_contact,
    pyramid_levels,
    rfm_scores,
    spend_trend,
    value_matrix,
    wallet_gap,
)

TODAY = date(2026, 6, 30)


def customer(cid: str, days_ago: int | None, orders: int, total: float) -> CustomerActivity:
    last = None if days_ago is None else TODAY - timedelta(days=days_ago)
    return CustomerActivity(cid, last, orders, total)


# --- RFM ---


def test_rfm_five_distinct_customers_score_one_to_five_on_each_dimension() -> None:
    people = [customer(f"c{i}", days_ago=50 - 10 * i, orders=i + 1, total=100.0 * (i + 1)) for i in range(5)]
    scores = rfm_scores(people, TODAY)
    assert [scores[f"c{i}"].code for i in range(5)] == ["111", "222", "333", "444", "555"]


def test_rfm_ties_share_the_lower_score_and_never_bought_is_worst() -> None:
    counts = [1, 1, 1, 1, 1, 1, 2, 3, 4, 5]  # six one-time buyers
    people = [customer(f"c{i}", days_ago=i, orders=n, total=10.0) for i, n in enumerate(counts)]
    people[9] = customer("c9", days_ago=None, orders=0, total=0.0)
    scores = rfm_scores(people, TODAY)
    # frequency: a one-time buyer beats only the non-buyer -> 1 + 5 // 10 = 1; "2" beats 7 -> 4;
    # "3" beats 8 -> 5
    assert [scores[f"c{i}"].frequency for i in range(9)] == [1] * 6 + [4, 5, 5]
    assert scores["c9"].frequency == 1 and scores["c9"].recency == 1
    assert scores["c0"].recency == 5  # bought today
    # equal spend: all tied, nine are "worse" than no one; the non-buyer is strictly worse
    assert {scores[f"c{i}"].monetary for i in range(9)} == {1 + 5 * 1 // 10}


def test_rfm_monetary_can_use_the_mean_order_value() -> None:
    people = [
        customer("big_basket", 5, orders=1, total=500.0),
        customer("many_small", 5, orders=10, total=1000.0),
    ]
    assert rfm_scores(people, TODAY)["many_small"].monetary > rfm_scores(people, TODAY)["big_basket"].monetary
    mean = rfm_scores(people, TODAY, monetary="mean")
    assert mean["big_basket"].monetary > mean["many_small"].monetary


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 6), st.integers(0, 5)), min_size=1, max_size=60))
def test_rfm_scores_follow_the_rank_definition_whatever_the_input_order(
    rows: list[tuple[int, int, int]],
) -> None:
    people = [customer(f"c{i}", d, max(n, 1), float(m)) for i, (d, n, m) in enumerate(rows)]
    scores = rfm_scores(people, TODAY)
    n = len(people)
    for p, (days_ago, _, _) in zip(people, rows, strict=True):
        worse = sum(1 for q in people if q.order_count < p.order_count)
        assert scores[p.customer_id].frequency == 1 + 5 * worse // n
        longer_ago = sum(1 for d, _, _ in rows if d > days_ago)
        assert scores[p.customer_id].recency == 1 + 5 * longer_ago // n
    shuffled = people[:]
    random.Random(n).shuffle(shuffled)
    assert rfm_scores(shuffled, TODAY) == scores


def test_activity_is_folded_from_orders() -> None:
    orders = [Order(date(2026, 1, 5), 20.0), Order(date(2026, 3, 1), 30.0), Order(date(2026, 2, 1), 50.0)]
    assert activity_from_orders("c1", orders) == CustomerActivity("c1", date(2026, 3, 1), 3, 100.0)
    assert activity_from_orders("c2", []) == CustomerActivity("c2", None, 0, 0.0)


# --- pyramid ---


def test_pyramid_cuts_one_four_fifteen_eighty_percent() -> None:
    levels = pyramid_levels({f"c{v}": float(v) for v in range(1, 201)})
    assert {k for k, v in levels.items() if v == "top"} == {"c200", "c199"}
    assert {k for k, v in levels.items() if v == "key"} == {f"c{v}" for v in range(191, 199)}
    assert Counter(levels.values()) == {"top": 2, "key": 8, "regular": 30, "small": 160}


def test_pyramid_ties_across_a_cut_go_to_the_lower_level_and_zero_is_small() -> None:
    values = {"a": 50.0, "b": 50.0, "c": 50.0} | {f"x{i}": i / 10 for i in range(97)}
    levels = pyramid_levels(values)  # 100 customers: only one may be top, but three tie
    assert levels["a"] == levels["b"] == levels["c"] == "key"
    assert "top" not in levels.values() and levels["x0"] == "small"
    assert pyramid_levels({"p": 0.0, "q": 0.0}) == {"p": "small", "q": "small"}


def test_pyramid_cut_offs_are_parameters() -> None:
    levels = pyramid_levels({f"c{v}": float(v) for v in range(1, 11)}, shares=(0.1, 0.2, 0.3))
    assert Counter(levels.values()) == {"top": 1, "key": 2, "regular": 3, "small": 4}
    with pytest.raises(ValueError):
        pyramid_levels({"a": 1.0}, shares=(0.5, 0.5, 0.5))


@given(st.dictionaries(st.integers(), st.integers(0, 20).map(float), max_size=300))
def test_pyramid_levels_never_hold_more_than_their_share(values: dict[int, float]) -> None:
    levels = pyramid_levels(values)
    n, counts = len(values), Counter(levels.values())
    assert counts["top"] <= 0.01 * n and counts["top"] + counts["key"] <= 0.05 * n + 1e-9
    assert counts["top"] + counts["key"] + counts["regular"] <= 0.20 * n + 1e-9
    for k in values:  # more valuable never sits lower
        for j in values:
            if values[k] > values[j]:
                assert ["top", "key", "regular", "small"].index(levels[k]) <= [
                    "top",
                    "key",
                    "regular",
                    "small",
                ].index(levels[j])


# --- value matrix ---


def test_value_matrix_four_cells() -> None:
    values = {"a": 100.0, "b": 100.0, "c": 10.0, "d": 10.0}
    trends = {"a": 5.0, "b": -5.0, "c": 5.0, "d": -5.0}
    cells = value_matrix(values, trends, potential_threshold=0.0)
    assert cells == {"a": "invest", "b": "maintain", "c": "develop", "d": "harvest"}
    assert value_matrix(values, trends) == cells  # medians: 55 and 0, strictly above is high
    assert value_matrix(values, trends, value_threshold=5.0)["c"] == "invest"
    with pytest.raises(ValueError, match="no potential"):
        value_matrix(values, {"a": 1.0})


def test_growth_potential_measures() -> None:
    assert spend_trend([100.0, 200.0, 300.0]) == pytest.approx(100.0)
    assert spend_trend([300.0, 200.0, 100.0]) == pytest.approx(-100.0)
    assert spend_trend([100.0, 100.0, 400.0]) == pytest.approx(150.0)  # sxy 300 / sxx 2
    assert spend_trend([100.0]) == 0.0
    assert wallet_gap(300.0, 1000.0) == 700.0 and wallet_gap(1200.0, 1000.0) == 0.0


# --- CLV ---


def test_clv_hand_computed_three_years() -> None:
    # 100/1.1 + 100*0.8/1.1^2 + 100*0.64/1.1^3 - 50 = 90.909091 + 66.115702 + 48.084147 - 50
    assert clv(
        [100.0, 100.0, 100.0], retention=0.8, discount_rate=0.1, acquisition_cost=50.0
    ) == pytest.approx(155.108940, abs=1e-6)
    assert clv_steady(100.0, 0.8, 0.1, 50.0, years=3) == pytest.approx(155.108940, abs=1e-6)
    assert clv([], 0.8, 0.1, 50.0) == -50.0


def test_clv_endless_horizon_is_margin_over_one_plus_d_minus_r() -> None:
    assert clv_steady(100.0, 0.8, 0.1) == pytest.approx(100.0 / 0.3)
    assert clv_steady(100.0, 0.8, 0.1) == pytest.approx(clv([100.0] * 400, 0.8, 0.1))
    # undiscounted, it is the margin times the expected relationship length 1 / (1 - r)
    assert expected_lifetime(0.8) == pytest.approx(5.0)
    assert clv_steady(100.0, 0.8, 0.0) == pytest.approx(500.0)
    with pytest.raises(ValueError):
        clv_steady(100.0, 1.0, 0.0)
    with pytest.raises(ValueError):
        clv([1.0], 1.2, 0.1)


# --- churn risk ---

MONTHLY = [date(2026, 1, 1), date(2026, 1, 31), date(2026, 3, 2)]  # gaps 30, 30


@pytest.mark.parametrize(
    ("today", "level", "score", "since"),
    [
        (date(2026, 4, 1), "low", 0.0, 30),  # ratio 1: just due
        (date(2026, 4, 16), "medium", 0.25, 45),  # ratio 1.5: (1.5 - 1) / (3 - 1)
        (date(2026, 5, 31), "high", 1.0, 90),  # ratio 3
    ],
)
def test_churn_risk_from_the_usual_interval(today: date, level: str, score: float, since: int) -> None:
    r = churn_risk(MONTHLY, today)
    assert (r.level, r.days_since_last, r.usual_interval) == (level, since, 30.0)
    assert r.score == pytest.approx(score) and r.ratio == pytest.approx(since / 30)


def test_churn_risk_median_gap_fallbacks_and_errors() -> None:
    days = [date(2026, 1, 1), date(2026, 1, 11), date(2026, 1, 31), date(2026, 3, 12), date(2026, 5, 1)]
    assert churn_risk(days, date(2026, 5, 1)).usual_interval == 30.0  # gaps 10 20 40 50 -> 30
    same_day = churn_risk([date(2026, 6, 1), date(2026, 6, 1)], TODAY, fallback_interval=58.0)
    assert same_day.usual_interval == 58.0 and same_day.days_since_last == 29 and same_day.level == "low"
    none = churn_risk([], TODAY)
    assert none.level == "unknown" and none.score is None
    with pytest.raises(ValueError, match="after today"):
        churn_risk([date(2026, 7, 1)], TODAY)
    with pytest.raises(ValueError):
        churn_risk(MONTHLY, TODAY, medium=3.0, high=2.0)


def test_churn_risks_fall_back_on_the_population_median_interval() -> None:
    population = {
        "monthly": MONTHLY,  # 30
        "fortnightly": [date(2026, 6, 2), date(2026, 6, 16)],  # 14
        "weekly": [date(2026, 6, 9), date(2026, 6, 16), date(2026, 6, 23)],  # 7
        "once": [date(2026, 5, 1)],  # 60 days ago, fallback = median(30, 14, 7) = 14
    }
    risks = churn_risks(population, TODAY)
    assert risks["once"].usual_interval == 14.0 and risks["once"].level == "high"
    assert risks["weekly"].days_since_last == 7 and risks["weekly"].level == "low"
    assert churn_risks({"once": [date(2026, 5, 1)]}, TODAY)["once"].usual_interval == 90.0


# --- repeat contact ---

NOW = datetime(2026, 6, 30, 12, 0)
HISTORY = [
    ContactRecord("k1", NOW - timedelta(days=2), ticket_id="T1", ticket_open=True),
    ContactRecord("k2", NOW - timedelta(days=3), order_id="O1"),
    ContactRecord("k3", NOW - timedelta(days=4), ticket_id="T2", ticket_open=False),
    ContactRecord("k4", NOW - timedelta(days=10), ticket_id="T9", order_id="O9", ticket_open=True),
    ContactRecord("k5", NOW + timedelta(hours=1), order_id="O1"),  # later than the new one
]


def test_repeat_about_the_same_ticket_or_order() -> None:
    flag = is_repeat_contact(ContactRecord("new", NOW, ticket_id="T1"), HISTORY)
    assert flag is not None and (flag.reason, flag.previous_contact_id) == ("same_ticket", "k1")
    flag = is_repeat_contact(ContactRecord("new", NOW, order_id="O1"), HISTORY)
    assert flag is not None and (flag.reason, flag.previous_contact_id, flag.days_since) == (
        "same_order",
        "k2",
        3.0,
    )


def test_repeat_while_a_ticket_is_open_when_the_contact_names_nothing() -> None:
    flag = is_repeat_contact(ContactRecord("new", NOW), HISTORY)
    assert flag is not None and (flag.reason, flag.ticket_id) == ("open_ticket", "T1")
    closed_only = [c for c in HISTORY if c.contact_id != "k1"]
    assert is_repeat_contact(ContactRecord("new", NOW), closed_only) is None
    # about another order: the open ticket is not what the customer calls about
    assert is_repeat_contact(ContactRecord("new", NOW, order_id="O7"), HISTORY) is None


def test_repeat_window_is_a_parameter_and_the_contact_itself_is_ignored() -> None:
    old_ticket = ContactRecord("new", NOW, ticket_id="T9")
    assert is_repeat_contact(old_ticket, HISTORY) is None  # 10 days ago, window 7
    flag = is_repeat_contact(old_ticket, HISTORY, within_days=14)
    assert flag is not None and flag.previous_contact_id == "k4"
    assert is_repeat_contact(ContactRecord("k2", NOW - timedelta(days=3), order_id="O1"), HISTORY) is None


# --- population size ---


def test_a_hundred_thousand_customers_split_into_even_quintiles_and_exact_pyramid_levels() -> None:
    rng = random.Random(7)
    people = [
        customer(f"c{i}", rng.randint(0, 10_000), rng.randint(1, 10_000), rng.uniform(1, 1e6))
        for i in range(100_000)
    ]
    scores = rfm_scores(people, TODAY)
    monetary = Counter(s.monetary for s in scores.values())
    assert all(19_000 <= monetary[k] <= 21_000 for k in range(1, 6))
    levels = pyramid_levels({p.customer_id: p.total_amount for p in people})
    assert Counter(levels.values()) == {"top": 1_000, "key": 4_000, "regular": 15_000, "small": 80_000}
