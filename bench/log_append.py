"""Interaction-log append throughput into SQLite and PostgreSQL, in batches.

Each contact produces a realistic path of 8 events (arrived, queued, offered, connected,
wrap-up, ended, plus two agent-state events), so the contacts projection is updated as it
would be in service. The figure is events made durable per second, from the first append
to the end of ``flush()``.

Usage: python bench/log_append.py [--events N] [--batch N] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from callcenter.core.events import InteractionEvent
from callcenter.storage import database, migrate
from callcenter.storage.log import SqlInteractionLog

PATH = (
    "contact.arrived",
    "contact.queued",
    "agent.state",
    "contact.offered",
    "contact.connected",
    "contact.wrap_up",
    "contact.ended",
    "agent.state",
)


def make_events(n: int) -> list[InteractionEvent]:
    events = []
    for i in range(n):
        contact = i // len(PATH)
        kind = PATH[i % len(PATH)]
        is_agent = kind == "agent.state"
        events.append(
            InteractionEvent(
                type=kind,
                at=1_700_000_000.0 + i * 0.01,
                contact_id=None if is_agent else f"c-{contact:08d}",
                agent_id=f"agent-{contact % 200}",
                queue="general",
                data={"reason": "completed"} if kind == "contact.ended" else {"channel": "voice", "n": i},
                context_id=f"x-{i:09d}",
                parent_id=f"x-{i - 1:09d}",
            )
        )
    return events


async def measure(url: str, events: list[InteractionEvent], batch: int) -> float:
    engine = database.create_engine(url)
    await migrate.upgrade(engine)
    log = SqlInteractionLog(engine, batch_max=batch, flush_interval=0.005)
    await log.start()
    start = time.perf_counter()
    for i, event in enumerate(events):
        log.append(event)
        if i % 5000 == 4999:
            await asyncio.sleep(0)  # let the flusher run, as it would between inputs
    await log.flush()
    elapsed = time.perf_counter() - start
    assert len(await log.read(after=len(events) - 1)) == 1
    await log.close()
    await engine.dispose()
    return len(events) / elapsed


async def pg_database() -> tuple[str, str]:
    import asyncpg

    name = f"cc_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="test")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_pg(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="test")
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    events = make_events(args.events)
    info = machine()
    print(f"machine: {info}")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_rate = await measure(f"sqlite+aiosqlite:///{tmp}/bench.db", events, args.batch)
    print(f"sqlite: {args.events} events in batches of {args.batch}: {sqlite_rate:,.0f} events/s")
    pg_rate = None
    if not args.skip_postgres:
        name, url = await pg_database()
        try:
            pg_rate = await measure(url, events, args.batch)
        finally:
            await drop_pg(name)
        print(f"postgres: {args.events} events in batches of {args.batch}: {pg_rate:,.0f} events/s")
    print(
        json.dumps(
            {
                "name": "log_append",
                "cores": info["cores"],
                "events": args.events,
                "batch": args.batch,
                "sqlite_events_per_s": round(sqlite_rate),
                "postgres_events_per_s": round(pg_rate) if pg_rate else None,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
