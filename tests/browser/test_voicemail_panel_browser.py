"""The desk's voicemail panel (agent_desk/static/voicemail.js) in real Chromium, built as
the desk builds it for a connected voicemail contact: a region named after the caller and
the message's length, a player of the recording (controls, metadata only), a "Call back"
button. Playing the message sends ``listened`` once; one click on Call back sends
``call_back`` and cannot be clicked again; a recording that is gone is said plainly. The
desk requests go to a recording ``act`` (the desk's own sends them over its WebSocket)."""

from __future__ import annotations

import base64
import io
import wave
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def a_wav_url(seconds: float) -> str:
    """A silent 8 kHz WAV as a data: URL (a message the browser can play)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(int(seconds * 8000) * 2))
    return "data:audio/wav;base64," + base64.b64encode(out.getvalue()).decode()


MOUNT = """async ([contact]) => {
  const { voicemailPanel } = await import("/static/desk/voicemail.js");
  window.sent = [];
  const act = async (type, fields) => { window.sent.push({ type, ...fields }); return { type: "ack" }; };
  // beside the login page, not over it: its script may still touch its own elements
  document.body.append(voicemailPanel(contact, act));
}"""


async def test_the_panel_plays_the_message_and_calls_back_once(browser: Any, live_server: Any) -> None:
    errors: list[str] = []
    page = await browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(live_server.make_url("/login")))
    contact = {
        "contact_id": "vm-1",
        "status": "connected",
        "channel": "voicemail",
        "caller": "+972501234567",
        "seconds": 42.4,
        "recording_url": a_wav_url(0.5),
    }
    await page.evaluate(MOUNT, [contact])
    region = page.get_by_role("region", name="Voicemail from +972501234567, 0:42")
    await region.wait_for()
    player = region.locator("audio")
    assert await player.get_attribute("controls") is not None
    assert await player.get_attribute("preload") == "metadata"
    assert await player.get_attribute("aria-labelledby") == "vm-vm-1-label"
    await player.evaluate("(a) => a.play()")
    await page.wait_for_function("window.sent.length === 1")
    await player.evaluate("(a) => { a.currentTime = 0; return a.play(); }")  # played again: said once
    call_back = region.get_by_role("button", name="Call back")
    await call_back.click()
    await page.wait_for_function("window.sent.length === 2")
    assert await page.evaluate("window.sent") == [
        {"type": "voicemail", "contact_id": "vm-1", "action": "listened"},
        {"type": "voicemail", "contact_id": "vm-1", "action": "call_back"},
    ]
    assert await call_back.is_disabled()
    assert errors == []


async def test_a_message_whose_recording_is_gone_is_said_plainly(browser: Any, live_server: Any) -> None:
    page = await browser.new_page()
    await page.goto(str(live_server.make_url("/login")))
    contact = {"contact_id": "vm-2", "status": "connected", "channel": "voicemail", "caller": None}
    await page.evaluate(MOUNT, [contact])  # its URL is the recordings API's, with no such file
    region = page.get_by_role("region", name="Voicemail from an unknown caller")
    await region.get_by_role("status").filter(has_text="cannot be played").wait_for()
    assert await region.get_by_role("button", name="Call back").is_disabled()  # no number to call
    assert await page.evaluate("window.sent") == []
