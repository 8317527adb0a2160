"""Real calls through the running center: sipp keys through the bank IVR (RFC 4733 digits
from sip-tester's pcaps) into a queue, an agent accepts, and the call is bridged to the
agent's audio leg (a media-stream WebSocket), with audio both ways and a recording."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import Any

import pytest
from telsupport import bank_call, free_port, needs_sipp, open_fds, run_sipp, tone_power, until
from voicesupport import AgentPhone, center_of, contact_events, offer_for, ready_agent, voice_config

from callcenter.acd.messages import OfferAccepted
from callcenter.app import create_app
from callcenter.runtime.voice.install import TELEPHONY
from callcenter.runtime.voice.keys import AGENT_LEGS
from callcenter.speech.codecs import rms_dbfs

pytestmark = [needs_sipp, pytest.mark.timeout(60)]

BANK = "+15550100"


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")  # rendered once for the module's calls


async def test_keyed_call_reaches_the_agent_with_audio_both_ways_and_a_recording(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts)))
    center = center_of(client)
    telephony = client.app[TELEPHONY]
    assert telephony.sip is not None
    await ready_agent(center, "alice", {"sales": 1})
    phone = AgentPhone(client, "alice")
    await phone.dial()
    try:
        await _keyed_call(client, phone, tmp_path)
    finally:
        await phone.hang_up()
    await until(lambda: not client.app[TELEPHONY].front.agent_lines)
    await client.close()


async def _keyed_call(client: Any, phone: AgentPhone, tmp_path: Path) -> None:
    center = center_of(client)
    telephony = client.app[TELEPHONY]
    fds = open_fds()

    sipp = asyncio.ensure_future(
        bank_call(
            "bank_keys.xml",
            telephony.sip.port,
            tmp_path,
            BANK,
            pause_ms=5000,
        )
    )
    offer = await offer_for(center, "alice")
    assert center.engine.contacts[offer.contact_id].queue == "sales"  # 1 English, 2 new customer
    await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
    rc, out = await sipp
    assert rc == 0, out

    await until(lambda: offer.contact_id not in center.engine.contacts)
    await until(lambda: not telephony.front.calls)
    # the agent's voice went to the caller, who echoed it back through the bridge
    assert phone.tone_frames() >= 50
    events = await contact_events(client, offer.contact_id)
    kinds = [e.type for e in events]
    assert {
        "ivr.started",
        "ivr.routed",
        "contact.queued",
        "contact.connected",
        "contact.bridged",
        "contact.recording",
    } <= set(kinds)
    ended = [e for e in events if e.type == "contact.ended"]
    assert [(e.data["reason"], e.data.get("by")) for e in ended] == [("completed", "customer")]
    digits = [e.data.get("digits") for e in events if e.type == "ivr.input"]
    assert digits[:2] == ["1", "2"]
    logged = next(e.data for e in events if e.type == "contact.recording")
    recording = tmp_path / "recordings" / logged["path"]  # the log's path is relative
    assert logged["path"] == recording.name and logged["bytes"] == recording.stat().st_size
    with wave.open(str(recording)) as wav:
        assert logged["seconds"] == round(wav.getnframes() / 8000, 3) > 1.0
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        stereo = wav.readframes(wav.getnframes())
    left, right = _split(stereo)
    assert _tone_seconds(right) > 1.0  # the agent's side
    assert _tone_seconds(left) > 1.0  # the caller's side: the agent's voice came back
    assert telephony.sip.open_resources()["calls"] == 0
    assert open_fds() <= fds


def _split(stereo: bytes) -> tuple[bytes, bytes]:
    import array

    samples = array.array("h", stereo)
    return samples[0::2].tobytes(), samples[1::2].tobytes()


def _tone_seconds(pcm: bytes) -> float:
    frames = [pcm[i : i + 320] for i in range(0, len(pcm) - 319, 320)]
    return sum(1 for f in frames if tone_power(f, 1000) > 0.5) * 0.02


@pytest.mark.slow  # about 10 s; the default run bridges to a media-stream leg (above)
async def test_an_agents_sip_phone_is_their_leg_and_hears_the_caller(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts)))
    center = center_of(client)
    telephony = client.app[TELEPHONY]
    assert telephony.sip is not None
    await ready_agent(center, "bob", {"sales": 1})
    (tmp_path / "agent").mkdir()
    (tmp_path / "caller").mkdir()
    phone = asyncio.ensure_future(
        run_sipp(  # bob's desk phone dials his agent line, echoes
            "call_hangup.xml",
            telephony.sip.port,
            tmp_path / "agent",
            "-m",
            "1",
            "-mp",
            str(free_port()),
            "-rtp_echo",
            "-s",
            "agent-bob",
            "-d",
            "9000",
        )
    )
    await until(lambda: client.app[AGENT_LEGS].get("bob") is not None, timeout=10)
    caller = asyncio.ensure_future(
        run_sipp(  # keys into sales, then talks (sipp's g711a.pcap)
            "bank_keys_talk.xml",
            telephony.sip.port,
            tmp_path / "caller",
            "-m",
            "1",
            "-mp",
            str(free_port()),
            "-s",
            BANK,
            "-d",
            "3000",
        )
    )
    offer = await offer_for(center, "bob")
    await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="bob"))
    for sipp in (caller, phone):
        rc, out = await sipp
        assert rc == 0, out
    await until(lambda: not telephony.front.calls and not telephony.front.agent_lines)

    events = await contact_events(client, offer.contact_id)
    assert [e.data["agent_leg"] for e in events if e.type == "contact.bridged"] == ["sip"]
    recording = (
        tmp_path / "recordings" / next(e.data["path"] for e in events if e.type == "contact.recording")
    )
    with wave.open(str(recording)) as wav:
        left, right = _split(wav.readframes(wav.getnframes()))
    assert _voiced_seconds(left) > 1.0  # the caller talked
    assert _voiced_seconds(right) > 1.0  # and the agent's phone got it (and echoed it back)
    await client.close()


def _voiced_seconds(pcm: bytes) -> float:
    frames = [pcm[i : i + 320] for i in range(0, len(pcm) - 319, 320)]
    return sum(1 for f in frames if rms_dbfs(f) > -40) * 0.02
