"""Erlang B, C and A against the published reference values (shared/data/README.md), their
stability at 10,000+ agents, and the staffing solver."""

from __future__ import annotations

import math

import pytest

from callcenter.acd.erlang import ErlangC, agents_for_service_level, erlang_a, erlang_b, erlang_c

LAM, AHT = 100 / 1800, 180.0  # 100 calls per 30 minutes, 3 minutes each: 10 Erlangs


@pytest.mark.parametrize(("c", "p_wait", "sl20", "asa"), [
    (13, 0.2853, 0.7956, 17.12), (14, 0.1741, 0.8884, 7.84), (15, 0.1020, 0.9415, 3.67)])
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


@pytest.mark.parametrize("kwargs", [
    {"target_sl": 1.2}, {"target_sl": 0.8, "shrinkage": 1.0}, {"target_sl": 0.8, "model": "A"},
    {"target_sl": 0.8, "model": "Z"}])
def test_bad_staffing_questions_are_refused(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        agents_for_service_level(LAM, AHT, t=20, **kwargs)
