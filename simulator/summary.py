"""Figures of a run, folded from its interaction events.

The per-slice figures are ``callcenter.metrics.tally.Tally``'s (the same definitions as
the live wallboard); IVR hang-ups are counted apart. Occupancy: agents' time on contacts,
ringing or wrapping up / that plus time available.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from callcenter.core.events import InteractionEvent
from callcenter.metrics.tally import Tally

BUSY = {"ON_CONTACT", "OFFERED", "WRAP_UP"}


@dataclass
class Summary:
    total: Tally = field(default_factory=Tally)
    queues: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    intervals: dict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))
    agent_time: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    series: list[dict[str, float]] = field(default_factory=list)


def summarise(
    events: Iterable[InteractionEvent],
    *,
    start: float,
    end: float,
    sl_seconds: float,
    short_abandon_s: float = 0.0,
    interval_s: float = 1800.0,
) -> dict[str, Any]:
    """Fold a run's events into the summary dictionary written to summary.json."""
    s = Summary()
    queued: dict[str, tuple[float, str, int]] = {}
    first_offer: dict[str, float] = {}
    agent_state: dict[str, tuple[str, float]] = {}
    waiting = 0
    sample_every = interval_s
    next_sample = start
    busy_now = 0
    staffed_now = 0
    wrap_total = 0.0
    handled = 0
    for e in events:
        while e.at >= next_sample and next_sample <= end:
            s.series.append(
                {"t": next_sample - start, "waiting": waiting, "busy": busy_now, "staffed": staffed_now}
            )
            next_sample += sample_every
        kind = e.type
        if kind == "contact.queued" and e.contact_id is not None and e.contact_id not in queued:
            bucket = int((e.at - start) // interval_s)
            queued[e.contact_id] = (e.at, e.queue or "", bucket)
            for t in (s.total, s.queues[e.queue or ""], s.intervals[bucket]):
                t.offered += 1
            waiting += 1
        elif kind == "contact.offered" and e.contact_id in queued and e.contact_id not in first_offer:
            first_offer[e.contact_id] = e.at
        elif kind == "contact.connected" and e.contact_id in queued:
            at, q, bucket = queued[e.contact_id]
            wait = e.at - at
            waited = first_offer.get(e.contact_id, e.at) > at + 1e-9
            for t in (s.total, s.queues[q], s.intervals[bucket]):
                t.answer(wait, sl_seconds, waited=waited)
            waiting -= 1
        elif kind == "contact.wrap_up" and e.contact_id in queued:
            _, q, bucket = queued[e.contact_id]
            talk = float(e.data.get("talk_s", 0.0))
            handled += 1
            for t in (s.total, s.queues[q], s.intervals[bucket]):
                t.talk(talk)
        elif kind == "contact.ended":
            reason = e.data.get("reason")
            if reason == "ivr_hangup":
                s.total.ivr_hangups += 1
            elif reason == "abandoned" and e.contact_id in queued:
                at, q, bucket = queued[e.contact_id]
                short = e.at - at < short_abandon_s
                for t in (s.total, s.queues[q], s.intervals[bucket]):
                    t.abandon(short=short)
                waiting -= 1
            elif reason in ("overflow_disconnect", "voicemail") and e.contact_id in queued:
                _, q, _ = queued[e.contact_id]
                s.total.overflowed += 1
                s.queues[q].overflowed += 1
                waiting -= 1
        elif kind == "agent.state" and e.agent_id is not None:
            state = str(e.data.get("state"))
            prev = agent_state.get(e.agent_id)
            if prev is not None:
                s.agent_time[prev[0]] += e.at - prev[1]
                if prev[0] == "WRAP_UP":
                    wrap_total += e.at - prev[1]
                busy_now -= prev[0] in BUSY
                staffed_now -= prev[0] in BUSY or prev[0] == "AVAILABLE"
            agent_state[e.agent_id] = (state, e.at)
            busy_now += state in BUSY
            staffed_now += state in BUSY or state == "AVAILABLE"
    for state, since in agent_state.values():
        s.agent_time[state] += max(0.0, end - since)
    busy = sum(s.agent_time[k] for k in BUSY)
    available = s.agent_time["AVAILABLE"]
    wrap_per = wrap_total / handled if handled else 0.0
    out = s.total.figures(wrap_per)
    out["occupancy"] = busy / (busy + available) if busy + available else None
    out["per_queue"] = {q: t.figures() for q, t in sorted(s.queues.items())}
    out["per_interval"] = [{"start_s": b * interval_s, **t.figures()} for b, t in sorted(s.intervals.items())]
    out["series"] = s.series
    return out
