"""The wallboard in real Chromium updates when a contact joins a queue and when an agent
changes state (and a supervisor can force an agent's state from it); its chart of the last
hours shows waiting contacts and service level with the trouble thresholds, and a
supervisor changes an agent's skills from it (routing follows at once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import login, screenshot

from callcenter.acd import model as m
from callcenter.appkeys import CENTER, LOG
from callcenter.supervisor.live import LIVE

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
    await page.close()  # the board's socket closes before the server stops
    assert errors == []


async def test_wallboard_chart_marks_trouble_and_a_supervisor_changes_skills(browser, live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = live_server.app
    center = app[CENTER]
    live = app[LIVE]
    live.sample_every_s, live.next_sample = 0.25, 0.0  # a point every quarter second, not every minute
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(page, live_server, "/wallboard", "sam")
    await page.wait_for_selector("#conn:text('live')")
    await page.wait_for_function("Number(document.querySelector('#chart').dataset.points) >= 2", timeout=5000)
    assert await page.locator("#chart path.waiting").count() == 1
    assert await page.locator("#chart line.limit.sl").count() == 1  # the trouble service level, dashed
    assert await page.locator("#chart rect.band.trouble").count() == 0

    for i in range(8):  # trouble_waiting is 8 in the demo config
        await center.contact_arrived(contact_id=f"q-{i}", channel="voice", queue="general", caller=f"+2{i}")
    await page.wait_for_selector("article[data-queue='general'].trouble", timeout=3000)
    await page.wait_for_function("document.querySelector('#chart').dataset.lastWaiting === '8'", timeout=3000)
    await page.wait_for_selector("#chart rect.band.trouble", state="attached", timeout=3000)
    await page.select_option("#chart-queue", "cards")  # the chart of one queue: nobody waits there
    await page.wait_for_function("document.querySelector('#chart').dataset.lastWaiting === '0'", timeout=3000)
    assert "cards: 0 waiting now" in (await page.get_attribute("#chart", "aria-label") or "")

    await center.submit(m.AgentLoggedIn(agent_id="erez", name="Erez Cohen", skills={"english": 2}))
    await center.submit(m.AgentReady(agent_id="erez"))
    await center.contact_arrived(contact_id="lost-card", channel="voice", queue="cards", caller="+9725")
    await page.wait_for_selector("tr[data-agent='erez'] .st.AVAILABLE", timeout=3000)  # cards needs cards or banking
    await page.click("button[aria-label='Change skills of erez']")
    assert await page.input_value("#skills-fields input[name='english']") == "2"
    await page.fill("#skills-fields input[name='cards']", "4")
    await page.click("#skills-save")
    await page.wait_for_selector("tr[data-agent='erez'] .st.OFFERED", timeout=3000)
    assert "cards 4" in (await page.text_content("tr[data-agent='erez'] td.skills") or "")
    assert next(iter(center.engine.offers.values())).contact_id == "lost-card"
    await app[LOG].flush()
    actions = [e.data for e in await app[LOG].read(limit=1000) if e.type == "supervisor.action"]
    assert [(a["action"], a["by"], a["skills"]) for a in actions] == [("skills", "sam", {"english": 2, "cards": 4})]
    await screenshot(page, "wallboard-chart.png", tmp_path)
    await page.close()
    assert errors == []
