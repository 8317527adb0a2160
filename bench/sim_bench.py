"""Simulator speed: simulated contacts per wall-clock second in virtual mode (the real ACD
on a virtual clock) for a one-day, 50-agent center, beside the same model written with
SimPy (bench/simpy_baseline.py: SimPy processes around the same ACD engine; it must write
the identical interaction log, which is checked). Also printed: the SimPy figure with its
garbage collector paused as virtual mode pauses its own, and a smaller bare-FIFO SimPy
model for reference (the baseline of earlier runs, which does a fraction of the work).

The model: Poisson arrivals following a daytime profile peaking at 620 calls/hour, one
queue, 50 identical agents on all day, log-normal handling times (mean 240 s, sd 150 s),
exponential patience (mean 300 s), 10 s wrap-up.

Live mode: a real server (``callcenter serve``, a child process on loopback with SQLite)
and ``callcenter-sim``'s live driver: agents on the desk WebSocket, customers on the chat
WebSocket, in real time. ``live_lost_contacts`` counts contacts the driver started whose
``contact.ended`` never reached the server's interaction log (read from its database after
the server has stopped and flushed). The default run is a short one (20 agents, 5
contacts/s, 20 s); ``--soak`` runs 100 agents at 20 contacts/s for 10 minutes.

Usage: python bench/sim_bench.py [--soak] [--no-live]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine
from simpy_baseline import day_profile, run_bare_fifo, run_simpy_model

from callcenter.config.sections import QueueConfig, RoutingStep, SkillConfig
from simulator.distributions import Dist, exponential, fixed
from simulator.live import run_live, users_yaml
from simulator.scenario import AgentGroup, Arrivals, ContactType, Scenario, Seconds
from simulator.summary import summarise
from simulator.virtual import run_virtual

PEAK, AHT, SD, PATIENCE, WRAP, AGENTS = 620.0, 240.0, 150.0, 300.0, 10.0, 50


def scenario(seed: int) -> Scenario:
    return Scenario(
        name="one-day-50-agents",
        duration=Seconds(86400.0),
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


def live_scenario(agents: int, per_second: float, seconds: float) -> Scenario:
    return Scenario(
        name="live-soak",
        duration=Seconds(seconds),
        seed=7,
        arrivals=Arrivals(rate_per_hour=per_second * 3600),
        mix=[ContactType(queue="q", channel="chat")],
        skills=[SkillConfig(name="general")],
        queues=[QueueConfig(name="q", steps=[RoutingStep(require={"general": 1})])],
        agents=[
            AgentGroup(
                count=agents,
                name="soak",
                skills={"general": 1},
                chat_capacity=2,
                handle_time=exponential(4.0),
                wrap_up=fixed(0.5),
                answer_delay=Dist(dist="uniform", min=0.1, max=0.5),
            )
        ],
        patience=exponential(60.0),
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as res:
                if res.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # the server is still starting: nothing to await across processes
    raise RuntimeError(f"the server did not come up within {seconds:.0f} s")


def live_bench(agents: int, per_second: float, seconds: float) -> dict[str, Any]:
    """One live run against a fresh server; the figures and the lost-contact count."""
    scenario = live_scenario(agents, per_second, seconds)
    with tempfile.TemporaryDirectory() as tmp:
        db, port = Path(tmp) / "cc.db", _free_port()
        (Path(tmp) / "ivr").mkdir()
        config = Path(tmp) / "callcenter.yaml"
        config.write_text(
            f"server: {{host: 127.0.0.1, port: {port}}}\n"
            f'storage: {{url: "sqlite+aiosqlite:///{db}"}}\n'
            "skills: [{name: general}]\n"
            "queues: [{name: q, steps: [{require: {general: 1}}], wrap_up_s: 30, ring_time_s: 15}]\n"
            + users_yaml(scenario)
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "callcenter", "serve", "--config", str(config), "--log-level", "WARNING"],
            stdout=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_up(url, proc, 120)
            started = time.perf_counter()
            run = asyncio.run(run_live(scenario, url, speed=1.0, drain_timeout_s=120))
            wall = time.perf_counter() - started
        finally:
            proc.send_signal(signal.SIGINT)  # a clean stop flushes the interaction log
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        with sqlite3.connect(db) as conn:
            ended = {
                row[0] for row in conn.execute("select contact_id from events where type = 'contact.ended'")
            }
    from simulator.live_cli import live_summary

    summary = live_summary(run)
    lost = sorted(set(run.contact_ids) - ended)
    return {
        "agents": agents,
        "contacts_per_s_target": per_second,
        "seconds": seconds,
        "contacts": run.contacts,
        "contacts_per_s": round(run.contacts / seconds, 2),
        "max_arrival_lag_s": round(run.max_lag_s, 3),
        "answered": summary["answered"],
        "abandoned": summary["abandoned"],
        "asa_seconds": summary["asa_seconds"],
        "unfinished_seen_by_customers": len(run.unfinished),
        "lost_contacts": len(lost),
        "lost_examples": lost[:5],
        "stopped": run.stopped,
        "wall_seconds": round(wall, 1),
    }


def profile_shares() -> dict[str, float]:
    """Where a virtual run's time goes (own time per part, under cProfile)."""
    import cProfile
    import pstats

    s = scenario(1)
    prof = cProfile.Profile()
    prof.enable()
    run = run_virtual(s)
    summarise(run.events, start=run.start_epoch, end=run.end_epoch, sl_seconds=20.0)
    prof.disable()
    stats: Any = pstats.Stats(prof)
    parts = {"simulator": 0.0, "acd engine": 0.0, "other callcenter": 0.0, "python": 0.0}
    for (path, _, _), (_, _, own, _, _) in stats.stats.items():
        if "/simulator/" in path:
            parts["simulator"] += own
        elif "/callcenter/acd/" in path:
            parts["acd engine"] += own
        elif "/callcenter/" in path:
            parts["other callcenter"] += own
        else:
            parts["python"] += own
    total = sum(parts.values())
    return {k: round(v / total, 3) for k, v in parts.items()}


def _timed(run: Callable[[], Any]) -> tuple[Any, dict[str, Any], float]:
    t0 = time.perf_counter()
    result = run()
    summary = summarise(result.events, start=result.start_epoch, end=result.end_epoch, sl_seconds=20.0)
    return result, summary, time.perf_counter() - t0  # the run and its summary


def _gc_paused(run: Callable[[], Any]) -> Callable[[], Any]:
    """``run`` with the collector handled as virtual mode handles its own (``_Simulation.go``)."""

    def paused() -> Any:
        gc.collect(1)
        gc.disable()
        try:
            return run()
        finally:
            gc.freeze()
            gc.unfreeze()
            gc.enable()

    return paused


def virtual_bench() -> dict[str, Any]:
    """Virtual mode against the same model in SimPy (bench/simpy_baseline.py), best of 3
    seeds each; the two must write the same interaction log for the ratio to mean anything."""
    best = {"virtual": 0.0, "simpy": 0.0, "simpy_gc_paused": 0.0, "bare": 0.0}
    same_log = True
    for seed in (1, 2, 3):
        s = scenario(seed)
        run, summary, dt = _timed(lambda: run_virtual(s))  # noqa: B023 - called at once
        best["virtual"] = max(best["virtual"], summary["offered"] / dt)
        base, base_summary, dt_simpy = _timed(lambda: run_simpy_model(s))  # noqa: B023 - called at once
        best["simpy"] = max(best["simpy"], base_summary["offered"] / dt_simpy)
        same = base.events == run.events
        same_log = same_log and same
        del base
        gc.collect()
        _, _, dt_paused = _timed(_gc_paused(lambda: run_simpy_model(s)))  # noqa: B023
        best["simpy_gc_paused"] = max(best["simpy_gc_paused"], base_summary["offered"] / dt_paused)
        t0 = time.perf_counter()
        bare = run_bare_fifo(
            agents=AGENTS,
            calls_per_hour_peak=PEAK,
            aht=AHT,
            aht_sd=SD,
            patience=PATIENCE,
            wrap_up=WRAP,
            sl_s=20.0,
            seed=seed,
        )
        best["bare"] = max(best["bare"], bare.offered / (time.perf_counter() - t0))
        print(
            f"seed {seed}: virtual {summary['offered']} contacts in {dt:.2f} s "
            f"(SL {summary['service_level']:.3f}, abandoned {summary['abandoned']}); "
            f"SimPy, same model: {base_summary['offered']} in {dt_simpy:.2f} s, "
            f"{'the identical' if same else 'a DIFFERENT'} interaction log "
            f"({len(run.events)} events); with its GC paused too: {dt_paused:.2f} s"
        )
        del run
        gc.collect()
    ratio = best["virtual"] / best["simpy"]
    print(
        f"best of 3: virtual {best['virtual']:,.0f} contacts/s, SimPy same model {best['simpy']:,.0f}/s "
        f"(ratio {ratio:.2f}; {best['simpy_gc_paused']:,.0f}/s and ratio "
        f"{best['virtual'] / best['simpy_gc_paused']:.2f} with SimPy's GC paused as well); "
        f"the smaller bare-FIFO SimPy model (no agents by name, no routing, no log): {best['bare']:,.0f}/s"
    )
    return {
        "virtual_contacts_per_s": round(best["virtual"]),
        "simpy_contacts_per_s": round(best["simpy"]),
        "ratio_vs_simpy": round(ratio, 2) if same_log else None,  # no ratio for different models
        "simpy_same_log": same_log,
        "simpy_gc_paused_contacts_per_s": round(best["simpy_gc_paused"]),
        "ratio_vs_simpy_gc_paused": round(best["virtual"] / best["simpy_gc_paused"], 2),
        "simpy_bare_fifo_contacts_per_s": round(best["bare"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--soak", action="store_true", help="live: 100 agents, 20 contacts/s, 10 minutes")
    parser.add_argument("--no-live", action="store_true", help="the virtual comparison only")
    parser.add_argument("--profile", action="store_true", help="print where virtual mode's time goes")
    args = parser.parse_args()
    info = machine()
    print(f"machine: {info}")
    figures = virtual_bench()
    if args.profile:
        print(f"virtual mode, share of own time under cProfile: {json.dumps(profile_shares())}")
    live: dict[str, Any] | None = None
    if not args.no_live:
        live = live_bench(100, 20.0, 600.0) if args.soak else live_bench(20, 5.0, 20.0)
        print(f"live: {json.dumps(live)}")
    print(
        json.dumps(
            {
                "name": "sim_bench",
                "cores": info["cores"],
                **figures,
                "live_lost_contacts": None if live is None else live["lost_contacts"],
                "live": live,
            }
        )
    )


if __name__ == "__main__":
    main()
