"""The desk by keyboard alone, as a screen reader user works it, in real Chromium against the
real server: Tab reaches Ready, the offer's Accept, the contact list and the contact's
controls; the contact list is a listbox moved with the arrow keys; Hold, Mute, End and the
wrap-up's Ready work with Enter; every control has a name a screen reader announces (read
from Chromium's accessibility tree), the state is a polite status that does not change
with its timer, and a new offer is announced once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_support import login
from playwright.async_api import expect

from callcenter.runtime.keys import CENTER

pytestmark = pytest.mark.browser

NOA = "+972501234567"  # the demo CRM's Noa Levi


async def focused_name(page: Any) -> str:
    """The accessible name of the focused element, as Chromium's accessibility tree has it."""
    here = page.locator("*:focus")
    if await here.count() == 0:
        return ""
    snap: str = await here.aria_snapshot()
    found = re.search(r'"((?:[^"\\]|\\.)*)"', snap.splitlines()[0])
    return found.group(1) if found else ""


async def tab_to(page: Any, name: str, limit: int = 40) -> list[str]:
    """Press Tab until the focused element is named ``name``; the names passed on the way."""
    seen = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        now = await focused_name(page)
        seen.append(now)
        if now == name:
            return seen
    raise AssertionError(f"Tab never reached {name!r}; it went through {seen}")


async def accept_by_keyboard(page: Any, server: Any, contact_id: str, channel: str, caller: str) -> None:
    queue = "general" if channel == "chat" else "cards"
    await server.app[CENTER].contact_arrived(
        contact_id=contact_id, channel=channel, queue=queue, caller=caller
    )
    await expect(page.get_by_role("region", name="Incoming contact")).to_be_visible()
    await expect(page.locator("#announce")).to_contain_text("Press A to accept")
    await tab_to(page, "Accept")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("region", name="Incoming contact")).to_be_hidden()


async def test_the_desk_works_by_keyboard_with_names_a_screen_reader_says(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1400, "height": 850})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(page, live_server, "/desk", "alice")
    await page.wait_for_selector("#conn:text('online')")

    # the top bar by Tab: each stop has a name
    seen = await tab_to(page, "Log out")
    for name in ("Ready", "Not-ready reason", "Not ready", "Keyboard shortcuts"):
        assert name in seen, seen
    pill = page.locator("#state-pill")
    assert (await pill.get_attribute("role"), await pill.get_attribute("aria-live")) == ("status", "polite")
    assert await page.locator("#state-time").get_attribute("role") == "timer"
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Shift+Tab")
    assert await focused_name(page) == "Not-ready reason"
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Enter")  # Ready
    await expect(pill).to_have_text("available")
    said = await pill.text_content()
    await page.wait_for_timeout(1200)  # the state's timer runs; what the status says does not
    assert await pill.text_content() == said

    # two chats, accepted from the keyboard
    await accept_by_keyboard(page, live_server, "kb-chat-1", "chat", "guest-1@example.com")
    await accept_by_keyboard(page, live_server, "kb-chat-2", "chat", "guest-2@example.com")
    listbox = page.get_by_role("listbox", name="Contacts")
    options = listbox.get_by_role("option")
    await expect(options).to_have_count(2)
    await expect(options.nth(0)).to_have_accessible_name("guest-1@example.com, chat, connected")
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")

    await tab_to(page, "guest-1@example.com, chat, connected")  # Tab reaches the list once
    await page.keyboard.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    assert await focused_name(page) == "guest-2@example.com, chat, connected"
    await expect(page.locator("#ws-title")).to_have_text("guest-2@example.com")
    await page.keyboard.press("Home")
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("End")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("Enter")  # to the contact's controls
    await tab_to(page, "End")
    await page.keyboard.press("Enter")  # the other chat is open: no wrap-up, straight to Today
    await expect(options).to_have_count(1)
    await expect(page.locator("#history")).to_contain_text("guest-2@example.com")

    # the last chat: End, then wrap-up's Ready, by Enter
    assert await focused_name(page) == "End"  # the focus stays on the same control
    await page.keyboard.press("Enter")
    await expect(pill).to_have_text("wrap up")
    await expect(options.nth(0)).to_have_accessible_name("guest-1@example.com, chat, wrap-up")
    await expect(page.get_by_role("button", name="End")).to_be_disabled()
    await expect(page.get_by_role("button", name="Transfer", exact=True)).to_be_disabled()
    left = page.get_by_role("timer", name="Wrap-up time left")
    await expect(left).to_have_text(re.compile(r"^0:[23]\d$"))  # counts down from 30 s
    assert await focused_name(page) == "Ready: Wrap-up"
    await page.keyboard.press("Enter")
    await expect(pill).to_have_text("available")
    await expect(page.locator("#history li")).to_have_count(2)

    # a call: Hold and Mute by Enter, their state announced by name and aria-pressed
    await accept_by_keyboard(page, live_server, "kb-call-1", "voice", NOA)
    hold = page.get_by_role("button", name="Hold")
    await expect(hold).to_be_enabled()
    await tab_to(page, "Hold")
    await page.keyboard.press("Enter")
    retrieve = page.get_by_role("button", name="Retrieve")
    await expect(retrieve).to_have_attribute("aria-pressed", "true")
    await expect(options.nth(0)).to_have_accessible_name(re.compile(r"^Noa Levi.*, call, on hold$"))
    await page.keyboard.press("Shift+Tab")
    assert await focused_name(page) == "Mute"
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")

    # every control on the page has a name (Chromium's accessibility tree)
    tree = await page.locator("body").aria_snapshot()
    unnamed = [
        line for line in tree.splitlines() if re.match(r"\s*- (button|combobox|textbox|option)\s*(:|$)", line)
    ]
    assert unnamed == [], tree
    # where a call can go is named in full (the queue, the colleague), not "queue" each time
    transfer = await page.get_by_role("combobox", name="Transfer to").aria_snapshot()
    assert '- option "queue cards"' in transfer, transfer
    assert errors == []
