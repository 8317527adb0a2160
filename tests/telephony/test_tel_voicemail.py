"""A voicemail is work: on a Saturday at 03:00 (the center's clock, injected) a real SIP
caller (sipp) keys through the bank IVR to the stock exchange desk, which keeps the bank's
hours, and leaves a message after the tone. The message waits in the stocks queue as a
voicemail contact, offered to nobody while the desk is closed, even to an agent who is
ready. When the clock reaches the opening (Saturday 20:00) it is offered to carol's real
desk WebSocket with its recording URL; she accepts, and one "call back" dials the caller
through the callback dialler (a sipp UAS answers) and bridges the call to her audio leg."""

from __future__ import annotations

import wave
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from demo_center import demo_config
from desk_socket import Desk
from msgspec.structs import replace
from telsupport import bank_call, free_port, needs_sipp, until
from test_tel_callback_dial import Customer
from voicesupport import AgentPhone, center_of, contact_events

from callcenter.app import create_app
from callcenter.config.sections import CenterConfig
from callcenter.core.clock import VirtualClock
from callcenter.runtime.voice.install import TELEPHONY

pytestmark = [needs_sipp, pytest.mark.timeout(120)]

BANK = "+15550100"
ZONE = ZoneInfo("Asia/Jerusalem")  # the bank calendar's time zone
SATURDAY_03 = datetime(2026, 12, 12, 3, 0, tzinfo=ZONE).timestamp()  # stocks: closed until 20:00
SATURDAY_20 = datetime(2026, 12, 12, 20, 0, tzinfo=ZONE).timestamp()
CALLER = "5551234"  # what the sipp caller's From says (not a customer)


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


def closed_bank_config(tmp_path: Path, prompts: Path, customer_port: int) -> CenterConfig:
    config = demo_config(
        f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        hours="as configured",
        telephony={
            "enabled": True,
            "agent_lines": True,
            "recordings_dir": str(tmp_path / "recordings"),
            "no_rtp_timeout_s": 10.0,
            "agent_leg_wait_s": 2.0,
            "dial_uri": f"sip:{{number}}@127.0.0.1:{customer_port}",
            "dial_from": "bank",
        },
    )
    return replace(config, speech=replace(config.speech, cache_dir=str(prompts)))


async def test_a_message_left_at_night_is_offered_at_the_opening_and_called_back(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    customer_port = free_port()
    clock = VirtualClock(SATURDAY_03)
    client = await aiohttp_client(
        create_app(closed_bank_config(tmp_path, prompts, customer_port), clock=clock)
    )
    center, telephony = center_of(client), client.app[TELEPHONY]
    engine = center.engine
    assert telephony.sip is not None

    # carol is ready at 03:00 (her desk open), yet the closed desk's message reaches nobody
    desk = await Desk.open(client.make_url("/"), "carol")
    phone = AgentPhone(client, "carol")
    await phone.dial()
    try:
        assert (await desk.ask("set_state", state="ready"))["type"] == "ack"
        rc, out = await bank_call(
            "voicemail_keys.xml",
            telephony.sip.port,
            tmp_path,
            BANK,
            pause_ms=22000,
            timeout=60.0,
        )
        assert rc == 0, out
        await until(lambda: any(c.channel == "voicemail" for c in engine.contacts.values()), timeout=15)
        vm = next(c for c in engine.contacts.values() if c.channel == "voicemail")
        assert (vm.queue, vm.caller, vm.state, vm.held) == ("stocks", CALLER, "waiting", True)
        assert not engine.offers  # carol is ready, the desk is closed: the message waits
        snap = engine.queue_snapshot("stocks", clock.now())
        assert (dict(snap.waiting_by_channel), snap.held) == ({"voicemail": 1}, 1)

        # what the log keeps: the call ended "voicemail", the message's audio and its length
        events = await contact_events(client, vm.contact_id)
        [message] = [e for e in events if e.type == "contact.voicemail"]
        call_id = message.data["from_contact"]
        audio = tmp_path / "recordings" / message.data["path"]
        with wave.open(str(audio)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        assert message.data["path"] == f"voicemail/{call_id}.wav"
        assert seconds > 2.0 and message.data["seconds"] == pytest.approx(seconds, abs=0.05)
        assert message.data["bytes"] == audio.stat().st_size
        call_events = await contact_events(client, call_id)
        assert [e.data["reason"] for e in call_events if e.type == "contact.ended"] == ["voicemail"]

        # carol ends her night shift; on Saturday at 20:00 the desk opens, she is back and
        # the message is offered to her with its recording
        await desk.close()
        clock.advance_to(SATURDAY_20)
        desk = await Desk.open(client.make_url("/"), "carol")
        assert (await desk.ask("set_state", state="ready"))["type"] == "ack"
        offer = await desk.until("offer", timeout=15)
        assert (offer["contact_id"], offer["channel"], offer["caller"]) == (
            vm.contact_id,
            "voicemail",
            CALLER,
        )
        url = f"/api/v1/recordings/{vm.contact_id}/voicemail"
        assert offer["recording_url"] == url
        assert (await desk.ask("accept", offer_id=offer["offer_id"]))["type"] == "ack"
        connected = await desk.until("contact")
        assert (connected["status"], connected["channel"], connected["recording_url"]) == (
            "connected",
            "voicemail",
            url,
        )
        assert connected["caller"] == CALLER and connected["seconds"] == pytest.approx(seconds, abs=0.05)
        assert (await desk.ask("voicemail", contact_id=vm.contact_id, action="listened"))["type"] == "ack"

        # one click calls the caller back: sipp answers as their phone, and hangs up after
        customer = Customer("uas_answer_bye.xml", customer_port, tmp_path, "-d", "2000")
        await customer.start()
        assert (await desk.ask("voicemail", contact_id=vm.contact_id, action="call_back"))["type"] == "ack"
        frames = [await desk.until("contact") for _ in range(3)]
        seen = {(f["contact_id"], f["status"]): f for f in frames}
        # the message is handled: it leaves the desk's list for Today (the agent goes straight
        # on to the call back, so there is no wrap-up of the message)
        assert seen[(vm.contact_id, "closed")]["reason"] == "called_back"
        [callback_id] = [cid for cid, status in seen if status == "connected"]
        assert seen[(callback_id, "connected")]["channel"] == "callback"  # the same agent has the call
        assert seen[(callback_id, "dialing")]["number"] == CALLER
        rc, out = await customer.finished()
        assert rc == 0, out
        await until(lambda: callback_id not in engine.contacts, timeout=15)
    finally:
        await desk.close()
        await phone.hang_up()
    assert customer.received("INVITE") == [f"INVITE sip:{CALLER}@127.0.0.1:{customer_port} SIP/2.0"]
    vm_events = await contact_events(client, vm.contact_id)
    handled = [e.data["handling"] for e in vm_events if e.type == "contact.voicemail_handled"]
    assert handled == ["listened", "called_back"]
    assert [e.data["reason"] for e in vm_events if e.type == "contact.ended"] == ["called_back"]
    cb_events = await contact_events(client, callback_id)
    kinds = [e.type for e in cb_events]
    assert (
        kinds.index("contact.connected") < kinds.index("contact.dial_answered") < kinds.index("contact.ended")
    )
    assert all(e.agent_id == "carol" for e in cb_events if e.type in ("contact.connected", "contact.dialing"))
