"""``callcenter-sim run SCENARIO --mode live --url URL [--speed X] [--carrier NAME]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from simulator.live import LiveRun, run_live
from simulator.live_desk import ServerGone
from simulator.live_speech import SpeechUnavailable
from simulator.scenario import Scenario

STOPPED_EXIT = 3
CARRIER_SECRET_ENV = "CALLCENTER_CARRIER_SECRET"  # a secret is never a command-line argument


def live_summary(run: LiveRun) -> dict[str, Any]:
    from simulator.summary import summarise

    s = run.scenario
    summary = summarise(
        run.events,
        start=run.start_epoch,
        end=max(run.end_epoch, run.start_epoch + 1e-3),
        sl_seconds=s.service_level_s,
        short_abandon_s=s.short_abandon_s,
        interval_s=s.interval_s,
    )
    summary["scenario"] = s.name
    summary["seed"] = s.seed
    summary["mode"] = "live"
    summary["live"] = {
        "url": run.url,
        "speed": run.speed,
        "contacts": run.contacts,
        "unfinished": len(run.unfinished),
        "unfinished_ids": run.unfinished[:100],
        "voice_as_chat": run.voice_as_chat,
        "voice_calls": run.voice_calls,
        "speech": run.speech.as_dict(),
        "max_arrival_lag_s": round(run.max_lag_s, 3),
        "stopped": run.stopped,
    }
    return summary


def cmd_live(args: argparse.Namespace, scenario: Scenario) -> int:
    from simulator.output import progress_bar, write_outputs

    if not args.url:
        print("callcenter-sim: --mode live needs --url of the running server", file=sys.stderr)
        return 2
    if args.speed <= 0:
        print("callcenter-sim: --speed must be positive", file=sys.stderr)
        return 2
    password = args.password
    carrier = None
    if args.carrier:
        secret = os.environ.get(CARRIER_SECRET_ENV, "")
        if not secret:
            print(f"callcenter-sim: --carrier needs its secret in {CARRIER_SECRET_ENV}", file=sys.stderr)
            return 2
        carrier = (args.carrier, secret)
    started = time.monotonic()
    try:
        run = asyncio.run(
            run_live(
                scenario,
                args.url,
                speed=args.speed,
                password=(lambda _user: password) if password else None,
                carrier=carrier,
                progress=progress_bar(scenario.name, not args.quiet and sys.stderr.isatty()),
            )
        )
    except (ServerGone, SpeechUnavailable) as exc:
        print(f"callcenter-sim: {exc}", file=sys.stderr)
        return 2
    summary = live_summary(run)
    summary["wall_seconds"] = round(time.monotonic() - started, 3)
    write_outputs(args.out, summary, run.events)
    print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, list | dict)}, indent=2))
    if run.voice_as_chat:
        print(
            f"callcenter-sim: {run.voice_as_chat} voice contacts were carried over the chat socket",
            file=sys.stderr,
        )
    if run.speech.callers:
        sp = run.speech
        print(
            f"callcenter-sim: {sp.callers} callers spoke {sp.answers} answers; {sp.intended} of the "
            f"{sp.reached_agent} an agent picked up took the branch they meant",
            file=sys.stderr,
        )
    if run.stopped:
        print(
            f"callcenter-sim: stopped early: {run.stopped}; the summary holds what was measured",
            file=sys.stderr,
        )
        return STOPPED_EXIT
    return 0
