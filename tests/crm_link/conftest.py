"""Fixtures for the CRM tests: a migrated SQLite database, a store on a fixed clock, and
a helper that writes contacts through the real interaction log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config.crm import CrmConfig
from callcenter.core.events import InteractionEvent
from callcenter.core.ids import SequentialIds
from callcenter.crm_link.store import SqlCrmStore
from callcenter.storage import database, migrate
from callcenter.storage.log import SqlInteractionLog

NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
DAY = 86400.0


@pytest.fixture
async def crm_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = database.create_engine(sqlite_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def crm_store(crm_engine: AsyncEngine) -> SqlCrmStore:
    return SqlCrmStore(
        crm_engine, CrmConfig(default_country_code="+972"), now=lambda: NOW, ids=SequentialIds()
    )


Event = tuple[str, float, str | None, dict[str, Any]]  # type, at, contact id, data


@pytest.fixture
def write_events(crm_engine: AsyncEngine) -> Callable[[Sequence[Event]], Any]:
    """Append events through the real interaction log (so the contacts projection is
    folded by the real code) and wait until they are stored."""

    async def write(items: Sequence[Event]) -> None:
        log = SqlInteractionLog(crm_engine, batch_max=100, flush_interval=0.01)
        await log.start()
        for kind, at, contact_id, data in items:
            log.append(
                InteractionEvent(
                    type=kind,
                    at=at,
                    contact_id=contact_id,
                    data=data,
                    agent_id=data.get("agent"),
                    queue=data.get("queue"),
                )
            )
        await log.flush()
        await log.close()

    return write


def contact_events(
    contact_id: str,
    customer_id: str,
    at: float,
    *,
    disposition: str | None = None,
    note: str | None = None,
    queue: str = "general",
) -> list[Event]:
    """A whole answered and ended voice contact of ``customer_id`` arriving at ``at``."""
    items: list[Event] = [
        ("contact.arrived", at, contact_id, {"channel": "voice", "caller": "+972501234567"}),
        ("contact.identified", at + 5, contact_id, {"customer_id": customer_id}),
        ("contact.queued", at + 10, contact_id, {"queue": queue}),
        ("contact.connected", at + 40, contact_id, {"wait_s": 30.0, "agent": "alice", "queue": queue}),
        ("contact.ended", at + 200, contact_id, {"reason": "completed"}),
    ]
    if note is not None:
        items.append(("contact.note", at + 210, contact_id, {"text": note, "by": "alice"}))
    if disposition is not None:
        items.append(("contact.disposition", at + 220, contact_id, {"code": disposition}))
    return items
