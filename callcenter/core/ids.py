"""Id generators, injected wherever an id is minted so that seeded runs reproduce.

``SequentialIds`` gives readable, deterministic ids (tests, the simulator's virtual mode).
The random ids of a running server are ``RandomIds`` in ``callcenter/runtime/ids.py``:
randomness is I/O, so the core holds none.
"""

from __future__ import annotations

from typing import Protocol


class IdGenerator(Protocol):
    def new(self, kind: str) -> str:
        """Return a fresh id for an object of ``kind`` (e.g. ``"contact"``, ``"ctx"``)."""
        ...


_PREFIXES = {"contact": "c", "context": "x", "offer": "o", "session": "s", "agent": "a"}


def prefix_for(kind: str) -> str:
    return _PREFIXES.get(kind, kind[:3])


class SequentialIds:
    """Deterministic ids ``c-000001``, ``x-000002`` ... counted per kind."""

    def __init__(self, start: int = 1) -> None:
        self._next: dict[str, int] = {}
        self._start = start

    def new(self, kind: str) -> str:
        n = self._next.get(kind, self._start)
        self._next[kind] = n + 1
        return f"{prefix_for(kind)}-{n:06d}"
