"""Sorted indexes that keep routing decisions away from scans.

``SortedBag`` is a list kept in order with ``bisect``: insert and remove cost one binary
search plus a C-level memmove, which for the sizes of a contact center (tens of thousands
of entries) is a few microseconds; the head is ``items[0]``; a rank is one bisect.

Waiting contacts are indexed per (queue, step, pool) by their order key
``(priority class, virtual enqueue time, sequence)``, and per queue for positions. Free
agents are indexed per (routing requirement, pool, strategy) by the strategy's key, so
choosing the best agent for a contact, or the oldest contact for an agent, is a lookup.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any


class SortedBag:
    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, entry: Any) -> int:
        """Insert ``entry``; returns its 0-based position (the rank, for unique entries)."""
        i = bisect_left(self.items, entry)
        self.items.insert(i, entry)
        return i

    def remove(self, entry: Any) -> None:
        i = bisect_left(self.items, entry)
        if i < len(self.items) and self.items[i] == entry:
            del self.items[i]
        else:
            raise KeyError(entry)

    def rank(self, entry: Any) -> int:
        """0-based position of ``entry`` (or where it would go)."""
        return bisect_left(self.items, entry)

    def first(self) -> Any | None:
        return self.items[0] if self.items else None

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


class AgentPools:
    """Free agents per (requirement id, pool, strategy), each with its entries remembered so
    it can be taken out again without a search by value."""

    def __init__(self) -> None:
        self._bags: dict[tuple[int, str, str], SortedBag] = {}
        self._entries: dict[str, list[tuple[SortedBag, Any]]] = {}

    def bag(self, key: tuple[int, str, str]) -> SortedBag:
        bag = self._bags.get(key)
        if bag is None:
            bag = self._bags[key] = SortedBag()
        return bag

    def put(self, agent_id: str, placements: list[tuple[SortedBag, Any]]) -> None:
        """Place the agent at ``(bag, entry)`` pairs (bags from ``bag()``), replacing where it was."""
        self.drop(agent_id)
        for bag, entry in placements:
            bag.add(entry)
        self._entries[agent_id] = placements

    def drop(self, agent_id: str) -> None:
        for bag, entry in self._entries.pop(agent_id, ()):
            bag.remove(entry)

    def placements(self) -> list[tuple[str, list[tuple[tuple[int, str, str], Any]]]]:
        """Every free agent's entries as (agent id, [(bag key, entry)]), in the order they
        were placed: what ``put`` takes back (with ``bag(key)``) to rebuild the pools."""
        keys = {id(bag): key for key, bag in self._bags.items()}
        return [(aid, [(keys[id(bag)], e) for bag, e in placed]) for aid, placed in self._entries.items()]

    def holds(self, agent_id: str) -> bool:
        return agent_id in self._entries

    def best(self, key: tuple[int, str, str]) -> Any | None:
        bag = self._bags.get(key)
        return bag.items[0] if bag else None
