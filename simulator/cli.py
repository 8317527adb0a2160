"""The ``callcenter-sim`` command (also ``python -m simulator``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from callcenter.core.errors import ConfigError
from simulator.output import progress_bar, write_outputs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callcenter-sim", description="Simulate traffic through callcenter."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario file")
    run.add_argument("scenario", type=Path)
    run.add_argument("--mode", choices=["virtual", "live"], default="virtual")
    run.add_argument("--url", help="the running server, for --mode live")
    run.add_argument("--out", type=Path, required=True, help="folder for summary.json, CSV and charts")
    run.add_argument("--speed", type=float, default=1.0, help="live mode: scenario seconds per wall second")
    run.add_argument("--password", help="live mode: every agent's password (default: the username)")
    run.add_argument(
        "--carrier",
        help="live mode: the carrier (telephony.carriers) voice callers dial through; its secret "
        "is read from the environment variable CALLCENTER_CARRIER_SECRET",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    users = sub.add_parser("users", help="print the users block a server needs for a live run")
    users.add_argument("scenario", type=Path)

    rep = sub.add_parser("replay", help="replay the Anonymous Bank records through the ACD")
    rep.add_argument("records", type=Path, help="anonymous_bank_february_1999.tsv")
    rep.add_argument("--out", type=Path, required=True)
    rep.add_argument("--from", dest="first", type=date.fromisoformat, help="first day, e.g. 1999-02-01")
    rep.add_argument("--to", dest="last", type=date.fromisoformat, help="last day (inclusive)")
    rep.add_argument("--sl-seconds", type=float, default=20.0)
    rep.add_argument("--gap-minutes", type=float, default=30.0, help="idle time that ends an agent's session")
    rep.add_argument(
        "--wrap-seconds", type=float, default=0.0, help="after-call work the data does not record"
    )
    rep.add_argument("--seed", type=int, default=1)
    rep.add_argument("--quiet", action="store_true")

    erl = sub.add_parser("erlang", help="an M/M/c (or M/M/c+M) what-if beside the Erlang prediction")
    erl.add_argument("--arrivals-per-hour", type=float, required=True)
    erl.add_argument("--aht-seconds", type=float, required=True)
    erl.add_argument("--agents", type=int, required=True)
    erl.add_argument("--patience-seconds", type=float)
    erl.add_argument("--sl-seconds", type=float, default=20.0)
    erl.add_argument("--calls", type=int, default=100_000)
    erl.add_argument("--seed", type=int, default=1)
    erl.add_argument("--quiet", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "erlang":
            return cmd_erlang(args)
        if args.command == "users":
            from simulator.live import users_yaml
            from simulator.scenario import load_scenario

            print(users_yaml(load_scenario(args.scenario)), end="")
            return 0
        if args.command == "replay":
            from simulator.replay_cli import cmd_replay

            return cmd_replay(args)
        return cmd_run(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"callcenter-sim: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def cmd_erlang(args: argparse.Namespace) -> int:
    from simulator.erlang_check import erlang_whatif

    if args.agents < 1 or args.arrivals_per_hour <= 0 or args.aht_seconds <= 0 or args.calls < 1:
        print("callcenter-sim: agents, calls, arrivals and handling time must be positive", file=sys.stderr)
        return 2
    summary = erlang_whatif(
        arrivals_per_hour=args.arrivals_per_hour,
        aht_seconds=args.aht_seconds,
        agents=args.agents,
        calls=args.calls,
        seed=args.seed,
        patience_seconds=args.patience_seconds,
        sl_seconds=args.sl_seconds,
        progress=progress_bar("simulating", not args.quiet and sys.stderr.isatty()),
    )
    print(json.dumps(summary, indent=2))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from simulator.scenario import load_scenario
    from simulator.summary import summarise
    from simulator.virtual import run_virtual

    scenario = load_scenario(args.scenario)
    if args.mode == "live":
        from simulator.live_cli import cmd_live

        return cmd_live(args, scenario)
    started = time.monotonic()
    run = run_virtual(scenario, progress=progress_bar(scenario.name, not args.quiet and sys.stderr.isatty()))
    summary = summarise(
        run.events,
        start=run.start_epoch,
        end=run.end_epoch,
        sl_seconds=scenario.service_level_s,
        short_abandon_s=scenario.short_abandon_s,
        interval_s=scenario.interval_s,
    )
    summary["scenario"] = scenario.name
    summary["seed"] = scenario.seed
    summary["mode"] = "virtual"
    summary["wall_seconds"] = round(time.monotonic() - started, 3)
    spoke = run.speech if run.speech is not None and run.speech.callers else None
    if spoke is not None:  # speaking callers (ivr.speech_share)
        summary["speech"] = spoke.as_dict()
    write_outputs(args.out, summary, run.events)
    print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, list | dict)}, indent=2))
    if spoke is not None:
        print(
            f"{spoke.callers} callers spoke {spoke.answers} answers, {spoke.misheard} misheard; "
            f"{spoke.intended} of the {spoke.routed} routed took the branch they meant"
        )
    return 0
