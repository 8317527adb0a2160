"""Ids for a running server (``core/ids.py`` has the generator protocol and the
deterministic ids of tests and the simulator).

``RandomIds``: a millisecond time prefix keeps ids roughly sortable by creation, followed
by 64 random bits from the OS (``secrets``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from callcenter.core.ids import prefix_for


class RandomIds:
    """Unique ids for a live server: ``c-<ms time hex>-<16 hex random>``.

    ``now_ms`` is injected (the clock's wall time) so that ids follow the clock in use.
    """

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms

    def new(self, kind: str) -> str:
        ms = int(self._now_ms())
        return f"{prefix_for(kind)}-{ms:011x}-{secrets.token_hex(8)}"
