"""Web chat in real Chromium, two browser contexts: a customer on /chat walks the bank's
chat flow (the IVR in text mode) by buttons into the cards queue, an agent on /desk
accepts, they talk both ways in real time, the agent ends the chat and the flow's survey
asks the customer for a rating; the transcript and the rating are in the interaction log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import login, screenshot

from callcenter.appkeys import LOG

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser


async def test_customer_and_agent_chat_and_the_customer_rates_it(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
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
    await customer.wait_for_selector(".bubble.bot:text('Welcome to Demo Bank chat.')")
    await customer.wait_for_selector(".bubble.bot:text('What can we help you with?')")
    await customer.get_by_role("button", name="Lost or stolen card").click()
    await customer.wait_for_selector(
        ".bubble.bot:text('We are connecting you to our cards team right away.')"
    )

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
    await customer.wait_for_selector("text=The agent has left the chat")
    await customer.wait_for_selector(".bubble.bot:text('How satisfied were you with this chat?')")
    await customer.click("#options button[data-key='5']")
    await customer.wait_for_selector(".bubble.bot:text('Thank you for chatting with Demo Bank. Goodbye.')")
    await customer.wait_for_selector("text=The chat has ended")
    assert await customer.is_hidden("#rating")  # the flow's survey was the rating
    await screenshot(customer, "chat-customer.png", tmp_path)
    assert errors == []
    await customer.context.close()  # its chat socket closes now, so the server stops at once

    await app[LOG].flush()
    events = await app[LOG].read(limit=1000)
    chats = [(e.data["from"], e.data["text"]) for e in events if e.type == "contact.chat_message"]
    assert chats == [
        ("customer", "I lost my card at the station"),
        ("agent", "I have blocked it. A new one is on its way."),
    ]
    assert [(e.data["rating"], e.queue) for e in events if e.type == "ivr.survey"] == [(5, "cards")]
    assert [e.data["digits"] for e in events if e.type == "ivr.input"] == ["1"]  # the topic button
    assert {e.data.get("channel") for e in events if e.type == "contact.arrived"} == {"chat"}
