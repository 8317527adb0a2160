"""Fixtures for the auth tests (helpers in ``authsupport``, made importable here)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from authsupport import START, Client, build_app

from callcenter.core.clock import VirtualClock
from callcenter.storage import database, migrate


@pytest.fixture
async def client(aiohttp_client: Any, sqlite_url: str) -> Client:
    clock = VirtualClock(start=START)
    app = build_app(sqlite_url, clock)
    return Client(await aiohttp_client(app), clock, app)


@pytest.fixture
async def pg_client(pg_url: str, aiohttp_client: Any) -> Client:
    """The app on a fresh PostgreSQL database; ``pg_url`` comes first so the database is
    dropped only after the app has stopped and written its log."""
    engine = database.create_engine(pg_url)
    try:
        await migrate.upgrade(engine)  # PostgreSQL is never upgraded on start
    finally:
        await engine.dispose()
    clock = VirtualClock(start=START)
    app = build_app(pg_url, clock)
    return Client(await aiohttp_client(app), clock, app)
