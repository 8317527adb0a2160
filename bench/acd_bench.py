"""ACD routing cost: inputs handled per second and time per input, at several sizes.

Set-up per size: 20 skills, 50 queues (two routing steps each: a skill at level 3 for
30 s, then the same skill at level 1), N agents with three random skills each, every agent
busy on a contact, and 10,000 contacts waiting. The measured loop is the steady state of a
busy center: a contact ends (its agent takes the oldest waiting contact it can serve: an
offer), the agent accepts, and a new contact arrives and joins a queue. Every input's time
is taken on its own (perf_counter_ns), commands included.

Also: the estimated wait told to each caller on arrival against the wait they then had,
in a steady M/M/c run (one queue, 20 agents, 90% load, exponential handling times).

Usage: python bench/acd_bench.py [--inputs N] [--rounds R]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from callcenter.acd.commands import OfferContact
from callcenter.acd.engine import AcdEngine
from callcenter.acd.messages import AgentLoggedIn, AgentReady, ContactArrived, ContactEnded, OfferAccepted
from callcenter.config.sections import QueueConfig, RoutingStep, Strategy
from callcenter.core.events import RecordEvent
from callcenter.core.ids import SequentialIds

SKILLS = [f"s{i}" for i in range(20)]
STRATEGIES: list[Strategy] = ["longest-idle", "least-occupied", "round-robin", "best-skill-match", "random"]


class AlwaysOpen:
    def is_open(self, name: str | None, now: float) -> bool:
        return True

    def opening(self, name: str | None, now: float) -> str:
        return ""


def build(agents: int, waiting: int, seed: int = 7) -> tuple[AcdEngine, random.Random, list[str]]:
    rng = random.Random(seed)
    queues = [
        QueueConfig(
            name=f"q{i}",
            strategy=STRATEGIES[i % 5],
            wrap_up_s=0,
            ring_time_s=30,
            channels=["voice"],
            steps=[
                RoutingStep(require={SKILLS[i % 20]: 3}, timeout=30),
                RoutingStep(require={SKILLS[i % 20]: 1}),
            ],
        )
        for i in range(50)
    ]
    engine = AcdEngine(queues, SKILLS, ids=SequentialIds(), rng=random.Random(seed), hours=AlwaysOpen())
    now = 0.0
    for a in range(agents):
        skills = {s: rng.randint(1, 5) for s in rng.sample(SKILLS, 3)}
        engine.handle(AgentLoggedIn(agent_id=f"a{a}", skills=skills), now)
        engine.handle(AgentReady(agent_id=f"a{a}"), now)
    engine.take_commands()
    n = 0
    # keep arriving until every agent is busy and `waiting` contacts wait
    while sum(len(q.waiting) for q in engine.queues.values()) < waiting:
        n += 1
        now += 0.001
        engine.handle(ContactArrived(contact_id=f"c{n}", channel="voice", queue=f"q{rng.randrange(50)}"), now)
        for cmd in engine.take_commands():
            if isinstance(cmd, OfferContact):
                engine.handle(OfferAccepted(offer_id=cmd.offer_id, agent_id=cmd.agent_id), now)
        engine.take_commands()
    connected = [c.contact_id for c in engine.contacts.values() if c.state == "connected"]
    return engine, rng, connected


def measure(agents: int, inputs: int, waiting: int = 10_000, rounds: int = 5) -> dict[str, float]:
    """Best of ``rounds`` measured rounds on one built center: on a shared 2-core VM an input
    that is descheduled counts milliseconds, so a round's mean is only as good as its
    quietest stretch; p50 is the figure least disturbed by others."""
    engine, rng, connected = build(agents, waiting)
    rng.shuffle(connected)
    results = [_round(engine, rng, connected, inputs, 10_000_000 * (r + 1)) for r in range(rounds)]
    return max(results, key=lambda r: r["inputs_per_s"])


def _round(
    engine: AcdEngine, rng: random.Random, connected: list[str], inputs: int, n: int
) -> dict[str, float]:
    times: list[int] = []
    now = 100.0 + n / 1e5
    i = 0
    gc.collect()
    gc.disable()
    try:
        while len(times) < inputs:
            now += 0.0005
            cid = connected[i % len(connected)]
            i += 1
            if cid not in engine.contacts or engine.contacts[cid].state != "connected":
                continue
            t0 = time.perf_counter_ns()
            engine.handle(ContactEnded(contact_id=cid), now)
            cmds = engine.take_commands()
            times.append(time.perf_counter_ns() - t0)
            for cmd in cmds:
                if isinstance(cmd, OfferContact):
                    t0 = time.perf_counter_ns()
                    engine.handle(OfferAccepted(offer_id=cmd.offer_id, agent_id=cmd.agent_id), now)
                    engine.take_commands()
                    times.append(time.perf_counter_ns() - t0)
                    connected.append(cmd.contact_id)
            n += 1
            t0 = time.perf_counter_ns()
            engine.handle(
                ContactArrived(contact_id=f"c{n}", channel="voice", queue=f"q{rng.randrange(50)}"), now
            )
            cmds = engine.take_commands()
            times.append(time.perf_counter_ns() - t0)
            for cmd in cmds:  # a new contact may find a free agent
                if isinstance(cmd, OfferContact):
                    engine.handle(OfferAccepted(offer_id=cmd.offer_id, agent_id=cmd.agent_id), now)
                    engine.take_commands()
                    connected.append(cmd.contact_id)
    finally:
        gc.enable()
    times.sort()
    total_s = sum(times) / 1e9
    waiting_now = sum(len(q.waiting) for q in engine.queues.values())
    return {
        "inputs_per_s": len(times) / total_s,
        "p50_us": times[len(times) // 2] / 1000,
        "p99_us": times[int(len(times) * 0.99)] / 1000,
        "waiting": waiting_now,
    }


def ewt_accuracy(
    calls: int = 20_000, agents: int = 20, load: float = 0.9, aht: float = 180.0
) -> dict[str, float]:
    """Steady M/M/c: compare each contact's EWT at arrival with its realised wait."""
    rng = random.Random(11)
    q = QueueConfig(name="q", wrap_up_s=0, ring_time_s=30, steps=[RoutingStep()])
    engine = AcdEngine(
        [q], [], ids=SequentialIds(), rng=random.Random(1), hours=AlwaysOpen(), default_aht=aht
    )
    for a in range(agents):
        engine.handle(AgentLoggedIn(agent_id=f"a{a}"), 0.0)
        engine.handle(AgentReady(agent_id=f"a{a}"), 0.0)
    engine.take_commands()
    lam = load * agents / aht
    events: list[tuple[float, int, str, str]] = []  # (time, seq, kind, id)
    import heapq

    seq = 0
    t = 0.0
    for i in range(calls):
        t += rng.expovariate(lam)
        heapq.heappush(events, (t, seq := seq + 1, "arrive", f"c{i}"))
    told: dict[str, float] = {}
    waited: dict[str, float] = {}
    arrived: dict[str, float] = {}
    while events:
        now, _, kind, ident = heapq.heappop(events)
        if kind == "arrive":
            arrived[ident] = now
            engine.handle(ContactArrived(contact_id=ident, channel="voice", queue="q"), now)
        else:
            engine.handle(ContactEnded(contact_id=ident), now)
        for cmd in engine.take_commands():
            if isinstance(cmd, RecordEvent) and cmd.event.type == "contact.queued":
                ewt = cmd.event.data.get("ewt_s")
                if ewt is not None:
                    told[cmd.event.contact_id] = ewt  # type: ignore[index]
            elif isinstance(cmd, OfferContact):
                engine.handle(OfferAccepted(offer_id=cmd.offer_id, agent_id=cmd.agent_id), now)
                waited[cmd.contact_id] = now - arrived[cmd.contact_id]
                heapq.heappush(
                    events, (now + rng.expovariate(1 / aht), seq := seq + 1, "end", cmd.contact_id)
                )
                engine.take_commands()
    warm = [c for c in told if c in waited][calls // 10 :]  # drop the warm-up tenth
    errors = [told[c] - waited[c] for c in warm]
    mean_wait = statistics.mean(waited[c] for c in warm)
    return {
        "ewt_mean_abs_error_s": statistics.mean(abs(e) for e in errors),
        "ewt_mean_error_s": statistics.mean(errors),
        "mean_wait_s": mean_wait,
        "ewt_mean_of_estimates_s": statistics.mean(told[c] for c in warm),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    info = machine()
    print(f"machine: {info}")
    scaling = {}
    results = {}
    for agents in (100, 2000, 10_000):
        r = measure(agents, args.inputs, rounds=args.rounds)
        results[agents] = r
        scaling[str(agents)] = round(r["inputs_per_s"])
        print(
            f"{agents:>6} agents, {r['waiting']} waiting: {r['inputs_per_s']:,.0f} inputs/s, "
            f"p50 {r['p50_us']:.1f} us, p99 {r['p99_us']:.1f} us"
        )
    ewt = ewt_accuracy()
    print(
        f"EWT in steady M/M/20 at 90% load: mean |error| {ewt['ewt_mean_abs_error_s']:.1f} s, "
        f"mean error {ewt['ewt_mean_error_s']:+.1f} s, mean estimate {ewt['ewt_mean_of_estimates_s']:.1f} s "
        f"vs mean realised wait {ewt['mean_wait_s']:.1f} s"
    )
    main_case = results[2000]
    print(
        json.dumps(
            {
                "name": "acd_bench",
                "cores": info["cores"],
                "inputs_per_s": round(main_case["inputs_per_s"]),
                "p50_us": round(main_case["p50_us"], 1),
                "p99_us": round(main_case["p99_us"], 1),
                "scaling": scaling,
                "slowdown_100_to_10000": round(scaling["100"] / scaling["10000"], 2),
                **{k: round(v, 2) for k, v in ewt.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
