"""Helpers for browser tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

DOC_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"


async def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    """Keep a screenshot: in the test's temp folder, or in docs/img when
    CALLCENTER_DOC_SCREENSHOTS=1 (to refresh the pictures in the docs)."""
    folder = DOC_IMAGES if os.environ.get("CALLCENTER_DOC_SCREENSHOTS") == "1" else tmp_path
    path = folder / name
    await page.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


async def login(page: Any, server: TestServer, path: str, user: str) -> None:
    """Open ``path``, which sends us to the login page, and log in as ``user`` (password = user)."""
    await page.goto(str(server.make_url(path)))
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", user)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"**{path.split('?')[0]}")
