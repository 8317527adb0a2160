"""A queue's overflow to voicemail, and the messages that are no message. The demo's
internet queue is closed and sends callers to voicemail (instead of the demo's callback);
a caller (a media-stream phone, speaking a tone) keys into it. A message longer than
``telephony.voicemail_max_s`` is cut there and still waits as a voicemail contact; a caller
who hangs up at the tone leaves no contact, only ``voicemail.empty`` in the log."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from telsupport import until
from voicesupport import StreamPhone, center_of, contact_events, voice_config

from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.config.sections import CenterConfig, OverflowConfig, OverflowTarget
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.voice.install import TELEPHONY

pytestmark = pytest.mark.timeout(60)

BANK = "+15550100"
CALLER = "+15557654321"


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


def internet_takes_messages(tmp_path: Path, prompts: Path) -> CenterConfig:
    config = voice_config(
        tmp_path, prompts, open_hours=False, voicemail_max_s=1.0, voicemail_prompt="Leave a message."
    )
    overflow = OverflowConfig(on_closed=OverflowTarget(to="voicemail"))
    queues = [replace(q, overflow=overflow) if q.name == "internet" else q for q in config.queues]
    changed: CenterConfig = replace(config, queues=queues)
    return changed


async def key_into_internet(client: Any, phone: StreamPhone) -> str:
    """Hebrew (2), I have an account (1), internet (4): the call contact's id."""
    runner = client.app[IVR_RUNNER]
    await phone.dial()
    await until(lambda: any(r.channel.channel.info.caller == CALLER for r in runner.runs.values()))
    cid: str = next(c for c, r in runner.runs.items() if r.channel.channel.info.caller == CALLER)
    await phone.press("2")
    await until(lambda: runner.runs[cid].session.node_id == "customer_check", timeout=15)
    await phone.press("1")
    await until(lambda: runner.runs[cid].session.node_id == "main_menu", timeout=15)
    await phone.press("4")
    return cid


async def test_an_overflow_message_longer_than_the_maximum_is_cut_and_delivered(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(internet_takes_messages(tmp_path, prompts)))
    engine = center_of(client).engine
    phone = StreamPhone(client, CALLER, BANK, 500)
    try:
        call_id = await key_into_internet(client, phone)
        await until(lambda: any(c.channel == "voicemail" for c in engine.contacts.values()), timeout=30)
        await until(lambda: phone.closed, timeout=10)  # the message is over: we hang up
    finally:
        await phone.hang_up()
    vm = next(c for c in engine.contacts.values() if c.channel == "voicemail")
    assert (vm.queue, vm.caller, vm.state) == ("internet", CALLER, "waiting")
    [message] = [e.data for e in await contact_events(client, vm.contact_id) if e.type == "contact.voicemail"]
    assert message["from_contact"] == call_id and message["capped"] is True
    assert message["seconds"] == pytest.approx(1.0)
    with wave.open(str(tmp_path / "recordings" / message["path"])) as wav:
        assert wav.getnframes() == 8000  # one second kept, the rest of the tone was not
    ended = [e.data for e in await contact_events(client, call_id) if e.type == "contact.ended"]
    assert [e["reason"] for e in ended] == ["voicemail"]


async def test_a_caller_who_hangs_up_at_the_tone_leaves_no_contact(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(internet_takes_messages(tmp_path, prompts)))
    engine, front = center_of(client).engine, client.app[TELEPHONY].front
    phone = StreamPhone(client, CALLER, BANK, 500)
    try:
        call_id = await key_into_internet(client, phone)
        # the tone is playing: nothing of the caller is recorded yet
        await until(
            lambda: (c := front.by_contact(call_id)) is not None and c._voicemail is not None, timeout=30
        )
        assert not front.by_contact(call_id).taking_message
    finally:
        await phone.hang_up()
    await until(lambda: not front.calls, timeout=10)
    await client.app[LOG].flush()
    [empty] = [e for e in await client.app[LOG].read(limit=1000) if e.type == "voicemail.empty"]
    assert empty.contact_id == call_id and empty.data == {"from_contact": call_id, "queue": "internet"}
    assert not any(c.channel == "voicemail" for c in engine.contacts.values())
    assert not (tmp_path / "recordings" / "voicemail" / f"{call_id}.wav").exists()
