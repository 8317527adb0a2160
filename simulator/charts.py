"""PNG charts of a run: waiting contacts, service level per interval, agent occupancy."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_charts(out: Path, summary: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    series = summary.get("series") or []
    hours = [p["t"] / 3600 for p in series]

    def save(fig: Any, name: str) -> None:
        path = out / name
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)

    fig, ax = plt.subplots(figsize=(8, 3))
    ax.step(hours, [p["waiting"] for p in series], where="post", color="#1f5fbf")
    ax.set(title="Contacts waiting", xlabel="hours from start", ylabel="waiting")
    save(fig, "waiting.png")

    intervals = summary.get("per_interval") or []
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(
        [i["start_s"] / 3600 for i in intervals],
        [100 * i["service_level"] if i["service_level"] is not None else float("nan") for i in intervals],
        marker="o",
        color="#1d7f4e",
    )
    ax.set(
        title="Service level per interval",
        xlabel="hours from start",
        ylabel="% answered in time",
        ylim=(0, 105),
    )
    save(fig, "service_level.png")

    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(
        hours,
        [100 * p["busy"] / p["staffed"] if p["staffed"] else float("nan") for p in series],
        color="#6b4fbb",
    )
    ax.set(
        title="Agent occupancy", xlabel="hours from start", ylabel="% of staffed agents busy", ylim=(0, 105)
    )
    save(fig, "occupancy.png")
    return written
