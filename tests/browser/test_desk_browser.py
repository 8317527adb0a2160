"""The agent desk in real Chromium against the real server: log in, go ready, an offer rings
with the caller, the customer's card (name, tier, open ticket) and a countdown, accept (the
card stays), note, disposition, end, wrap-up, ready; the interaction log shows it all. A
screenshot of the desk is kept in docs/img."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from browser_support import login, screenshot

from callcenter.appkeys import LOG
from callcenter.crm_link.caller_lookup import LiveCrm
from callcenter.crm_link.store import SqlCrmStore
from callcenter.crm_link.web import CRM_STORE
from callcenter.ports.customer_card import CustomerCard, LookupBy
from callcenter.runtime.keys import CENTER

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


async def test_an_agent_works_a_call_in_the_browser(browser, live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = live_server
    app = server.app
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1400, "height": 850})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/desk")))
    assert "/login" in page.url
    await page.fill("input[name=username]", "alice")
    await page.fill("input[name=password]", "alice")
    await page.click("button")
    await page.wait_for_url("**/desk")
    await page.wait_for_selector("#conn:text('online')")
    assert await page.text_content("#agent-name") == "Alice Cohen"
    await page.click("#btn-ready")
    await page.wait_for_selector("#state-pill.AVAILABLE")

    await app[CENTER].contact_arrived(
        contact_id="c-web-1", channel="voice", queue="cards", caller="+972501234567"
    )
    await page.wait_for_selector("#offer:not(.hidden)")
    who = await page.text_content("#offer-who")
    assert who is not None and "+972501234567" in who and "Noa Levi" in who  # the demo's customer
    assert "top" in (await page.text_content("#offer-queue") or "")
    await page.wait_for_selector("#card:not(.hidden)")
    assert await page.text_content("#card .pop-name") == "Noa Levi"
    assert await page.text_content("#card .pop-tier") == "top"
    assert "Card payment declined twice" in (await page.text_content("#card .pop-tickets") or "")
    countdown = await page.text_content("#offer-countdown")
    assert countdown is not None and countdown.startswith("0:1")  # shown with the card: 15 s to answer
    await screenshot(page, "desk-offer.png", tmp_path)
    await page.keyboard.press("a")  # the accept shortcut
    await page.wait_for_selector("#state-pill.ON_CONTACT")
    assert await page.text_content("#card .pop-name") == "Noa Levi"  # the card stays with the contact
    await page.fill("#note", "Customer lost the card on the train")
    await page.click("text=Save note")
    await page.select_option("#disposition", "resolved")
    await page.click("text=Set")
    await page.click("button[title='End (E)']")
    await page.wait_for_selector("#state-pill.WRAP_UP")
    await page.keyboard.press("r")  # ready: ends wrap-up early
    await page.wait_for_selector("#state-pill.AVAILABLE")
    assert errors == []

    await app[LOG].flush()
    events = await app[LOG].read(contact_id="c-web-1")
    kinds = [e.type for e in events]
    for kind in (
        "contact.offered",
        "contact.connected",
        "contact.note",
        "contact.disposition",
        "contact.ended",
    ):
        assert kind in kinds, kinds
    note = next(e for e in events if e.type == "contact.note")
    assert note.data["text"] == "Customer lost the card on the train" and note.agent_id == "alice"


class GatedCrm:
    """The demo's own store, answering only once ``release`` is set: a CRM slower than the
    200 ms budget."""

    def __init__(self, store: SqlCrmStore) -> None:
        self.store, self.release = store, asyncio.Event()

    async def lookup(self, by: LookupBy, value: str) -> CustomerCard | None:
        await self.release.wait()
        return await self.store.lookup(by, value)


async def test_a_slow_crm_rings_an_unidentified_caller_whose_card_fills_in(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    app = live_server.app
    crm = app[CENTER].crm
    assert isinstance(crm, LiveCrm)
    gate = crm.directory = GatedCrm(app[CRM_STORE])
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1400, "height": 850})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(page, live_server, "/desk", "alice")
    await page.wait_for_selector("#conn:text('online')")
    await page.click("#btn-ready")
    await page.wait_for_selector("#state-pill.AVAILABLE")

    await app[CENTER].contact_arrived(
        contact_id="c-web-slow", channel="voice", queue="cards", caller="+972501234567"
    )  # queued at the budget, unidentified
    await page.wait_for_selector("#offer:not(.hidden)")
    assert await page.text_content("#offer-who") == "+972501234567"
    assert await page.text_content("#card .pop-name") == "Unidentified caller"
    assert "Looking up the caller" in (await page.text_content("#card") or "")
    gate.release.set()  # the CRM answers: the ringing offer's card fills in
    await page.wait_for_selector("#card .pop-name:text('Noa Levi')")
    assert "Noa Levi" in (await page.text_content("#offer-who") or "")
    assert "Card payment declined twice" in (await page.text_content("#card .pop-tickets") or "")
    assert errors == []
