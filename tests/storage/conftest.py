"""The interaction log's tests run on SQLite and on PostgreSQL: ``db_url`` is one of each,
``engine`` that database migrated to the latest schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.storage import database, migrate


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = database.create_engine(db_url)
    await migrate.upgrade(eng)
    yield eng
    await eng.dispose()
