"""No data can stop the interaction log (issue 17): text no database takes is written
replaced, an event the database refuses is set aside in ``dead_events`` with its reason
while the events around it are written in order, a flush waits only so long, a stuck
write shows in health, and a shutdown with the database away spills what it could not
write to a file the next start replays. Real SQLite and PostgreSQL throughout."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.core.events import InteractionEvent
from callcenter.ports.interaction_log import LogUnavailable
from callcenter.storage import database, migrate, schema
from callcenter.storage.log import SqlInteractionLog
from tests.conftest import PG_HOST, PG_PORT, pg_admin


def ev(kind: str, at: float, contact: str | None = None, **data: Any) -> InteractionEvent:
    return InteractionEvent(type=kind, at=at, contact_id=contact, data=data)


def _db_name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


@asynccontextmanager
async def database_away(engine: AsyncEngine, url: str) -> AsyncIterator[None]:
    """The database stops taking the log's writes: SQLite loses its ``events`` table, a
    PostgreSQL database refuses connections and its sessions are ended."""
    if url.startswith("sqlite"):
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ALTER TABLE events RENAME TO events_away")
        try:
            yield
        finally:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("ALTER TABLE events_away RENAME TO events")
        return
    name = _db_name(url)
    pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    pg_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    try:
        yield
    finally:
        pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


async def _until(check: Any, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():
            await asyncio.sleep(0.01)


async def dead_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(schema.dead_events))]


async def test_text_no_database_takes_is_written_replaced(engine: AsyncEngine) -> None:
    log = SqlInteractionLog(engine, flush_interval=0.0)
    await log.start()
    log.append(ev("auth.failed", 1.0, data_user="\ud800", note="a\x00b", score=float("nan")))
    log.append(InteractionEvent(type="test.\udfff", at=2.0, contact_id="c\x00", agent_id="\ud83d"))
    log.append(ev("test.after", 3.0, n=1))
    await log.flush()
    events = await log.read()
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].data == {"data_user": "\ufffd", "note": "a\ufffdb", "score": "nan"}
    assert (events[1].type, events[1].contact_id, events[1].agent_id) == ("test.\ufffd", "c\ufffd", "\ufffd")
    assert events[2].data == {"n": 1}
    assert log.unavailable() is None and log.dead_lettered == 0
    await log.close()


@pytest.mark.postgres
async def test_an_event_postgresql_refuses_is_set_aside_and_the_rest_written(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = database.create_engine(pg_url)
    await migrate.upgrade(engine)
    log = SqlInteractionLog(engine, flush_interval=0.0, batch_max=1000)
    await log.start()
    too_long = "q" * 100  # the queue column holds 64 characters
    for i in range(9):
        queue = too_long if i == 4 else "general"
        log.append(
            InteractionEvent(type="test.tick", at=float(i), contact_id=f"c{i}", queue=queue, data={"n": i})
        )
    with caplog.at_level(logging.WARNING, logger="callcenter.storage.log"):
        await log.flush()
    events = await log.read()
    assert [e.data["n"] for e in events] == [0, 1, 2, 3, 5, 6, 7, 8]
    assert [e.seq for e in events] == list(range(1, 9))
    [dead] = await dead_rows(engine)
    assert (dead["type"], dead["queue"], dead["contact_id"], json.loads(dead["data"])) == (
        "test.tick",
        too_long,
        "c4",
        {"n": 4},
    )
    assert "too long" in dead["reason"] and dead["at"] == "4.0"
    assert log.dead_lettered == 1 and log.unavailable() is None
    assert any("log.dead_lettered" in r.getMessage() for r in caplog.records)
    log.append(ev("test.later", 10.0))
    await log.flush()
    assert (await log.read(after=8))[0].type == "test.later"
    await log.close()
    again = SqlInteractionLog(engine)
    await again.start()
    assert again.dead_lettered == 1  # counted from the table at start, for /healthz
    await again.close()
    await engine.dispose()


async def test_data_json_cannot_hold_is_set_aside_with_its_reason(engine: AsyncEngine) -> None:
    log = SqlInteractionLog(engine, flush_interval=0.0)
    await log.start()
    circular: dict[str, Any] = {"name": "loop"}
    circular["self"] = circular
    log.append(ev("test.before", 1.0))
    log.append(InteractionEvent(type="test.circular", at=2.0, contact_id="c1", data=circular))
    log.append(ev("test.after", 3.0))
    await log.flush()
    assert [(e.seq, e.type) for e in await log.read()] == [(1, "test.before"), (2, "test.after")]
    [dead] = await dead_rows(engine)
    assert dead["type"] == "test.circular" and "Circular reference" in dead["reason"]
    assert "'name': 'loop'" in dead["data"]  # kept as its bounded repr
    assert log.dead_lettered == 1
    await log.close()


async def test_flush_waits_only_so_long_and_health_says_why(engine: AsyncEngine, db_url: str) -> None:
    log = SqlInteractionLog(engine, flush_interval=0.0, flush_timeout=0.3)
    await log.start()
    async with database_away(engine, db_url):
        log.append(ev("test.tick", 1.0))
        async with asyncio.timeout(3):  # the bound, not the database, ends the wait
            with pytest.raises(LogUnavailable, match=r"has not written 1 events within 0\.3 s"):
                await log.flush()
        await _until(lambda: not log.healthy)
        assert "last write failed" in (log.unavailable() or "")
        assert log.health()["ok"] is False and log.health()["pending"] == 1
        assert log.dead_lettered == 0  # an outage never sets events aside
    await log.flush(timeout=15)
    assert log.unavailable() is None and [e.seq for e in await log.read()] == [1]
    assert await dead_rows(engine) == []
    await log.close()


@pytest.mark.postgres
async def test_a_write_that_hangs_shows_as_a_stall(pg_url: str) -> None:
    engine = database.create_engine(pg_url)
    await migrate.upgrade(engine)
    clock = [1000.0]
    log = SqlInteractionLog(
        engine, flush_interval=0.0, flush_timeout=0.3, stall_after=30.0, monotonic=lambda: clock[0]
    )
    await log.start()
    locker = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database=_db_name(pg_url))
    lock = locker.transaction()
    await lock.start()
    await locker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
    try:
        log.append(ev("test.tick", 1.0))
        with pytest.raises(LogUnavailable):
            await log.flush()
        assert log.unavailable() is None  # not yet: the write is slow, not failed
        clock[0] += 31.0
        assert "has waited 31.0 s (more than 30 s)" in (log.unavailable() or "")
    finally:
        await lock.rollback()
        await locker.close()
    await log.flush(timeout=10)
    assert log.unavailable() is None and log.oldest_pending_s == 0.0
    await log.close()
    await engine.dispose()


async def test_shutdown_with_the_database_away_spills_and_the_next_start_replays(
    engine: AsyncEngine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spill = tmp_path / "unwritten.jsonl"
    first = SqlInteractionLog(engine, flush_interval=0.0, close_timeout=0.5, spill_path=spill)
    await first.start()
    first.append(ev("test.written", 1.0))
    await first.flush()
    async with database_away(engine, db_url):
        first.append(ev("test.spilled", 2.0, "c1", who="\ud800"))
        first.append(ev("test.spilled", 3.0, "c1", n=2))
        with caplog.at_level(logging.ERROR, logger="callcenter.storage.log"):
            async with asyncio.timeout(5):
                await first.close()
    assert first.unwritten_at_close == 2
    lines = [json.loads(line) for line in spill.read_text(encoding="utf-8").splitlines()]
    assert [(r["type"], r["at"], r["data"]) for r in lines] == [
        ("test.spilled", 2.0, {"who": "\ufffd"}),
        ("test.spilled", 3.0, {"n": 2}),
    ]
    assert any(
        "2 events unwritten" in r.getMessage() and str(spill) in r.getMessage() for r in caplog.records
    )
    second = SqlInteractionLog(engine, flush_interval=0.0, spill_path=spill)
    await second.start()
    second.append(ev("server.started", 4.0))
    await second.flush(timeout=15)
    assert [(e.seq, e.type, e.at) for e in await second.read()] == [
        (1, "test.written", 1.0),
        (2, "test.spilled", 2.0),
        (3, "test.spilled", 3.0),
        (4, "server.started", 4.0),
    ]
    assert not spill.exists() and (tmp_path / "unwritten.jsonl.replayed").exists()
    await second.close()
    third = SqlInteractionLog(engine, spill_path=spill)  # replayed once only
    await third.start()
    await third.flush()
    assert third.last_seq == 4
    await third.close()


def test_spill_file_default_sits_beside_the_database() -> None:
    from callcenter.config.sections import StorageConfig

    assert str(StorageConfig(url="sqlite+aiosqlite:////srv/cc/center.db").spill_file()) == (
        "/srv/cc/center.db.unwritten.jsonl"
    )
    assert str(StorageConfig(url="postgresql+asyncpg://cc@db:5432/center").spill_file()) == (
        "interaction-log-center.unwritten.jsonl"
    )
