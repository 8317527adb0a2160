"""The wallboard in real Chromium updates when a contact joins a queue and when an agent
changes state (and a supervisor can force an agent's state from it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import login, screenshot

from callcenter.acd import model as m
from callcenter.appkeys import CENTER

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser


async def test_wallboard_follows_the_center(browser, live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = live_server
    app = server.app
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(page, server, "/wallboard", "sam")
    await page.wait_for_selector("#conn:text('live')")
    tile = page.locator("article[data-queue='general'] b.waiting")
    assert await tile.text_content() == "0"
    center = app[CENTER]
    for i in range(4):
        await center.contact_arrived(contact_id=f"c-{i}", channel="voice", queue="general", caller=f"+1{i}")
    await page.wait_for_selector("article[data-queue='general'] b.waiting:text('4')", timeout=3000)
    await page.wait_for_selector("article[data-queue='general'].warning", timeout=3000)
    await center.submit(m.AgentLoggedIn(agent_id="bob", name="Bob Levi", skills={"banking": 3}))
    await page.wait_for_selector("tr[data-agent='bob'] .st.NOT_READY", timeout=3000)
    await page.select_option("select[aria-label='Force state of bob']", "ready")
    await page.wait_for_selector("tr[data-agent='bob'] .st.OFFERED, tr[data-agent='bob'] .st.AVAILABLE",
                                 timeout=3000)
    await page.wait_for_selector("article[data-queue='general'] b.waiting:text('3')", timeout=3000)
    await screenshot(page, "wallboard.png", tmp_path)
    assert errors == []
