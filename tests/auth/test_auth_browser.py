"""The login page in real Chromium: a wrong password is shown, the right one goes to ?next=."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from authsupport import demo_config

from callcenter.app import create_app


async def test_login_page_shows_errors_and_follows_next(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is not installed")
    server = TestServer(
        create_app(demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")), host="127.0.0.1"
    )
    await server.start_server()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=path, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(str(server.make_url("/login?next=/api/v1/auth/me")))
            await page.fill("input[name=username]", "sam")
            await page.fill("input[name=password]", "wrong")
            await page.get_by_role("button", name="Log in").click()
            await page.wait_for_selector("#error:text('wrong username or password')")
            await page.fill("input[name=password]", "sam")
            await page.get_by_role("button", name="Log in").click()
            await page.wait_for_url(lambda url: "/login" not in url)
            assert page.url == str(server.make_url("/api/v1/auth/me"))
            assert '"username":"sam"' in (await page.text_content("body") or "").replace(" ", "")
            cookies = await page.context.cookies()
            assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
                ("cc_session", True, "Strict")
            ]
            await browser.close()
            assert errors == []
    finally:
        await server.close()
