"""Helpers for browser tests."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestServer


async def login(page: Any, server: TestServer, path: str, user: str) -> None:
    """Open ``path``, which sends us to the login page, and log in as ``user`` (password = user)."""
    await page.goto(str(server.make_url(path)))
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", user)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"**{path.split('?')[0]}")
