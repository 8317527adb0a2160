"""Simulated against recorded figures of a replay, per hour of the day and per priority.

Both sides are folded into ``callcenter.metrics.tally.Tally`` with the same service
level threshold, so a figure means the same on both: a contact counts in the hour (of
the data's clock) it joined the queue; the recorded wait is the data's ``q_time`` (0 for
calls served straight from the VRU), the simulated one runs from ``contact.queued`` to
``contact.connected``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from callcenter.core.events import InteractionEvent
from callcenter.metrics.tally import Tally
from simulator.replay import ReplayPlan

FIGURES = ("offered", "answered", "abandoned", "abandon_rate", "service_level", "asa_seconds")


def _hour(at: float) -> int:
    return datetime.fromtimestamp(at, UTC).hour


def _pick(t: Tally) -> dict[str, Any]:
    figures = t.figures()
    return {k: figures[k] for k in FIGURES}


def _diff(sim: dict[str, Any], rec: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for k in ("abandon_rate", "service_level", "asa_seconds"):
        a, b = sim[k], rec[k]
        out[k] = None if a is None or b is None else round(a - b, 4)
    return out


def compare(plan: ReplayPlan, events: Iterable[InteractionEvent], sl_seconds: float) -> dict[str, Any]:
    """The comparison section of a replay's summary."""
    hour_of = {c.contact_id: _hour(c.at) for c in plan.contacts}
    top = {c.contact_id for c in plan.contacts if c.priority}
    queue_of = {c.contact_id: f"queue:{c.queue}" for c in plan.contacts}
    sim: dict[object, Tally] = defaultdict(Tally)
    rec: dict[object, Tally] = defaultdict(Tally)
    queued: dict[str, float] = {}
    for e in events:
        cid = e.contact_id
        if cid is None or cid not in hour_of:
            continue
        keys = ("all", hour_of[cid], "priority" if cid in top else "regular", queue_of[cid])
        if e.type == "contact.queued" and cid not in queued:
            queued[cid] = e.at
            for k in keys:
                sim[k].offered += 1
        elif e.type == "contact.connected" and cid in queued:
            wait = e.at - queued[cid]
            for k in keys:
                sim[k].answer(wait, sl_seconds, waited=wait > 1e-9)
        elif e.type == "contact.ended" and e.data.get("reason") == "abandoned" and cid in queued:
            for k in keys:
                sim[k].abandon(short=False)
    for c in plan.contacts:
        for k in (
            "all",
            hour_of[c.contact_id],
            "priority" if c.priority else "regular",
            queue_of[c.contact_id],
        ):
            rec[k].offered += 1
            if c.recorded_outcome == "answered":
                rec[k].answer(c.recorded_wait_s, sl_seconds, waited=c.recorded_wait_s > 0)
            else:
                rec[k].abandon(short=False)
    per_hour: list[dict[str, Any]] = []
    for h in range(24):
        if rec[h].offered == 0 and sim[h].offered == 0:
            continue
        s, r = _pick(sim[h]), _pick(rec[h])
        per_hour.append({"hour": h, "simulated": s, "recorded": r, "difference": _diff(s, r)})
    busy = [row for row in per_hour if row["recorded"]["offered"] >= 20 * max(1, len(plan.days))]
    largest = sorted(busy, key=lambda row: -abs(row["difference"]["asa_seconds"] or 0.0))[:5]
    return {
        "simulated": _pick(sim["all"]),
        "recorded": _pick(rec["all"]),
        "difference": _diff(_pick(sim["all"]), _pick(rec["all"])),
        "per_priority": {
            k: {"simulated": _pick(sim[k]), "recorded": _pick(rec[k])} for k in ("regular", "priority")
        },
        "per_queue": {
            q: {"simulated": _pick(sim[f"queue:{q}"]), "recorded": _pick(rec[f"queue:{q}"])}
            for q in sorted({c.queue for c in plan.contacts})
        },
        "per_hour": per_hour,
        "largest_wait_differences": [{"hour": row["hour"], **row["difference"]} for row in largest],
    }


def per_hour_rows(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows for per_hour.csv."""
    rows = []
    for row in comparison["per_hour"]:
        flat: dict[str, Any] = {"hour": row["hour"]}
        for side in ("simulated", "recorded"):
            for k in FIGURES:
                flat[f"{side}_{k}"] = row[side][k]
        rows.append(flat)
    return rows
