"""Every cluster node has an interaction log on the one PostgreSQL database: two writers
that take the same sequence numbers renumber instead of stopping (the COPY path)."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.core.events import InteractionEvent
from callcenter.storage import database
from callcenter.storage.log import SqlInteractionLog

pytestmark = pytest.mark.postgres


async def test_two_nodes_logs_on_postgresql_renumber_instead_of_failing(cluster_db: str) -> None:
    engine = database.create_engine(cluster_db)
    a, b = SqlInteractionLog(engine), SqlInteractionLog(engine)
    await a.start()
    await b.start()  # both think the next seq is 1
    a.append(InteractionEvent(type="server.started", at=1.0, data={"node": "a"}))
    await a.flush()
    b.append(InteractionEvent(type="server.started", at=2.0, data={"node": "b"}))
    await asyncio.wait_for(b.flush(), timeout=5)
    assert b.healthy
    assert [(e.seq, e.data["node"]) for e in await a.read()] == [(1, "a"), (2, "b")]
    await a.close()
    await b.close()
    await engine.dispose()
