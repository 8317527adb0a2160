"""What-if runs of the textbook models through the real ACD, beside the Erlang prediction:
M/M/c (Erlang C) and, with a patience, M/M/c+M (Erlang A)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from callcenter.acd.erlang import ErlangC, erlang_a
from callcenter.config.sections import QueueConfig, RoutingStep
from simulator.distributions import Dist, exponential, fixed
from simulator.scenario import AgentGroup, Arrivals, ContactType, Scenario, Seconds
from simulator.summary import summarise
from simulator.virtual import run_virtual


def erlang_scenario(
    *,
    arrivals_per_hour: float,
    aht_seconds: float,
    agents: int,
    calls: int,
    seed: int,
    patience_seconds: float | None = None,
    sl_seconds: float = 20.0,
) -> Scenario:
    duration = calls / arrivals_per_hour * 3600.0
    return Scenario(
        name="erlang",
        duration=Seconds(duration),
        seed=seed,
        start=datetime.fromisoformat("2026-01-05T00:00:00+00:00"),
        arrivals=Arrivals(rate_per_hour=arrivals_per_hour),
        mix=[ContactType(queue="q")],
        queues=[QueueConfig(name="q", steps=[RoutingStep()], wrap_up_s=0.0, ring_time_s=60.0)],
        agents=[AgentGroup(count=agents, handle_time=exponential(aht_seconds), wrap_up=fixed(0.0))],
        patience=Dist(dist="exponential", mean=patience_seconds) if patience_seconds else None,
        service_level_s=sl_seconds,
        interval_s=3600.0,
    )


def erlang_whatif(
    *,
    arrivals_per_hour: float,
    aht_seconds: float,
    agents: int,
    calls: int,
    seed: int,
    patience_seconds: float | None = None,
    sl_seconds: float = 20.0,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    scenario = erlang_scenario(
        arrivals_per_hour=arrivals_per_hour,
        aht_seconds=aht_seconds,
        agents=agents,
        calls=calls,
        seed=seed,
        patience_seconds=patience_seconds,
        sl_seconds=sl_seconds,
    )
    run = run_virtual(scenario, progress=progress)
    summary = summarise(
        run.events,
        start=run.start_epoch,
        end=run.end_epoch,
        sl_seconds=sl_seconds,
        interval_s=scenario.interval_s,
    )
    lam = arrivals_per_hour / 3600.0
    if patience_seconds:
        a = erlang_a(lam, aht_seconds, patience_seconds, agents)
        prediction = {
            "model": "Erlang A (M/M/c+M)",
            "p_wait": a.p_wait,
            "service_level": a.service_level(sl_seconds),
            "asa_seconds": a.asa_answered,
            "p_abandon": a.p_abandon,
            "occupancy": a.occupancy,
        }
    else:
        c = ErlangC(lam, aht_seconds, agents)
        prediction = {
            "model": "Erlang C (M/M/c)",
            "p_wait": c.p_wait,
            "service_level": c.service_level(sl_seconds),
            "asa_seconds": c.asa,
            "p_abandon": 0.0,
            "occupancy": c.occupancy,
        }
    summary["erlang"] = prediction
    summary.pop("series", None)
    summary.pop("per_interval", None)
    return summary
