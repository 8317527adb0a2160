"""A shift through the agent's eyes, in real Chromium against the real server: Alice works
more than 30 contacts at her desk while Sam watches the wallboard beside her, and after
every step what the desk and the wallboard show is compared with the server's own state
(tests/support/shift_support.py says what "the truth" is, field by field).

The shift: chats from customers on the chat WebSocket (one at a time and two at once,
ended by Alice or by the customer), real SIP calls from sipp keying through the bank's
menu (1 English, 1 account, 3 lost card: the cards queue, short wrap-up that runs out by
itself), a call on hold, a declined offer, a lunch break with a chat waiting, a blind
transfer to Bob and one from Bob (Bob's desk is a desk WebSocket), a caller who asks to be
called back (the server dials a sipp phone when Alice accepts), a caller who leaves a
voicemail at the closed stock-exchange desk, a reload of the desk in mid-call and a dropped
desk WebSocket. The bank calendar is closed (sales, internet and stocks are closed queues);
the 24-hour queues are open. At the end the stock-exchange desk opens: its voicemail is
offered to Alice, who plays it at her desk beside the caller's card and calls the caller
back with one button (the server dials a sipp phone), then wraps up. Every wait is bounded; the sipp processes are killed at the end
whatever happens; the wall time is printed."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from browser_support import login
from demo_center import demo_config, free_port
from desk_socket import Desk
from msgspec.structs import replace
from shift_support import Shift

from callcenter.app import create_app
from callcenter.config.sections import HoursConfig
from callcenter.runtime.keys import CENTER
from callcenter.supervisor import wallboard

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]

SIPP_DIR = Path(__file__).resolve().parents[1] / "telephony" / "sipp"
PCAPS = Path("/usr/share/sip-tester")
BANK = "+15550100"
QUEUES = ["general", "english", "cards", "internet", "stocks", "complaints", "sales"]
WRAP_UP_S = {"cards": 2.0}  # a call's wrap-up runs out by itself; the others' Alice ends
WAIT_S = 8.0  # the longest any single step may take to reach the server


def shift_config(tmp_path: Path, prompts: Path, dial_port: int) -> Any:
    config = demo_config(
        f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        telephony={
            "enabled": True,
            "agent_lines": True,
            "record": False,
            "recordings_dir": str(tmp_path / "recordings"),  # voicemail lands here
            "agent_leg_wait_s": 4.0,
            "dial_uri": f"sip:{{number}}@127.0.0.1:{dial_port}",
            "dial_from": "bank",
            "dial_ring_s": 8.0,
        },
    )
    hours = {  # the bank's office hours are over; the 24-hour queues are open
        "bank": HoursConfig(timezone="Asia/Jerusalem", always_open=False),
        "always": HoursConfig(timezone="Asia/Jerusalem", always_open=True),
        # the stock exchange desk keeps a calendar of its own (closed too: the bank's menu
        # still sends its callers to voicemail), so that it alone can open at the end
        "stocks": HoursConfig(timezone="Asia/Jerusalem", always_open=False),
    }
    queues = [
        replace(q, wrap_up_s=WRAP_UP_S.get(q.name, 20.0), hours="stocks" if q.name == "stocks" else q.hours)
        for q in config.queues
    ]
    # Alice covers the stock exchange desk too: its voicemail comes to her when it opens
    users = [
        replace(u, skills={**u.skills, "stocks": 1}) if u.username == "alice" else u for u in config.users
    ]
    return replace(
        config,
        hours=hours,
        queues=queues,
        users=users,
        speech=replace(config.speech, cache_dir=str(prompts)),
    )


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


async def until(what: str, condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"the server did not get there in {timeout:g} s: {what}"
        await asyncio.sleep(0.02)


class Sipp:
    """sipp processes of the test: each is killed at the end whatever happened."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[asyncio.subprocess.Process] = []
        self.phones: list[asyncio.subprocess.Process] = []  # customers' phones (``answer``)
        for pcap in PCAPS.glob("*.pcap"):
            (workdir / pcap.name).symlink_to(pcap)

    async def start(self, scenario: str, *args: str) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            "sipp",
            "-sf",
            str(SIPP_DIR / scenario),
            "-i",
            "127.0.0.1",
            "-m",
            "1",
            "-mp",
            str(free_port()),
            "-nostdin",
            "-timeout",
            "90s",
            *args,
            cwd=self.workdir,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    async def call(self, scenario: str, caller: str, sip_port: int) -> asyncio.subprocess.Process:
        return await self.start(
            scenario, "-p", "0", "-rtp_echo", "-s", BANK, "-key", "caller", caller, f"127.0.0.1:{sip_port}"
        )

    async def answer(self, port: int) -> asyncio.subprocess.Process:
        """A customer's phone on ``port`` that answers one call and waits for our BYE."""
        phone = await self.start("uas_answer_wait_bye.xml", "-p", str(port), "-rtp_echo")
        self.phones.append(phone)
        return phone

    async def kill_all(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.kill()
                await process.wait()


class OtherDesk:
    """Bob's desk: the desk WebSocket of tests/support/desk_socket.py, read all the time
    (so its heartbeats are answered while the test looks elsewhere)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.get_running_loop().create_task(self.read())

    @classmethod
    async def open(cls, base_url: object, user: str) -> OtherDesk:
        return cls(await Desk.open(base_url, user))

    async def read(self) -> None:
        async for msg in self.desk.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.frames.put_nowait(msg.json())

    async def ask(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.desk.n += 1
        await self.desk.ws.send_json({"type": type_, "id": self.desk.n, **fields})
        async with asyncio.timeout(5):
            while True:
                frame = await self.frames.get()
                if frame.get("id") == self.desk.n:
                    assert frame["type"] == "ack", frame
                    return frame

    async def close(self) -> None:
        await self.desk.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


class Customer:
    """A chat customer on the chat WebSocket, from the first screen to the general queue."""

    def __init__(self, session: aiohttp.ClientSession, email: str, name: str) -> None:
        self.session, self.email, self.name = session, email, name
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.contact_id = ""

    async def queue(self) -> str:
        self.ws = await self.session.ws_connect("/ws/chat")
        await self.ws.send_json({"type": "start", "email": self.email, "name": self.name})
        frame = await self.ws.receive_json(timeout=5)
        assert frame["type"] == "session", frame
        self.contact_id = frame["contact_id"]
        await self.until("prompt", "What can we help you with?")
        await self.ws.send_json({"type": "choose", "key": "0"})  # something else: the general queue
        return self.contact_id

    async def until(self, kind: str, text: str = "") -> dict[str, Any]:
        assert self.ws is not None
        while True:
            frame: dict[str, Any] = await self.ws.receive_json(timeout=5)
            if frame["type"] == kind and str(frame.get("text", "")).startswith(text):
                return frame

    async def say(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send_json({"type": "text", "text": text})

    async def leave(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.send_json({"type": "leave"})
            await self.ws.close()


@contextlib.asynccontextmanager
async def shift_server(tmp_path: Path, prompts: Path, dial_port: int) -> AsyncIterator[TestServer]:
    server = TestServer(create_app(shift_config(tmp_path, prompts, dial_port)), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def test_a_shift_at_the_desk_tells_the_truth_at_every_step(
    browser: Any, tmp_path: Path, prompts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("sipp") is None or not (PCAPS / "dtmf_2833_1.pcap").exists():
        pytest.skip("sipp (Debian package sip-tester) is not installed")
    # the wallboard's feed pushes at most every PUSH_EVERY_S (half a second); a tenth keeps
    # 140 comparisons from waiting most of a minute for it (the board is the same, sooner)
    monkeypatch.setattr(wallboard, "PUSH_EVERY_S", 0.1)
    started = time.monotonic()
    dial_port = free_port()
    sipp = Sipp(tmp_path)
    async with shift_server(tmp_path, prompts, dial_port) as server:
        app = server.app
        center = app[CENTER]
        engine = center.engine
        sip_port = center_sip_port(app)
        errors: list[str] = []
        desk = await browser.new_page(viewport={"width": 1400, "height": 900})
        desk.set_default_timeout(5000)
        desk.on("pageerror", lambda exc: errors.append(f"desk: {exc}"))
        board = await browser.new_page(viewport={"width": 1400, "height": 900})
        board.set_default_timeout(5000)
        board.on("pageerror", lambda exc: errors.append(f"wallboard: {exc}"))
        customers = aiohttp.ClientSession(base_url=str(server.make_url("/")))
        bob: OtherDesk | None = None
        shift = Shift(app, desk, board, "alice", QUEUES)
        contacts: list[str] = []
        phases: list[tuple[str, float]] = [("start", started)]
        try:
            await login(board, server, "/wallboard", "sam")
            await board.wait_for_selector("#conn:text('live')", timeout=5000)
            bob = await OtherDesk.open(server.make_url("/"), "bob")  # on shift too, not ready yet
            await login(desk, server, "/desk", "alice")
            await desk.wait_for_selector("#conn:text('online')", timeout=5000)
            await shift.check("Alice opens her desk: not ready, logged in")

            # A caller leaves a voicemail at the closed stock-exchange desk; it takes the
            # length of the prompt and the message, so it runs beside the chats.
            voicemail = await sipp.call("shift_stocks_voicemail.xml", "5550199", sip_port)

            await desk.click("#btn-ready")
            await until("alice ready", lambda: engine.agents["alice"].state.value == "AVAILABLE")
            await shift.check("Alice goes ready")

            async def offered(cid: str, agent: str = "alice") -> None:
                await until(
                    f"{cid} offered to {agent}",
                    lambda: any(o.contact_id == cid and o.agent_id == agent for o in engine.offers.values()),
                )

            async def connected(cid: str, agent: str = "alice") -> None:
                await until(f"{cid} connected to {agent}", lambda: cid in engine.agents[agent].contacts)

            async def accept(cid: str, what: str) -> None:
                await offered(cid)
                await shift.check(f"{what} rings")
                await desk.click("#btn-accept")
                await connected(cid)
                await shift.check(f"Alice accepts {what}")

            async def select(cid: str) -> None:
                named = re.compile(f"{re.escape(shift.name_of(cid))}|{re.escape(cid)}")
                await desk.locator("#contacts li").filter(has_text=named).click()

            async def end(cid: str, what: str, disposition: str | None = None) -> None:
                await select(cid)
                if disposition:
                    await desk.select_option("#disposition", disposition)
                    await desk.click("#btn-disposition, #workspace button:text-is('Set')")
                    await logged(shift, "contact.disposition", cid)
                await desk.click("#workspace button[title='End (E)']")
                await until(f"{what} ends", lambda: cid not in engine.agents["alice"].contacts)
                await shift.check(f"Alice ends {what}")

            async def wrap_up_done(what: str) -> None:
                if engine.agents["alice"].state.value != "WRAP_UP":
                    return
                await desk.keyboard.press("r")  # ready: ends wrap-up
                await until(
                    f"wrap-up of {what} ends", lambda: engine.agents["alice"].state.value != "WRAP_UP"
                )
                await shift.check(f"Alice ends the wrap-up of {what}")

            async def handle_voicemail(vm: str) -> None:
                caller = engine.contacts[vm].caller or ""
                recorded = [
                    float(d["seconds"])
                    for k, c, d in shift.seen.kinds
                    if k == "contact.voicemail" and c == vm
                ]
                assert recorded, f"no contact.voicemail (the message's length) in the log for {vm}"
                left_s = recorded[0]
                await shift.open_calendar("stocks")
                await shift.check("the stock exchange desk opens")
                await accept(vm, "the voicemail")
                assert not engine.queues["stocks"].waiting, "the stock desk's queue still has work waiting"
                # the message as the desk's player has it: the recording of the sipp caller
                player = "#workspace section.voicemail audio"
                loaded = await desk.wait_for_function(
                    """(sel) => { const a = document.querySelector(sel);
                      if (!a) return null;
                      if (a.error) return { error: a.error.code, src: a.currentSrc };
                      return a.readyState >= 1 && a.duration > 0 ? { duration: a.duration } : null; }""",
                    arg=player,
                    timeout=5000,
                )
                media = await loaded.json_value()
                assert "duration" in media, f"the voicemail's player cannot load the message: {media}"
                assert abs(media["duration"] - left_s) < 1.0, (
                    f"the player's message lasts {media['duration']:.1f} s, the server recorded {left_s:.1f} s"
                )
                card = await desk.locator("#card").text_content(timeout=5000)
                assert await desk.locator("#card").is_visible() and caller in (card or ""), (
                    f"the caller's card beside the voicemail: {card!r}, caller {caller!r}"
                )
                await desk.evaluate(
                    "(sel) => { const a = document.querySelector(sel); a.muted = true; return a.play(); }",
                    player,
                )
                await logged(shift, "contact.voicemail_handled", vm)
                handled = [d for k, c, d in shift.seen.kinds if k == "contact.voicemail_handled" and c == vm]
                assert handled[0].get("handling") == "listened", handled
                await shift.check("Alice plays the voicemail")
                # Call back: the callback dialler rings the caller's phone, a sipp UAS that
                # answers and waits for the server's BYE (the phone set up for the earlier
                # callback may still be waiting: that caller was still on the line when
                # Alice took it, so nobody dialled it)
                waiting = [p for p in sipp.phones if p.returncode is None]
                phone = waiting[0] if waiting else await sipp.answer(dial_port)
                await desk.click("#workspace section.voicemail button:text-is('Call back')")
                await until("the voicemail is called back", lambda: vm not in engine.contacts)
                cb = next(cid for cid, ch in engine.agents["alice"].contacts.items() if ch == "callback")
                contacts.append(cb)
                await logged(shift, "contact.ended", vm)
                ended = [d for k, c, d in shift.seen.kinds if k == "contact.ended" and c == vm]
                assert ended[0].get("reason") == "called_back", ended
                await shift.check("Alice calls the caller of the voicemail back")
                await logged(shift, "contact.dial_answered", cb)
                dialled = [
                    d.get("number") for k, c, d in shift.seen.kinds if k == "contact.dialing" and c == cb
                ]
                assert dialled == [caller], (
                    f"the dialler called {dialled}, the voicemail was left by {caller!r}"
                )
                await shift.check("the caller of the voicemail answers")
                await end(cb, "the call back of the voicemail", "resolved")
                await wrap_up_done("the call back of the voicemail")
                await asyncio.wait_for(phone.wait(), 5)
                assert phone.returncode == 0, f"the caller's phone: sipp exited {phone.returncode}"

            async def chat(n: int) -> Customer:
                customer = Customer(customers, f"shift-{n:02d}@example.org", f"Customer {n:02d}")
                contacts.append(await customer.queue())
                return customer

            # Chats one at a time: accept, reply, end (a disposition on every other one),
            # wrap-up, ready. -----------------------------------------------------------
            phases.append(("chats one at a time", time.monotonic()))
            n = 0
            for _ in range(8):
                n += 1
                customer = await chat(n)
                cid = customer.contact_id
                await accept(cid, f"chat {n}")
                if n % 2:
                    await desk.fill(
                        "#chat-reply, input[aria-label='Chat reply']", f"Hello, how can I help? ({n})"
                    )
                    await desk.keyboard.press("Enter")
                    await customer.until("message")
                    await customer.say("Thank you, that is all")
                    await shift.check(f"chat {n}: a line each way")
                await end(cid, f"chat {n}", "resolved" if n % 2 else None)
                await wrap_up_done(f"chat {n}")
                await customer.leave()

            # Two chats at once: the second rings while Alice is on the first; the customer
            # of the first leaves, Alice ends the second. ------------------------------------
            phases.append(("two chats at once", time.monotonic()))
            for _ in range(3):
                n += 1
                first = await chat(n)
                await accept(first.contact_id, f"chat {n}")
                n += 1
                second = await chat(n)
                await accept(second.contact_id, f"chat {n} (beside chat {n - 1})")
                await select(first.contact_id)
                await shift.check(f"Alice selects chat {n - 1} of two")
                await first.leave()
                await until(
                    f"chat {n - 1} ended by its customer", released(engine, "alice", first.contact_id)
                )
                await shift.check(f"the customer of chat {n - 1} leaves")
                await end(second.contact_id, f"chat {n}", "follow-up")
                await wrap_up_done(f"chat {n}")
                await second.leave()

            # A declined offer, then a lunch break with a chat waiting. -------------------
            phases.append(("decline and lunch", time.monotonic()))
            n += 1
            declined = await chat(n)
            await offered(declined.contact_id)
            await desk.click("#btn-decline")
            await until(
                "alice not ready after declining", lambda: engine.agents["alice"].state.value == "NOT_READY"
            )
            await shift.check(f"Alice declines chat {n}: not ready, the chat waits")
            await desk.select_option("#reason", "lunch")
            await desk.click("#btn-not-ready")
            await until("alice at lunch", lambda: engine.agents["alice"].reason == "lunch")
            await shift.check("Alice goes to lunch")
            n += 1
            waiting = await chat(n)
            await until("two chats wait", lambda: len(engine.queues["general"].waiting) == 2)
            await shift.check("a second chat waits while Alice is at lunch")
            await desk.click("#btn-ready")
            for customer in (declined, waiting):
                await accept(customer.contact_id, f"waiting chat {contacts.index(customer.contact_id) + 1}")
            for customer in (declined, waiting):
                await end(customer.contact_id, "a chat that waited through lunch", "resolved")
            await wrap_up_done("the chats that waited")
            for customer in (declined, waiting):
                await customer.leave()

            # A dropped desk WebSocket in the middle of a chat: the desk comes back by itself
            # and shows the chat again. -----------------------------------------------------
            phases.append(("dropped socket", time.monotonic()))
            n += 1
            dropped = await chat(n)
            await accept(dropped.contact_id, f"chat {n}")
            await drop_desk_socket(app, "alice")
            await desk.wait_for_selector("#conn:text('online')", timeout=5000)
            await shift.check("the desk's WebSocket dropped and came back mid-chat")
            await end(dropped.contact_id, f"chat {n} after the drop")
            await wrap_up_done(f"chat {n}")
            await dropped.leave()

            # Blind transfers each way with Bob (a desk WebSocket). ---------------------------
            phases.append(("transfers", time.monotonic()))
            n += 1
            to_bob = await chat(n)
            await accept(to_bob.contact_id, f"chat {n}")
            await bob.ask("set_state", state="ready")
            await desk.select_option("#transfer-to", "agent:bob")
            await desk.click("#btn-transfer, #workspace button:text-is('Transfer')")
            await offered(to_bob.contact_id, "bob")
            await shift.check(f"Alice transfers chat {n} to Bob (blind)")
            offer = next(o for o in engine.offers.values() if o.agent_id == "bob")
            await bob.ask("accept", offer_id=offer.offer_id)
            await connected(to_bob.contact_id, "bob")
            await shift.check(f"Bob takes chat {n}")
            await wrap_up_done(f"chat {n} (transferred)")
            await desk.select_option("#reason", "meeting")
            await desk.click("#btn-not-ready")
            await until("alice in a meeting", lambda: engine.agents["alice"].reason == "meeting")
            await bob.ask("end", contact_id=to_bob.contact_id)
            await bob.ask("set_state", state="not_ready", reason="break")
            await to_bob.leave()
            n += 1
            from_bob = await chat(n)
            await bob.ask("set_state", state="ready")
            await offered(from_bob.contact_id, "bob")
            offer = next(o for o in engine.offers.values() if o.agent_id == "bob")
            await bob.ask("accept", offer_id=offer.offer_id)
            await connected(from_bob.contact_id, "bob")
            await shift.check(f"Bob has chat {n} while Alice is in a meeting")
            await bob.ask("set_state", state="not_ready", reason="break")
            await desk.click("#btn-ready")
            await bob.ask("transfer", contact_id=from_bob.contact_id, to_agent="alice")
            await accept(from_bob.contact_id, f"chat {n} transferred by Bob")
            await end(from_bob.contact_id, f"chat {n} from Bob", "resolved")
            await wrap_up_done(f"chat {n} from Bob")
            await from_bob.leave()

            # Calls through the menu into cards: one ends and its short wrap-up runs out; one
            # goes on hold and the desk is reloaded mid-call. ---------------------------------
            phases.append(("calls", time.monotonic()))
            for k, caller in enumerate(("5550101", "5550102")):
                await sipp.call("shift_cards_caller.xml", caller, sip_port)
                # the caller keys through the menu for 3 s at least (sipp's pauses): Alice
                # takes a chat or two meanwhile, each queued well before the call can be
                dialled = asyncio.get_running_loop().time()
                while asyncio.get_running_loop().time() - dialled < 1.5:
                    n += 1
                    customer = await chat(n)
                    await accept(customer.contact_id, f"chat {n} while {caller} is in the menu")
                    await end(customer.contact_id, f"chat {n}", "resolved")
                    await wrap_up_done(f"chat {n}")
                    await customer.leave()
                await until(
                    f"call {caller} rings",
                    lambda: any(o.agent_id == "alice" for o in engine.offers.values()),
                    20,
                )
                cid = next(o.contact_id for o in engine.offers.values() if o.agent_id == "alice")
                contacts.append(cid)
                await accept(cid, f"the call from {caller}")
                if k == 1:
                    await desk.click("#workspace button[title='Hold (H)']")
                    await logged(shift, "contact.held", cid)
                    await shift.check(f"Alice holds the call from {caller}")
                    await desk.reload()
                    await desk.wait_for_selector("#conn:text('online')", timeout=5000)
                    await shift.check(f"Alice reloads her desk during the call from {caller}")
                    if cid in engine.agents["alice"].contacts:
                        await desk.click("#workspace button[title='Hold (H)']")
                        await logged(shift, "contact.retrieved", cid)
                        await shift.check(f"Alice retrieves the call from {caller}")
                    else:  # the reload hung up on the caller: say so, and go on with the shift
                        await shift.read_log()
                        ended = [d for k, c, d in shift.seen.kinds if k == "contact.ended" and c == cid]
                        shift.disagree(
                            f"Alice reloads her desk during the call from {caller}",
                            "server",
                            "the call survives a reload of the desk",
                            f"the call ended: {ended}",
                            "still connected to alice",
                        )
                        await until(
                            "wrap-up runs out", lambda: engine.agents["alice"].state.value != "WRAP_UP", 6
                        )
                        await shift.check(f"the wrap-up of the call from {caller} runs out")
                        continue
                await end(cid, f"the call from {caller}", "resolved" if k else None)
                await until(
                    "cards wrap-up runs out", lambda: engine.agents["alice"].state.value != "WRAP_UP", 6
                )
                await shift.check(f"the wrap-up of the call from {caller} runs out")

            # A callback: the caller waits in cards while Alice is on a break, presses * and
            # is hung up on; Alice takes the callback, the server dials the customer. --------
            phases.append(("callback", time.monotonic()))
            await desk.select_option("#reason", "break")
            await desk.click("#btn-not-ready")
            await until("alice on a break", lambda: engine.agents["alice"].reason == "break")
            asker = await sipp.call("shift_cards_callback.xml", "5550103", sip_port)
            await until("a call waits in cards", lambda: bool(engine.queues["cards"].waiting), 20)
            cid = next(iter(engine.queues["cards"].waiting))
            contacts.append(cid)
            await shift.check("a call waits in cards while Alice is on a break")
            await until("the call becomes a callback", lambda: engine.contacts[cid].channel == "callback", 10)
            await shift.check("the waiting caller asks to be called back")
            # the caller hears the goodbye and is hung up on: only then is it a call to make
            # (a caller still on the line when the callback is taken is bridged as he is)
            assert await asyncio.wait_for(asker.wait(), 15) == 0
            phone = await sipp.answer(dial_port)
            await desk.click("#btn-ready")
            await accept(cid, "the callback")
            await logged(shift, "contact.dial_answered", cid)  # the server dialled, the phone answered
            numbers = [d.get("number") for k, c, d in shift.seen.kinds if k == "contact.dialing" and c == cid]
            assert numbers == ["5550103"], numbers
            await shift.check("the customer answers the callback")
            await end(cid, "the callback", "resolved")
            assert await asyncio.wait_for(phone.wait(), 10) == 0  # the phone got our BYE
            await until("cards wrap-up runs out", lambda: engine.agents["alice"].state.value != "WRAP_UP", 6)
            await shift.check("the wrap-up of the callback runs out")

            # Chats again until the shift is over. --------------------------------------------
            phases.append(("more chats", time.monotonic()))
            while len(contacts) < 32:
                n += 1
                customer = await chat(n)
                await accept(customer.contact_id, f"chat {n}")
                await end(customer.contact_id, f"chat {n}", "resolved")
                await wrap_up_done(f"chat {n}")
                await customer.leave()

            # The voicemail has been left by now: it is work waiting for someone. -------------
            phases.append(("voicemail", time.monotonic()))
            await asyncio.wait_for(voicemail.wait(), 30)
            await shift.read_log()
            # a message left when closed is work: a contact of the voicemail channel waiting
            # in its queue until it opens, and the wallboard counts it (compared just below)
            left = [c.contact_id for c in engine.contacts.values() if c.channel == "voicemail"]
            if left:
                contacts.append(left[0])
            else:
                shift.disagree(
                    "the voicemail left at the closed stock desk",
                    "server",
                    "a voicemail becomes a contact waiting in a queue",
                    f"no voicemail contact; the log has {sorted({k for k, *_ in shift.seen.kinds if 'voicemail' in k})}",
                    "a contact of channel voicemail",
                )
            await shift.check("after the voicemail")

            # The stock exchange desk opens: the voicemail comes to Alice, who plays it beside
            # the caller's card and calls the caller back with one button. -----------------
            phases.append(("voicemail handled", time.monotonic()))
            if left:
                await handle_voicemail(left[0])
            assert errors == [], errors
        except BaseException:  # a step that could not be done: what disagreed until then
            print(f"\n{shift.report()}")
            raise
        finally:
            if bob is not None:
                await bob.close()
            await customers.close()
            await desk.close()
            await board.close()
            await sipp.kill_all()
    took = time.monotonic() - started
    print(f"\nshift: {len(contacts)} contacts, {shift.steps} checked steps, {took:.1f} s")
    ends = [t for _, t in phases[1:]] + [started + took]
    print(
        "phases:", ", ".join(f"{name} {end - t:.1f} s" for (name, t), end in zip(phases, ends, strict=True))
    )
    print(f"comparing: {shift.check_s:.1f} s in {shift.reads} reads of both pages and the server")
    assert len(contacts) >= 30
    shift.assert_truthful()


def released(engine: Any, agent: str, cid: str) -> Callable[[], bool]:
    """Whether ``agent`` no longer has ``cid`` (a condition for ``until``)."""
    return lambda: cid not in engine.agents[agent].contacts


async def logged(shift: Shift, kind: str, cid: str, timeout: float = WAIT_S) -> None:
    """Wait (bounded) until the interaction log has ``kind`` for ``cid``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await shift.read_log()
        if any(k == kind and c == cid for k, c, _ in shift.seen.kinds):
            return
        assert loop.time() < deadline, f"no {kind} for {cid} in the log within {timeout:g} s"
        await asyncio.sleep(0.05)


def center_sip_port(app: Any) -> int:
    from callcenter.runtime.voice.install import TELEPHONY

    sip = app[TELEPHONY].sip
    assert sip is not None
    return int(sip.port)


async def drop_desk_socket(app: Any, agent: str) -> None:
    """Drop the agent's desk WebSockets as a network would: the server's side goes away
    without a word (1006 at the browser), the desk must come back by itself."""
    from callcenter.agent_desk.routes import HUB

    hub = app[HUB]
    conns = list(hub._agents[agent].sockets)  # the hub keeps them
    assert conns, f"{agent} has no desk socket"
    for conn in conns:
        transport = conn.ws._req.transport  # cut the TCP connection
        assert transport is not None
        transport.abort()
