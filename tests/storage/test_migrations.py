"""Migrations create the schema on SQLite and PostgreSQL, are idempotent, reversible,
and leave the database equal to the tables the code queries (schema.py)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

import callcenter.auth.schema
import callcenter.crm_link.schema  # noqa: F401  (their tables join the metadata compared)
from callcenter.storage import database, migrate
from callcenter.storage.schema import metadata


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def _diff(engine: AsyncEngine) -> list[object]:
    async with engine.connect() as conn:
        found: list[object] = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata)
        )
        return found


async def _roundtrip(url: str) -> None:
    engine = database.create_engine(url)
    try:
        assert await migrate.current_revision(engine) is None
        assert await migrate.upgrade(engine) == migrate.head_revision()
        assert {"events", "contacts", "alembic_version"} <= await _tables(engine)
        assert await _diff(engine) == []
        assert await migrate.upgrade(engine) == migrate.head_revision()  # idempotent
        await migrate.downgrade(engine, "base")
        assert await _tables(engine) <= {"alembic_version"}
        await migrate.upgrade(engine)
        assert "events" in await _tables(engine)
    finally:
        await engine.dispose()


async def test_migrations_on_sqlite(sqlite_url: str) -> None:
    await _roundtrip(sqlite_url)


@pytest.mark.postgres
async def test_migrations_on_postgres(pg_url: str) -> None:
    await _roundtrip(pg_url)
