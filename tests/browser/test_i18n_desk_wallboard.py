"""The desk and the wallboard in the user's own language, in real Chromium against the real
server: an agent whose language is Simplified Chinese works a call in the desk (ready, the
offer with the customer's card, accept, a note, a disposition, end, wrap-up, back to ready,
the call in "Today") while a supervisor whose language is Simplified Chinese watches it on
the wallboard, and after each step no English word is left on either page
(tests/support/i18n_check.py) while the timers still run. The language is the user's, not
the browser's: both browsers here prefer English. An English agent sees the desk as before.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_support import login
from i18n_check import assert_translated, page_language, set_language, untranslated
from playwright.async_api import expect

from callcenter.i18n import catalogue
from callcenter.runtime.keys import CENTER

pytestmark = pytest.mark.browser
ZH = catalogue.catalogue("zh-CN")
EN = catalogue.catalogue("en")
NOA = "+972501234567"  # the demo CRM's Noa Levi


async def english_browser(browser: Any, errors: list[str]) -> Any:
    context = await browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


async def seconds(page: Any, selector: str) -> int:
    """A timer's "m:ss" as seconds."""
    text = (await page.text_content(selector) or "").strip()
    found = re.fullmatch(r"(\d+):(\d\d)", text)
    assert found, f"{selector} shows {text!r}"
    return int(found.group(1)) * 60 + int(found.group(2))


async def wallboard_translated(board: Any, step: str) -> None:
    """The wallboard is all Chinese but for what names the center and its agents: the page's
    title holds the center's name, and the controls of an agent's row are labelled with the
    agent's id ("监听 alice"), which are the center's data as much as the names shown."""
    assert await page_language(board) == "zh-CN", step
    names: list[str] = await board.evaluate(
        "() => [window.board.center, ...window.board.agents.map((a) => a.agent_id)]"
    )
    left = await untranslated(board, allowed=("callcenter", *[n for n in names if n]))
    assert left == [], f"{step}: untranslated in zh-CN: {left}"


async def test_a_chinese_agent_works_a_call_and_a_chinese_supervisor_watches(
    browser: Any, live_server: Any
) -> None:
    server = live_server
    center = server.app[CENTER]
    await set_language(server.make_url("/"), "alice", "zh-CN")
    await set_language(server.make_url("/"), "sam", "zh-CN")
    errors: list[str] = []
    desk = await english_browser(browser, errors)
    board = await english_browser(browser, errors)
    try:
        await login(board, server, "/wallboard", "sam")
        await board.wait_for_selector("html[lang='zh-CN']", state="attached")
        await board.wait_for_selector(f"#conn:text('{ZH['wallboard.conn.live']}')")
        await board.wait_for_selector("article[data-queue='cards']")
        assert await board.title() == ZH["wallboard.page_title_center"].replace(
            "{center}", "Demo Bank support"
        )
        await wallboard_translated(board, "the wallboard")

        await login(desk, server, "/desk", "alice")
        await desk.wait_for_selector("html[lang='zh-CN']", state="attached")
        await desk.wait_for_selector(f"#conn:text('{ZH['desk.conn.online']}')")
        assert await desk.title() == ZH["desk.page_title"]
        await expect(desk.locator("#agent-name")).to_have_text("Alice Cohen")
        await assert_translated(desk, step="the desk, logged in")

        await desk.get_by_role("button", name=ZH["desk.ready"], exact=True).click()
        await expect(desk.locator("#state-pill")).to_have_text(ZH["desk.state.available"])
        await expect(desk.locator("#workspace")).to_have_text(ZH["desk.hint.available"])
        await assert_translated(desk, step="ready")
        row = board.locator("tr[data-agent='alice']")
        await expect(row.locator(".st")).to_have_text(ZH["wallboard.state.available"])
        await wallboard_translated(board, "the agent is ready")

        await center.contact_arrived(contact_id="zh-1", channel="voice", queue="cards", caller=NOA)
        await desk.wait_for_selector("#offer:not(.hidden)")
        await desk.wait_for_selector("#card .pop-name:text('Noa Levi')")
        await expect(desk.get_by_role("region", name=ZH["desk.offer.region"])).to_be_visible()
        await expect(desk.locator("#card")).to_contain_text(ZH["desk.pop.last_contacts"])
        ring = await seconds(desk, "#offer-countdown")
        await desk.wait_for_timeout(1300)
        assert 0 < await seconds(desk, "#offer-countdown") < ring  # the offer's countdown runs
        await assert_translated(desk, step="an offer rings, with the customer's card")

        await desk.get_by_role("button", name=ZH["desk.offer.accept"], exact=True).click()
        await desk.wait_for_selector("#state-pill.ON_CONTACT")
        await expect(desk.locator("#state-pill")).to_have_text(ZH["desk.state.on_contact"])
        await expect(desk.locator("#ws-status")).to_contain_text(ZH["desk.status.connected"])
        await desk.wait_for_timeout(1000)  # the server restates the state as the call connects
        on_call = await seconds(desk, "#state-time")
        await expect(desk.locator("#state-time")).not_to_have_text(f"0:{on_call:02d}", timeout=3000)
        assert await seconds(desk, "#state-time") == on_call + 1  # the time in this state runs
        await assert_translated(desk, step="on the call")
        await expect(row.locator(".st")).to_have_text(ZH["wallboard.state.on_contact"])
        await expect(row.locator("td.customer")).to_contain_text("Noa Levi")
        await wallboard_translated(board, "the agent is on the call")

        await desk.fill("#note", "客户的卡在火车上丢了")
        await desk.get_by_role("button", name=ZH["desk.save_note"]).click()
        await expect(desk.locator("#toast")).to_have_text(ZH["desk.note_saved"])
        await desk.select_option("#disposition", "resolved")
        await desk.get_by_role("button", name=ZH["desk.set_disposition_label"]).click()
        await expect(desk.locator("#toast")).to_have_text(ZH["desk.disposition_set"])
        await assert_translated(desk, step="a note and a disposition")

        await desk.get_by_role("button", name=ZH["desk.end"], exact=True).click()
        await desk.wait_for_selector("#state-pill.WRAP_UP")
        await expect(desk.locator("#state-pill")).to_have_text(ZH["desk.state.wrap_up"])
        left = desk.get_by_role("timer", name=ZH["desk.wrap_left"])
        await expect(left).to_have_text(re.compile(r"^0:[0-5]\d$"))
        wrap = await seconds(desk, "#wrap-left")
        await desk.wait_for_timeout(1300)
        assert await seconds(desk, "#wrap-left") < wrap  # the wrap-up counts down
        await assert_translated(desk, step="wrap-up")
        await expect(row.locator(".st")).to_have_text(ZH["wallboard.state.wrap_up"])
        await wallboard_translated(board, "the agent wraps up")

        await desk.get_by_role("button", name=ZH["desk.wrap_ready_label"]).click()
        await expect(desk.locator("#state-pill")).to_have_text(ZH["desk.state.available"])
        today = desk.locator("#history li")
        await expect(today).to_have_count(1)
        await expect(today).to_contain_text("Noa Levi")
        await expect(today).to_contain_text(ZH["desk.channel.voice"])
        await assert_translated(desk, step="back to ready, the call in Today")
        await expect(row.locator(".st")).to_have_text(ZH["wallboard.state.available"])
        await expect(row.locator("td").nth(4)).to_have_text("1")  # handled today
        await wallboard_translated(board, "the call is done")

        await desk.get_by_role("button", name=ZH["desk.ready"], exact=True).focus()
        await desk.keyboard.press("?")
        await expect(desk.get_by_role("dialog")).to_be_visible()
        await assert_translated(desk, step="the keyboard shortcuts")
    finally:
        await desk.context.close()
        await board.context.close()
    assert errors == []


async def test_an_english_agent_sees_the_desk_in_english(browser: Any, live_server: Any) -> None:
    """The same desk for a user whose language is English, in a browser that prefers
    Chinese: English throughout, word for word as the catalogue's English."""
    errors: list[str] = []
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await page.goto(str(live_server.make_url("/login?next=/desk")))
        await page.fill("input[name=username]", "bob")
        await page.fill("input[name=password]", "bob")
        await page.locator("form button").click()
        await page.wait_for_url("**/desk")
        await page.wait_for_selector("#conn:text('online')")
        assert await page_language(page) == "en"
        assert await page.title() == "Desk · callcenter"
        await page.click("#btn-ready")
        await expect(page.locator("#state-pill")).to_have_text("available")
        await expect(page.locator("#btn-ready")).to_have_attribute("title", "Ready (R)")
        await expect(page.locator("#workspace")).to_have_text(EN["desk.hint.available"])
        await expect(page.locator("#history")).to_have_text("Nothing finished yet today")
        assert len(await untranslated(page)) > 10  # English words: the check sees them
    finally:
        await context.close()
    assert errors == []


async def test_the_reports_and_staffing_pages_in_the_supervisors_chinese(
    browser: Any, live_server: Any
) -> None:
    """The reports and the staffing pages follow the supervisor's language too. Erlang C and
    Erlang A are the formulas' names, said as they are in Chinese texts on staffing. The
    list of the range's contacts under the report (here: none) is checked with the rest
    (test_i18n_recordings.py shows it with contacts, and their timeline)."""
    await set_language(live_server.make_url("/"), "sam", "zh-CN")
    errors: list[str] = []
    page = await english_browser(browser, errors)
    try:
        await login(page, live_server, "/reports", "sam")
        await page.wait_for_selector("html[lang='zh-CN']", state="attached")
        await page.wait_for_function("document.querySelectorAll('#rows tbody tr').length > 0", timeout=5000)
        await page.wait_for_selector("#contacts-panel")
        assert await page.title() == ZH["reports.page_title"]
        await expect(page.locator("#rows thead th").first).to_have_text(ZH["reports.col.start"])
        await expect(page.locator("#zone")).to_contain_text("时区")
        await expect(page.locator("#contacts-note")).to_have_text(ZH["recordings.contacts.none"])
        await assert_translated(page, step="the day's report")

        await page.goto(str(live_server.make_url("/staffing")))
        await page.wait_for_selector("html[lang='zh-CN']", state="attached")
        await page.wait_for_function("document.querySelectorAll('#rows tbody tr').length > 0", timeout=5000)
        await expect(page.locator("#about")).to_contain_text("的预测")
        left = await untranslated(page, allowed=("callcenter", "Erlang C", "Erlang A"))
        assert left == [], f"staffing: untranslated in zh-CN: {left}"
    finally:
        await page.context.close()
    assert errors == []
