"""Callbacks dialled by the server. A caller (a media-stream phone) keys into the sales
queue, presses * and is hung up on; later an agent accepts the callback from a real desk
WebSocket, and the server dials the customer over SIP: a real sipp UAS on loopback
answers (audio both ways through the bridge, sipp echoing the agent's tone), is busy
(486), or rings until ``dial_ring_s`` passes (our CANCEL). The agent's audio leg is a
media-stream call to ``agent-carol`` sending a 1 kHz tone."""

from __future__ import annotations

import array
import asyncio
import contextlib
import socket
import sqlite3
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telsupport import SIPP_DIR, free_port, needs_sipp, open_fds, tone_power, until
from voicesupport import (
    AgentPhone,
    StreamPhone,
    center_of,
    contact_events,
    offer_for,
    ready_agent,
    voice_config,
)

from callcenter.acd.agents import State
from callcenter.acd.messages import ContactEnded, OfferAccepted
from callcenter.app import create_app
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.voice.install import TELEPHONY
from callcenter.runtime.voice.keys import AGENT_LEGS

pytestmark = [needs_sipp, pytest.mark.timeout(90)]

BANK = "+15550100"
CALLER = "+15557654321"  # not a customer: the bank flow asks account (1) or new (2)
AGENT = "carol"  # has the sales skill in the demo config


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


# The caller who leaves a callback ------------------------------------------------------------


async def queue_a_callback(client: Any) -> str:
    """Dial the bank, key 1 then 2 into sales, press * and be hung up on; the contact
    waits in sales as a callback to the calling number."""
    runner, front, engine = client.app[IVR_RUNNER], client.app[TELEPHONY].front, center_of(client).engine
    caller = StreamPhone(client, CALLER, BANK, 500)
    await caller.dial()
    try:
        await until(lambda: any(r.channel.channel.info.caller == CALLER for r in runner.runs.values()))
        cid: str = next(c for c, r in runner.runs.items() if r.channel.channel.info.caller == CALLER)
        await caller.press("1")
        await until(lambda: runner.runs[cid].session.node_id == "customer_check")
        await caller.press("2")
        await until(lambda: cid in engine.contacts and (c := front.by_contact(cid)) is not None and c.queued)
        await caller.press("*")
        await until(lambda: caller.closed, timeout=20)
    finally:
        await caller.hang_up()
    await until(lambda: not front.calls and not runner.runs)
    assert engine.contacts[cid].channel == "callback"
    return cid


# The customer's phone: a sipp UAS ------------------------------------------------------------


def udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Customer:
    """sipp as the customer's phone on 127.0.0.1:``port``, one call; ``messages`` is its
    trace of what it received and sent."""

    def __init__(self, scenario: str, port: int, workdir: Path, *args: str) -> None:
        self.scenario, self.port, self.workdir, self.args = scenario, port, workdir, args
        self.messages = workdir / "customer-messages.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            "sipp",
            "-sf",
            str(SIPP_DIR / self.scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-m",
            "1",
            "-mp",
            str(free_port()),
            "-rtp_echo",
            "-nostdin",
            "-timeout",
            "30s",
            "-timeout_error",
            "-trace_msg",
            "-message_file",
            str(self.messages),
            *self.args,
            cwd=self.workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        await until(lambda: not udp_free(self.port), timeout=10)

    async def finished(self) -> tuple[int, str]:
        assert self.process is not None
        try:
            out, _ = await asyncio.wait_for(self.process.communicate(), 40)
        finally:
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0, out.decode("utf-8", "replace")

    def received(self, method: str) -> list[str]:
        """Request lines of what sipp received with ``method``."""
        text = self.messages.read_text("utf-8", "replace") if self.messages.exists() else ""
        return [line.strip() for line in text.splitlines() if line.strip().startswith(f"{method} sip:")]


# The agent's desk ----------------------------------------------------------------------------


class Desk:
    """The real desk WebSocket, logged in through the login route."""

    def __init__(self, client: Any, user: str) -> None:
        self.client, self.user = client, user
        self.backlog: list[dict[str, Any]] = []
        self.n = 0

    async def open(self) -> None:
        self.session = aiohttp.ClientSession(
            base_url=str(self.client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        res = await self.session.post(
            "/api/v1/auth/login", json={"username": self.user, "password": self.user}
        )
        assert res.status == 200
        self.ws = await self.session.ws_connect("/ws/desk")
        await self.ws.send_json({"type": "hello", "protocol": 1})
        assert (await self.ws.receive_json(timeout=5))["type"] == "welcome"

    async def ask(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.n += 1
        await self.ws.send_json({"type": type_, "id": self.n, **fields})
        while True:
            frame: dict[str, Any] = await self.ws.receive_json(timeout=10)
            if frame.get("id") == self.n:
                return frame
            self.backlog.append(frame)

    async def next(self, type_: str, timeout: float = 20.0, **match: Any) -> dict[str, Any]:
        """The next frame of ``type_`` (and ``match``ing fields); earlier ones are passed."""
        while True:
            frame = self.backlog.pop(0) if self.backlog else await self.ws.receive_json(timeout=timeout)
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


@contextlib.asynccontextmanager
async def carol_at_her_desk(client: Any) -> AsyncIterator[tuple[AgentPhone, Desk]]:
    """The agent's phone line (her audio leg, a 1 kHz voice) and her desk, closed after."""
    phone, desk = AgentPhone(client, AGENT), Desk(client, AGENT)
    await phone.dial()
    await desk.open()
    try:
        yield phone, desk
    finally:
        await desk.close()
        await phone.hang_up()


async def accept_the_callback(client: Any, desk: Desk, cid: str) -> None:
    assert (await desk.ask("set_state", state="ready"))["state"] in ("AVAILABLE", "OFFERED")
    offer = await desk.next("offer")
    assert offer["contact_id"] == cid and offer["channel"] == "callback"
    assert (await desk.ask("accept", offer_id=offer["offer_id"]))["type"] == "ack"
    dialing = await desk.next("contact", status="dialing")
    assert dialing["contact_id"] == cid and dialing["number"] == CALLER


async def open_center(
    aiohttp_client: Any, tmp_path: Path, prompts: Path, **telephony: Any
) -> tuple[Any, int]:
    port = free_port()
    config = voice_config(
        tmp_path, prompts, dial_uri=f"sip:{{number}}@127.0.0.1:{port}", dial_from="bank", **telephony
    )
    return await aiohttp_client(create_app(config)), port


def left_over(client: Any) -> dict[str, int]:
    sip = client.app[TELEPHONY].sip
    resources = {k: v for k, v in sip.open_resources().items() if k != "clock_sinks"}  # phones tick
    return {**resources, "dialing": sip.dialing}


# The tests -----------------------------------------------------------------------------------


async def test_an_accepted_callback_is_dialled_answered_and_bridged_with_audio_both_ways(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client, port = await open_center(aiohttp_client, tmp_path, prompts)
    center = center_of(client)
    cid = await queue_a_callback(client)
    assert (await (await client.get("/healthz")).json())["telephony"]["callbacks"] == 0
    fds = open_fds()  # with the test client's keep-alive connection already open
    customer = Customer("uas_answer_bye.xml", port, tmp_path, "-d", "4000")
    await customer.start()
    async with carol_at_her_desk(client) as (phone, desk):
        await accept_the_callback(client, desk, cid)
        answered = await desk.next("contact", status="connected", dial="answered")
        assert answered["contact_id"] == cid
        health = await (await client.get("/healthz")).json()
        assert health["telephony"]["callbacks"] == 1
        # the agent's tone went to the customer, who echoed it back through the bridge
        await until(lambda: phone.tone_frames(1000) > 50, timeout=10)
        rc, out = await customer.finished()  # then the customer hung up (BYE)
        assert rc == 0, out
        await until(lambda: cid not in center.engine.contacts)
        assert (await desk.next("contact", status="wrap_up"))["contact_id"] == cid
    assert customer.received("INVITE") == [f"INVITE sip:{CALLER}@127.0.0.1:{port} SIP/2.0"]
    events = await contact_events(client, cid)
    kinds = [e.type for e in events]
    for kind in (
        "contact.connected",
        "contact.dialing",
        "contact.dial_answered",
        "contact.bridged",
        "contact.ended",
    ):
        assert kind in kinds, kinds
    assert (
        kinds.index("contact.dialing") < kinds.index("contact.dial_answered") < kinds.index("contact.ended")
    )
    dialing = next(e for e in events if e.type == "contact.dialing")
    assert dialing.agent_id == AGENT and dialing.data["number"] == CALLER
    assert [(e.data["reason"], e.data.get("by")) for e in events if e.type == "contact.ended"] == [
        ("completed", "customer")
    ]
    recording = (
        tmp_path / "recordings" / next(e.data["path"] for e in events if e.type == "contact.recording")
    )
    with wave.open(str(recording)) as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
    assert _tone_seconds(samples[1::2].tobytes()) > 1.0  # the agent's side
    assert _tone_seconds(samples[0::2].tobytes()) > 1.0  # the customer's side: the echo
    await until(lambda: not client.app[TELEPHONY].front.agent_lines)
    assert left_over(client) == {"calls": 0, "tasks": 0, "pending_ack": 0, "client_tx": 0, "dialing": 0}
    assert not client.app[TELEPHONY].callbacks.calls and not client.app[AGENT_LEGS].in_use(AGENT)
    assert (await (await client.get("/healthz")).json())["telephony"]["callbacks"] == 0
    assert open_fds() <= fds + 2  # the desk's and phone's sockets are closed; sipp is gone


async def test_a_busy_customer_ends_the_callback_and_the_agent_goes_to_wrap_up(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client, port = await open_center(aiohttp_client, tmp_path, prompts)
    center = center_of(client)
    cid = await queue_a_callback(client)
    customer = Customer("uas_busy.xml", port, tmp_path)
    await customer.start()
    async with carol_at_her_desk(client) as (_phone, desk):
        await accept_the_callback(client, desk, cid)
        failed = await desk.next("contact", status="dial_failed")
        assert (failed["dial_status"], failed["dial_reason"]) == (486, "busy")
        assert (await desk.next("contact", status="wrap_up"))["contact_id"] == cid
        assert (await desk.next("state"))["state"] in ("WRAP_UP", "AVAILABLE")
        rc, out = await customer.finished()  # our ACK of the 486 ended its scenario
        assert rc == 0, out
        assert center.engine.agents[AGENT].state in (State.WRAP_UP, State.AVAILABLE)
        assert (await desk.ask("wrap_up_done"))["type"] == "ack"  # not stuck: ready again
        assert center.engine.agents[AGENT].state is State.AVAILABLE
    await _assert_failed(client, cid, status=486, reason="busy")


async def test_an_unanswered_callback_is_cancelled_after_the_ring_time(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client, port = await open_center(aiohttp_client, tmp_path, prompts, dial_ring_s=2.0)
    center = center_of(client)
    cid = await queue_a_callback(client)
    customer = Customer("uas_no_answer.xml", port, tmp_path)
    await customer.start()
    loop = asyncio.get_running_loop()
    async with carol_at_her_desk(client) as (_phone, desk):
        await accept_the_callback(client, desk, cid)
        dialled_at = loop.time()
        failed = await desk.next("contact", status="dial_failed")
        rang = loop.time() - dialled_at
        assert failed["dial_reason"] == "no_answer"
        assert 1.8 < rang < 6.0, rang  # dial_ring_s, then the CANCEL's 487
        rc, out = await customer.finished()  # it saw our CANCEL and the ACK of its 487
        assert rc == 0, out
        assert (await desk.next("state"))["state"] in ("WRAP_UP", "AVAILABLE")
        assert center.engine.agents[AGENT].state in (State.WRAP_UP, State.AVAILABLE)
    assert len(customer.received("CANCEL")) >= 1
    assert client.app[TELEPHONY].sip.stats["dial_cancels"] == 1
    await _assert_failed(client, cid, status=487, reason="no_answer")


async def test_desk_hold_and_end_on_a_dialled_callback(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client, port = await open_center(aiohttp_client, tmp_path, prompts)
    center = center_of(client)
    cid = await queue_a_callback(client)
    customer = Customer("uas_answer_wait_bye.xml", port, tmp_path)
    await customer.start()
    async with carol_at_her_desk(client) as (phone, desk):
        await accept_the_callback(client, desk, cid)
        await desk.next("contact", status="connected", dial="answered")
        await until(lambda: phone.tone_frames(1000) > 10, timeout=10)  # talking
        # on hold: music to the customer, nothing to the agent; then back
        callback = client.app[TELEPHONY].callbacks.calls[cid]
        assert (await desk.ask("hold", contact_id=cid, on=True))["type"] == "ack"
        await until(lambda: callback.bridge is not None and callback.bridge.held)
        await asyncio.sleep(0.3)  # let audio already under way drain
        heard, sent = phone.tone_frames(1000), callback.channel.frames_out
        await asyncio.sleep(1.0)  # one second on hold
        assert callback.channel.frames_out - sent >= 40  # music on hold went to the customer
        assert phone.tone_frames(1000) - heard <= 3  # and the agent's voice did not
        assert (await desk.ask("hold", contact_id=cid, on=False))["type"] == "ack"
        await until(lambda: phone.tone_frames(1000) > heard + 20, timeout=10)  # talking again
        assert (await desk.ask("end", contact_id=cid))["type"] == "ack"
        rc, out = await customer.finished()  # it got our BYE and answered it
        assert rc == 0, out
        assert (await desk.next("state"))["state"] in ("WRAP_UP", "AVAILABLE")
    assert len(customer.received("BYE")) >= 1
    assert cid not in center.engine.contacts
    events = await contact_events(client, cid)
    assert [(e.data["reason"], e.data.get("by")) for e in events if e.type == "contact.ended"] == [
        ("completed", "agent")
    ]
    await until(lambda: left_over(client)["client_tx"] == 0)  # its 200 ended our BYE transaction
    await until(lambda: not client.app[TELEPHONY].front.agent_lines)
    assert left_over(client) == {"calls": 0, "tasks": 0, "pending_ack": 0, "client_tx": 0, "dialing": 0}


async def test_the_desks_end_while_the_customer_rings_cancels_the_dial(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client, port = await open_center(aiohttp_client, tmp_path, prompts, dial_ring_s=20.0)
    sip = client.app[TELEPHONY].sip
    cid = await queue_a_callback(client)
    customer = Customer("uas_no_answer.xml", port, tmp_path)
    await customer.start()
    async with carol_at_her_desk(client) as (_phone, desk):
        await accept_the_callback(client, desk, cid)
        await until(lambda: sip.stats["dial_provisional"] == 1)  # it rings
        assert (await desk.ask("end", contact_id=cid))["type"] == "ack"
        rc, out = await customer.finished()  # CANCEL, 200, 487, and our ACK of the 487
        assert rc == 0, out
        assert (await desk.next("state"))["state"] in ("WRAP_UP", "AVAILABLE")
    assert sip.stats["dial_cancels"] == 1 and len(customer.received("CANCEL")) >= 1
    assert cid not in center_of(client).engine.contacts
    events = await contact_events(client, cid)
    assert [e.data for e in events if e.type == "contact.dial_failed"] == [
        {"status": None, "reason": "cancelled"}
    ]
    assert [(e.data["reason"], e.data.get("by")) for e in events if e.type == "contact.ended"] == [
        ("completed", "agent")
    ]
    await until(lambda: not client.app[TELEPHONY].callbacks.calls)
    await until(lambda: not client.app[TELEPHONY].front.agent_lines)
    assert left_over(client) == {"calls": 0, "tasks": 0, "pending_ack": 0, "client_tx": 0, "dialing": 0}


async def test_a_transfer_moves_the_dialled_customer_to_the_next_agents_leg(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client, port = await open_center(aiohttp_client, tmp_path, prompts)
    center = center_of(client)
    cid = await queue_a_callback(client)
    customer = Customer("uas_answer_wait_bye.xml", port, tmp_path)
    await customer.start()
    dan = AgentPhone(client, "dan")  # the second agent's leg: also a 1 kHz voice
    await dan.dial()
    async with carol_at_her_desk(client) as (phone, desk):
        await accept_the_callback(client, desk, cid)
        await desk.next("contact", status="connected", dial="answered")
        await until(lambda: phone.tone_frames(1000) > 10, timeout=10)
        await ready_agent(center, "dan", {"sales": 1})
        assert (await desk.ask("transfer", contact_id=cid, to_agent="dan"))["type"] == "ack"
        offer = await offer_for(center, "dan")
        await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="dan"))
        await until(lambda: dan.tone_frames(1000) > 20, timeout=10)  # dan's voice, echoed back
        assert client.app[AGENT_LEGS].in_use("dan") and not client.app[AGENT_LEGS].in_use(AGENT)
        await center.submit(ContactEnded(contact_id=cid, by="agent"))  # dan ends it
        rc, out = await customer.finished()  # our BYE
        assert rc == 0, out
    await dan.hang_up()
    events = await contact_events(client, cid)
    kinds = [e.type for e in events]
    assert kinds.count("contact.dialing") == 1 and kinds.count("contact.dial_answered") == 1
    assert [e.agent_id for e in events if e.type == "contact.bridged"] == [AGENT, "dan"]
    assert "contact.transferred" in kinds
    assert [(e.data["reason"], e.data.get("by")) for e in events if e.type == "contact.ended"] == [
        ("completed", "agent")
    ]
    await until(lambda: not client.app[TELEPHONY].front.agent_lines)
    assert left_over(client) == {"calls": 0, "tasks": 0, "pending_ack": 0, "client_tx": 0, "dialing": 0}


async def test_shutdown_hangs_up_a_dialled_callback_and_its_end_reaches_the_log(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client, port = await open_center(aiohttp_client, tmp_path, prompts)
    cid = await queue_a_callback(client)
    customer = Customer("uas_answer_wait_bye.xml", port, tmp_path)
    await customer.start()
    telephony = client.app[TELEPHONY]
    async with carol_at_her_desk(client) as (phone, desk):
        await accept_the_callback(client, desk, cid)
        await desk.next("contact", status="connected", dial="answered")
        await until(lambda: phone.tone_frames(1000) > 10, timeout=10)
        await client.server.close()  # the server stops (the test client's sockets stay open)
        assert telephony.sip.open_resources()["calls"] == 0 and not telephony.callbacks.calls
        rc, out = await customer.finished()  # the customer got our BYE
        assert rc == 0, out
    await client.close()
    with sqlite3.connect(tmp_path / "cc.db") as db:
        ends = db.execute(
            "SELECT json_extract(data, '$.reason'), json_extract(data, '$.by') FROM events "
            "WHERE contact_id = ? AND type = 'contact.ended'",
            (cid,),
        ).fetchall()
        last = db.execute("SELECT type FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    assert ends == [("completed", "system_shutdown")]
    assert last == ("server.stopped",)


async def test_without_dial_uri_an_accepted_callback_is_left_to_the_agent_as_before(
    aiohttp_client: Any, tmp_path: Path, prompts: Path
) -> None:
    client = await aiohttp_client(create_app(voice_config(tmp_path, prompts)))
    center = center_of(client)
    assert client.app[TELEPHONY].callbacks is None
    cid = await queue_a_callback(client)
    desk = Desk(client, AGENT)
    await desk.open()
    try:
        assert (await desk.ask("set_state", state="ready"))["state"] in ("AVAILABLE", "OFFERED")
        offer = await desk.next("offer")
        assert (await desk.ask("accept", offer_id=offer["offer_id"]))["type"] == "ack"
        assert (await desk.next("contact"))["status"] == "connected"
        assert center.engine.contacts[cid].state == "connected"  # the agent phones by hand
        assert (await desk.ask("end", contact_id=cid))["type"] == "ack"
    finally:
        await desk.close()
    kinds = [e.type for e in await contact_events(client, cid)]
    assert "contact.connected" in kinds and "contact.dialing" not in kinds
    assert client.app[TELEPHONY].sip.stats["dial_invites"] == 0


async def _assert_failed(client: Any, cid: str, *, status: int, reason: str) -> None:
    center = center_of(client)
    assert cid not in center.engine.contacts
    events = await contact_events(client, cid)
    kinds = [e.type for e in events]
    assert "contact.dialing" in kinds and "contact.dial_answered" not in kinds
    assert "contact.bridged" not in kinds
    failed = [e.data for e in events if e.type == "contact.dial_failed"]
    assert failed == [{"status": status, "reason": reason}]
    assert [(e.data["reason"], e.data.get("by")) for e in events if e.type == "contact.ended"] == [
        ("dial_failed", "system")
    ]
    await until(lambda: not client.app[TELEPHONY].front.agent_lines)
    assert left_over(client) == {"calls": 0, "tasks": 0, "pending_ack": 0, "client_tx": 0, "dialing": 0}
    assert not client.app[TELEPHONY].callbacks.calls and not client.app[AGENT_LEGS].in_use(AGENT)


def _tone_seconds(pcm: bytes) -> float:
    frames = [pcm[i : i + 320] for i in range(0, len(pcm) - 319, 320)]
    return sum(1 for f in frames if tone_power(f, 1000) > 0.5) * 0.02
