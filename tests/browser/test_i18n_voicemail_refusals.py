"""The desk's voicemail panel and its refusals in the agent's own language, in real Chromium
against the real server: a Simplified Chinese agent is offered a voicemail, takes it, and
sees the panel (who left it, how long, Call back, and, its recording missing, the sentence
saying so) all in Chinese; ends it and, while the desk has not yet heard that the agent was
put Not ready elsewhere, presses Ready for the wrap-up: the server refuses
(``not_in_wrap_up``) and the toast says so in Chinese, not in the server's English. After
each step no English word is left on the page (tests/support/i18n_check.py).

The desk's socket goes through Playwright's WebSocket route, which passes every frame on
and, for the one step, holds back the server's news (not its answers) until the refusal is
shown: the desk is the one that has not heard yet, as a slow network would make it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from browser_support import login
from i18n_check import assert_translated, set_language
from playwright.async_api import expect

from callcenter.acd.messages import AgentNotReady, VoicemailLeft
from callcenter.i18n import catalogue
from callcenter.runtime.keys import CENTER

pytestmark = pytest.mark.browser
ZH = catalogue.catalogue("zh-CN")
NOA = "+972501234567"  # the demo CRM's Noa Levi
MESSAGE = VoicemailLeft(path="voicemail/zh-vm.wav", seconds=42.4, bytes=678_444, from_contact="zh-call")


class Relay:
    """The desk's WebSocket, passed through; ``hold`` keeps the server's events (not its
    ``ack`` and ``error`` answers) until ``release``."""

    def __init__(self) -> None:
        self.holding = False
        self.held: list[str | bytes] = []
        self.route: Any = None

    def attach(self, route: Any) -> None:
        self.route = route
        server = route.connect_to_server()
        route.on_message(server.send)
        server.on_message(self.from_server)

    def from_server(self, message: str | bytes) -> None:
        answer = isinstance(message, str) and json.loads(message).get("type") in ("ack", "error")
        if self.holding and not answer:
            self.held.append(message)
        else:
            self.route.send(message)

    def release(self) -> None:
        self.holding = False
        for message in self.held:
            self.route.send(message)
        self.held.clear()


async def test_a_chinese_agent_takes_a_voicemail_and_is_refused_in_chinese(
    browser: Any, live_server: Any
) -> None:
    server = live_server
    center = server.app[CENTER]
    await set_language(server.make_url("/"), "alice", "zh-CN")
    errors: list[str] = []
    context = await browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    desk = await context.new_page()
    desk.on("pageerror", lambda exc: errors.append(str(exc)))
    relay = Relay()
    await desk.route_web_socket(re.compile(r".*/ws/desk$"), relay.attach)
    try:
        await login(desk, server, "/desk", "alice")
        await desk.wait_for_selector("html[lang='zh-CN']", state="attached")
        await desk.wait_for_selector(f"#conn:text('{ZH['desk.conn.online']}')")
        await desk.get_by_role("button", name=ZH["desk.ready"], exact=True).click()
        await expect(desk.locator("#state-pill")).to_have_text(ZH["desk.state.available"])

        await center.contact_arrived(
            contact_id="zh-vm",
            channel="voicemail",
            queue="cards",
            caller=NOA,
            attributes={"voicemail_seconds": "42.4"},
            voicemail=MESSAGE,
        )
        await desk.wait_for_selector("#offer:not(.hidden)")
        await expect(desk.locator("#offer-channel")).to_have_text(ZH["desk.offer.channel.voicemail"])
        await assert_translated(desk, step="a voicemail is offered")

        await desk.get_by_role("button", name=ZH["desk.offer.accept"], exact=True).click()
        label = ZH["desk.voicemail.from_length"].replace("{caller}", NOA).replace("{length}", "0:42")
        panel = desk.get_by_role("region", name=label)
        await expect(panel).to_be_visible()
        await expect(desk.locator("#ws-status")).to_contain_text(ZH["desk.channel.voicemail"])
        call_back = panel.get_by_role("button", name=ZH["desk.voicemail.call_back"], exact=True)
        await expect(call_back).to_be_enabled()
        await expect(call_back).to_have_attribute(
            "title", ZH["desk.voicemail.call_back_title"].replace("{caller}", NOA)
        )
        # the message's file is not there: the panel says so, in Chinese
        await expect(panel.get_by_role("status")).to_have_text(ZH["desk.voicemail.cannot_play"])
        await assert_translated(desk, step="the voicemail panel")

        await desk.get_by_role("button", name=ZH["desk.end"], exact=True).click()
        await desk.wait_for_selector("#state-pill.WRAP_UP")
        await assert_translated(desk, step="the voicemail's wrap-up")

        relay.holding = True  # the desk does not hear that the agent is put Not ready
        await center.submit(AgentNotReady(agent_id="alice", reason="break"))
        await desk.get_by_role("button", name=ZH["desk.wrap_ready_label"]).click()
        toast = desk.locator("#toast.show.error")
        await expect(toast).to_have_text(ZH["desk.error.not_in_wrap_up"])
        assert center.engine.agents["alice"].state.value == "NOT_READY"  # the refusal changed nothing
        await assert_translated(desk, step="a refused Ready in wrap-up")
        relay.release()
        await expect(desk.locator("#state-pill")).to_contain_text(ZH["desk.state.not_ready"])
        await assert_translated(desk, step="not ready, heard at last")
    finally:
        await context.close()
    assert errors == []


async def test_the_panel_speaks_english_on_a_page_without_a_language(browser: Any, live_server: Any) -> None:
    """Built on a page that has loaded no catalogue (a bare document of the server), the
    panel says its words in English, the caller's number marked as the caller's data."""
    page = await browser.new_page()
    await page.goto(str(live_server.make_url("/static/i18n/i18n.js")))  # same origin, no setup
    await page.evaluate(
        """async () => {
             const { voicemailPanel } = await import("/static/desk/voicemail.js");
             const contact = { contact_id: "vm-en", status: "connected", channel: "voicemail",
                               caller: "+972501234567", seconds: 61 };
             document.body.replaceChildren(voicemailPanel(contact, async () => null));
           }"""
    )
    panel = page.get_by_role("region", name="Voicemail from +972501234567, 1:01")
    await expect(panel).to_be_visible()
    assert await panel.locator("h2 bdi[data-user-content]").all_text_contents() == ["+972501234567", "1:01"]
    call_back = panel.get_by_role("button", name="Call back", exact=True)
    await expect(call_back).to_have_attribute("title", "Call +972501234567 back")
    await expect(panel.get_by_role("status")).to_have_text(
        "The message cannot be played (the recording is missing or unreadable)."
    )
    await page.close()
