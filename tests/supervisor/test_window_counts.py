"""The live view's cached day sums (``cells.WindowCounts``) always equal a fresh sum of the
fold's cells, however events, reads, late wrap-ups, prunes and window moves interleave."""

from __future__ import annotations

from dataclasses import asdict
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from callcenter.core.events import InteractionEvent
from callcenter.metrics.cells import BUCKET_S, Counts, Slices, WindowCounts, figures
from callcenter.metrics.fold import MetricsFold

T0 = 1_772_431_200.0
QUEUES = ("general", "cards", "english")
AGENTS = ("a1", "a2", "a3")


def same(got: Slices, want: Slices) -> None:
    def flat(c: Counts) -> dict[str, Any]:
        return {k: pytest.approx(v) for k, v in asdict(c).items()}

    assert {k: asdict(v) for k, v in got[0].items()} == {k: flat(v) for k, v in want[0].items()}
    assert {k: asdict(v) for k, v in got[1].items()} == {k: flat(v) for k, v in want[1].items()}
    assert asdict(got[2]) == flat(want[2])


def contact(
    n: int, at: float, queue: str, agent: str, wait: float, talk: float, wrap: float, abandon: bool
) -> list[InteractionEvent]:
    cid = f"c{n}"

    def ev(kind: str, t: float, **data: Any) -> InteractionEvent:
        return InteractionEvent(
            type=kind,
            at=at + t,
            contact_id=cid,
            queue=queue,
            agent_id=agent if kind in ("contact.connected", "contact.wrap_up") else None,
            data=data,
        )

    arrive = [ev("contact.arrived", 0, caller=f"+{n % 4}"), ev("contact.queued", 0)]
    if abandon:
        return [*arrive, ev("contact.ended", wait, reason="abandoned")]

    def state(t: float, s: str) -> InteractionEvent:
        return InteractionEvent(type="agent.state", at=at + t, agent_id=agent, data={"state": s})

    return [
        *arrive,
        ev("contact.connected", wait),
        state(wait, "ON_CONTACT"),
        ev("contact.wrap_up", wait + talk, talk_s=talk),
        state(wait + talk, "WRAP_UP"),
        ev("contact.ended", wait + talk, reason="completed"),
        state(wait + talk + wrap, "AVAILABLE"),
    ]


steps = st.lists(
    st.tuples(
        st.floats(0, 1200),
        st.sampled_from(QUEUES),
        st.sampled_from(AGENTS),
        st.floats(0, 120),
        st.floats(1, 600),
        st.floats(0, 1500),
        st.booleans(),  # wraps up to 25 minutes: late cells
        st.sampled_from(["read", "read", "none", "prune", "move"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
@example(  # the window moves while it holds no more than the hot buckets: the old base was kept
    [(0.0, "general", "a1", 0.0, 1.0, 0.0, False, "read")] * 6
    + [(0.0, "general", "a1", 0.0, 1.0, 0.0, False, "move")] * 2
    + [
        (657.0, "general", "a1", 0.0, 1.0, 0.0, False, "read"),
        (690.0, "general", "a1", 0.0, 1.0, 0.0, False, "move"),
        (0.0, "general", "a1", 0.0, 1.0, 453.0, False, "move"),
        (0.0, "general", "a1", 0.0, 1.0, 0.0, False, "move"),
    ]
)
def test_cached_day_sums_equal_a_fresh_sum(plan: list[tuple[Any, ...]]) -> None:
    fold = MetricsFold()
    for agent in AGENTS:
        fold.apply(InteractionEvent(type="agent.state", at=T0, agent_id=agent, data={"state": "AVAILABLE"}))
    window = WindowCounts(fold.cells)
    start, end = T0 - 3600, T0 + 86400
    t = T0
    for n, (gap, queue, agent, wait, talk, wrap, abandon, then) in enumerate(plan):
        t += gap
        for event in sorted(contact(n, t, queue, agent, wait, talk, wrap, abandon), key=lambda e: e.at):
            fold.apply(event)  # an agent's overlapping contacts only make odd states: still summed alike
        fold.advance(t)
        if then == "prune":
            fold.prune(t - 2 * BUCKET_S)
        elif then == "move":
            start += BUCKET_S
        if then != "none":
            same(window.slices(start, end), fold.slices(start, end))
    same(window.slices(start, end), fold.slices(start, end))


def test_the_story_day_read_after_every_event(case: SimpleNamespace) -> None:
    fold = MetricsFold(service_level_s=case.thresholds)
    window = WindowCounts(fold.cells)
    for event in case.events(T0):
        fold.apply(event)
        fold.advance(event.at)
        same(window.slices(T0 - 900, T0 + 86400), fold.slices(T0 - 900, T0 + 86400))
    fold.advance(T0 + 1800)
    case.check(figures(window.slices(T0, T0 + 1800)[2]), case.day)
