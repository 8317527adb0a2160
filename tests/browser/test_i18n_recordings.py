"""The recordings' pages in the supervisor's own language, in real Chromium against the real
server: a Simplified Chinese supervisor opens a day's report, finds the day's contacts listed
under it (when each arrived, its channel, how it ended, how many recordings) and opens one's
timeline (its summary, its recording, whose file is gone, and every event of the log): all
in Chinese, but for what the log holds of the center (ids, queues, agents, an event's
details) and the log's own names of its events, shown beside their words (marked English).
The browser prefers English: the language is the user's. The day is a fixed one of the log,
never today's."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_support import login
from i18n_check import assert_translated, set_language
from playwright.async_api import expect

from callcenter.appkeys import LOG
from callcenter.core.events import InteractionEvent
from callcenter.i18n import catalogue

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]
ZH = catalogue.catalogue("zh-CN")
START = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Jerusalem")).timestamp()
CONTACT = "20260302-0017"  # an id of digits: the check would let letters pass only as data


def a_call(contact_id: str, start: float) -> list[InteractionEvent]:
    def ev(kind: str, t: float, agent: str | None = None, **more: Any) -> InteractionEvent:
        return InteractionEvent(
            type=kind, at=start + t, contact_id=contact_id, queue="cards", agent_id=agent, data=more
        )

    return [
        ev("contact.arrived", 0, channel="voice", caller="+972501234567"),
        ev("contact.queued", 0, channel="voice"),
        ev("contact.offered", 2, "alice"),
        ev("contact.connected", 5, "alice", wait_s=5.0),
        ev("contact.note", 30, "alice", text="Card lost on the train", by="alice"),
        ev("contact.wrap_up", 65, "alice", talk_s=60),
        ev("contact.ended", 65, reason="completed"),
        ev("contact.recording", 65, "alice", path=f"{contact_id}.wav", seconds=60.0, bytes=960_044),
    ]


async def test_a_chinese_supervisor_reads_the_days_contacts_and_a_timeline(
    browser: Any, live_server: Any
) -> None:
    for event in a_call(CONTACT, START):
        live_server.app[LOG].append(event)
    await live_server.app[LOG].flush()
    await set_language(live_server.make_url("/"), "sam", "zh-CN")
    errors: list[str] = []
    context = await browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await login(page, live_server, "/reports", "sam")
        await page.wait_for_selector("form#query")
        await page.goto(str(live_server.make_url("/reports?from=2026-03-02&to=2026-03-02&interval=60")))
        await page.wait_for_selector("html[lang='zh-CN']", state="attached")
        link = page.get_by_role("link", name=CONTACT, exact=True)
        await link.wait_for(timeout=5000)
        panel = page.locator("#contacts-panel")
        await expect(panel.locator("h2")).to_have_text(ZH["recordings.contacts.heading"])
        await expect(panel.locator("thead th").nth(2)).to_have_text(ZH["recordings.contacts.col.channel"])
        row = panel.locator("tbody tr").first
        await expect(row).to_contain_text(ZH["recordings.channel.voice"])
        await expect(row).to_contain_text(ZH["recordings.end.completed"])
        await expect(row).to_contain_text("2026/3/2")  # the day as Chinese writes it
        await assert_translated(page, step="the report's contacts")

        await link.click()
        await page.wait_for_url(f"**/contacts/{CONTACT}")
        await page.get_by_role("cell", name="contact.recording").wait_for(timeout=5000)
        assert await page.title() == ZH["recordings.page_title"].replace("{contact_id}", CONTACT)
        await expect(page.locator("#title")).to_have_text(
            ZH["recordings.heading"].replace("{contact_id}", CONTACT)
        )
        await expect(page.locator("#summary")).to_contain_text(ZH["recordings.fact.end_reason"])
        await expect(page.locator("#summary")).to_contain_text(ZH["recordings.state.ended"])
        events = page.locator("#timeline tbody tr")
        await expect(events).to_have_count(8)
        await expect(events.nth(4)).to_contain_text(ZH["recordings.event.note"])
        await expect(events.nth(4)).to_contain_text("Card lost on the train")  # the agent's words, as written
        recording = page.locator("#recordings li").first
        await expect(recording).to_contain_text(ZH["recordings.kind.call"])
        await expect(recording.get_by_role("status")).not_to_have_text("", timeout=5000)  # its file is gone
        await assert_translated(page, step="the contact's timeline")
    finally:
        await context.close()
    assert errors == []
