"""Listen-in: a supervisor hears both sides of a live call and is never heard.

First the bridge on its own (channels whose far end is the test), then a real call through
the running center: the caller and the agent's phone over the media-stream WebSocket, the
caller keyed through the bank IVR into a queue, and the supervisor's browser a real aiortc
peer that signals over the listen API and talks into its microphone all along."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from demo_center import demo_config
from msgspec.structs import replace
from stream_phone import StreamPhone
from tone_track import ToneTrack

from callcenter.acd.messages import AgentLoggedIn, AgentReady, OfferAccepted
from callcenter.app import create_app
from callcenter.appkeys import BUS, LOG
from callcenter.config.sections import CenterConfig
from callcenter.runtime.keys import CENTER
from callcenter.runtime.voice.install import TELEPHONY
from callcenter.runtime.voice.keys import AGENT_LEGS
from callcenter.speech.codecs import rms_dbfs, sine, tone_power
from callcenter.supervisor.listen import LISTEN
from callcenter.telephony.bridge import Bridge
from callcenter.telephony.media import CallInfo, ChannelCore
from callcenter.telephony.pacer import MediaClock

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
RATE = 8000
CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 500.0, 1000.0, 2000.0


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (bounded) for a condition with no awaitable (the far end's media, the engine)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def at_node(sub: Any, node: str, timeout: float = 15.0) -> None:
    """Wait for the caller's IVR to enter ``node`` (``ivr.node`` on the bus)."""
    async with asyncio.timeout(timeout):
        async for message in sub:
            if (message.payload.get("data") or {}).get("node") == node:
                return


def tone(freq: float, seconds: float) -> bytes:
    return sine(freq, int(seconds * 1000), amplitude=0.25)


def share(pcm: bytes, freq: float) -> float:
    """How much of the audio's power is the ``freq`` tone (0..1; 0 for silence)."""
    level = rms_dbfs(pcm)
    return 0.0 if level == float("-inf") else tone_power(pcm, RATE, freq) / 10 ** (level / 10)


# The bridge on its own ------------------------------------------------------------------------


class Leg(ChannelCore):
    """A channel whose far end is the test: frames sent to it are kept in ``sent``."""

    def __init__(self, name: str, clock: MediaClock) -> None:
        super().__init__(CallInfo(call_id=name, caller=name, called="", front_end="test"), clock)
        self.sent: list[bytes] = []

    def _send_frame(self, pcm: bytes) -> None:
        self.sent.append(pcm)

    async def _send_hangup(self) -> None:
        pass


async def test_a_listener_hears_both_sides_mixed_and_nobody_hears_it() -> None:
    clock = MediaClock()
    caller, agent, supervisor = Leg("caller", clock), Leg("agent", clock), Leg("supervisor", clock)
    bridge = Bridge(caller, agent, clock=clock)
    ended: list[str] = []
    running = asyncio.ensure_future(bridge.run())
    bridge.add_listener(supervisor, on_end=lambda: ended.append("supervisor"))
    await talk(caller, agent, supervisor, frames=10)
    await until(lambda: len(supervisor.sent) >= 10)
    heard = b"".join(supervisor.sent)
    assert share(heard, CALLER_HZ) > 0.3 and share(heard, AGENT_HZ) > 0.3  # both, mixed
    await until(lambda: len(caller.sent) >= 10 and len(agent.sent) >= 10)
    assert all(share(f, SUPERVISOR_HZ) < 0.05 for f in caller.sent + agent.sent)
    assert share(b"".join(agent.sent), CALLER_HZ) > 0.9  # the call itself is untouched
    assert bridge.listeners == (supervisor,)

    before = len(supervisor.sent)
    await talk(None, agent, None, frames=8)  # the caller is silent (muted, a quiet line)
    await until(lambda: len(supervisor.sent) >= before + 5)  # the agent still reaches the listener
    assert share(b"".join(supervisor.sent[before:]), AGENT_HZ) > 0.9
    assert bridge.remove_listener(supervisor) and not bridge.remove_listener(supervisor)
    before, to_agent = len(supervisor.sent), len(agent.sent)
    await talk(caller, agent, None, frames=5)
    await until(lambda: len(agent.sent) >= to_agent + 5)
    await asyncio.sleep(0.05)  # give a wrongly kept listener the time to receive a frame
    assert len(supervisor.sent) == before

    second = Leg("second", clock)
    bridge.add_listener(second, on_end=lambda: ended.append("second"))
    bridge.stop()
    result = await running
    assert result.ended_by == "stopped" and ended == ["second"] and not bridge.listeners
    assert not second.ended  # the bridge tells the listener; it does not hang it up
    for leg in (caller, agent, supervisor, second):
        await leg.hangup()


async def talk(caller: Leg | None, agent: Leg | None, supervisor: Leg | None, frames: int) -> None:
    """Each side says its tone, one 20 ms frame at a time, in real time."""
    for _ in range(frames):
        for leg, freq in ((caller, CALLER_HZ), (agent, AGENT_HZ), (supervisor, SUPERVISOR_HZ)):
            if leg is not None:
                leg.deliver_audio(tone(freq, 0.02))
        await asyncio.sleep(0.02)


# A real call ------------------------------------------------------------------------------------


def voice_config(tmp_path: Path) -> CenterConfig:
    config = demo_config(
        f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        telephony={"enabled": True, "agent_lines": True, "record": False, "agent_leg_wait_s": 2.0},
    )
    return replace(config, speech=replace(config.speech, cache_dir=str(tmp_path / "prompts")))


class SupervisorBrowser:
    """A real aiortc peer that offers as the wallboard does and keeps what it hears."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(ToneTrack(SUPERVISOR_HZ))
        self.heard = bytearray()
        self.connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._reader = asyncio.ensure_future(self._read(track))

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected":
                self.connected.set()

    async def listen(self, session: aiohttp.ClientSession, csrf: str, contact_id: str) -> dict[str, Any]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        res = await session.post(
            f"/api/v1/supervisor/contacts/{contact_id}/listen",
            json={"sdp": self.pc.localDescription.sdp},
            headers={"X-CSRF-Token": csrf},
        )
        body: dict[str, Any] = await res.json()
        assert res.status == 201, body
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="answer"))
        await asyncio.wait_for(self.connected.wait(), 10)
        return body

    async def _read(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.AudioFrame)
                for f in resampler.resample(frame):
                    self.heard += bytes(f.planes[0])[: f.samples * 2]

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


async def test_a_supervisor_listens_to_a_live_call_and_is_never_heard(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(create_app(voice_config(tmp_path)))
    app = client.server.app
    center = app[CENTER]
    base = str(client.make_url("/"))
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        aiohttp.ClientSession(base_url=base) as lines,
        aiohttp.ClientSession(base_url=base, cookie_jar=jar) as sam,
    ):
        csrf = (
            await (await sam.post("/api/v1/auth/login", json={"username": "sam", "password": "sam"})).json()
        )["csrf_token"]
        headers = {"X-CSRF-Token": csrf}
        await center.submit(AgentLoggedIn(agent_id="alice", name="Alice", skills={"sales": 1}))
        agent = StreamPhone(lines, "alice", "agent-alice", AGENT_HZ)
        await agent.dial()
        await until(lambda: app[AGENT_LEGS].get("alice") is not None)
        caller = StreamPhone(lines, "+972541234567", "+15550100", CALLER_HZ)
        ivr = app[BUS].subscribe("ivr.node")
        await caller.dial()
        await at_node(ivr, "language")
        await caller.press("1")  # English
        await at_node(ivr, "customer_check")
        await caller.press("2")  # not a customer yet: sales
        ivr.close()
        call = next(iter(app[TELEPHONY].front.calls.values()))
        await until(
            lambda: (
                (c := center.engine.contacts.get(call.contact_id or "")) is not None and c.queue == "sales"
            ),
            timeout=20,
        )
        contact_id = call.contact_id
        assert contact_id is not None
        waiting = await sam.post(
            f"/api/v1/supervisor/contacts/{contact_id}/listen", json={"sdp": "v=0 m=audio"}, headers=headers
        )
        assert waiting.status == 409 and "not on a live call" in (await waiting.json())["error"]["message"]
        await center.submit(AgentReady(agent_id="alice"))
        offer = next(o for o in center.engine.offers.values() if o.contact_id == contact_id)
        await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
        await until(lambda: call.bridge is not None)

        bad = await sam.post(
            f"/api/v1/supervisor/contacts/{contact_id}/listen", json={"sdp": "hello"}, headers=headers
        )
        assert bad.status == 400 and (await bad.json())["error"]["field"] == "sdp"
        ghost = await sam.post(
            "/api/v1/supervisor/contacts/nobody/listen", json={"sdp": "v=0 m=audio"}, headers=headers
        )
        assert ghost.status == 404

        first = SupervisorBrowser()
        listen = await first.listen(sam, csrf, contact_id)
        assert listen["agent_id"] == "alice" and app[LISTEN].listens.keys() == {listen["listen_id"]}
        mark_agent, mark_caller = len(agent.heard), len(caller.heard)
        await until(lambda: len(first.heard) >= 2 * RATE * 2)  # two seconds of the call
        heard = bytes(first.heard[-RATE * 2 :])  # the last second
        assert share(heard, CALLER_HZ) > 0.15 and share(heard, AGENT_HZ) > 0.15
        await until(lambda: len(agent.heard) - mark_agent >= 50 and len(caller.heard) - mark_caller >= 50)
        for phone, own in ((agent, mark_agent), (caller, mark_caller)):  # the supervisor is silent:
            assert share(b"".join(phone.heard[own:]), SUPERVISOR_HZ) < 0.02  # no trace of their tone
        for phone, own, other in ((agent, mark_agent, CALLER_HZ), (caller, mark_caller, AGENT_HZ)):
            frames = [f for f in phone.heard[own:] if len(f) >= 160]
            assert sum(share(f, other) > 0.5 for f in frames) > len(frames) * 0.9  # the call goes on
        stopped = await sam.delete(f"/api/v1/supervisor/listen/{listen['listen_id']}", headers=headers)
        assert stopped.status == 200 and not app[LISTEN].listens and call.bridge.listeners == ()
        await first.close()
        again = await sam.delete(f"/api/v1/supervisor/listen/{listen['listen_id']}", headers=headers)
        assert again.status == 404

        second = SupervisorBrowser()
        await second.listen(sam, csrf, contact_id)
        await caller.hang_up()  # the call ends: so does the listen
        await until(lambda: not app[LISTEN].listens)
        await until(lambda: second.pc.connectionState in ("closed", "failed"), timeout=15)
        await second.close()
        late = await sam.post(
            f"/api/v1/supervisor/contacts/{contact_id}/listen", json={"sdp": "v=0 m=audio"}, headers=headers
        )
        assert late.status == 409 and "already ended" in (await late.json())["error"]["message"]
        await agent.hang_up()
        await app[LOG].flush()
        actions = [
            (e.data["action"], e.data.get("reason"), e.data["by"])
            for e in await app[LOG].read(contact_id=contact_id, limit=1000)
            if e.type == "supervisor.action"
        ]
        assert actions == [
            ("listen", None, "sam"),
            ("listen_end", "supervisor_stopped", "sam"),
            ("listen", None, "sam"),
            ("listen_end", "call_ended", "sam"),
        ]
