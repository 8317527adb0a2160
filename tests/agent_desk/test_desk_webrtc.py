"""The agent's WebRTC leg against a second, real aiortc peer standing in for the browser:
a tone the "browser" sends comes out of the leg as 8 kHz frames, a tone played on the leg
reaches the "browser"; mute gives silence; a call's leg ends without the connection; the
desk going away ends a leg in use; bad offers are refused naming the field."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from demo_center import demo_config
from desk_socket import Desk
from msgspec.structs import replace
from tone_track import ToneTrack

from callcenter.agent_desk.routes import AUDIO
from callcenter.app import create_app
from callcenter.runtime.voice.keys import AGENT_LEGS
from callcenter.speech.codecs import rms_dbfs, sine, tone_power
from callcenter.telephony.media import AudioFrame, CallChannel, HungUp
from callcenter.telephony.webrtc import AudioError, DeskAudio

RATE = 8000
ROOT = Path(__file__).resolve().parents[2]


class Browser:
    """A real aiortc peer that offers like the desk page does."""

    def __init__(self, freq: float) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(ToneTrack(freq))
        self.track: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
        self.connected = asyncio.Event()
        self._reader: asyncio.Future[None] | None = None
        self._heard = bytearray()
        self._enough: tuple[int, asyncio.Future[bytes]] = (0, asyncio.get_running_loop().create_future())

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            if not self.track.done():
                self.track.set_result(track)

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected":
                self.connected.set()

    async def call(self, audio: DeskAudio, agent: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await audio.offer(agent, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.wait_for(self.connected.wait(), 10)
        assert await audio.wait_connected(agent, 10)

    async def hear(self, seconds: float) -> bytes:
        """The next ``seconds`` of what the browser's speaker gets (8 kHz mono)."""
        track = await asyncio.wait_for(self.track, 5)
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read(track))
        self._heard.clear()
        self._enough = (int(seconds * RATE * 2), asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(self._enough[1], seconds + 5)

    async def _read(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.AudioFrame)
            for f in resampler.resample(frame):
                self._heard += bytes(f.planes[0])[: f.samples * 2]
            size, done = self._enough
            if len(self._heard) >= size and not done.done():
                done.set_result(bytes(self._heard[:size]))

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


@pytest.fixture
def legs() -> Legs:
    return Legs()


@pytest.fixture
async def audio(legs: Legs) -> AsyncIterator[DeskAudio]:
    desk_audio = DeskAudio(legs=legs)
    yield desk_audio
    await desk_audio.close()


class Legs:
    """A recording agent-leg registry (the port ``DeskAudio`` registers its legs with)."""

    def __init__(self) -> None:
        self.legs: dict[str, CallChannel] = {}
        self.history: list[tuple[str, str]] = []
        self._listeners: list[Callable[[str, bool], None]] = []

    def register(self, agent_id: str, leg: CallChannel, *, desk: bool = False) -> None:
        self.legs[agent_id] = leg
        self.history.append(("register" if desk else "register_phone", agent_id))

    def unregister(self, agent_id: str, leg: CallChannel | None = None) -> None:
        if leg is None or self.legs.get(agent_id) is leg:
            del self.legs[agent_id]
            self.history.append(("unregister", agent_id))

    def desk_gone(self, agent_id: str) -> None:
        self.history.append(("desk_gone", agent_id))

    def on_change(self, listener: Callable[[str, bool], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def get(self, agent_id: str) -> CallChannel | None:
        return self.legs.get(agent_id)

    def use(self, agent_id: str, in_use: bool) -> CallChannel:
        for listener in self._listeners:
            listener(agent_id, in_use)
        return self.legs[agent_id]


async def agent_says(leg_events: AsyncIterator[object], frames: int) -> bytes:
    pcm = bytearray()
    async for event in leg_events:
        if isinstance(event, AudioFrame):
            assert len(event.pcm) == 320
            pcm += event.pcm
            if len(pcm) >= frames * 320:
                break
    return bytes(pcm)


async def test_audio_flows_both_ways_between_the_leg_and_the_browser(audio: DeskAudio, legs: Legs) -> None:
    browser = Browser(freq=440)
    try:
        await browser.call(audio, "alice")
        assert legs.history == [("register", "alice")]
        leg = legs.use("alice", True)
        assert leg is audio.leg("alice")
        events = leg.events()
        await agent_says(events, 25)  # let the Opus round trip settle
        assert audio.connected("alice")
        heard_from_agent = await asyncio.wait_for(agent_says(events, 50), 5)
        assert tone_power(heard_from_agent, RATE, 440) > 0.005  # 0.3 amplitude: about 0.045
        assert tone_power(heard_from_agent, RATE, 440) > 10 * tone_power(heard_from_agent, RATE, 1000)

        await browser.hear(0.3)
        playing = asyncio.ensure_future(leg.play(sine(1000, 3000, amplitude=0.3)))
        assert rms_dbfs(await browser.hear(0.1)) < -60  # before our tone: silence, not old audio
        await browser.hear(0.3)
        heard_by_agent = await browser.hear(1.0)
        assert tone_power(heard_by_agent, RATE, 1000) > 0.005  # 0.3 amplitude: about 0.045
        assert tone_power(heard_by_agent, RATE, 1000) > 10 * tone_power(heard_by_agent, RATE, 440)
        leg.clear()
        assert await playing is False
    finally:
        await browser.close()


async def test_mute_gives_the_caller_silence(audio: DeskAudio, legs: Legs) -> None:
    browser = Browser(freq=440)
    try:
        await browser.call(audio, "alice")
        leg = legs.use("alice", True)
        audio.set_muted("alice", True)
        events = leg.events()
        assert rms_dbfs(await asyncio.wait_for(agent_says(events, 25), 5)) == float("-inf")
        audio.set_muted("alice", False)
        await agent_says(events, 10)
        assert tone_power(await asyncio.wait_for(agent_says(events, 25), 5), RATE, 440) > 0.005
    finally:
        await browser.close()


async def test_the_leg_outlives_calls_and_ends_when_the_desk_goes(audio: DeskAudio, legs: Legs) -> None:
    browser = Browser(freq=440)
    try:
        await browser.call(audio, "alice")
        leg = legs.use("alice", True)
        first_call = leg.events()
        await asyncio.wait_for(agent_says(first_call, 10), 5)
        legs.use("alice", False)  # the call ended: the leg and the connection stay
        frames = audio.stats("alice")["frames_in"]
        while audio.stats("alice")["frames_in"] < frames + 25:  # half a second between calls
            await browser.hear(0.1)
        assert audio.connected("alice") and not leg.ended
        legs.use("alice", True)
        second_call = leg.events()
        first = await asyncio.wait_for(second_call.__anext__(), 1)  # fresh audio, not a backlog
        assert isinstance(first, AudioFrame)
        assert tone_power(await asyncio.wait_for(agent_says(second_call, 50), 5), RATE, 440) > 0.005

        assert await audio.close_agent("alice")
        rest = [e async for e in second_call if not isinstance(e, AudioFrame)]
        assert rest == [HungUp(reason="agent_gone")]
        assert audio.leg("alice") is None and not audio.connected("alice")
        assert legs.history == [("register", "alice"), ("unregister", "alice")]
    finally:
        await browser.close()


async def test_hanging_up_the_leg_closes_the_desk_audio(audio: DeskAudio, legs: Legs) -> None:
    browser = Browser(freq=440)
    try:
        await browser.call(audio, "alice")
        leg = legs.use("alice", True)
        await leg.hangup()
        assert leg.ended and audio.leg("alice") is None and legs.get("alice") is None
    finally:
        await browser.close()


async def test_no_leg_without_a_desk_connection_and_bad_offers_are_refused(audio: DeskAudio) -> None:
    assert audio.leg("bob") is None
    for sdp, words in (
        ("hello", "v=0"),
        ("v=0\r\ns=-\r\n", "no audio"),
        ("v=0\r\n" + "a" * 40_000, "longer"),
    ):
        with pytest.raises(AudioError) as refused:
            await audio.offer("bob", sdp)
        assert refused.value.field == "sdp" and words in str(refused.value)
    with pytest.raises(AudioError) as refused:
        await audio.offer(
            "bob", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        )
    assert refused.value.field == "sdp"
    assert audio.leg("bob") is None
    with pytest.raises(AudioError) as refused:
        await audio.add_ice("bob", "candidate:1 1 udp 1 192.0.2.2 5000 typ host", "0", 0)
    assert refused.value.code == "no_audio"


# Signalling over the real desk WebSocket ------------------------------------------------------


@pytest.fixture
async def app_client(aiohttp_client, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    config = replace(config, desk=replace(config.desk, reconnect_grace_s=0.2))
    return await aiohttp_client(create_app(config))


async def open_desk(client: Any, user: str) -> Desk:
    return await Desk.open(client.make_url("/"), user)


async def test_the_desk_negotiates_its_audio_over_the_desk_socket(app_client) -> None:  # type: ignore[no-untyped-def]
    audio = app_client.server.app[AUDIO]
    desk = await open_desk(app_client, "alice")
    assert desk.welcome["audio"] == {"webrtc": True, "ice_servers": [], "connected": False}
    assert desk.welcome["revision"] == "1.1"
    browser = Browser(freq=440)
    try:
        bad = await desk.ask("webrtc_offer", sdp="v=0\r\ns=-\r\n")
        assert (bad["type"], bad["code"], bad["field"]) == ("error", "bad_field", "sdp")
        late = await desk.ask("webrtc_ice", candidate="candidate:1 1 udp 1 192.0.2.2 9 typ host", sdp_mid="0")
        assert late["code"] == "no_audio"
        await browser.pc.setLocalDescription(await browser.pc.createOffer())
        reply = await desk.ask("webrtc_offer", sdp=browser.pc.localDescription.sdp)
        assert reply["type"] == "ack" and reply["answer"]["type"] == "answer"
        await browser.pc.setRemoteDescription(RTCSessionDescription(**reply["answer"]))
        assert await audio.wait_connected("alice", 10)
        wrong = await desk.ask("webrtc_ice", candidate="candidate:nonsense", sdp_mid="0")
        assert (wrong["code"], wrong["field"]) == ("bad_field", "candidate")
        assert (await desk.ask("webrtc_ice", candidate=None))["type"] == "ack"

        legs = app_client.server.app[AGENT_LEGS]
        leg = await legs.claim("alice", 5)  # as the voice runtime does when a call connects
        assert leg is not None and leg is audio.leg("alice")
        events = leg.events()
        await agent_says(events, 10)
        assert tone_power(await asyncio.wait_for(agent_says(events, 25), 5), RATE, 440) > 0.005
        assert (await desk.ask("webrtc_close"))["type"] == "ack"
        assert [e async for e in events if not isinstance(e, AudioFrame)] == [HungUp(reason="desk_closed")]
        assert legs.get("alice") is None
        assert {"type": "webrtc_state", "state": "closed"} in desk.backlog
    finally:
        await browser.close()
        await desk.close()


async def test_a_desk_that_does_not_come_back_takes_its_audio_with_it(app_client) -> None:  # type: ignore[no-untyped-def]
    audio = app_client.server.app[AUDIO]
    desk = await open_desk(app_client, "alice")
    browser = Browser(freq=440)
    try:
        await browser.pc.setLocalDescription(await browser.pc.createOffer())
        reply = await desk.ask("webrtc_offer", sdp=browser.pc.localDescription.sdp)
        await browser.pc.setRemoteDescription(RTCSessionDescription(**reply["answer"]))
        assert await audio.wait_connected("alice", 10)
        leg = audio.leg("alice")
        assert leg is not None
        await desk.ws.close()
        ended = [e async for e in leg.events() if isinstance(e, HungUp)]
        assert ended == [HungUp(reason="agent_gone")] and not audio.connected("alice")
    finally:
        await browser.close()
        await desk.close()


async def test_a_reloaded_page_replaces_the_connection_without_a_closed_notice(legs: Legs) -> None:
    states: list[tuple[str, str]] = []
    audio = DeskAudio(legs=legs, on_state=lambda agent, state: states.append((agent, state)))
    first, second = Browser(freq=440), Browser(freq=440)
    try:
        await first.call(audio, "alice")
        old = audio.leg("alice")
        await second.call(audio, "alice")  # the page was reloaded: a new offer
        assert old is not None and old.ended and audio.leg("alice") is not old
        assert ("alice", "closed") not in states  # the desk is not told to start over
        assert legs.get("alice") is audio.leg("alice")
        await audio.close_agent("alice", "desk_closed")
        assert states[-1] == ("alice", "closed") and legs.get("alice") is None
    finally:
        await first.close()
        await second.close()
        await audio.close()


async def test_shutting_down_waits_for_a_close_under_way_and_refuses_new_offers(legs: Legs) -> None:
    audio = DeskAudio(legs=legs)
    browser = Browser(freq=440)
    try:
        await browser.call(audio, "alice")
        pc = audio._peers["alice"].pc  # the test looks at the connection itself
        leaving = asyncio.ensure_future(audio.close_agent("alice"))  # the desk just left
        await asyncio.sleep(0)
        await audio.close()  # the server stops meanwhile
        assert pc.connectionState == "closed" and pc.iceConnectionState == "closed"
        assert await leaving
        with pytest.raises(AudioError) as refused:
            await audio.offer("bob", browser.pc.localDescription.sdp)
        assert refused.value.code == "no_audio"
    finally:
        await browser.close()


async def test_a_close_whose_caller_is_cancelled_still_releases_the_connection(legs: Legs) -> None:
    audio = DeskAudio(legs=legs)
    browser = Browser(freq=440)
    try:
        await browser.call(audio, "alice")
        pc = audio._peers["alice"].pc  # the test looks at the connection itself
        request = asyncio.ensure_future(audio.close_agent("alice", "desk_closed"))
        await asyncio.sleep(0)
        request.cancel()  # the desk's socket handler, cancelled as the server stops
        await asyncio.gather(request, return_exceptions=True)
        await audio.close()
        assert pc.connectionState == "closed" and pc.iceConnectionState == "closed"
    finally:
        await browser.close()
