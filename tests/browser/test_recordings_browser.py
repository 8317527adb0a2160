"""Recordings in real Chromium. A supervisor finds a call in the reports, opens its timeline
and plays its recording: the <audio> element reads the WAV's length, seeks (HTTP ranges)
without an error, and the download link gives the file; a recording whose file is gone says
so. An agent's customer card plays the agent's own earlier call and says plainly why
another agent's does not play."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer
from browser_support import login, screenshot
from demo_center import demo_config
from msgspec.structs import replace
from wav_files import write_wav

from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.core.events import InteractionEvent
from callcenter.runtime.keys import CENTER
from callcenter.storage.recording_files import facts

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]
ZONE = ZoneInfo("Asia/Jerusalem")
START = datetime(2026, 3, 2, 9, 0, tzinfo=ZONE).timestamp()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TestServer]:
    root = tmp_path / "recordings"
    config = demo_config(
        f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", telephony={"enabled": False, "recordings_dir": str(root)}
    )
    live = TestServer(create_app(config), host="127.0.0.1")
    await live.start_server()
    yield live
    await live.close()


def call(contact_id: str, start: float, data: dict[str, Any]) -> list[InteractionEvent]:
    def ev(kind: str, t: float, agent: str | None = None, **more: Any) -> InteractionEvent:
        return InteractionEvent(
            type=kind, at=start + t, contact_id=contact_id, queue="general", agent_id=agent, data=more
        )

    return [
        ev("contact.arrived", 0, caller="+97250000"),
        ev("contact.queued", 0),
        ev("contact.connected", 5, "alice"),
        ev("contact.wrap_up", 65, "alice", talk_s=60),
        ev("contact.ended", 65, reason="completed"),
        ev("contact.recording", 65, "alice", **data),
    ]


async def test_a_supervisor_plays_seeks_and_downloads_a_recording_from_a_contacts_timeline(
    browser: Any, server: TestServer, tmp_path: Path
) -> None:
    root = tmp_path / "recordings"
    wav = write_wav(root / "c-1.wav", 3.0)
    gone = {"path": "c-2.wav", "seconds": 4.0, "bytes": 64044}
    for event in [*call("c-1", START, facts(wav, root)), *call("c-2", START + 600, gone)]:
        server.app[LOG].append(event)
    await server.app[LOG].flush()
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    await login(page, server, "/reports", "sam")
    await page.wait_for_selector("form#query")
    await page.goto(str(server.make_url("/reports?from=2026-03-02&to=2026-03-02&interval=60")))
    link = page.get_by_role("link", name="c-1", exact=True)
    await link.wait_for(timeout=5000)
    await link.click()
    await page.wait_for_url("**/contacts/c-1")
    await page.get_by_role("cell", name="contact.recording").wait_for(timeout=5000)

    audio = page.get_by_label("Call recording of contact c-1", exact=True)
    await page.wait_for_function(
        "() => { const a = document.querySelector('audio'); return a && a.readyState >= 1 && a.duration > 0; }",
        timeout=10000,
    )
    assert await audio.evaluate("(a) => a.duration") == pytest.approx(3.0, abs=0.05)
    moved = await audio.evaluate(
        """(a) => new Promise((done) => {
             a.addEventListener('seeked', () => done({t: a.currentTime, error: a.error && a.error.code}), {once: true});
             a.currentTime = 2.25; })"""
    )
    assert moved["error"] is None and moved["t"] == pytest.approx(2.25, abs=0.05)
    await screenshot(page, "contact-timeline.png", tmp_path)

    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download Call recording of contact c-1").click()
    download = await info.value
    assert download.suggested_filename == "c-1-call.wav"
    assert Path(await download.path()).read_bytes() == wav.read_bytes()

    await page.goto(str(server.make_url("/contacts/c-2")))
    await page.get_by_role("status").filter(has_text="Recording no longer available").wait_for(timeout=5000)
    assert await page.locator("audio").count() == 0

    # The player a desk card shows: it learns from the server why <audio> could not play.
    said = await page.evaluate(
        """async () => { const { recordingPlayer } = await import('/static/common/player.js');
           const node = recordingPlayer({ url: '/api/v1/recordings/c-2/call', kind: 'call' }, 'gone');
           document.body.append(node);
           for (let i = 0; i < 100 && !node.querySelector('.rec-status').textContent; i++)
             await new Promise((r) => setTimeout(r, 50));
           return node.querySelector('.rec-status').textContent; }"""
    )
    assert said == "Recording no longer available (its file is missing)."
    await page.close()
    assert errors == []


async def test_the_desk_card_plays_the_agents_own_recording_and_says_why_not_for_anothers(
    browser: Any, server: TestServer, tmp_path: Path
) -> None:
    root = tmp_path / "recordings"
    own = write_wav(root / "c-own.wav", 2.0)
    other = write_wav(root / "c-other.wav", 2.0)
    for cid, agent, wav, at in (("c-own", "alice", own, START), ("c-other", "bob", other, START + 3600)):
        events = [replace(e, agent_id=agent) if e.agent_id else e for e in call(cid, at, facts(wav, root))]
        known = InteractionEvent(
            type="contact.identified", at=at, contact_id=cid, data={"customer_id": "cus-demo-0001"}
        )
        for event in [events[0], known, *events[1:]]:  # Noa Levi, the demo's customer
            server.app[LOG].append(event)
    await server.app[LOG].flush()
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(page, server, "/desk", "alice")
    await page.wait_for_selector("#conn:text('online')")
    await page.click("#btn-ready")
    await page.wait_for_selector("#state-pill.AVAILABLE")
    await server.app[CENTER].contact_arrived(
        contact_id="c-now", channel="voice", queue="cards", caller="+972501234567"
    )
    await page.wait_for_selector("#card .pop-history audio", timeout=10000)
    players = page.locator("#card .pop-history .rec-player")
    assert await players.count() == 2  # newest first: bob's, then alice's own

    async def play(index: int) -> None:
        await players.nth(index).locator("audio").evaluate("(a) => { a.play().catch(() => {}); }")

    await play(1)
    await page.wait_for_function(
        "() => { const a = document.querySelectorAll('#card .pop-history audio')[1];"
        " return a && a.duration > 0 && a.currentTime > 0; }",
        timeout=10000,
    )
    await play(0)
    refused = players.nth(0).get_by_role("status")
    await refused.filter(has_text="You may not play this recording.").wait_for(timeout=10000)
    await screenshot(page, "desk-card-recordings.png", tmp_path)
    await page.close()
    assert errors == []
