"""A desk that goes away in mid-call does not end the call: a real SIP caller (sipp, keys
into sales, echoes what it hears) is bridged to Alice's browser audio (a real aiortc peer
negotiated over her real desk WebSocket, its microphone a 600 Hz tone). Her page is
reloaded: it says ``webrtc_close`` and its socket closes. The caller stays on the line
hearing comfort audio, the contact stays connected to her, and when the page comes back
(a new socket, a new WebRTC connection) the bridge resumes: she hears her own voice echoed
by the caller again. If her desk does not come back within its grace period (a closed tab,
or a socket lost while the audio stayed up), or goes away after she accepted but before
her audio ever connected, the caller is not dropped: the call goes back to the sales queue
first in line, still on comfort audio, Alice is not ready (disconnected), and Bob (another
real desk page) is offered it, accepts and talks to the caller. A callback the server
dialled pauses and resumes the same way when Alice's page reloads (the customer's phone a
sipp UAS echoing what it hears)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from desk_socket import Desk
from msgspec.structs import replace
from telsupport import bank_call, free_port, needs_sipp, tone_power, until
from test_tel_callback_dial import Customer, queue_a_callback
from tone_track import ToneTrack
from voicesupport import center_of, contact_events, offer_for, ready_agent, voice_config

from callcenter.acd.messages import AgentLoggedIn, AgentReady
from callcenter.app import create_app
from callcenter.runtime.voice.install import TELEPHONY
from callcenter.runtime.voice.keys import AGENT_LEGS

pytestmark = [needs_sipp, pytest.mark.timeout(90)]

BANK = "+15550100"
AGENT_TONE = 600.0


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


class DeskPage:
    """Alice's desk page: its socket, and its audio as a real WebRTC peer that speaks a
    600 Hz tone and keeps what its speaker gets (8 kHz frames)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(ToneTrack(AGENT_TONE))
        self.heard: list[bytes] = []
        self._reader: asyncio.Task[None] | None = None

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._reader = asyncio.ensure_future(self._read(track))

    @classmethod
    async def open(cls, client: Any, agent: str = "alice") -> DeskPage:
        page = cls(await Desk.open(client.make_url("/"), agent))
        await page.pc.setLocalDescription(await page.pc.createOffer())
        reply = await page.desk.ask("webrtc_offer", sdp=page.pc.localDescription.sdp)
        assert reply["type"] == "ack", reply
        await page.pc.setRemoteDescription(RTCSessionDescription(**reply["answer"]))
        return page

    async def _read(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.AudioFrame)
            for out in resampler.resample(frame):
                pcm = bytes(out.planes[0])[: out.samples * 2]
                self.heard.extend(pcm[i : i + 320] for i in range(0, len(pcm) - 319, 320))

    def own_voice(self, since: int = 0) -> int:
        """Frames of what the speaker got that are mostly the microphone's tone (echoed)."""
        return sum(1 for pcm in self.heard[since:] if tone_power(pcm, AGENT_TONE) > 0.5)

    async def leave(self, *, audio_first: bool) -> None:
        """The page goes: a reload or a closed tab says ``webrtc_close`` (``audio_first``)
        and closes its connection; a lost socket leaves the connection up."""
        if audio_first:
            assert (await self.desk.ask("webrtc_close"))["type"] == "ack"
            await self.close_audio()
        await self.desk.ws.close()
        await self.desk.session.close()

    async def close_audio(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


@pytest.fixture
async def pages() -> AsyncIterator[list[DeskPage]]:
    opened: list[DeskPage] = []
    yield opened
    for page in opened:
        await page.close_audio()
        await page.desk.close()


def call_in(client: Any, tmp_path: Path) -> Any:
    """sipp keys into sales, then stays on the line until we hang up."""
    telephony = client.app[TELEPHONY]
    return asyncio.ensure_future(
        bank_call(
            "bank_keys_stay.xml",
            telephony.sip.port,
            tmp_path,
            BANK,
            timeout=75,
        )
    )


async def call_to_alice(client: Any, tmp_path: Path, pages: list[DeskPage]) -> tuple[Any, Any, str]:
    """sipp keys into sales; Alice's desk accepts; her voice comes back from the caller."""
    center = center_of(client)
    telephony = client.app[TELEPHONY]
    await ready_agent(center, "alice", {"sales": 1})
    page = await DeskPage.open(client)
    pages.append(page)
    await until(lambda: client.app[AGENT_LEGS].is_desk("alice"), timeout=10)
    sipp = call_in(client, tmp_path)
    offer = await offer_for(center, "alice")
    assert (await page.desk.ask("accept", offer_id=offer.offer_id))["type"] == "ack"
    call = next(iter(telephony.front.calls.values()))
    await until(lambda: call.bridge is not None, timeout=10)
    await until(lambda: page.own_voice() > 25, timeout=10)  # talking, both ways
    return sipp, call, offer.contact_id


async def open_center(
    aiohttp_client: Any, tmp_path: Path, prompts: Path, *, grace_s: float, **telephony: Any
) -> Any:
    """The voice center with the desk's reconnect grace at ``grace_s``."""
    config = voice_config(tmp_path, prompts, **telephony)
    config = replace(config, desk=replace(config.desk, reconnect_grace_s=grace_s))
    return await aiohttp_client(create_app(config))


async def kinds_of(client: Any, contact_id: str) -> list[str]:
    return [e.type for e in await contact_events(client, contact_id)]


async def test_a_reloaded_desk_pauses_the_call_and_its_new_audio_resumes_it(
    aiohttp_client: Any, tmp_path: Path, prompts: Path, pages: list[DeskPage]
) -> None:
    client = await open_center(aiohttp_client, tmp_path, prompts, grace_s=20.0)
    center = center_of(client)
    sipp, call, cid = await call_to_alice(client, tmp_path, pages)

    await pages[0].leave(audio_first=True)  # the page reloads
    await until(lambda: call.bridge is None, timeout=5)
    sent = call.channel.frames_out
    await asyncio.sleep(1.0)
    assert call.channel.frames_out - sent >= 40  # the caller hears comfort audio, not silence
    assert not call.channel.ended and call in client.app[TELEPHONY].front.calls.values()
    assert center.engine.contacts[cid].agent_id == "alice"  # still hers in the ACD
    assert center.engine.agents["alice"].state.value == "ON_CONTACT"

    page = await DeskPage.open(client)  # the reloaded page: its welcome shows the call
    pages.append(page)
    assert [(c["contact_id"], c["status"]) for c in page.desk.welcome["contacts"]] == [(cid, "connected")]
    await until(lambda: call.bridge is not None, timeout=10)
    await until(lambda: page.own_voice() > 25, timeout=10)  # her voice reaches the caller again

    kinds = await kinds_of(client, cid)
    assert kinds.count("contact.bridged") == 2
    lost = kinds.index("contact.agent_audio_lost")
    assert kinds.index("contact.agent_audio_back") > lost and "contact.ended" not in kinds
    events = await contact_events(client, cid)
    assert next(e.data["reason"] for e in events if e.type == "contact.agent_audio_lost") == "desk_closed"
    assert [e.data["path"] for e in events if e.type == "contact.recording"] == [f"{cid}.wav"]

    # the desk's End still ends the call: the caller goes on to the survey
    assert (await page.desk.ask("end", contact_id=cid))["type"] == "ack"
    await until(lambda: cid not in center.engine.contacts, timeout=5)
    events = await contact_events(client, cid)
    assert [(e.data["reason"], e.data.get("by")) for e in events if e.type == "contact.ended"] == [
        ("completed", "agent")
    ]
    await _survey_then_hang_up(client, call, cid, sipp)
    await client.close()


async def bob_at_his_desk(client: Any, pages: list[DeskPage]) -> DeskPage:
    """Bob, ready for sales, his page's audio up."""
    await ready_agent(center_of(client), "bob", {"sales": 1})
    page = await DeskPage.open(client, "bob")
    pages.append(page)
    await until(lambda: client.app[AGENT_LEGS].is_desk("bob"), timeout=10)
    return page


async def bob_takes_the_call(client: Any, bob: DeskPage, call: Any, cid: str) -> None:
    """Bob is offered the requeued call, accepts it and talks to the caller (his voice
    echoed back); then he ends it from his desk."""
    center = center_of(client)
    offer = await bob.desk.until("offer", timeout=10)
    assert offer["contact_id"] == cid
    assert (await bob.desk.ask("accept", offer_id=offer["offer_id"]))["type"] == "ack"
    await until(lambda: call.bridge is not None, timeout=10)
    await until(lambda: bob.own_voice() > 25, timeout=10)
    assert center.engine.contacts[cid].agent_id == "bob"
    assert (await bob.desk.ask("end", contact_id=cid))["type"] == "ack"
    await until(lambda: cid not in center.engine.contacts, timeout=5)


def requeued_on_alices_desk(client: Any, cid: str) -> None:
    """Alice let the call go: not ready (disconnected), nothing left on her desk but the
    contact in her Today list as requeued."""
    center = center_of(client)
    alice = center.engine.agents["alice"]
    assert (alice.state.value, alice.reason) == ("NOT_READY", "disconnected")
    assert center.book.lines("alice", center.engine) == []
    assert [i.contact_id for i in center.book.recent["alice"]] == [cid]


@pytest.mark.parametrize("audio_first", [True, False], ids=["tab closed", "socket lost"])
async def test_a_desk_that_does_not_come_back_sends_the_call_to_the_next_agent(
    aiohttp_client: Any, tmp_path: Path, prompts: Path, pages: list[DeskPage], audio_first: bool
) -> None:
    client = await open_center(aiohttp_client, tmp_path, prompts, grace_s=1.5)
    center = center_of(client)
    sipp, call, cid = await call_to_alice(client, tmp_path, pages)
    bob = await bob_at_his_desk(client, pages)  # free, but the call is Alice's

    await pages[0].leave(audio_first=audio_first)
    if audio_first:  # the caller waits on comfort audio through the grace period
        await until(lambda: call.bridge is None, timeout=5)
        assert center.engine.contacts[cid].agent_id == "alice" and not call.channel.ended
    else:  # the page's audio is still up: they still talk until the grace runs out
        heard = pages[0].own_voice()
        await until(lambda: pages[0].own_voice() > heard + 10, timeout=2)
    await until(lambda: center.engine.contacts[cid].agent_id != "alice", timeout=10)
    assert not call.channel.ended  # the caller is not dropped
    requeued_on_alices_desk(client, cid)
    await bob_takes_the_call(client, bob, call, cid)

    events = await contact_events(client, cid)
    kinds = [e.type for e in events]
    assert kinds.index("contact.agent_audio_lost") < kinds.index("contact.agent_audio_gone")
    assert kinds.index("contact.agent_audio_gone") < kinds.index("contact.requeued")
    waited = next(e.data["waited_s"] for e in events if e.type == "contact.agent_audio_gone")
    assert waited >= (1.0 if audio_first else 0.0)
    requeued = next(e for e in events if e.type == "contact.requeued")
    assert (requeued.agent_id, requeued.data["reason"]) == ("alice", "agent_gone")
    assert [e.agent_id for e in events if e.type == "contact.connected"] == ["alice", "bob"]
    assert [e.agent_id for e in events if e.type == "contact.bridged"] == ["alice", "bob"]
    assert [(e.data["reason"], e.data.get("by")) for e in events if e.type == "contact.ended"] == [
        ("completed", "agent")
    ]
    await _survey_then_hang_up(client, call, cid, sipp)
    await client.close()


async def test_a_desk_gone_before_its_audio_came_sends_the_call_to_the_next_agent(
    aiohttp_client: Any, tmp_path: Path, prompts: Path, pages: list[DeskPage]
) -> None:
    client = await open_center(aiohttp_client, tmp_path, prompts, grace_s=1.5)
    center = center_of(client)
    await ready_agent(center, "alice", {"sales": 1})
    desk = await Desk.open(client.make_url("/"), "alice")  # her page, its audio never up
    sipp = call_in(client, tmp_path)
    offer = await offer_for(center, "alice")
    cid = offer.contact_id
    assert (await desk.ask("accept", offer_id=offer.offer_id))["type"] == "ack"
    call = next(iter(client.app[TELEPHONY].front.calls.values()))
    bob = await bob_at_his_desk(client, pages)
    sent = call.channel.frames_out
    await asyncio.sleep(1.0)
    assert call.channel.frames_out - sent >= 40  # the caller hears comfort audio meanwhile
    await desk.close()  # the page goes before its audio ever connected
    await until(lambda: center.engine.contacts[cid].agent_id != "alice", timeout=10)
    assert not call.channel.ended and call.bridge is None
    requeued_on_alices_desk(client, cid)
    await bob_takes_the_call(client, bob, call, cid)

    events = await contact_events(client, cid)
    kinds = [e.type for e in events]
    gone = next(e for e in events if e.type == "contact.agent_audio_gone")
    assert gone.data["before_audio"] is True and gone.agent_id == "alice"
    assert kinds.index("contact.agent_audio_gone") < kinds.index("contact.requeued")
    assert "contact.agent_audio_lost" not in kinds
    assert [e.agent_id for e in events if e.type == "contact.bridged"] == ["bob"]
    await _survey_then_hang_up(client, call, cid, sipp)
    await client.close()


async def test_a_desk_gone_earlier_does_not_send_a_later_call_back(
    aiohttp_client: Any, tmp_path: Path, prompts: Path, pages: list[DeskPage]
) -> None:
    """Alice's desk went away once (its grace ran out); she comes back, accepts a call and
    her audio connects a moment later: the old departure does not take the call from her."""
    client = await open_center(aiohttp_client, tmp_path, prompts, grace_s=0.5)
    center = center_of(client)
    await ready_agent(center, "alice", {"sales": 1})
    first = await Desk.open(client.make_url("/"), "alice")
    await first.close()
    await until(lambda: center.engine.agents["alice"].reason == "disconnected", timeout=5)
    await center.submit(AgentReady(agent_id="alice"))
    desk = await Desk.open(client.make_url("/"), "alice")  # back, her audio not yet
    sipp = call_in(client, tmp_path)
    offer = await offer_for(center, "alice")
    cid = offer.contact_id
    assert (await desk.ask("accept", offer_id=offer.offer_id))["type"] == "ack"
    call = next(iter(client.app[TELEPHONY].front.calls.values()))
    await asyncio.sleep(1.0)  # longer than a grace: the call still waits for her audio
    assert center.engine.contacts[cid].agent_id == "alice" and call.bridge is None
    page = DeskPage(desk)
    pages.append(page)
    await page.pc.setLocalDescription(await page.pc.createOffer())
    reply = await desk.ask("webrtc_offer", sdp=page.pc.localDescription.sdp)
    await page.pc.setRemoteDescription(RTCSessionDescription(**reply["answer"]))
    await until(lambda: call.bridge is not None, timeout=10)
    await until(lambda: page.own_voice() > 25, timeout=10)
    assert "contact.requeued" not in await kinds_of(client, cid)
    assert (await desk.ask("end", contact_id=cid))["type"] == "ack"
    await _survey_then_hang_up(client, call, cid, sipp)
    await client.close()


async def _survey_then_hang_up(client: Any, call: Any, cid: str, sipp: Any) -> None:
    """The caller is taken to the survey (not dropped); then we hang up, and sipp, which
    waited for our BYE, ends well."""

    async def in_survey() -> bool:
        events = await contact_events(client, cid)
        return "survey" in [e.data.get("node") for e in events if e.type == "ivr.node"]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not await in_survey():
        assert loop.time() < deadline, "the caller never reached the survey"
        await asyncio.sleep(0.1)
    assert not call.channel.ended
    await call.channel.hangup()
    rc, out = await sipp
    assert rc == 0, out
    await until(lambda: not client.app[TELEPHONY].front.calls, timeout=5)


async def alice_on_a_dialled_callback(
    aiohttp_client: Any, tmp_path: Path, prompts: Path, pages: list[DeskPage], *, grace_s: float
) -> tuple[Any, str, Customer, Any]:
    """A callback waits in sales; Alice's page (its audio up) accepts it, the server dials
    the customer (a sipp UAS that answers, echoes and waits for our BYE) and they talk."""
    port = free_port()
    dial = {"dial_uri": f"sip:{{number}}@127.0.0.1:{port}", "dial_from": "bank"}
    client = await open_center(aiohttp_client, tmp_path, prompts, grace_s=grace_s, **dial)
    center = center_of(client)
    await center.submit(AgentLoggedIn(agent_id="alice", name="Alice", skills={"sales": 1}))
    cid = await queue_a_callback(client)
    customer = Customer("uas_answer_wait_bye.xml", port, tmp_path)
    await customer.start()
    page = await DeskPage.open(client)
    pages.append(page)
    await until(lambda: client.app[AGENT_LEGS].is_desk("alice"), timeout=10)
    await center.submit(AgentReady(agent_id="alice"))
    offer = await offer_for(center, "alice")
    assert offer.contact_id == cid
    assert (await page.desk.ask("accept", offer_id=offer.offer_id))["type"] == "ack"
    await until(lambda: cid in client.app[TELEPHONY].callbacks.calls, timeout=5)
    callback = client.app[TELEPHONY].callbacks.calls[cid]
    await until(lambda: callback.bridge is not None, timeout=10)
    await until(lambda: page.own_voice() > 25, timeout=10)  # the customer echoes her voice
    return client, cid, customer, callback


async def test_a_dialled_callback_pauses_when_the_desk_reloads_and_resumes_on_its_new_audio(
    aiohttp_client: Any, tmp_path: Path, prompts: Path, pages: list[DeskPage]
) -> None:
    client, cid, customer, callback = await alice_on_a_dialled_callback(
        aiohttp_client, tmp_path, prompts, pages, grace_s=20.0
    )
    center, page = center_of(client), pages[-1]

    await page.leave(audio_first=True)  # the page reloads
    await until(lambda: callback.bridge is None, timeout=5)
    assert callback.channel is not None
    sent = callback.channel.frames_out
    await asyncio.sleep(1.0)
    assert callback.channel.frames_out - sent >= 40  # the customer hears comfort audio
    assert not callback.channel.ended and center.engine.contacts[cid].agent_id == "alice"

    page = await DeskPage.open(client)
    pages.append(page)
    await until(lambda: callback.bridge is not None, timeout=10)
    await until(lambda: page.own_voice() > 25, timeout=10)  # talking again
    kinds = await kinds_of(client, cid)
    assert kinds.count("contact.bridged") == 2 and kinds.count("contact.dialing") == 1
    assert kinds.index("contact.agent_audio_lost") < kinds.index("contact.agent_audio_back")
    assert "contact.ended" not in kinds
    assert (await page.desk.ask("end", contact_id=cid))["type"] == "ack"
    rc, out = await customer.finished()  # our BYE, answered
    assert rc == 0, out
    events = await contact_events(client, cid)
    assert [(e.data["reason"], e.data.get("by")) for e in events if e.type == "contact.ended"] == [
        ("completed", "agent")
    ]
    await client.close()


async def test_a_dialled_callback_whose_desk_does_not_come_back_goes_to_the_next_agent(
    aiohttp_client: Any, tmp_path: Path, prompts: Path, pages: list[DeskPage]
) -> None:
    client, cid, customer, callback = await alice_on_a_dialled_callback(
        aiohttp_client, tmp_path, prompts, pages, grace_s=1.5
    )
    center, page = center_of(client), pages[-1]
    bob = await bob_at_his_desk(client, pages)

    await page.leave(audio_first=True)  # a closed tab: no desk within the grace
    await until(lambda: center.engine.contacts[cid].agent_id != "alice", timeout=10)
    assert callback.channel is not None and not callback.channel.ended
    requeued_on_alices_desk(client, cid)
    offered = await bob.desk.until("offer", timeout=10)
    assert (offered["contact_id"], offered["channel"]) == (cid, "callback")
    assert (await bob.desk.ask("accept", offer_id=offered["offer_id"]))["type"] == "ack"
    await until(lambda: bob.own_voice() > 25, timeout=10)  # the same call, now with Bob
    assert (await bob.desk.ask("end", contact_id=cid))["type"] == "ack"
    rc, out = await customer.finished()
    assert rc == 0, out
    events = await contact_events(client, cid)
    kinds = [e.type for e in events]
    assert kinds.count("contact.dialing") == 1  # not dialled again
    assert kinds.index("contact.agent_audio_gone") < kinds.index("contact.requeued")
    assert [e.agent_id for e in events if e.type == "contact.bridged"] == ["alice", "bob"]
    assert [(e.data["reason"], e.data.get("by")) for e in events if e.type == "contact.ended"] == [
        ("completed", "agent")
    ]
    await client.close()
