"""The interaction log: appended events come back in order with gapless sequence numbers,
are written in batches, keep the contacts projection in step, and survive a database
that goes away for a while."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.core.events import InteractionEvent
from callcenter.storage import database, migrate, schema
from callcenter.storage.log import SqlInteractionLog
from callcenter.storage.projections import rebuild


def ev(kind: str, at: float, contact: str | None = None, **data: object) -> InteractionEvent:
    return InteractionEvent(
        type=kind,
        at=at,
        contact_id=contact,
        data=data,
        queue=queue if isinstance(queue := data.get("queue"), str) else None,
    )


async def test_events_come_back_in_append_order_with_gapless_seq(engine: AsyncEngine) -> None:
    log = SqlInteractionLog(engine, batch_max=7, flush_interval=0.001)
    await log.start()
    for i in range(100):
        log.append(ev("test.tick", 1000.0 + i, f"c{i % 5}", n=i))
    await log.flush()
    events = await log.read(limit=1000)
    assert [e.seq for e in events] == list(range(1, 101))
    assert [e.data["n"] for e in events] == list(range(100))
    assert [e.seq for e in await log.read(after=95)] == [96, 97, 98, 99, 100]
    assert [e.data["n"] for e in await log.read(contact_id="c3")] == list(range(3, 100, 5))
    await log.close()


async def test_appends_are_written_in_batches(engine: AsyncEngine) -> None:
    log = SqlInteractionLog(engine, batch_max=50, flush_interval=0.05)
    await log.start()
    writes: list[int] = []
    real_write = log._write

    async def counting(batch):  # type: ignore[no-untyped-def]
        writes.append(len(batch))
        await real_write(batch)

    log._write = counting  # type: ignore[method-assign]
    for i in range(230):
        log.append(ev("test.tick", float(i)))
    await log.flush()
    assert sum(writes) == 230
    assert max(writes) == 50 and len(writes) <= 6
    await log.close()


async def test_sequence_continues_after_restart_and_close_flushes(engine: AsyncEngine) -> None:
    first = SqlInteractionLog(engine, flush_interval=10.0)  # would wait long: close must flush
    await first.start()
    for i in range(3):
        first.append(ev("test.tick", float(i)))
    await first.close()
    second = SqlInteractionLog(engine)
    await second.start()
    second.append(ev("test.tick", 9.0))
    await second.flush()
    assert [e.seq for e in await second.read()] == [1, 2, 3, 4]
    await second.close()
    with pytest.raises(RuntimeError):
        second.append(ev("test.tick", 10.0))


async def test_contacts_projection_follows_the_events(engine: AsyncEngine) -> None:
    log = SqlInteractionLog(engine, batch_max=2, flush_interval=0.0)
    await log.start()
    path = [
        InteractionEvent(
            type="contact.arrived",
            at=100.0,
            contact_id="c1",
            data={"channel": "voice", "caller": "+15550001"},
        ),
        InteractionEvent(
            type="contact.queued", at=101.0, contact_id="c1", queue="general", data={"channel": "voice"}
        ),
        InteractionEvent(
            type="contact.offered", at=105.0, contact_id="c1", agent_id="alice", queue="general"
        ),
        InteractionEvent(type="contact.offer_timed_out", at=125.0, contact_id="c1", agent_id="alice"),
        InteractionEvent(type="contact.offered", at=126.0, contact_id="c1", agent_id="bob", queue="general"),
        InteractionEvent(
            type="contact.connected", at=130.0, contact_id="c1", agent_id="bob", data={"wait_s": 29.0}
        ),
        InteractionEvent(type="contact.wrap_up", at=300.0, contact_id="c1", agent_id="bob"),
        InteractionEvent(type="contact.ended", at=300.0, contact_id="c1", data={"reason": "completed"}),
        InteractionEvent(
            type="contact.queued", at=110.0, contact_id="c2", queue="cards", data={"channel": "chat"}
        ),
        InteractionEvent(type="contact.ended", at=140.0, contact_id="c2", data={"reason": "abandoned"}),
        InteractionEvent(type="agent.state", at=140.0, agent_id="bob", data={"state": "AVAILABLE"}),
    ]
    for e in path:
        log.append(e)
    await log.flush()
    async with engine.connect() as conn:
        rows = {r.contact_id: dict(r._mapping) for r in await conn.execute(select(schema.contacts))}
    c1 = rows["c1"]
    assert (c1["channel"], c1["caller"], c1["queue"], c1["agent_id"]) == (
        "voice",
        "+15550001",
        "general",
        "bob",
    )
    assert (c1["arrived_at"], c1["queued_at"], c1["offered_at"], c1["answered_at"], c1["ended_at"]) == (
        100.0,
        101.0,
        105.0,
        130.0,
        300.0,
    )
    assert (c1["offers"], c1["wait_s"], c1["state"], c1["end_reason"]) == (2, 29.0, "ended", "completed")
    assert (rows["c2"]["state"], rows["c2"]["end_reason"], rows["c2"]["answered_at"]) == (
        "ended",
        "abandoned",
        None,
    )
    assert set(rows) == {"c1", "c2"}
    # the table equals a fold of the whole log
    replayed = rebuild(await log.read())
    assert replayed == rows
    await log.close()


async def test_database_outage_loses_nothing(tmp_path: object, sqlite_url: str) -> None:
    """Writes that fail stay buffered and are retried; health reports the reason meanwhile."""
    engine = database.create_engine(sqlite_url)
    await migrate.upgrade(engine)
    log = SqlInteractionLog(engine, flush_interval=0.0)
    await log.start()
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE events RENAME TO events_away")
    log.append(ev("test.tick", 1.0))
    log.append(ev("test.tick", 2.0))
    for _ in range(200):
        if not log.healthy:
            break
        await asyncio.sleep(0.01)
    assert not log.healthy and "events" in (log.last_error or "")
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE events_away RENAME TO events")
    await asyncio.wait_for(log.flush(), timeout=10)
    assert log.healthy and [e.seq for e in await log.read()] == [1, 2]
    await log.close()
    await engine.dispose()


async def test_two_writers_on_one_database_renumber_instead_of_failing(sqlite_url: str) -> None:
    engine = database.create_engine(sqlite_url)
    await migrate.upgrade(engine)
    a, b = SqlInteractionLog(engine), SqlInteractionLog(engine)
    await a.start()
    await b.start()  # both think the next seq is 1
    a.append(ev("test.a", 1.0))
    await a.flush()
    b.append(ev("test.b", 2.0))
    await asyncio.wait_for(b.flush(), timeout=5)
    assert [(e.seq, e.type) for e in await a.read()] == [(1, "test.a"), (2, "test.b")]
    await a.close()
    await b.close()
    await engine.dispose()
