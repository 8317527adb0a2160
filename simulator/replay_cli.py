"""``callcenter-sim replay RECORDS --out DIR``: the Anonymous Bank replay and its report."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.core.errors import ConfigError
from simulator.anonymous_bank import CallRecord, read_records


def load_records(path: Path) -> list[CallRecord]:
    """The records of a file; a bad row is reported as ``file:line: problem``."""
    try:
        return read_records(path)
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except ValueError as exc:  # "line N: ..."
        text = str(exc)
        if text.startswith("line "):
            line, _, rest = text[5:].partition(":")
            raise ConfigError([f"{path}:{line}:{rest}"]) from None
        raise ConfigError([f"{path}: {text}"]) from None


def replay_summary(
    records: list[CallRecord],
    *,
    seed: int,
    sl_seconds: float,
    gap_s: float,
    wrap_up_s: float = 0.0,
    progress: Callable[[float], None] | None = None,
) -> tuple[dict[str, Any], list[Any]]:
    """Run the replay of ``records``; returns the summary and the run's events."""
    from simulator.replay import plan_replay, run_replay
    from simulator.replay_report import compare
    from simulator.summary import summarise

    plan = plan_replay(records, seed=seed, gap_s=gap_s)
    if not plan.contacts:
        raise ConfigError(["no calls reached the queue on the chosen days"])
    started = time.monotonic()
    scenario, run = run_replay(plan, seed=seed, sl_seconds=sl_seconds, wrap_up_s=wrap_up_s, progress=progress)
    summary = summarise(
        run.events, start=run.start_epoch, end=run.end_epoch, sl_seconds=sl_seconds, interval_s=3600.0
    )
    summary["ivr_hangups"] = len(plan.ivr_hangups)
    summary["scenario"] = scenario.name
    summary["seed"] = seed
    summary["mode"] = "replay"
    summary["replay"] = {
        "days": [d.isoformat() for d in plan.days],
        "contacts": len(plan.contacts),
        "agents": len(plan.skills),
        "agent_sessions": len(plan.sessions),
        "served_by_unnamed_agent": plan.unnamed_agent_calls,
        "patience_mean_s": round(plan.patience_mean_s, 1),
        "session_gap_s": gap_s,
        "wrap_up_s": wrap_up_s,
    }
    summary["comparison"] = compare(plan, run.events, sl_seconds)
    summary["wall_seconds"] = round(time.monotonic() - started, 3)
    return summary, run.events


def cmd_replay(args: argparse.Namespace) -> int:
    from simulator.anonymous_bank import usable
    from simulator.output import progress_bar, write_outputs
    from simulator.replay import select_days

    records = select_days(load_records(args.records), args.first, args.last)
    if not usable(records):
        print(f"callcenter-sim: {args.records}: no calls on the chosen days", file=sys.stderr)
        return 2
    summary, events = replay_summary(
        records,
        seed=args.seed,
        sl_seconds=args.sl_seconds,
        gap_s=args.gap_minutes * 60.0,
        wrap_up_s=args.wrap_seconds,
        progress=progress_bar("replay", not args.quiet and sys.stderr.isatty()),
    )
    write_outputs(args.out, summary, events)
    write_comparison(args.out, summary["comparison"])
    c = summary["comparison"]
    print(json.dumps({"simulated": c["simulated"], "recorded": c["recorded"], **summary["replay"]}, indent=2))
    return 0


def write_comparison(out: Path, comparison: dict[str, Any]) -> None:
    from simulator.replay_report import per_hour_rows

    rows = per_hour_rows(comparison)
    with (out / "per_hour.csv").open("w", newline="") as f:
        if rows:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [r["hour"] for r in comparison["per_hour"]]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    for ax, key, title in zip(
        axes,
        ("asa_seconds", "abandon_rate", "service_level"),
        ("mean wait of answered (s)", "abandon rate", "service level"),
        strict=True,
    ):
        for side, colour in (("recorded", "#444444"), ("simulated", "#1f5fbf")):
            values = [r[side][key] for r in comparison["per_hour"]]
            ax.plot(
                hours,
                [float("nan") if v is None else v for v in values],
                marker="o",
                color=colour,
                label=side,
            )
        ax.set(title=title, xlabel="hour of day")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / "replay_per_hour.png", dpi=90)
    plt.close(fig)
