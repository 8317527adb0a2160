"""Real Chromium (Debian's package, never a downloaded browser) driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from demo_center import demo_config

from callcenter.app import create_app

ROOT = Path(__file__).resolve().parents[2]

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is not installed: run `bash scripts/test.sh` (it installs it)")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS, headless=True)
        yield b
        await b.close()


@pytest.fixture
async def live_server(tmp_path: Path) -> AsyncIterator[TestServer]:
    """The demo center on a real loopback port, with its own SQLite file."""
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()
