"""Erlang B, C and A against the published reference values (shared/data/README.md), their
stability at 10,000+ agents, and the staffing solver."""

from __future__ import annotations

import math

import pytest

from callcenter.acd.erlang import ErlangC, agents_for_service_level, erlang_a, erlang_b, erlang_c

LAM, AHT = 100 / 1800, 180.0  # 100 calls per 30 minutes, 3 minutes each: 10 Erlangs


@pytest.mark.parametrize(
    ("c", "p_wait", "sl20", "asa"),
    [(13, 0.2853, 0.7956, 17.12), (14, 0.1741, 0.8884, 7.84), (15, 0.1020, 0.9415, 3.67)],
)
def test_erlang_c_reference_table(c: int, p_wait: float, sl20: float, asa: float) -> None:
    q = ErlangC(LAM, AHT, c)
    assert round(q.p_wait, 4) == p_wait
    assert round(q.service_level(20), 4) == sl20
    assert round(q.asa, 2) == asa


def test_erlang_a_reference_values() -> None:
    r = erlang_a(LAM, AHT, patience=300, c=14)
    assert round(r.p_wait, 5) == 0.14526
    assert round(r.p_abandon, 6) == 0.013984
    assert round(r.occupancy, 6) == 0.704297
    assert round(r.asa / 60, 6) == 0.069919
    assert round(r.service_level(20), 6) == 0.916792


def test_erlang_b_matches_the_closed_form_for_small_systems() -> None:
    for c in range(0, 12):
        for a in (0.5, 3.0, 8.0):
            direct = (a**c / math.factorial(c)) / sum(a**k / math.factorial(k) for k in range(c + 1))
            assert erlang_b(c, a) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("c", [10_000, 20_000])
def test_stable_and_monotone_for_very_large_centers(c: int) -> None:
    load = c * 0.98
    values = [erlang_c(n, load) for n in (c, c + 50, c + 100, c + 200)]
    assert all(0.0 <= v <= 1.0 and math.isfinite(v) for v in values)
    assert values == sorted(values, reverse=True) and values[0] > values[-1]
    r = erlang_a(load / AHT, AHT, 300.0, c)
    assert 0 < r.p_abandon < r.p_wait < 1 and 0 < r.service_level(20) <= 1
    assert erlang_b(c, load) > 0 and math.isfinite(erlang_b(c, load))


def test_unstable_erlang_c_says_everyone_waits() -> None:
    q = ErlangC(LAM, AHT, 10)  # exactly the load: no steady state
    assert q.p_wait == 1.0 and q.service_level(20) == 0.0 and q.asa == math.inf


def test_staffing_for_80_in_20_is_14_agents() -> None:
    s = agents_for_service_level(LAM, AHT, 0.80, 20)
    assert (s.agents, s.scheduled) == (14, 14) and s.service_level >= 0.8


def test_occupancy_cap_and_shrinkage_raise_the_count() -> None:
    capped = agents_for_service_level(LAM, AHT, 0.80, 20, max_occupancy=0.6)
    assert capped.agents == 17 and capped.occupancy <= 0.6
    shrunk = agents_for_service_level(LAM, AHT, 0.80, 20, shrinkage=0.3)
    assert shrunk.scheduled == math.ceil(14 / 0.7)


def test_erlang_a_staffing_needs_fewer_agents_because_some_callers_leave() -> None:
    a = agents_for_service_level(LAM, AHT, 0.80, 20, model="A", patience=300)
    assert a.agents <= 14 and a.service_level >= 0.8 and a.p_abandon is not None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target_sl": 1.2},
        {"target_sl": 0.8, "shrinkage": 1.0},
        {"target_sl": 0.8, "model": "A"},
        {"target_sl": 0.8, "model": "Z"},
    ],
)
def test_bad_staffing_questions_are_refused(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        agents_for_service_level(LAM, AHT, t=20, **kwargs)


def test_erlang_b_agrees_with_scipy_poisson_at_ten_thousand_agents() -> None:
    stats = pytest.importorskip("scipy.stats")
    for c, a in ((10_000, 9_000.0), (10_000, 10_500.0), (20_000, 19_600.0), (50, 30.0)):
        expected = stats.poisson.pmf(c, a) / stats.poisson.cdf(c, a)
        assert erlang_b(c, a) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("lam", "aht", "patience", "c", "t"),
    [
        (100 / 1800, 180.0, 300.0, 14, 20.0),  # the reference case
        (100 / 1800, 180.0, 60.0, 8, 30.0),  # understaffed: long queues, many leave
        (1.0, 100.0, 60.0, 90, 20.0),
        (2.0, 60.0, 30.0, 100, 10.0),
    ],
)
def test_erlang_a_service_level_matches_a_matrix_exponential(
    lam: float, aht: float, patience: float, c: int, t: float
) -> None:
    """Independent check: the tagged contact's absorbing chain (k contacts ahead, then served
    or abandoned), solved with scipy's matrix exponential instead of the beta-function sum."""
    np = pytest.importorskip("numpy")
    linalg = pytest.importorskip("scipy.linalg")
    r = erlang_a(lam, aht, patience, c)
    weights = r._tail
    served, gone = len(weights), len(weights) + 1
    q = np.zeros((len(weights) + 2, len(weights) + 2))
    for k in range(len(weights)):
        move = c / aht + k / patience  # a service ends or one of the k ahead leaves
        q[k, k - 1 if k else served] += move
        q[k, gone] += 1 / patience
        q[k, k] = -(move + 1 / patience)
    p = linalg.expm(q * t)
    expected = 1 - r.p_wait + sum(w * p[j, served] for j, w in enumerate(weights))
    assert r.service_level(t) == pytest.approx(expected, abs=1e-12)


def test_erlang_a_with_endless_patience_is_erlang_c() -> None:
    a, c = erlang_a(LAM, AHT, 1e9, 14), ErlangC(LAM, AHT, 14)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-6)
    assert a.service_level(20) == pytest.approx(c.service_level(20), rel=1e-6)
    assert a.asa == pytest.approx(c.asa, rel=1e-5) and a.p_abandon < 1e-6


def test_erlang_a_service_level_limits_and_answered_wait() -> None:
    r = erlang_a(LAM, AHT, 300.0, 14)
    assert r.service_level(0) == pytest.approx(1 - r.p_wait)  # only those never queued
    assert r.service_level(1e6) == pytest.approx(1 - r.p_abandon, abs=1e-9)  # all answered
    # the answered wait less than the all-arrivals mean over the answered would suggest,
    # since those who leave took their waiting time with them
    assert 0 < r.asa_answered < r.asa / (1 - r.p_abandon)
    assert erlang_a(LAM, AHT, 1e9, 14).asa_answered == pytest.approx(ErlangC(LAM, AHT, 14).asa, rel=1e-5)


def test_erlang_a_is_finite_when_far_overloaded_or_far_overstaffed() -> None:
    flooded = erlang_a(9000 / AHT, AHT, 300.0, 100)  # 9,000 Erlangs on 100 agents
    assert flooded.p_wait == pytest.approx(1.0) and flooded.occupancy == pytest.approx(1.0)
    assert flooded.p_abandon == pytest.approx(1 - 100 / 9000, rel=1e-6)  # only c mu get served
    idle = erlang_a(100 / AHT, AHT, 300.0, 2000)
    assert idle.p_wait == 0.0 and idle.occupancy == pytest.approx(0.05)


def test_erlang_a_service_level_grows_with_agents_at_ten_thousand() -> None:
    lam = 10_000 / AHT
    levels = [erlang_a(lam, AHT, 300.0, c).service_level(20) for c in (9_800, 9_900, 10_000, 10_100)]
    assert all(0 <= x <= 1 for x in levels) and levels == sorted(levels) and levels[0] < levels[-1]


@pytest.mark.parametrize(
    ("model", "load", "sl", "t", "cap"),
    [
        ("C", 10.0, 0.8, 20.0, None),
        ("C", 37.5, 0.9, 15.0, None),
        ("C", 37.5, 0.8, 20.0, 0.85),
        ("A", 10.0, 0.8, 20.0, None),
        ("A", 37.5, 0.5, 60.0, None),
        ("A", 3.0, 0.95, 5.0, 0.7),
    ],
)
def test_staffing_is_the_fewest_agents_that_meet_every_condition(
    model: str, load: float, sl: float, t: float, cap: float | None
) -> None:
    s = agents_for_service_level(load / AHT, AHT, sl, t, model=model, patience=120, max_occupancy=cap)

    def meets(c: int) -> bool:
        if model == "C":
            q = ErlangC(load / AHT, AHT, c)
            level, occ = q.service_level(t), q.occupancy
        else:
            r = erlang_a(load / AHT, AHT, 120, c)
            level, occ = r.service_level(t), r.occupancy
        return level >= sl and (cap is None or occ <= cap + 1e-12)

    assert meets(s.agents) and not any(meets(c) for c in range(1, s.agents))


def test_staffing_a_nine_thousand_erlang_center() -> None:
    lam = 9_000 / AHT
    c = agents_for_service_level(lam, AHT, 0.8, 20)
    assert 9_000 < c.agents < 9_100 and ErlangC(lam, AHT, c.agents - 1).service_level(20) < 0.8
    # with callers who leave, the queue stays stable below the load: Erlang A staffs fewer,
    # unless an occupancy cap says otherwise
    a = agents_for_service_level(lam, AHT, 0.8, 20, model="A", patience=300)
    assert a.agents < 9_000 and a.p_abandon is not None and a.p_abandon > 0.01
    capped = agents_for_service_level(lam, AHT, 0.8, 20, model="A", patience=300, max_occupancy=0.95)
    assert capped.agents == math.ceil(9_000 / 0.95) and capped.occupancy <= 0.95
