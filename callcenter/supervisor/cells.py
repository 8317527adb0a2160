"""The additive cells of the metrics fold and the figures they give (docs/metrics.md).

``Counts`` holds one cell's sums (15-minute bucket x queue x agent); ``figures(counts)`` turns a
sum of cells into the figures every view shows, defined once here; ``Cells`` is the fold's
cell store, indexed by bucket so that a short window is summed without walking the rest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

BUCKET_S = 900.0
CellKey = tuple[float, str | None, str | None]


@dataclass
class Counts:
    """Additive accumulators for one cell; ``figures`` turns a sum of them into ratios."""

    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflowed: int = 0
    transfers: int = 0
    answered_wait_s: float = 0.0
    abandoned_wait_s: float = 0.0
    handled: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_s: float = 0.0
    ratings: int = 0
    ratings_good: int = 0
    rating_sum: int = 0
    identified_ended: int = 0
    repeats: int = 0
    staffed_s: float = 0.0
    busy_s: float = 0.0

    def add(self, other: Counts) -> None:
        mine, theirs = self.__dict__, other.__dict__
        for name in _COUNT_NAMES:
            mine[name] += theirs[name]


_COUNT_NAMES = tuple(f.name for f in fields(Counts))


def figures(c: Counts) -> dict[str, Any]:
    """The figures of docs/metrics.md from summed counts; ratios are None without a base."""
    sl_base = c.answered + c.abandoned + c.overflowed - c.short_abandoned
    closed = c.answered + c.abandoned
    handle = c.talk_s + c.hold_s + c.wrap_s
    return {
        "offered": c.offered,
        "answered": c.answered,
        "answered_within": c.answered_within,
        "abandoned": c.abandoned,
        "short_abandoned": c.short_abandoned,
        "overflowed": c.overflowed,
        "transfers": c.transfers,
        "handled": c.handled,
        "service_level": _ratio(c.answered_within, sl_base),
        "abandon_rate": _ratio(c.abandoned - c.short_abandoned, closed - c.short_abandoned),
        "asa_s": _ratio(c.answered_wait_s, c.answered),
        "mean_abandon_wait_s": _ratio(c.abandoned_wait_s, c.abandoned),
        "aht_s": _ratio(handle, c.handled),
        "talk_s": _ratio(c.talk_s, c.handled),
        "hold_s": _ratio(c.hold_s, c.handled),
        "wrap_s": _ratio(c.wrap_s, c.handled),
        "occupancy": _ratio(c.busy_s, c.staffed_s),
        "staffed_s": c.staffed_s,
        "ratings": c.ratings,
        "csat": _ratio(c.ratings_good, c.ratings),
        "csat_mean": _ratio(c.rating_sum, c.ratings),
        "repeat_rate": _ratio(c.repeats, c.identified_ended),
    }


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def bucket_of(at: float) -> float:
    return (at // BUCKET_S) * BUCKET_S


class Cells(dict[CellKey, Counts]):
    """The fold's cells, with the keys of each bucket at hand so that a short window (the
    live view's day) is summed without walking the days kept before it."""

    def __init__(self) -> None:
        super().__init__()
        self.by_bucket: dict[float, list[CellKey]] = defaultdict(list)

    def __missing__(self, key: CellKey) -> Counts:
        cell = self[key] = Counts()
        self.by_bucket[key[0]].append(key)
        return cell

    def between(self, start: float, end: float) -> Iterator[tuple[CellKey, Counts]]:
        """The cells with buckets in [start, end)."""
        if (end - start) / BUCKET_S > len(self.by_bucket):
            yield from ((k, c) for k, c in self.items() if start <= k[0] < end)
            return
        bucket = bucket_of(start)
        bucket += BUCKET_S if bucket < start else 0.0
        while bucket < end:
            for key in self.by_bucket.get(bucket, ()):
                yield key, self[key]
            bucket += BUCKET_S

    def drop_before(self, bucket: float) -> None:
        for old in [b for b in self.by_bucket if b < bucket]:
            for key in self.by_bucket.pop(old):
                del self[key]
