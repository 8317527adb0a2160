"""How fast IVR sessions walk the demo bank flow, and how long loading the flow folder takes.

Each synthetic caller is identified by number, asks for the balance, returns to the menu,
reports a lost card, is queued (three announcements), rates the call and hangs up: about
25 inputs and 40 commands per session, all in memory on a hand-moved clock.

    python bench/ivr_bench.py [--sessions 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

from callcenter.config.loader import load_config
from callcenter.core.context import Context
from callcenter.core.ids import SequentialIds
from callcenter.ivr import (
    ContactCompleted,
    DigitsReceived,
    Flow,
    IvrSession,
    LookupCompleted,
    LookupCustomer,
    PlayPrompt,
    PromptFinished,
    QueueStatusChanged,
    SessionStarted,
    VerificationCompleted,
    VerifyCustomer,
)
from callcenter.ivr.loader import load_flows

ROOT = Path(__file__).resolve().parents[1]


class Open:
    def is_open(self, name: str | None, now: float) -> bool:
        return True

    def opening(self, name: str | None, now: float) -> str:
        return ""


class NoEstimate:
    def ewt_s(self, queue: str) -> float | None:
        return None


def one_call(flow: Flow, n: int, ids: SequentialIds) -> int:
    """Run one caller through the flow; return the number of inputs handled."""
    s = IvrSession(
        flow=flow, contact_id=f"c{n}", context=Context(id=f"x{n}"), ids=ids, hours=Open(), queues=NoEstimate()
    )
    now = 1_700_000_000.0
    inputs = 0
    last: list[Any] = []

    def send(event: Any) -> None:
        nonlocal now, inputs
        now += 1.5
        inputs += 1
        s.handle(event, now)
        last[:] = s.take_commands()

    def finish() -> None:
        play = next(c for c in reversed(last) if isinstance(c, PlayPrompt))
        send(PromptFinished(prompt_id=play.prompt_id))

    def lookup(**answer: Any) -> None:
        ask = next(c for c in last if isinstance(c, LookupCustomer))
        send(LookupCompleted(request_id=ask.request_id, found=True, **answer))

    send(SessionStarted(caller=f"+1555{n:07d}", called="+15550100", channel="voice"))
    finish()  # welcome
    finish()  # language menu prompt
    send(DigitsReceived(digits="1"))
    lookup(customer={"id": f"cu{n}", "first_name": "Ada", "tier": "top"})
    finish()  # hello
    send(DigitsReceived(digits="1"))  # balance: the caller proves who they are first
    finish()  # account number?
    send(DigitsReceived(digits="12345678#"))
    finish()  # PIN?
    send(DigitsReceived(digits="2468#"))
    check = next(c for c in last if isinstance(c, VerifyCustomer))
    card = {"id": f"cu{n}", "first_name": "Ada", "tier": "top"}
    send(
        VerificationCompleted(request_id=check.request_id, verified=True, customer=card, customer_id=f"cu{n}")
    )
    finish()  # thank you
    lookup(answer={"balance": 100, "currency": "dollars"})
    finish()
    finish()  # anything else?
    send(DigitsReceived(digits="1"))
    finish()
    send(DigitsReceived(digits="3"))  # lost card
    for position in (3, 2, 1):
        send(QueueStatusChanged(position=position, ewt_s=position * 40.0))
    send(ContactCompleted())
    send(DigitsReceived(digits="5"))
    finish()
    assert s.state == "ended"
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20000)
    args = parser.parse_args()
    config = load_config(ROOT / "config" / "callcenter.yaml")
    queues, hours = {q.name for q in config.queues}, set(config.hours)

    t = time.perf_counter()
    loads = 50
    for _ in range(loads):
        flows = load_flows(ROOT / "config" / "ivr", queues=queues, hours=hours)
    load_ms = (time.perf_counter() - t) / loads * 1000
    flow = flows["bank"]

    ids = SequentialIds()
    t = time.perf_counter()
    inputs = sum(one_call(flow, n, ids) for n in range(args.sessions))
    elapsed = time.perf_counter() - t

    m = machine()
    print(f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}, {m['system']}")
    print(f"load config/ivr ({len(flows)} flows, {sum(len(f.nodes) for f in flows)} nodes): {load_ms:.1f} ms")
    print(
        f"{args.sessions} sessions, {inputs} inputs in {elapsed:.2f} s: "
        f"{args.sessions / elapsed:.0f} sessions/s, {inputs / elapsed:.0f} inputs/s, "
        f"{elapsed / inputs * 1e6:.1f} us per input (one core)"
    )
    print(
        json.dumps(
            {
                "name": "ivr_sessions",
                "cores": m["cores"],
                "sessions": args.sessions,
                "sessions_per_s": round(args.sessions / elapsed),
                "inputs_per_s": round(inputs / elapsed),
                "us_per_input": round(elapsed / inputs * 1e6, 1),
                "flow_load_ms": round(load_ms, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
