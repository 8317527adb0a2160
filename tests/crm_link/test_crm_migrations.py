"""The crm_0001 migration builds exactly the tables the code queries (crm_link/schema.py),
on SQLite and PostgreSQL, and downgrades cleanly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.crm_link.schema import CRM_TABLES
from callcenter.storage import database, migrate

NAMES = {t.name for t in CRM_TABLES}


async def _diff(engine: AsyncEngine) -> list[object]:
    wanted = MetaData()
    for table in CRM_TABLES:
        table.to_metadata(wanted)

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _: kind != "table" or name in NAMES,
            },
        )
        return list(compare_metadata(context, wanted))

    async with engine.connect() as conn:
        found: list[object] = await conn.run_sync(diff)
        return found


async def _check(url: str) -> None:
    engine = database.create_engine(url)
    try:
        await migrate.upgrade(engine)
        assert await _diff(engine) == []
        await migrate.downgrade(engine, "0001")
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert not left & NAMES
        await migrate.upgrade(engine)
        assert await _diff(engine) == []
    finally:
        await engine.dispose()


async def test_crm_migration_on_sqlite(sqlite_url: str) -> None:
    await _check(sqlite_url)


@pytest.mark.postgres
async def test_crm_migration_on_postgres(pg_url: str) -> None:
    await _check(pg_url)
