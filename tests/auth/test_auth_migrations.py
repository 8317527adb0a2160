"""The auth migrations build exactly the tables the code queries (auth/schema.py), on
SQLite and PostgreSQL, and upgrading a database seeded before auth_0002 keeps its users."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth.schema import sessions, users
from callcenter.storage import database, migrate

AUTH_TABLES = {"users", "sessions"}


async def _auth_diff(engine: AsyncEngine) -> list[object]:
    wanted = MetaData()
    for table in (users, sessions):
        table.to_metadata(wanted)

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _: kind != "table" or name in AUTH_TABLES,
            },
        )
        return list(compare_metadata(context, wanted))

    async with engine.connect() as conn:
        found: list[object] = await conn.run_sync(diff)
        return found


async def _check(url: str) -> None:
    engine = database.create_engine(url)
    try:
        await migrate.upgrade(engine, "auth_0001")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (username, name, role, password_hash, skills, chat_capacity, disabled,"
                    " created_at) VALUES ('old', 'Old', 'agent', 'scrypt$x', '{}', 1, :d, 0)"
                ),
                {"d": True},
            )
        await migrate.upgrade(engine)
        assert await _auth_diff(engine) == []
        async with engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.username == "old"))).one()
        assert (row.origin, row.disabled, row.disabled_by) == ("config", True, "config")
        await migrate.downgrade(engine, "auth_0001")
        await migrate.upgrade(engine)
        assert await _auth_diff(engine) == []
    finally:
        await engine.dispose()


async def test_auth_migrations_on_sqlite(sqlite_url: str) -> None:
    await _check(sqlite_url)


@pytest.mark.postgres
async def test_auth_migrations_on_postgres(pg_url: str) -> None:
    await _check(pg_url)
