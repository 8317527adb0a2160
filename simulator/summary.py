"""Figures of a run, folded from its interaction events.

Definitions (the same words as the supervisor's reports):
- offered: contacts that joined a queue (IVR hang-ups are counted apart);
- answered: offered contacts connected to an agent; abandoned: those who left first;
  a short abandon left within ``short_abandon_s`` and is excluded from service level;
- service level: answered within T / (offered - short abandons - still waiting at the end);
- ASA: mean wait of answered contacts; P(wait): share of answered or abandoned contacts
  that no agent was offered the moment they joined the queue (ringing is not waiting);
- AHT: mean talk time plus mean wrap-up time per handled contact;
- occupancy: agents' time on contacts, ringing or wrapping up / that plus time available.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from callcenter.core.events import InteractionEvent

BUSY = {"ON_CONTACT", "OFFERED", "WRAP_UP"}


@dataclass
class _Tally:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    within: int = 0
    waited: int = 0
    wait_total: float = 0.0
    talk_total: float = 0.0
    talks: int = 0
    ivr_hangups: int = 0
    overflowed: int = 0

    def figures(self, wrap_per_contact: float | None = None) -> dict[str, Any]:
        closed = self.answered + self.abandoned
        denominator = self.answered + self.abandoned - self.short_abandoned
        aht = (self.talk_total / self.talks if self.talks else 0.0) + (wrap_per_contact or 0.0)
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "ivr_hangups": self.ivr_hangups,
            "overflowed": self.overflowed,
            "service_level": self.within / denominator if denominator else None,
            "asa_seconds": self.wait_total / self.answered if self.answered else None,
            "aht_seconds": aht if self.talks else None,
            "p_wait": self.waited / closed if closed else None,
            "abandon_rate": self.abandoned / closed if closed else None,
        }


@dataclass
class Summary:
    total: _Tally = field(default_factory=_Tally)
    queues: dict[str, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    intervals: dict[int, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
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
            for t in (s.total, s.queues[q], s.intervals[bucket]):
                t.answered += 1
                t.wait_total += wait
                t.within += wait <= sl_seconds
                t.waited += first_offer.get(e.contact_id, e.at) > at + 1e-9
            waiting -= 1
        elif kind == "contact.wrap_up" and e.contact_id in queued:
            _, q, bucket = queued[e.contact_id]
            talk = float(e.data.get("talk_s", 0.0))
            handled += 1
            for t in (s.total, s.queues[q], s.intervals[bucket]):
                t.talk_total += talk
                t.talks += 1
        elif kind == "contact.ended":
            reason = e.data.get("reason")
            if reason == "ivr_hangup":
                s.total.ivr_hangups += 1
            elif reason == "abandoned" and e.contact_id in queued:
                at, q, bucket = queued[e.contact_id]
                short = e.at - at < short_abandon_s
                for t in (s.total, s.queues[q], s.intervals[bucket]):
                    t.abandoned += 1
                    t.waited += 1
                    t.short_abandoned += short
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
