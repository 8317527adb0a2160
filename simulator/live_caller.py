"""One customer of a live run, drawn from an arrival (``live.Live._draw``)."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.scenario import ContactType


@dataclass(frozen=True, slots=True)
class Caller:
    n: int
    kind: ContactType
    queue: str
    ivr_s: float
    hangup_after_s: float | None  # hangs up in the IVR after this long
    patience_s: float | None
    rating: int
    speaks: bool = False  # answers the IVR by speech (the contact type's ``say``)
