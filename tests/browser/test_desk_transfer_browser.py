"""A call on the desk in real Chromium against the real server, checked against the server's
own state: a hold survives a reload and shows in a second tab; after a blind transfer the
desk shows the call in wrap-up (the status pill and the contact agree, Hold, Transfer and
End are disabled, the countdown runs) while the other agent is offered it; Ready moves it
to "Today", and a reload shows the same "Today" (read from the interaction log). A desk
that comes back after the reconnect grace period says plainly that the agent was put Not
ready."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from browser_support import login
from demo_center import demo_config
from desk_socket import Desk
from msgspec.structs import replace
from playwright.async_api import expect

from callcenter.app import create_app
from callcenter.runtime.keys import CENTER

pytestmark = pytest.mark.browser

NOA = "+972501234567"  # the demo CRM's Noa Levi


def contact_state(server: Any, contact_id: str) -> tuple[str, str | None]:
    """(the contact's state, its agent) as the ACD has them."""
    contact = server.app[CENTER].engine.contacts[contact_id]
    return contact.state, contact.agent_id


async def test_a_blind_transfer_shows_wrap_up_and_today_survives_a_reload(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    app = live_server.app
    errors: list[str] = []
    context = await browser.new_context(viewport={"width": 1400, "height": 850})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(page, live_server, "/desk", "alice")
    await page.wait_for_selector("#conn:text('online')")
    await page.click("#btn-ready")
    await page.wait_for_selector("#state-pill.AVAILABLE")
    bob = await Desk.open(live_server.make_url("/"), "bob")
    await bob.ask("set_state", state="ready")

    await app[CENTER].contact_arrived(contact_id="c-tr-1", channel="voice", queue="cards", caller=NOA)
    await page.wait_for_selector("#offer:not(.hidden)")
    await page.keyboard.press("a")
    await page.wait_for_selector("#state-pill.ON_CONTACT")
    await page.get_by_role("button", name="Hold").click()
    option = page.get_by_role("listbox", name="Contacts").get_by_role("option")
    await expect(option).to_have_accessible_name(re.compile(r", call, on hold$"))

    await page.reload()  # mid-call: the server restates the hold
    await page.wait_for_selector("#conn:text('online')")
    await expect(option).to_have_accessible_name(re.compile(r"^Noa Levi.*, call, on hold$"))
    await expect(page.get_by_role("button", name="Retrieve")).to_be_enabled()
    second = await context.new_page()  # a second tab of the same agent (the same session)
    second.on("pageerror", lambda exc: errors.append(str(exc)))
    await second.goto(str(live_server.make_url("/desk")))
    await second.wait_for_selector("#conn:text('online')")
    await expect(second.get_by_role("button", name="Retrieve")).to_be_enabled()

    await page.get_by_role("button", name="Retrieve").click()
    await expect(second.get_by_role("button", name="Hold")).to_be_enabled()  # the other tab follows
    await page.select_option("#transfer-to", "agent:bob")
    await page.get_by_role("button", name="Transfer", exact=True).click()
    assert (await bob.until("offer"))["contact_id"] == "c-tr-1"  # bob is offered it
    assert contact_state(live_server, "c-tr-1") == ("offered", None)
    for tab in (page, second):
        await tab.wait_for_selector("#state-pill.WRAP_UP")
        await expect(
            tab.get_by_role("listbox", name="Contacts").get_by_role("option")
        ).to_have_accessible_name(re.compile(r", call, wrap-up$"))
        for name in ("Hold", "Mute", "End"):
            await expect(tab.get_by_role("button", name=name)).to_be_disabled()
        await expect(tab.get_by_role("button", name="Transfer", exact=True)).to_be_disabled()
        await expect(tab.locator("#ws-status")).to_contain_text("wrap-up")
        await expect(tab.get_by_role("timer", name="Wrap-up time left")).to_have_text(
            re.compile(r"^0:[12]\d$")
        )
    assert app[CENTER].engine.agents["alice"].state.value == "WRAP_UP"

    await page.get_by_role("button", name="Ready: Wrap-up").click()
    for tab in (page, second):
        await tab.wait_for_selector("#state-pill.AVAILABLE")
        await expect(tab.locator("#contacts")).to_contain_text("No contacts")
        await expect(tab.locator("#history li")).to_have_count(1)
        await expect(tab.locator("#history")).to_contain_text("Noa Levi")
    today = await page.locator("#history").text_content()
    await page.reload()
    await page.wait_for_selector("#conn:text('online')")
    await expect(page.locator("#history li")).to_have_count(1)
    assert await page.locator("#history").text_content() == today  # the log's list, the same
    await bob.close()
    await context.close()
    assert errors == []


@pytest.fixture
async def short_grace_server(tmp_path: Path) -> AsyncIterator[TestServer]:
    """The demo center with a reconnect grace period of half a second."""
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    config = replace(config, desk=replace(config.desk, reconnect_grace_s=0.5))
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def test_a_desk_back_after_the_grace_period_says_the_agent_was_put_not_ready(  # type: ignore[no-untyped-def]
    browser, short_grace_server
) -> None:
    server = short_grace_server
    page = await browser.new_page(viewport={"width": 1400, "height": 850})
    await login(page, server, "/desk", "alice")
    await page.wait_for_selector("#conn:text('online')")
    await page.click("#btn-ready")
    await page.wait_for_selector("#state-pill.AVAILABLE")
    await expect(page.get_by_role("alert")).to_be_hidden()
    await page.goto("about:blank")  # the desk is gone
    agents = server.app[CENTER].engine.agents
    for _ in range(100):
        if agents["alice"].state.value == "NOT_READY":
            break
        await asyncio.sleep(0.05)
    assert (agents["alice"].state.value, agents["alice"].reason) == ("NOT_READY", "disconnected")
    await page.goto(str(server.make_url("/desk")))
    await page.wait_for_selector("#conn:text('online')")
    await expect(page.locator("#state-pill")).to_have_text("Not ready · disconnected")
    away = page.get_by_role("alert")
    await expect(away).to_contain_text("You were away for longer than 0.5 s, so you were put Not ready")
    await page.click("#btn-ready")
    await expect(away).to_be_hidden()
