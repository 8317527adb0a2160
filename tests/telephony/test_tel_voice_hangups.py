"""Hang-up at every stage of a real SIP call (sipp) through the running center: ringing,
IVR, queue, offered, connected, on hold; and the agent's side ending the call. Each leaves
no call, task, RTP socket or descriptor behind, and the log shows the right end."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from telsupport import bank_call, free_port, needs_sipp, open_fds, until
from voicesupport import AgentPhone, center_of, contact_events, offer_for, ready_agent, voice_config

from callcenter.acd.messages import AgentReady, ContactEnded, ContactHeld, OfferAccepted
from callcenter.app import create_app
from callcenter.appkeys import PROMPTS
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.voice.install import TELEPHONY

pytestmark = [needs_sipp, pytest.mark.timeout(90)]

BANK = "+15550100"


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


class Stage:
    """One sipp call against the server, and the checks that it left nothing behind."""

    def __init__(self, client: Any, tmp_path: Path) -> None:
        """``await stage.warm()`` before taking the task snapshot."""
        self.client = client
        self.telephony = client.app[TELEPHONY]
        self.tmp_path = tmp_path

    async def warm(self) -> None:
        """The TTS worker is up (it starts in the background with the server)."""
        await self.client.app[PROMPTS].render("Welcome to Demo Bank.")

    def call(self, scenario: str, hold_ms: int) -> asyncio.Future[tuple[int, str]]:
        assert self.telephony.sip is not None
        folder = self.tmp_path / f"sipp-{scenario}-{hold_ms}-{free_port()}"
        folder.mkdir()
        future: asyncio.Future[tuple[int, str]] = asyncio.ensure_future(
            bank_call(
                scenario,
                self.telephony.sip.port,
                folder,
                BANK,
                pause_ms=hold_ms,
            )
        )
        return future

    async def settled(self, fds: int, tasks: set[asyncio.Task[Any]]) -> None:
        """Nothing of the call is left (the agent's phone line, still up, keeps its own)."""
        sip = self.telephony.sip
        await until(lambda: not self.telephony.front.calls and not self.client.app[IVR_RUNNER].runs)
        await until(lambda: sip.open_resources()["calls"] == 0 and sip.open_resources()["tasks"] == 0)
        try:
            await until(lambda: not new_tasks(tasks))
        except AssertionError:
            raise AssertionError(f"tasks left: {[t.get_coro() for t in new_tasks(tasks)]}") from None
        assert open_fds() <= fds


def new_tasks(before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    return [
        t
        for t in asyncio.all_tasks() - before - {asyncio.current_task()}
        if not t.get_name().startswith("agent-line-")
    ]


def ends(events: list[Any]) -> list[tuple[str, str | None]]:
    return [
        (e.data.get("reason"), e.data.get("by") or e.data.get("in"))
        for e in events
        if e.type == "contact.ended"
    ]


async def test_caller_hangs_up_while_ringing_in_the_ivr_and_in_the_queue(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts, ring_seconds=0.5)))
    stage = Stage(client, tmp_path)
    sip = stage.telephony.sip
    await stage.warm()
    fds, tasks = open_fds(), set(asyncio.all_tasks())

    rc, out = await stage.call("cancel_ringing.xml", 0)  # ringing: CANCEL before the answer
    assert rc == 0, out
    assert sip.stats["cancelled"] == 1
    await stage.settled(fds, tasks)  # never became a contact: nothing runs, nothing logged

    runner = client.app[IVR_RUNNER]
    sipp = stage.call("call_hangup.xml", 1000)  # IVR: hangs up while the menu plays
    await until(lambda: bool(runner.runs), timeout=10)
    contact = next(iter(runner.runs))
    rc, out = await sipp
    assert rc == 0, out
    await stage.settled(fds, tasks)
    events = await contact_events(client, contact)
    assert ends(events) == [("caller_hung_up", "ivr")]
    assert [e.data["reason"] for e in events if e.type == "ivr.ended"] == ["caller_hung_up"]

    center = center_of(client)
    sipp = stage.call("bank_keys.xml", 1500)  # queue: keyed into sales, nobody is ready
    await until(lambda: any(c.queue == "sales" for c in center.engine.contacts.values()), timeout=10)
    contact = next(c for c in center.engine.contacts.values() if c.queue == "sales").contact_id
    rc, out = await sipp
    assert rc == 0, out
    await stage.settled(fds, tasks)
    assert ends(await contact_events(client, contact)) == [("abandoned", None)]
    await client.close()


async def test_caller_hangs_up_offered_connected_and_on_hold_and_the_agent_ends_a_call(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts)))
    stage = Stage(client, tmp_path)
    center = center_of(client)
    await ready_agent(center, "alice", {"sales": 1})
    phone = AgentPhone(client, "alice")
    await phone.dial()
    try:
        await stage.warm()
        fds, tasks = open_fds(), set(asyncio.all_tasks())
        # offered: the agent's desk rings, the caller gives up; the agent is free again
        sipp = stage.call("bank_keys.xml", 1000)
        offer = await offer_for(center, "alice")
        rc, out = await sipp
        assert rc == 0, out
        await stage.settled(fds, tasks)
        assert ends(await contact_events(client, offer.contact_id)) == [("abandoned", None)]
        assert center.engine.agents["alice"].state.value == "AVAILABLE"

        # connected, then on hold: music to the caller, nothing to the agent; caller hangs up
        sipp = stage.call("bank_keys.xml", 3000)
        offer = await offer_for(center, "alice")
        await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
        call = next(iter(stage.telephony.front.calls.values()))
        await until(lambda: call.bridge is not None)
        await until(lambda: phone.tone_frames() > 10)  # talking: the agent hears the echo
        await center.submit(ContactHeld(contact_id=offer.contact_id, on=True))
        await until(lambda: call.bridge is not None and call.bridge.held)
        await asyncio.sleep(0.3)  # let audio already under way drain
        heard, sent = phone.tone_frames(), call.channel.frames_out
        await asyncio.sleep(1.0)  # one second on hold
        assert call.channel.frames_out - sent >= 40  # music on hold went to the caller
        assert phone.tone_frames() - heard <= 3  # and the agent's voice did not
        rc, out = await sipp
        assert rc == 0, out
        await stage.settled(fds, tasks)
        events = await contact_events(client, offer.contact_id)
        assert "contact.held" in [e.type for e in events]
        assert ends(events) == [("completed", "customer")]
        await center.submit(AgentReady(agent_id="alice"))  # wrap-up done

        # the agent ends the call from the desk: the caller goes on to the survey
        sipp = stage.call("bank_keys.xml", 2500)
        offer = await offer_for(center, "alice")
        await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
        call = next(iter(stage.telephony.front.calls.values()))
        await until(lambda: call.bridge is not None)
        await center.submit(ContactEnded(contact_id=offer.contact_id, by="agent"))
        await until(lambda: call.bridge is None)
        rc, out = await sipp
        assert rc == 0, out
        await stage.settled(fds, tasks)
        events = await contact_events(client, offer.contact_id)
        assert ends(events) == [("completed", "agent")]
        assert "survey" in [e.data.get("node") for e in events if e.type == "ivr.node"]
    finally:
        await phone.hang_up()
    await until(lambda: not stage.telephony.front.agent_lines)
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("agent-line-")]
    await client.close()


async def test_shutdown_hangs_up_every_call_and_their_ends_reach_the_log(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts)))
    stage = Stage(client, tmp_path)
    center = center_of(client)
    await ready_agent(center, "alice", {"sales": 1})
    phone = AgentPhone(client, "alice")
    await phone.dial()
    sipp = stage.call("bank_keys.xml", 30000)  # would stay 30 s; the server stops first
    offer = await offer_for(center, "alice")
    await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
    call = next(iter(stage.telephony.front.calls.values()))
    await until(lambda: call.bridge is not None)
    sip = stage.telephony.sip
    await client.server.close()  # the server stops (the test client's sockets stay open)
    # BYE to the caller first, then the agent's leg closed, then the log flushed
    assert sip.open_resources()["calls"] == 0 and not stage.telephony.front.calls
    assert not stage.telephony.front.agent_lines
    await asyncio.wait_for(sipp, 40)  # sipp took our BYE (its script expected to send one)
    await phone.hang_up()
    await client.close()
    with sqlite3.connect(tmp_path / "cc.db") as db:
        ends = db.execute(
            "SELECT json_extract(data, '$.reason'), json_extract(data, '$.by') FROM events "
            "WHERE contact_id = ? AND type = 'contact.ended'",
            (offer.contact_id,),
        ).fetchall()
        last = db.execute("SELECT type FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    assert ends == [("completed", "customer")]
    assert last == ("server.stopped",)
