"""The additive cells of the metrics fold and the figures they give (docs/metrics.md).

Two counts of arrivals: ``offered`` counts a contact once per queue it was offered to (a
blind transfer or an overflow to another queue offers it again), ``contacts`` counts it
once. Per-queue figures read ``offered``; a total over queues reads ``contacts`` for "how
many contacts", as a transferred call is one customer's contact.

``Counts`` holds one cell's sums (15-minute bucket x queue x agent); ``figures(counts)`` turns a
sum of cells into the figures every view shows, defined once here; ``Cells`` is the fold's
cell store, indexed by bucket so that a short window is summed without walking the rest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
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
    # Contacts counted once, in the cell of their first queue: a contact transferred or
    # overflowed to another queue is ``offered`` in each queue it reached, and one contact
    # here, so the day's total of contacts is not inflated by transfers.
    contacts: int = 0

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
        "contacts": c.contacts,
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
    live view's day) is summed without walking the days kept before it.

    The fold takes a cell to change with ``cell(key)``, which counts a change of its bucket
    in ``versions``: a view that caches sums per bucket (``WindowCounts``) redoes only the
    buckets whose version moved."""

    def __init__(self) -> None:
        super().__init__()
        self.by_bucket: dict[float, list[CellKey]] = defaultdict(list)
        self.versions: dict[float, int] = defaultdict(int)

    def __missing__(self, key: CellKey) -> Counts:
        cell = self[key] = Counts()
        self.by_bucket[key[0]].append(key)
        self.versions[key[0]] += 1
        return cell

    def cell(self, key: CellKey) -> Counts:
        """The cell at ``key`` (created if new), to be changed by the caller."""
        self.versions[key[0]] += 1
        return self[key]

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
            self.versions.pop(old, None)
            for key in self.by_bucket.pop(old):
                del self[key]


Slices = tuple[dict[str, Counts], dict[str, Counts], Counts]  # per queue, per agent, in all


def slice_cells(items: Iterable[tuple[CellKey, Counts]]) -> Slices:
    """The counts per queue, per agent and in all of some cells."""
    by_queue: dict[str, Counts] = {}
    by_agent: dict[str, Counts] = {}
    total = Counts()
    for (_bucket, q, a), c in items:
        total.add(c)
        if q is not None:
            by_queue.setdefault(q, Counts()).add(c)
        if a is not None:
            by_agent.setdefault(a, Counts()).add(c)
    return by_queue, by_agent, total


def merge(parts: Iterable[Slices]) -> Slices:
    """Slices adding up several (fresh objects: the parts are left as they are)."""
    by_queue: dict[str, Counts] = {}
    by_agent: dict[str, Counts] = {}
    total = Counts()
    for part_queue, part_agent, part_total in parts:
        total.add(part_total)
        for q, c in part_queue.items():
            by_queue.setdefault(q, Counts()).add(c)
        for a, c in part_agent.items():
            by_agent.setdefault(a, Counts()).add(c)
    return by_queue, by_agent, total


class WindowCounts:
    """The slices of one window (the live view's day), kept cheaply up to date.

    Each bucket's slices are cached with the bucket's version; the buckets before the
    newest ``HOT`` are merged once into a base that is merged again only when one of them
    changed (a late wrap-up), went (pruned), or the window moved on. A call then costs the
    changed buckets and the hot ones, not the whole day."""

    HOT = 2

    def __init__(self, cells: Cells) -> None:
        self.cells = cells
        self.window: tuple[float, float] | None = None
        self.parts: dict[float, tuple[int, Slices]] = {}
        self.base: Slices = ({}, {}, Counts())
        self.base_buckets: list[float] = []

    def slices(self, start: float, end: float) -> Slices:
        cells = self.cells
        if self.window != (start, end):  # a new window: nothing cached holds (the base neither)
            self.window, self.parts, self.base_buckets = (start, end), {}, []
            self.base = ({}, {}, Counts())
        buckets = sorted(b for b in cells.by_bucket if start <= b < end)
        changed = {b for b in self.parts if b not in cells.by_bucket}
        for b in changed:
            del self.parts[b]
        for b in buckets:
            version = cells.versions.get(b, 0)
            cached = self.parts.get(b)
            if cached is None or cached[0] != version:
                self.parts[b] = (version, slice_cells((k, cells[k]) for k in cells.by_bucket[b]))
                changed.add(b)
        cold, hot = buckets[: -self.HOT], buckets[-self.HOT :]
        if cold != self.base_buckets or not changed.isdisjoint(cold):
            self.base = merge(self.parts[b][1] for b in cold)
            self.base_buckets = cold
        return merge([self.base, *(self.parts[b][1] for b in hot)])
