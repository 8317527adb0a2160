"""Id generators, injected wherever an id is minted so that seeded runs reproduce.

``SequentialIds`` gives readable, deterministic ids (tests, the simulator's virtual mode).
``RandomIds`` gives unique ids for a running server: a millisecond time prefix keeps them
roughly sortable by creation, followed by 64 random bits from the OS (``secrets``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
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


class RandomIds:
    """Unique ids for a live server: ``c-<ms time hex>-<16 hex random>``.

    ``now_ms`` is injected (the clock) so that this module stays free of ``time``.
    """

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms

    def new(self, kind: str) -> str:
        ms = int(self._now_ms())
        return f"{prefix_for(kind)}-{ms:011x}-{secrets.token_hex(8)}"
