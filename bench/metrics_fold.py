"""How fast the metrics fold eats interaction events, and how long a 15-minute report over
its cells takes to build: synthetic days of contacts (answered, abandoned) and agent
states, folded in memory (no database).

    python bench/metrics_fold.py [--days 7] [--calls-per-day 20000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

from callcenter.core.events import InteractionEvent
from callcenter.metrics.fold import MetricsFold
from callcenter.supervisor.reports import ReportRequest, build_report

QUEUES = ["general", "cards", "internet", "stocks"]
T0 = 1_772_409_600.0  # a midnight (UTC)


def day_events(day: int, calls: int, agents: int, rng: random.Random) -> list[InteractionEvent]:
    start = T0 + day * 86400
    out: list[InteractionEvent] = []
    for a in range(agents):
        out.append(
            InteractionEvent(
                type="agent.state", at=start + 7 * 3600, agent_id=f"a{a}", data={"state": "AVAILABLE"}
            )
        )
    for i in range(calls):
        at = start + 7 * 3600 + rng.random() * 15 * 3600
        cid, q, agent = f"d{day}-{i}", rng.choice(QUEUES), f"a{rng.randrange(agents)}"
        wait = rng.expovariate(1 / 30)
        out.append(
            InteractionEvent(
                type="contact.arrived",
                at=at,
                contact_id=cid,
                queue=q,
                data={"caller": f"+{rng.randrange(50_000)}"},
            )
        )
        out.append(InteractionEvent(type="contact.queued", at=at, contact_id=cid, queue=q))
        if rng.random() < 0.1:
            out.append(
                InteractionEvent(
                    type="contact.ended", at=at + wait, contact_id=cid, queue=q, data={"reason": "abandoned"}
                )
            )
            continue
        talk = rng.expovariate(1 / 180)
        out += [
            InteractionEvent(type="contact.connected", at=at + wait, contact_id=cid, queue=q, agent_id=agent),
            InteractionEvent(type="agent.state", at=at + wait, agent_id=agent, data={"state": "ON_CONTACT"}),
            InteractionEvent(
                type="contact.wrap_up",
                at=at + wait + talk,
                contact_id=cid,
                queue=q,
                agent_id=agent,
                data={"talk_s": talk},
            ),
            InteractionEvent(
                type="agent.state", at=at + wait + talk, agent_id=agent, data={"state": "WRAP_UP"}
            ),
            InteractionEvent(
                type="contact.ended",
                at=at + wait + talk,
                contact_id=cid,
                queue=q,
                data={"reason": "completed"},
            ),
            InteractionEvent(
                type="agent.state", at=at + wait + talk + 20, agent_id=agent, data={"state": "AVAILABLE"}
            ),
        ]
    return sorted(out, key=lambda e: e.at)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--calls-per-day", type=int, default=20_000)
    parser.add_argument("--agents", type=int, default=60)
    args = parser.parse_args()
    rng = random.Random(7)
    events = [e for d in range(args.days) for e in day_events(d, args.calls_per_day, args.agents, rng)]
    fold = MetricsFold()
    started = time.perf_counter()
    fold.apply_all(events)
    fold.advance(T0 + args.days * 86400)
    fold_s = time.perf_counter() - started
    started = time.perf_counter()
    req = ReportRequest(T0, T0 + args.days * 86400, "15", by="queue")
    report = build_report(fold, req, ZoneInfo("UTC"))
    report_s = time.perf_counter() - started
    figures = {
        "events": len(events),
        "events_per_s": round(len(events) / fold_s),
        "report_15min_by_queue_s": round(report_s, 3),
        "report_rows": len(report["rows"]),
        "cells": len(fold.cells),
    }
    print(f"machine: {machine()}")
    print(f"folded {len(events)} events in {fold_s:.2f} s ({figures['events_per_s']} events/s)")
    print(f"15-minute report by queue over {args.days} days: {len(report['rows'])} rows in {report_s:.3f} s")
    print(json.dumps({"name": "metrics_fold", "cores": machine()["cores"], **figures}))


if __name__ == "__main__":
    main()
