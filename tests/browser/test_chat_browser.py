"""Web chat in real Chromium, two browser contexts: a customer on /chat picks a topic, an
agent on /desk accepts, they talk both ways in real time, the agent ends the chat and the
customer rates it; the transcript and the rating are in the interaction log."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import login, screenshot

from callcenter.appkeys import LOG

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser


async def test_customer_and_agent_chat_and_the_customer_rates_it(browser, live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = live_server
    app = server.app
    errors: list[str] = []
    agent = await (await browser.new_context(viewport={"width": 1400, "height": 850})).new_page()
    agent.on("pageerror", lambda exc: errors.append(f"desk: {exc}"))
    await login(agent, server, "/desk", "alice")
    await agent.wait_for_selector("#conn:text('online')")
    await agent.click("#btn-ready")
    await agent.wait_for_selector("#state-pill.AVAILABLE")

    customer = await (await browser.new_context(viewport={"width": 480, "height": 800})).new_page()
    customer.on("pageerror", lambda exc: errors.append(f"chat: {exc}"))
    await customer.goto(str(server.make_url("/chat")))
    await customer.fill("input[name=name]", "Dana Levi")
    await customer.get_by_role("button", name="Start chat").click()
    await customer.get_by_role("button", name="lost or stolen cards, answered first").click()

    await agent.wait_for_selector("#offer:not(.hidden)")
    await agent.click("#btn-accept")
    await customer.wait_for_selector("text=Alice Cohen joined the chat")
    await customer.fill("#text", "I lost my card at the station")
    await customer.press("#text", "Enter")
    await agent.wait_for_selector(".msg.customer:text('I lost my card at the station')")
    await agent.fill("input[aria-label='Chat reply']", "I have blocked it. A new one is on its way.")
    await agent.press("input[aria-label='Chat reply']", "Enter")
    await customer.wait_for_selector(".bubble.agent:text('I have blocked it. A new one is on its way.')")
    await agent.click("button[title='End (E)']")
    await customer.wait_for_selector("#rating:not(.hidden)")
    await customer.click(".stars button[data-r='5']")
    await customer.wait_for_selector("text=Thank you for your rating!")
    await screenshot(customer, "chat-customer.png", tmp_path)
    assert errors == []

    await app[LOG].flush()
    events = [e for e in await app[LOG].read(limit=1000) if e.type.startswith("contact.")]
    chats = [(e.data["from"], e.data["text"]) for e in events if e.type == "contact.chat_message"]
    assert chats == [("customer", "I lost my card at the station"),
                     ("agent", "I have blocked it. A new one is on its way.")]
    assert [e.data["rating"] for e in events if e.type == "contact.rated"] == [5]
    assert {e.data.get("channel") for e in events if e.type == "contact.arrived"} == {"chat"}
