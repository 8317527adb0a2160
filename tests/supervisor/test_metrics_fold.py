"""The metrics fold over the hand-written log (conftest.py): every figure of docs/metrics.md
per interval, per queue and per agent, fed whole or in two halves, from stored events or
bus payloads; live state; odd input."""

from __future__ import annotations

from types import SimpleNamespace

import msgspec

from callcenter.core.events import InteractionEvent
from callcenter.metrics.fold import MetricsFold

T0 = 1_772_431_200.0  # 2026-03-02 06:00 UTC, on a 15-minute edge


def folded(case: SimpleNamespace, events: list[InteractionEvent] | None = None) -> MetricsFold:
    fold = MetricsFold(service_level_s=case.thresholds)
    fold.apply_all(events if events is not None else case.events(T0))
    fold.advance(T0 + 1800)
    return fold


def test_figures_per_interval_match_the_hand_computed_ones(case: SimpleNamespace) -> None:
    fold = folded(case)
    case.check(fold.figures(T0, T0 + 900), case.interval_1)
    case.check(fold.figures(T0 + 900, T0 + 1800), case.interval_2)
    case.check(fold.figures(T0, T0 + 1800), case.day)


def test_figures_by_queue_and_by_agent(case: SimpleNamespace) -> None:
    fold = folded(case)
    case.check(fold.figures(T0, T0 + 1800, queue="general"), case.general_day)
    case.check(fold.figures(T0, T0 + 1800, agent="a1"), case.a1_day)
    cards = fold.figures(T0, T0 + 1800, queue="cards")
    assert (cards["offered"], cards["answered"], cards["abandoned"]) == (3, 1, 2)
    assert cards["service_level"] == 1 / 3  # c2 within; c3 and c6 abandoned beyond 5 s
    assert fold.dimensions(T0, T0 + 1800) == (["cards", "general"], ["a1", "a2"])


def test_the_fold_is_incremental_and_takes_bus_payloads(case: SimpleNamespace) -> None:
    """Fed half, read, then fed the rest as bus-style dicts: the same figures as all at once."""
    events = case.events(T0)
    half = len(events) // 2
    fold = MetricsFold(service_level_s=case.thresholds)
    fold.apply_all(events[:half])
    fold.advance(events[half - 1].at)
    assert fold.figures(T0, T0 + 1800)["offered"] > 0
    fold.apply_all({**msgspec.structs.asdict(e), "data": dict(e.data)} for e in events[half:])
    fold.advance(T0 + 1800)
    assert fold.figures(T0, T0 + 1800) == folded(case).figures(T0, T0 + 1800)


def test_live_state_waiting_longest_wait_and_agents(case: SimpleNamespace) -> None:
    events = case.events(T0)
    upto = [e for e in events if e.at <= T0 + 350]
    fold = MetricsFold(service_level_s=case.thresholds)
    fold.apply_all(upto)
    live = fold.live(T0 + 350)
    assert live.queues["cards"].waiting == 1 and live.queues["cards"].longest_wait_s == 50
    assert "general" not in live.queues
    assert live.agents == {"a1": "NOT_READY", "a2": "ON_CONTACT"}
    assert live.agents_by_state["NOT_READY"] == 1 and live.agents_by_state["AVAILABLE"] == 0
    totals = fold.totals
    assert (totals["general"].offered, totals["general"].answered, totals["cards"].offered) == (2, 2, 1)


def test_counts_since_start_feed_a_wait_histogram(case: SimpleNamespace) -> None:
    fold = folded(case)
    general = fold.totals["general"]
    assert (general.offered, general.answered, general.abandoned) == (5, 3, 1)
    # waits 15, 40, 5 against edges 5, 10, 20, 30, 60, ...
    assert general.wait_counts[:5] == [1, 0, 1, 0, 1] and general.wait_sum == 60


def test_a_window_starting_mid_contact_skips_what_it_cannot_place(case: SimpleNamespace) -> None:
    events = [e for e in case.events(T0) if e.at >= T0 + 101]  # c1, c2 already connected
    fold = folded(case, events)
    f = fold.figures(T0, T0 + 1800)
    assert f["answered"] == 2  # c2 in cards and c5; c1's answer was before the window
    # c1's release belongs to a contact never seen; c2 is seen again once queued in cards
    assert f["handled"] == 2 and f["hold_s"] == 0


def test_odd_ratings_and_foreign_events_are_ignored(case: SimpleNamespace) -> None:
    fold = MetricsFold()
    for rating in (0, 6, "5", True, None):
        fold.apply(InteractionEvent(type="ivr.survey", at=T0, contact_id="x", data={"rating": rating}))
    fold.apply(InteractionEvent(type="server.started", at=T0))
    fold.apply(InteractionEvent(type="contact.connected", at=T0, contact_id="never-seen", agent_id="a"))
    assert fold.figures(T0, T0 + 900)["ratings"] == 0 and fold.figures(T0, T0 + 900)["answered"] == 0


def test_a_short_abandon_threshold_and_prune(case: SimpleNamespace) -> None:
    fold = MetricsFold(service_level_s=case.thresholds, short_abandon_s=31.0)
    fold.apply_all(case.events(T0))
    assert fold.figures(T0, T0 + 1800)["short_abandoned"] == 2  # 3 s and 30 s
    fold.prune(T0 + 900)
    assert fold.figures(T0, T0 + 900)["offered"] == 0
    assert fold.figures(T0 + 900, T0 + 1800)["offered"] == 3
