"""The chat resume port: what a chat's customer needs to pick the conversation up again
(after a dropped connection or a restart), kept outside the process.

``storage.chat_resume.SqlChatResume`` keeps it in the center's database (one node);
``runtime.cluster.chat_store`` keeps it in Redis (a cluster).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeRecord:
    contact_id: str
    name: str | None
    email: str | None
    phone: str | None
    entry: str | None
    queued: bool
    rated: bool
    ended: bool
    held_since: float | None
    frames: list[dict[str, Any]] = field(default_factory=list)
    next_n: int = 0


class ChatResume(Protocol):
    async def flushed(self) -> None:
        """Wait until every write queued so far is kept."""
        ...

    def save(self, token: str, contact_id: str, fields: dict[str, Any]) -> None:
        """The session's details and flags (name, email, phone, entry, queued, rated, ended)."""
        ...

    def add_frame(self, token: str, n: int, frame: dict[str, Any], *, keep: int) -> None:
        """Frame number ``n`` of the conversation; only the last ``keep`` are kept."""
        ...

    def forget(self, token: str) -> None: ...

    def forget_contact(self, contact_id: str) -> None: ...

    async def load(self, token: str) -> ResumeRecord | None: ...

    async def hold(self, contact_ids: Iterable[str], now: float) -> dict[str, float]:
        """At a restart: keep the records of ``contact_ids`` for their customers; per
        contact that has a record, since when it is held."""
        ...
