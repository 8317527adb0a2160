"""Hand-fed counts for the simulator's run summary, read through the one set of definitions.

``Tally`` is ``metrics.Counts`` (the fold's additive cell) with a few feeding helpers and
two figures only a what-if run has: P(wait) (the share of answered or abandoned contacts
that no agent was offered on arrival, for comparison with Erlang) and IVR hang-ups. Every
other figure (service level, ASA, AHT, abandon rate, ...) comes from ``metrics.figures``,
defined once in docs/metrics.md; the wallboard and the reports read ``MetricsFold`` itself.

The run summary feeds ``offered`` once per contact, at its first queue: what the fold calls
``contacts``. The fold's ``offered`` counts a transferred contact again in every queue it
reached, so the summary and a report agree on contacts, and per queue only where nothing was
transferred.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from callcenter.metrics.cells import Counts, figures


@dataclass
class Tally(Counts):
    waited: int = 0
    ivr_hangups: int = 0

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
        self.answered_wait_s += wait
        self.answered_within += wait <= sl_seconds + 1e-9
        self.waited += waited

    def abandon(self, *, short: bool, wait: float = 0.0) -> None:
        self.abandoned += 1
        self.abandoned_wait_s += wait
        self.waited += 1
        self.short_abandoned += short

    def talk(self, seconds: float) -> None:
        self.talk_s += seconds
        self.handled += 1

    def figures(self, wrap_per_contact: float = 0.0) -> dict[str, Any]:
        """``metrics.figures`` of these counts (wrap-up given per contact, as a run summary
        has no wrap-up cells) under the names the run summary uses, plus P(wait)."""
        counts = Counts(**{f.name: getattr(self, f.name) for f in fields(Counts)})
        counts.wrap_s += wrap_per_contact * counts.handled
        f = figures(counts)
        closed = self.answered + self.abandoned
        return {
            "offered": f["offered"],
            "answered": f["answered"],
            "abandoned": f["abandoned"],
            "short_abandoned": f["short_abandoned"],
            "ivr_hangups": self.ivr_hangups,
            "overflowed": f["overflowed"],
            "service_level": f["service_level"],
            "asa_seconds": f["asa_s"],
            "aht_seconds": f["aht_s"],
            "p_wait": self.waited / closed if closed else None,
            "abandon_rate": f["abandon_rate"],
        }
