"""The interaction log port: every event of every contact, appended in order and read back.

``storage.log.SqlInteractionLog`` implements it over SQLite or PostgreSQL.
"""

from __future__ import annotations

from typing import Protocol

from callcenter.core.errors import CallcenterError
from callcenter.core.events import InteractionEvent, StoredEvent


class LogUnavailable(CallcenterError):
    """Events are not reaching the database within the bound; the message says why."""


class InteractionLog(Protocol):
    def append(self, event: InteractionEvent) -> None: ...
    async def flush(self, timeout: float | None = None) -> None: ...
    async def read(
        self, *, after: int = 0, limit: int = 1000, contact_id: str | None = None
    ) -> list[StoredEvent]: ...


MAX_PENDING = 200_000  # unwritten events kept while the database is away (~1 KB each)
