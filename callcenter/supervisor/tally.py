"""Counters for one slice of contacts (a queue, an interval, a day) and the figures they give.

The live wallboard and the simulator's run summary both fold interaction events into these,
so a figure means the same everywhere:
- offered: contacts that joined a queue; answered: connected to an agent; abandoned: left
  first; a short abandon left within the short-abandon threshold;
- service level: answered within T / (answered + abandoned + overflowed - short abandons),
  as in docs/metrics.md (a contact sent elsewhere was not answered here in time);
- ASA: mean wait of answered contacts; AHT: mean talk time plus wrap-up per handled contact;
- P(wait): share of answered or abandoned contacts that no agent was offered on arrival;
- abandon rate: abandoned / (answered + abandoned).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any


@dataclass
class Tally:
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

    @classmethod
    def total(cls, tallies: Iterable[Tally]) -> Tally:
        """One tally adding up several (e.g. every queue's)."""
        out = cls()
        for t in tallies:
            for f in fields(cls):
                setattr(out, f.name, getattr(out, f.name) + getattr(t, f.name))
        return out

    def answer(self, wait: float, sl_seconds: float, *, waited: bool) -> None:
        self.answered += 1
        self.wait_total += wait
        self.within += wait <= sl_seconds
        self.waited += waited

    def abandon(self, *, short: bool) -> None:
        self.abandoned += 1
        self.waited += 1
        self.short_abandoned += short

    def talk(self, seconds: float) -> None:
        self.talk_total += seconds
        self.talks += 1

    def figures(self, wrap_per_contact: float = 0.0) -> dict[str, Any]:
        closed = self.answered + self.abandoned
        denominator = closed + self.overflowed - self.short_abandoned
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "ivr_hangups": self.ivr_hangups,
            "overflowed": self.overflowed,
            "service_level": self.within / denominator if denominator else None,
            "asa_seconds": self.wait_total / self.answered if self.answered else None,
            "aht_seconds": self.talk_total / self.talks + wrap_per_contact if self.talks else None,
            "p_wait": self.waited / closed if closed else None,
            "abandon_rate": self.abandoned / closed if closed else None,
        }
