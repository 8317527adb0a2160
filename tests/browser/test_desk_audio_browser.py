"""Voice in the agent's browser, in real Chromium against the real server: a caller rings
the bank line over the media-stream WebSocket (the Twilio Media Streams front-end), keys
through the IVR into the cards queue, the offer rings on Alice's desk, she accepts, and
audio flows both ways over WebRTC: the caller's 1 kHz tone reaches the desk's speaker, the
desk microphone's 600 Hz tone (Chromium's fake capture from a WAV made here) reaches the
caller. Hold gives the caller music instead of the agent; note, disposition, end, wrap-up
and ready follow, and the interaction log shows it all."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import shutil
import socket
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import ClientSession, ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestServer
from browser_support import login, screenshot
from demo_center import demo_config, media_stream_path
from msgspec.structs import replace

from callcenter.app import create_app
from callcenter.appkeys import BUS, LOG
from callcenter.runtime.keys import CENTER
from callcenter.speech import codecs

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
CALLER = "+972501234567"  # Noa Levi in the demo CRM: tier top, an open complaint
NOA = "cus-demo-0001"
NOTE = "Card lost on the train; blocked and reissued"
BANK = "+15550100"
CALLER_TONE, AGENT_TONE = 1000.0, 600.0
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tone_wav(path: Path, freq: float, seconds: float = 10.0, rate: int = 48000) -> Path:
    n = int(rate * seconds)
    samples = struct.pack(f"<{n}h", *(int(9000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples)
    return path


def tone_share(pcm: bytes, freq: float) -> float:
    """The share of a frame's power at ``freq`` (one DFT bin, as Goertzel), 0..1; 0 for
    near silence (below -50 dBFS)."""
    if codecs.rms_dbfs(pcm) < -50:
        return 0.0
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    return codecs.tone_power(pcm, 8000, freq) / float(np.mean(x * x))


@pytest.fixture
async def voice_server(tmp_path: Path) -> AsyncIterator[TestServer]:
    """The demo center, open all hours, with telephony on loopback ports."""
    config = demo_config(
        f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", telephony={"enabled": True, "agent_leg_wait_s": 5.0}
    )
    config = replace(config, speech=replace(config.speech, cache_dir=str(tmp_path / "prompts")))
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def audio_browser(tmp_path: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is not installed: run `bash scripts/test.sh` (it installs it)")
    wav = tone_wav(tmp_path / "agent-voice.wav", AGENT_TONE)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=path,
            headless=True,
            args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={wav}"],
        )
        yield browser
        await browser.close()


class Caller:
    """A phone call over the media-stream WebSocket: keys digits, speaks a tone, keeps
    what it hears (8 kHz PCM frames)."""

    def __init__(self, session: ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.heard: list[bytes] = []
        self.ws: ClientWebSocketResponse | None = None
        self.speaking = False
        self._tasks: list[asyncio.Task[None]] = []

    async def dial(self) -> None:
        self.ws = ws = await self.session.ws_connect(self.url)
        await ws.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await ws.send_json(
            {
                "event": "start",
                "streamSid": "MZ1",
                "start": {
                    "streamSid": "MZ1",
                    "callSid": "CA-desk-audio",
                    "tracks": ["inbound"],
                    "customParameters": {"From": CALLER, "To": BANK},
                },
            }
        )
        self._tasks = [asyncio.ensure_future(self._speak(ws)), asyncio.ensure_future(self._listen(ws))]

    async def key(self, digit: str) -> None:
        assert self.ws is not None
        await self.ws.send_json({"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": digit}})

    async def _speak(self, ws: ClientWebSocketResponse) -> None:
        voice = codecs.sine(CALLER_TONE, 20, amplitude=0.25)
        silence = bytes(320)
        loop = asyncio.get_running_loop()
        start, n = loop.time(), 0
        with contextlib.suppress(ConnectionError):
            while not ws.closed:
                pcm = voice if self.speaking else silence
                payload = base64.b64encode(codecs.ulaw_encode(pcm)).decode()
                await ws.send_str(
                    json.dumps(
                        {
                            "event": "media",
                            "streamSid": "MZ1",
                            "media": {"track": "inbound", "payload": payload},
                        }
                    )
                )
                n += 1
                await asyncio.sleep(max(0.0, start + n * 0.02 - loop.time()))

    async def _listen(self, ws: ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if data.get("event") == "media":
                self.heard.append(codecs.ulaw_decode(base64.b64decode(data["media"]["payload"])))

    def agent_frames(self, since: int = 0) -> int:
        return sum(1 for pcm in self.heard[since:] if tone_share(pcm, AGENT_TONE) > 0.5)

    async def hang_up(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.send_json({"event": "stop", "streamSid": "MZ1"})
            await self.ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def until(check: Any, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def keys_through_ivr(server: TestServer, caller: Caller) -> None:
    """English (1), then at the main menu a lost card (3): the cards queue, Alice's skill."""
    nodes = server.app[BUS].subscribe("ivr.node")
    try:
        async with asyncio.timeout(60):
            async for message in nodes:
                node = message.payload["data"]["node"]
                if node == "language":
                    await caller.key("1")
                elif node == "main_menu":
                    await caller.key("3")
                elif node == "lost_card":
                    return
    finally:
        nodes.close()


async def caller_heard(page: Any, freq: float) -> None:
    await page.wait_for_function(f"window.deskAudio.measure('caller', {freq}).tone > 0.5", timeout=15000)


async def test_an_agent_talks_with_a_caller_in_the_browser(
    audio_browser: Any, voice_server: Any, tmp_path: Path
) -> None:
    server = voice_server
    app = server.app
    errors: list[str] = []
    page = await audio_browser.new_page(viewport={"width": 1400, "height": 850})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(page, server, "/desk", "alice")
    await page.wait_for_selector("#audio-state:text('audio · connected')", timeout=15000)
    await page.click("#btn-ready")
    await page.wait_for_selector("#state-pill.AVAILABLE")

    session = ClientSession()
    caller = Caller(session, str(server.make_url(media_stream_path())).replace("http", "ws", 1))
    try:
        await caller.dial()
        await keys_through_ivr(server, caller)
        await page.wait_for_selector("#offer:not(.hidden)", timeout=20000)
        # the offer rings with who is calling: the CRM's customer, tier and open ticket
        await page.wait_for_selector("#offer-who:has-text('Noa Levi')")
        assert "top" in (await page.text_content("#offer-queue") or "")
        await page.wait_for_selector("#card:has-text('Card payment declined twice')")
        await page.keyboard.press("a")
        await page.wait_for_selector("#state-pill.ON_CONTACT")
        await page.wait_for_selector("#offer", state="hidden")  # answered: no longer ringing
        contact_id = next(iter(app[CENTER].engine.agents["alice"].contacts))

        # caller -> agent: the caller's tone reaches the desk's speaker
        caller.speaking = True
        await caller_heard(page, CALLER_TONE)
        # agent -> caller: the desk microphone's tone reaches the caller
        mark = len(caller.heard)
        await until(lambda: caller.agent_frames(mark) > 25)
        await screenshot(page, "desk-call.png", tmp_path)

        await page.click("button[title='Hold (H)']")
        await page.wait_for_selector("button[title='Hold (H)']:text('Retrieve')")
        held = len(caller.heard)
        await until(lambda: len(caller.heard) - held >= 75)  # half a second to drain, then one on hold
        assert caller.agent_frames(held + 25) <= 3  # not the agent, but music on hold:
        assert sum(1 for pcm in caller.heard[held:] if tone_share(pcm, 523.25) > 0.5) >= 10
        await page.click("button[title='Hold (H)']")
        mark = len(caller.heard)
        await until(lambda: caller.agent_frames(mark) > 25)  # talking again

        await page.click("button[title='Mute (M)']")
        await page.wait_for_selector("#audio-state:text('audio · muted')")
        muted = len(caller.heard)
        await until(lambda: len(caller.heard) - muted >= 75)
        assert caller.agent_frames(muted + 25) <= 3  # muted: the caller does not hear the agent
        await page.click("button[title='Mute (M)']")
        await page.wait_for_selector("#audio-state:text('audio · connected')")

        await page.fill("#note", NOTE)
        await page.click("text=Save note")
        await page.wait_for_selector("#toast:text('Note saved')")
        await page.select_option("#disposition", "resolved")
        await page.click("text=Set")
        await page.wait_for_selector("#toast:text('Disposition set')")
        await page.click("button[title='End (E)']")
        await page.wait_for_selector("#state-pill.WRAP_UP")
        await page.keyboard.press("r")
        await page.wait_for_selector("#state-pill.AVAILABLE")
        assert errors == []

        await app[LOG].flush()
        events = await app[LOG].read(contact_id=contact_id)
        kinds = [e.type for e in events]
        for kind in (
            "contact.offered",
            "contact.connected",
            "contact.bridged",
            "contact.held",
            "contact.muted",
            "contact.note",
            "contact.disposition",
            "contact.ended",
        ):
            assert kind in kinds, (kind, kinds)
        # the customer's CRM history shows the call, its disposition and the note
        reply = await page.request.get(str(server.make_url(f"/api/v1/customers/{NOA}/contacts")))
        assert reply.ok, await reply.text()
        history = await reply.json()
        rows = history["contacts"] if isinstance(history, dict) else history
        row = next(r for r in rows if r["contact_id"] == contact_id)
        assert row["disposition"] == "resolved" and row["agent_id"] == "alice"
        assert [n["text"] for n in row["notes"]] == [NOTE]
    finally:
        await caller.hang_up()
        await session.close()
