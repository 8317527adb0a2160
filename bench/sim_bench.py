"""Simulator speed: simulated contacts per wall-clock second in virtual mode (the real ACD
on a virtual clock) for a one-day, 50-agent center, beside the same model written with
SimPy (bench/simpy_baseline.py).

The model: Poisson arrivals following a daytime profile peaking at 620 calls/hour, one
queue, 50 identical agents on all day, log-normal handling times (mean 240 s, sd 150 s),
exponential patience (mean 300 s), 10 s wrap-up. The live-mode soak needs the desk and
chat endpoints driven over the network; it is not part of this version and is reported
as null.

Usage: python bench/sim_bench.py
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine
from simpy_baseline import day_profile, run_baseline

from callcenter.config.model import QueueConfig, RoutingStep
from simulator.distributions import Dist, exponential, fixed
from simulator.scenario import AgentGroup, Arrivals, ContactType, Scenario
from simulator.summary import summarise
from simulator.virtual import run_virtual

PEAK, AHT, SD, PATIENCE, WRAP, AGENTS = 620.0, 240.0, 150.0, 300.0, 10.0, 50


def scenario(seed: int) -> Scenario:
    return Scenario(
        name="one-day-50-agents",
        duration=86400.0,
        seed=seed,
        start=datetime.fromisoformat("2026-01-06T00:00:00+00:00"),
        arrivals=Arrivals(rate_per_hour=PEAK, hourly=day_profile()),
        mix=[ContactType(queue="q")],
        queues=[QueueConfig(name="q", steps=[RoutingStep()], wrap_up_s=WRAP, ring_time_s=30.0)],
        agents=[
            AgentGroup(count=AGENTS, handle_time=Dist(dist="lognormal", mean=AHT, sd=SD), wrap_up=fixed(WRAP))
        ],
        patience=exponential(PATIENCE),
        service_level_s=20.0,
    )


def main() -> None:
    info = machine()
    print(f"machine: {info}")
    best_virtual, best_simpy = 0.0, 0.0
    for seed in (1, 2, 3):
        s = scenario(seed)
        t0 = time.perf_counter()
        run = run_virtual(s)
        dt = time.perf_counter() - t0
        summary = summarise(run.events, start=run.start_epoch, end=run.end_epoch, sl_seconds=20.0)
        best_virtual = max(best_virtual, summary["offered"] / dt)
        t0 = time.perf_counter()
        base = run_baseline(
            agents=AGENTS,
            calls_per_hour_peak=PEAK,
            aht=AHT,
            aht_sd=SD,
            patience=PATIENCE,
            wrap_up=WRAP,
            sl_s=20.0,
            seed=seed,
        )
        dt_simpy = time.perf_counter() - t0
        best_simpy = max(best_simpy, base.offered / dt_simpy)
        print(
            f"seed {seed}: virtual {summary['offered']} contacts in {dt:.2f} s "
            f"(SL {summary['service_level']:.3f}, abandoned {summary['abandoned']}); "
            f"SimPy {base.offered} contacts in {dt_simpy:.2f} s "
            f"(SL {base.within_sl / max(1, base.answered + base.abandoned):.3f}, abandoned {base.abandoned})"
        )
    print(
        f"best of 3: virtual {best_virtual:,.0f} contacts/s, SimPy {best_simpy:,.0f} contacts/s, "
        f"ratio {best_virtual / best_simpy:.2f}"
    )
    print(
        json.dumps(
            {
                "name": "sim_bench",
                "cores": info["cores"],
                "virtual_contacts_per_s": round(best_virtual),
                "simpy_contacts_per_s": round(best_simpy),
                "ratio_vs_simpy": round(best_virtual / best_simpy, 2),
                "live_lost_contacts": None,
            }
        )
    )


if __name__ == "__main__":
    main()
