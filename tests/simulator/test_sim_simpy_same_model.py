"""The benchmark's SimPy baseline (bench/simpy_baseline.py) is the same model as virtual
mode: for scenarios using what it covers (IVR time, mistakes and hang-ups, patience, two
skills, shifts, breaks, answer delays, declines, rings left unanswered, wrap-up) it writes
the identical interaction log. The speed ratio that bench/sim_bench.py prints rests on this."""

from __future__ import annotations

import gc
import sys
from datetime import datetime
from pathlib import Path

from callcenter.config.sections import QueueConfig, RoutingStep, SkillConfig
from simulator.distributions import Dist, exponential, fixed
from simulator.scenario import AgentGroup, Arrivals, Break, ContactType, IvrBehaviour, Scenario, Seconds
from simulator.virtual import run_virtual

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from simpy_baseline import run_simpy_model  # bench/ is not a package


def busy_afternoon(seed: int) -> Scenario:
    return Scenario(
        name="busy-afternoon",
        duration=Seconds(4 * 3600.0),
        seed=seed,
        start=datetime.fromisoformat("2026-01-06T12:00:00+00:00"),
        arrivals=Arrivals(rate_per_hour=300.0),
        mix=[ContactType(queue="cards", weight=2), ContactType(queue="loans", intent="rates")],
        skills=[SkillConfig(name="cards"), SkillConfig(name="loans")],
        queues=[
            QueueConfig(
                name="cards", steps=[RoutingStep(require={"cards": 1})], wrap_up_s=20.0, ring_time_s=15.0
            ),
            QueueConfig(
                name="loans", steps=[RoutingStep(require={"loans": 2})], wrap_up_s=20.0, ring_time_s=15.0
            ),
        ],
        ivr=IvrBehaviour(time=Dist(dist="uniform", min=5, max=25), hangup_rate=0.05, mistake_rate=0.1),
        agents=[
            AgentGroup(
                count=12,
                name="cards",
                skills={"cards": 3},
                shift="12:00-15:00",
                breaks=[Break(at="13:30", minutes=15)],
                handle_time=exponential(200.0),
                wrap_up=fixed(10.0),
                answer_delay=Dist(dist="uniform", min=1, max=4),
                decline_rate=0.03,
                no_answer_rate=0.02,
            ),
            AgentGroup(
                count=6,
                name="loans",
                skills={"loans": 2, "cards": 1},
                handle_time=exponential(300.0),
                wrap_up=fixed(25.0),
            ),
        ],
        patience=exponential(180.0),
    )


def test_the_simpy_baseline_writes_the_identical_log() -> None:
    for seed in (1, 2):
        scenario = busy_afternoon(seed)
        ours, theirs = run_virtual(scenario), run_simpy_model(scenario)
        kinds = {e.type for e in ours.events}
        reasons = {e.data.get("reason") for e in ours.events if e.type == "contact.ended"}
        # the scenario reaches what it is meant to: declines, misses, breaks, shift ends
        assert {"contact.offer_declined", "contact.offer_timed_out"} <= kinds, kinds
        assert {"completed", "abandoned", "ivr_hangup"} <= reasons
        assert any(e.data.get("reason") == "break" for e in ours.events if e.type == "agent.state")
        assert ours.contacts == theirs.contacts > 1000
        assert theirs.events == ours.events


def test_a_virtual_run_leaves_no_cyclic_garbage_and_restores_the_collector() -> None:
    """Virtual mode pauses the cyclic collector during a run (simulator/virtual.py): safe only
    while a run makes no reference cycles, which this checks."""
    gc.collect()
    assert gc.isenabled()
    run = run_virtual(busy_afternoon(3))
    assert gc.isenabled()
    gc.disable()
    try:
        del run
        gc.collect()  # from here on only the next run's garbage counts
        run = run_virtual(busy_afternoon(3))
        del run
        assert gc.collect() == 0
    finally:
        gc.enable()
