"""The wallboard in real Chromium updates when a contact joins a queue and when an agent
changes state (and a supervisor can force an agent's state from it); its chart of the last
hours shows waiting contacts and service level with the trouble thresholds, and a
supervisor changes an agent's skills from it (routing follows at once); a supervisor listens
to a live call from it (a real media-stream caller and agent phone) and the listen ends
with the call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from browser_support import login, screenshot
from demo_center import demo_config
from msgspec.structs import replace
from stream_phone import StreamPhone

from callcenter.acd.messages import AgentLoggedIn, AgentReady, ContactTransferred, OfferAccepted
from callcenter.app import create_app
from callcenter.appkeys import BUS, LOG
from callcenter.runtime.keys import CENTER
from callcenter.runtime.voice.install import TELEPHONY
from callcenter.supervisor.listen import LISTEN
from callcenter.supervisor.live_metrics import LIVE

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
    await center.submit(AgentLoggedIn(agent_id="bob", name="Bob Levi", skills={"banking": 3}))
    await page.wait_for_selector("tr[data-agent='bob'] .st.NOT_READY", timeout=3000)
    await page.select_option("select[aria-label='Force state of bob']", "ready")
    await page.wait_for_selector(
        "tr[data-agent='bob'] .st.OFFERED, tr[data-agent='bob'] .st.AVAILABLE", timeout=3000
    )
    await page.wait_for_selector("article[data-queue='general'] b.waiting:text('3')", timeout=3000)
    await screenshot(page, "wallboard.png", tmp_path)
    await page.close()  # the board's socket closes before the server stops
    assert errors == []


async def test_wallboard_chart_marks_trouble_and_a_supervisor_changes_skills(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
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

    await center.submit(AgentLoggedIn(agent_id="erez", name="Erez Cohen", skills={"english": 2}))
    await center.submit(AgentReady(agent_id="erez"))
    await center.contact_arrived(contact_id="lost-card", channel="voice", queue="cards", caller="+9725")
    await page.wait_for_selector(
        "tr[data-agent='erez'] .st.AVAILABLE", timeout=3000
    )  # cards needs cards or banking
    await page.click("button[aria-label='Change skills of erez']")
    assert await page.input_value("#skills-fields input[name='english']") == "2"
    await page.fill("#skills-fields input[name='cards']", "4")
    await page.click("#skills-save")
    await page.wait_for_selector("tr[data-agent='erez'] .st.OFFERED", timeout=3000)
    assert "cards 4" in (await page.text_content("tr[data-agent='erez'] td.skills") or "")
    assert next(iter(center.engine.offers.values())).contact_id == "lost-card"
    await app[LOG].flush()
    actions = [e.data for e in await app[LOG].read(limit=1000) if e.type == "supervisor.action"]
    assert [(a["action"], a["by"], a["skills"]) for a in actions] == [
        ("skills", "sam", {"english": 2, "cards": 4})
    ]
    await screenshot(page, "wallboard-chart.png", tmp_path)
    await page.close()
    assert errors == []


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (bounded) for a condition with no awaitable (the engine, the far end's media)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def at_node(sub: Any, node: str, timeout: float = 15.0) -> None:
    """Wait for the caller's IVR to enter ``node`` (``ivr.node`` on the bus)."""
    async with asyncio.timeout(timeout):
        async for message in sub:
            if (message.payload.get("data") or {}).get("node") == node:
                return


async def test_a_supervisor_listens_to_a_live_call_from_the_wallboard(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = demo_config(
        f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        telephony={"enabled": True, "agent_lines": True, "record": False},
    )
    config = replace(config, speech=replace(config.speech, cache_dir=str(tmp_path / "prompts")))
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    app = server.app
    center = app[CENTER]
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as lines:
        await center.submit(AgentLoggedIn(agent_id="alice", name="Alice", skills={"sales": 1}))
        agent = StreamPhone(lines, "alice", "agent-alice", 1000.0)
        await agent.dial()
        caller = StreamPhone(lines, "+972541234567", "+15550100", 500.0)
        ivr = app[BUS].subscribe("ivr.node")
        await caller.dial()
        await at_node(ivr, "language")
        await caller.press("1")  # English
        await at_node(ivr, "customer_check")
        await caller.press("2")  # not a customer: sales
        ivr.close()
        call = next(iter(app[TELEPHONY].front.calls.values()))
        await until(
            lambda: (
                (c := center.engine.contacts.get(call.contact_id or "")) is not None and c.queue == "sales"
            )
        )
        await center.submit(AgentReady(agent_id="alice"))
        offer = next(o for o in center.engine.offers.values() if o.contact_id == call.contact_id)
        await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
        await until(lambda: call.bridge is not None)

        await login(page, server, "/wallboard", "sam")
        await page.click("button[aria-label='Listen to alice']")
        await page.wait_for_selector("#listen-bar:not([hidden])", timeout=5000)
        # who is heard: the agent and the customer (a caller the CRM does not know: the number)
        assert await page.text_content("#listen-who") == "Alice · +972541234567"
        assert await page.get_attribute("tr[data-agent='alice'] td.customer", "title") == call.contact_id
        # The call's audio reaches the page: the level meter rises well above silence.
        await page.wait_for_function(
            "Number(document.querySelector('#listen-level').dataset.dbfs) > -40", timeout=10000
        )
        bridge = call.bridge
        assert bridge is not None and len(app[LISTEN].listens) == 1 and len(bridge.listeners) == 1
        await page.wait_for_selector("tr[data-agent='alice'] .heard-by:text('sam')", timeout=3000)
        await page.click("#listen-stop")
        await page.wait_for_selector("#listen-bar", state="hidden", timeout=5000)
        await until(lambda: not app[LISTEN].listens)

        await page.click("button[aria-label='Listen to alice']")
        await page.wait_for_selector("#listen-bar:not([hidden])", timeout=5000)
        await caller.hang_up()  # the call ends: the board stops listening by itself
        await page.wait_for_selector("#listen-bar", state="hidden", timeout=5000)
        await page.wait_for_selector("#toast:text('the call ended')", timeout=3000)
        await agent.hang_up()
    await app[LOG].flush()
    actions = [
        (e.data["action"], e.data.get("reason"), e.data["by"])
        for e in await app[LOG].read(limit=2000)
        if e.type == "supervisor.action"
    ]
    assert actions == [
        ("listen", None, "sam"),
        ("listen_end", "supervisor_stopped", "sam"),
        ("listen", None, "sam"),
        ("listen_end", "call_ended", "sam"),
    ]
    await page.close()
    await server.close()
    assert errors == []


async def test_the_wallboard_tells_the_center_time_and_the_truth_in_another_zone(
    browser: Any, tmp_path: Path
) -> None:
    """A supervisor's browser in New York watches a center in Jerusalem at Saturday 03:00
    there (Friday 20:00 in New York): the board shows the center's clock and day, the
    bank's closed desks as closed with their opening, no estimated wait for an empty queue,
    waiting contacts per channel, the customer's name on an agent's row, and a transferred
    call as one contact of the day and an offer in each queue."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from callcenter.core.clock import VirtualClock

    zone = ZoneInfo("Asia/Jerusalem")
    saturday_03 = datetime(2026, 12, 5, 3, 0, tzinfo=zone).timestamp()
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", hours="as configured")
    server = TestServer(create_app(config, clock=VirtualClock(saturday_03)), host="127.0.0.1")
    await server.start_server()
    context = await browser.new_context(
        timezone_id="America/New_York", viewport={"width": 1400, "height": 900}
    )
    try:
        center = server.app[CENTER]
        errors: list[str] = []
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        assert await page.evaluate("new Date().getTimezoneOffset()") > 0  # the browser is west of UTC
        await login(page, server, "/wallboard", "sam")
        await page.wait_for_selector("#conn:text('live')")
        clock = await page.text_content("#clock") or ""
        assert clock.startswith("03:0") and clock.endswith("Asia/Jerusalem"), clock
        assert "2026-12-05" in (await page.text_content("#today") or "")

        internet = page.locator("article[data-queue='internet']")
        assert await internet.get_attribute("data-open") == "false"
        assert await internet.locator(".closed-note").text_content() == "Closed · opens Sat 20:00"
        assert await page.locator("article[data-queue='general']").get_attribute("data-open") == "true"

        await center.submit(
            AgentLoggedIn(agent_id="alice", name="Alice Cohen", skills={"banking": 4, "cards": 3})
        )
        await center.submit(AgentReady(agent_id="alice"))
        await page.wait_for_selector(
            "article[data-queue='general'] .agents-count:text('1 available')", timeout=3000
        )
        assert await page.locator("article[data-queue='general'] b.ewt").text_content() == "\u2013"

        await center.contact_arrived(
            contact_id="t-1", channel="voice", queue="general", caller="+972501234567"
        )
        offer = next(iter(center.engine.offers.values()))
        await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
        await page.wait_for_selector("tr[data-agent='alice'] td.customer:text('Noa Levi')", timeout=3000)
        await center.submit(ContactTransferred(contact_id="t-1", by_agent="alice", to_queue="cards"))
        for i in range(2):
            await center.contact_arrived(
                contact_id=f"v-{i}", channel="voice", queue="cards", caller=f"+1555000{i}"
            )
        await center.contact_arrived(contact_id="ch-1", channel="chat", queue="cards", caller="a@example.com")
        cards = page.locator("article[data-queue='cards']")
        await page.wait_for_selector(
            "article[data-queue='cards'] .by-channel:text('3 calls · 1 chat')", timeout=3000
        )
        assert await cards.locator("b.waiting").text_content() == "4"
        assert await cards.locator("b.offered").text_content() == "4"  # t-1 again, and three new
        assert await page.locator("article[data-queue='general'] b.offered").text_content() == "1"
        today = await page.text_content("#today") or ""
        assert "4 contacts" in today and "once in each queue it was offered to" in today
        await screenshot(page, "wallboard-center-time.png", tmp_path)
        await page.close()
        assert errors == []
    finally:
        await context.close()
        await server.close()
