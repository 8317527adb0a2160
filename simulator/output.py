"""What a run leaves behind: the progress bar while it runs, then ``summary.json``,
``intervals.csv``, ``events.jsonl`` and the charts in the output folder (every mode)."""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def progress_bar(label: str, enabled: bool) -> Callable[[float], None]:
    started = time.monotonic()

    def show(fraction: float) -> None:
        if not enabled:
            return
        elapsed = time.monotonic() - started
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        filled = int(fraction * 30)
        sys.stderr.write(
            f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:5.1%} "
            f"elapsed {elapsed:5.0f} s, about {eta:4.0f} s left"
        )
        if fraction >= 1.0:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def write_outputs(out: Path, summary: dict[str, Any], events: Sequence[Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    with (out / "intervals.csv").open("w", newline="") as f:
        rows = summary["per_interval"]
        if rows:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    encode = json.JSONEncoder(sort_keys=True).encode  # one encoder for the whole log
    lines = [
        encode(
            {
                "agent_id": e.agent_id,
                "at": e.at,
                "contact_id": e.contact_id,
                "data": e.data if type(e.data) is dict else dict(e.data),
                "queue": e.queue,
                "type": e.type,
            }
        )
        for e in events
    ]
    with (out / "events.jsonl").open("w") as f:
        f.write("\n".join(lines) + ("\n" if lines else ""))
    from simulator.charts import write_charts

    write_charts(out, summary)
