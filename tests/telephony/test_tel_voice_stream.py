"""Calls over the media-stream WebSocket through the running center: the callback key while
queued, a transfer between agents' legs, an agent's phone hanging up; and how the server
starts when telephony is off or its SIP port is taken."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
import wave
from pathlib import Path
from typing import Any

import pytest
from telsupport import tone_power, until
from voicesupport import (
    AgentPhone,
    StreamPhone,
    center_of,
    contact_events,
    offer_for,
    ready_agent,
    voice_config,
)

from callcenter.acd.messages import ContactTransferred, OfferAccepted
from callcenter.app import create_app
from callcenter.appkeys import BUS, PROMPTS
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.voice.install import TELEPHONY
from callcenter.runtime.voice.keys import AGENT_LEGS
from callcenter.telephony.audiosocket import KIND_AUDIO, KIND_DTMF, KIND_HANGUP, KIND_UUID, frame

pytestmark = pytest.mark.timeout(60)

BANK = "+15550100"
CALLER = "+15557654321"  # not a customer: the bank flow asks account (1) or new (2)


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


async def key_into_sales(client: Any, caller: StreamPhone) -> str:
    """Dial the bank, press 1 (English) and, at the next menu, 2 (new customer: sales)."""
    runner = client.app[IVR_RUNNER]
    await caller.dial()
    await until(lambda: any(r.channel.channel.info.caller == caller.caller for r in runner.runs.values()))
    cid: str = next(c for c, r in runner.runs.items() if r.channel.channel.info.caller == caller.caller)
    await caller.press("1")
    await until(lambda: runner.runs[cid].session.node_id == "customer_check")
    await caller.press("2")
    front, engine = client.app[TELEPHONY].front, center_of(client).engine
    await until(
        lambda: (
            cid in engine.contacts
            and (c := front.by_contact(cid)) is not None
            and (c.queued or c.agent_id is not None)
        )
    )
    assert engine.contacts[cid].attributes["carrier"] == "demo"  # the carrier that vouched for it
    return cid


async def test_the_callback_key_keeps_the_place_in_line_and_ends_the_call(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts)))
    center = center_of(client)
    caller = StreamPhone(client, CALLER, BANK, 500)
    cid = await key_into_sales(client, caller)
    queued_at = center.engine.contacts[cid].queued_at
    await caller.press("*")
    await until(lambda: caller.closed, timeout=20)  # the confirmation is said, then we hang up
    await until(lambda: not client.app[TELEPHONY].front.calls and not client.app[IVR_RUNNER].runs)
    contact = center.engine.contacts[cid]
    assert (contact.channel, contact.state, contact.queue) == ("callback", "waiting", "sales")
    assert contact.queued_at == queued_at and center.engine.position(cid) is not None
    assert contact.attributes["callback_number"] == CALLER
    events = await contact_events(client, cid)
    assert [e.data["reason"] for e in events if e.type == "ivr.ended"] == ["callback"]
    assert "contact.callback_requested" in [e.type for e in events]
    assert not [e for e in events if e.type == "contact.ended"]  # waiting for its callback
    await caller.hang_up()
    await client.close()


async def test_the_korean_line_offers_and_confirms_the_callback_in_korean(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    """The callback words come from the flow (config/ivr/korean.yaml's ``callback:``), spoken
    in its voice: the Korean sentences are rendered and played in Korean, the telephony
    section's English ones never (espeak's Korean voice cannot say them)."""
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts)))
    center, runner, renderer = center_of(client), client.app[IVR_RUNNER], client.app[PROMPTS]
    words = runner.flows["korean"].callback
    caller = StreamPhone(client, CALLER, "+15550182", 500)
    await caller.dial()
    await until(lambda: any(r.channel.channel.info.caller == CALLER for r in runner.runs.values()))
    cid: str = next(c for c, r in runner.runs.items() if r.channel.channel.info.caller == CALLER)
    await caller.press("1")  # 외환: the fx queue
    await until(lambda: cid in center.engine.contacts and center.engine.contacts[cid].state == "waiting")
    await until(lambda: renderer.cached(words.offer, voice="ko") is not None, timeout=20)  # said on queueing
    await caller.press("*")
    await until(lambda: caller.closed, timeout=30)  # the confirmation is said, then we hang up
    assert renderer.cached(words.confirm, voice="ko") is not None
    telephony = client.app[TELEPHONY].front.telephony
    assert renderer.cached(telephony.callback_offer, voice="ko") is None
    assert renderer.cached(telephony.callback_confirm, voice="ko") is None
    assert center.engine.contacts[cid].channel == "callback"
    await caller.hang_up()
    await client.close()


async def test_a_transfer_moves_the_caller_to_the_next_agents_leg_whose_hang_up_ends_it(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts)))
    center = center_of(client)
    front = client.app[TELEPHONY].front
    phones = {agent: AgentPhone(client, agent) for agent in ("alice", "bob")}
    for agent, phone in phones.items():
        await ready_agent(center, agent, {"sales": 1})
        await phone.dial()
    caller = StreamPhone(client, CALLER, BANK, 500)
    try:
        cid = await key_into_sales(client, caller)
        offer = next(iter(center.engine.offers.values()))
        first = offer.agent_id
        second = "bob" if first == "alice" else "alice"
        await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id=first))
        await until(lambda: phones[first].tone_frames(500) > 10)  # the agent hears the caller
        await until(lambda: caller.tone_frames(1000) > 10)  # and the caller the agent

        await center.submit(ContactTransferred(contact_id=cid, by_agent=first, to_agent=second))
        offer = await offer_for(center, second)
        await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id=second))
        await until(lambda: phones[second].tone_frames(500) > 10)
        assert client.app[AGENT_LEGS].in_use(second) and not client.app[AGENT_LEGS].in_use(first)

        await phones[second].hang_up()  # the agent's phone hangs up: the agent ended the call
        await until(lambda: cid not in center.engine.contacts)
        await until(lambda: front.by_contact(cid) is not None and front.by_contact(cid).bridge is None)
        await until(lambda: client.app[IVR_RUNNER].runs[cid].session.node_id == "survey")
    finally:
        await caller.hang_up()
        for phone in phones.values():
            await phone.hang_up()
    await until(lambda: not front.calls and not front.agent_lines)
    events = await contact_events(client, cid)
    kinds = [e.type for e in events]
    assert kinds.count("contact.bridged") == 2 and "contact.transferred" in kinds
    ended = [(e.data["reason"], e.data.get("by")) for e in events if e.type == "contact.ended"]
    assert ended == [("completed", "agent")]
    assert [e.data.get("agent_leg") for e in events if e.type == "contact.bridged"] == ["media-stream"] * 2
    await client.close()


async def test_telephony_off_has_no_media_stream_and_a_busy_sip_port_is_one_clear_error(
    aiohttp_client: Any, tmp_path: Path, prompts: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts, enabled=False)))
    response = await client.get("/media-stream")
    assert response.status == 404
    assert "telephony.enabled" in await response.text()
    await client.close()

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        caplog.set_level(logging.ERROR, logger="callcenter.runtime.voice.install")
        client = await aiohttp_client(create_app(voice_config(tmp_path / "busy", prompts, sip_port=port)))
        telephony = client.app[TELEPHONY]
        assert telephony.sip is None and telephony.audiosocket is not None
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any(f"127.0.0.1:{port}/udp" in e and "telephony.sip_port" in e for e in errors), errors
        health = await (await client.get("/healthz")).json()
        assert health["telephony"]["sip_port"] is None
        assert health["telephony"]["audiosocket_port"] == telephony.audiosocket.port
        caller = StreamPhone(client, CALLER, BANK, 500)  # the other front-ends still take calls
        await caller.dial()
        await until(lambda: bool(client.app[IVR_RUNNER].runs))
        await caller.hang_up()
        await until(lambda: not telephony.front.calls)
        await client.close()


async def test_an_audiosocket_call_reaches_the_default_numbers_flow_and_hangs_up_cleanly(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    config = voice_config(tmp_path, prompts, default_called=BANK)
    client = await aiohttp_client(create_app(config))
    telephony = client.app[TELEPHONY]
    assert telephony.audiosocket is not None
    runner = client.app[IVR_RUNNER]
    reader, writer = await asyncio.open_connection("127.0.0.1", telephony.audiosocket.port)
    writer.write(frame(KIND_UUID, uuid.uuid4().bytes))
    writer.write(frame(KIND_DTMF, b"1"))  # English
    await writer.drain()
    await until(lambda: bool(runner.runs))
    cid = next(iter(runner.runs))
    await until(lambda: runner.runs[cid].session.node_id == "customer_check")
    heard = await reader.readexactly(3 + 320)  # our prompts come as slin frames
    assert heard[0] == KIND_AUDIO
    writer.write(frame(KIND_HANGUP, b""))
    await writer.drain()
    await until(lambda: not telephony.front.calls and not runner.runs)
    writer.close()
    await writer.wait_closed()
    events = await contact_events(client, cid)
    assert [e.data["called"] for e in events if e.type == "ivr.started"] == [BANK]
    assert [(e.data["reason"], e.data.get("in")) for e in events if e.type == "contact.ended"] == [
        ("caller_hung_up", "ivr")
    ]
    await client.close()


async def test_a_leg_that_comes_after_the_accept_is_bridged_and_the_wait_is_logged(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts, agent_leg_wait_s=0.3)))
    center = center_of(client)
    await ready_agent(center, "alice", {"sales": 1})
    caller = StreamPhone(client, CALLER, BANK, 500)
    phone = AgentPhone(client, "alice")
    try:
        cid = await key_into_sales(client, caller)
        offer = await offer_for(center, "alice")
        missing = client.app[BUS].subscribe("contact.agent_audio_missing")
        await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
        said = await asyncio.wait_for(missing.get(), 5)  # no leg within agent_leg_wait_s
        assert (said.payload["contact_id"], said.payload["agent_id"]) == (cid, "alice")
        missing.close()
        await phone.dial()  # the agent's audio comes up late (a desk setting up WebRTC)
        await until(lambda: phone.tone_frames(500) > 10 and caller.tone_frames(1000) > 10)
    finally:
        await caller.hang_up()
        await phone.hang_up()
    await until(lambda: cid not in center.engine.contacts)
    kinds = [e.type for e in await contact_events(client, cid)]
    assert "contact.agent_audio_missing" in kinds
    assert kinds.index("contact.agent_audio_missing") < kinds.index("contact.bridged")
    await client.close()


@pytest.mark.slow  # the queue prompt and the message play out in real time (about 10 s)
async def test_a_closed_queue_says_its_message_before_the_call_ends(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts, open_hours=False)))
    runner = client.app[IVR_RUNNER]
    caller = StreamPhone(client, CALLER, BANK, 500)
    await caller.dial()
    await until(lambda: bool(runner.runs))
    cid = next(iter(runner.runs))
    await caller.press("1")
    await until(lambda: runner.runs[cid].session.node_id == "customer_check")
    await caller.press("2")  # sales, closed now: "Our advisers are available ..." then goodbye
    heard_before = len(caller.heard)
    await until(lambda: caller.closed, timeout=20)
    assert len(caller.heard) - heard_before > 100  # over two seconds of words, then the hang-up
    events = await contact_events(client, cid)
    assert [e.data["reason"] for e in events if e.type == "contact.ended"] == ["overflow_disconnect"]
    await caller.hang_up()
    await client.close()


@pytest.mark.slow  # the closed-hours prompt plays to its end before the tone (about 8 s)
async def test_a_voicemail_left_after_hours_is_kept_when_the_caller_hangs_up(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts, open_hours=False)))
    runner, front = client.app[IVR_RUNNER], client.app[TELEPHONY].front
    caller = StreamPhone(client, "+972501234567", BANK, 500)  # the demo CRM's known caller
    await caller.dial()
    await until(lambda: bool(runner.runs))
    cid = next(iter(runner.runs))
    await caller.press("1")  # English; known: greeted, then the main menu
    await until(lambda: runner.runs[cid].session.node_id == "main_menu")
    await caller.press("0")  # an agent, but the bank is closed: voicemail after the tone
    await until(lambda: (c := front.by_contact(cid)) is not None and c.taking_message, timeout=20)
    await until(lambda: caller.tone_frames(1000) >= 15)  # the beep
    await asyncio.sleep(1.0)  # one second of message
    await caller.hang_up()
    await until(lambda: not front.calls and not runner.runs)
    events = await contact_events(client, cid)
    [message] = [e.data for e in events if e.type == "ivr.voicemail"]
    assert message["recorded"] and message["seconds"] >= 0.5
    with wave.open(message["path"]) as wav:
        pcm = wav.readframes(wav.getnframes())
    assert tone_power(pcm[:8000], 500) > 0.5  # the caller's voice is in the file
    assert [e.data["reason"] for e in events if e.type == "ivr.ended"] == ["caller_hung_up"]
