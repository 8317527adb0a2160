"""A simulated agent at a real desk: login over HTTP, then the desk WebSocket protocol.

One reader task per desk takes every frame: replies (``ack``/``error`` with our ``id``)
resolve the request waiting for them, events (``offer``, ``state``, ``contact``,
``wrap_up``) start what the agent does about them. Each accepted contact is its own task,
so an agent with chat capacity works several at once.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp

from simulator.scenario import AgentGroup, Scenario
from simulator.shifts import Period, work_periods

RETRY_AFTER_MISS_S = 10.0
REPLY_TIMEOUT_S = 30.0
LOGIN_TRIES = 5
LOGINS_AT_ONCE = 8


async def _until(reader: asyncio.Task[None], moment: Any) -> None:
    """Wait for ``moment``; the desk's reader ending first (the server went away) raises."""
    timer = asyncio.ensure_future(moment)
    done, _ = await asyncio.wait({reader, timer}, return_when=asyncio.FIRST_COMPLETED)
    if reader in done:
        timer.cancel()
        reader.result()
        raise ServerGone("the desk socket closed")


class _Started(Protocol):
    @property
    def start_epoch(self) -> float: ...


class _PickUps(Protocol):
    def agent_accepted(
        self, caller: str | None, contact_id: str, queue: str = "", attributes: dict[str, Any] | None = None
    ) -> None: ...
    def agent_ended(self, caller: str | None) -> None: ...


class Live(Protocol):
    """What a desk needs of the live run it works in (``live.Live``)."""

    @property
    def s(self) -> Scenario: ...
    @property
    def run(self) -> _Started: ...
    @property
    def url(self) -> str: ...
    @property
    def password(self) -> Callable[[str], str]: ...
    @property
    def agent_rng(self) -> random.Random: ...
    @property
    def clock_started(self) -> asyncio.Event: ...
    @property
    def login_gate(self) -> asyncio.Semaphore: ...
    @property
    def voice(self) -> _PickUps: ...
    def now(self) -> float: ...
    async def sleep(self, scenario_seconds: float) -> None: ...
    async def sleep_until(self, epoch: float) -> None: ...
    def record(
        self,
        type_: str,
        *,
        contact_id: str | None = None,
        agent_id: str | None = None,
        queue: str | None = None,
        **data: Any,
    ) -> None: ...
    def fail(self, reason: str) -> None: ...


class ServerGone(Exception):
    """The server refused a connection, closed a socket under us, or stopped answering."""


class DeskAgent:
    def __init__(self, live: Live, agent_id: str, group: AgentGroup) -> None:
        self.live = live
        self.agent_id = agent_id
        self.g = group
        rng = live.agent_rng
        self.handle = group.handle_time.sampler(rng)
        self.wrap = group.wrap_up.sampler(rng)
        self.answer = group.answer_delay.sampler(rng)
        self.ready_once = asyncio.Event()
        self.finishing = False
        self.dispositions: list[str] = []
        self._ids = itertools.count(1)
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._offers: set[asyncio.Task[None]] = set()  # the tasks handling an offer
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._leaving = False  # the agent closes the desk at the end of a shift

    async def work(self) -> None:
        """The agent's shifts: at each one's start log in and open the desk, take breaks,
        and at its end stop taking offers, finish what is open and log out."""
        live = self.live
        periods = work_periods(live.s, self.g)
        if not periods or periods[0].on > live.run.start_epoch:
            self.ready_once.set()  # not on at the start: the run need not wait
        jar = aiohttp.CookieJar(unsafe=True)
        try:
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                for period in periods:
                    if period.on > live.run.start_epoch:
                        await live.clock_started.wait()
                        await live.sleep_until(period.on)
                    await self._login(http)
                    await self._shift(http, period)
        except (aiohttp.ClientError, ConnectionError, TimeoutError, ServerGone) as exc:
            if not self.finishing:
                live.fail(f"desk of {self.agent_id}: {exc or type(exc).__name__}")

    async def _shift(self, http: aiohttp.ClientSession, period: Period) -> None:
        live = self.live
        async with http.ws_connect(f"{live.url}/ws/desk", heartbeat=15) as ws:
            self._ws, self._leaving = ws, False
            await ws.send_json({"type": "hello", "protocol": 1})
            welcome = await ws.receive_json(timeout=REPLY_TIMEOUT_S)
            if welcome.get("type") != "welcome":
                raise ServerGone(f"the desk of {self.agent_id} answered {welcome}")
            self.dispositions = list(welcome.get("dispositions") or [])
            reasons = list(welcome.get("reasons") or ["break"])
            reader = asyncio.create_task(self._read(ws))
            try:
                await self.ask("set_state", state="ready")
                self.ready_once.set()
                await live.clock_started.wait()  # the scenario's clock starts once all are on
                for start, end in period.breaks:
                    self._spawn(self._break(start, end, "break" if "break" in reasons else reasons[0]))
                if period.off is None:
                    await reader
                    return
                await _until(reader, live.sleep_until(period.off))
                await self.ask("set_state", state="not_ready", reason=reasons[0])  # no new offers
                for t in self._tasks - self._offers:  # a break or a ready still to come
                    t.cancel()
                while self._offers:  # contacts still open
                    await asyncio.wait(set(self._offers))
                self._leaving = True
                await self.ask("set_state", state="logged_out")
            finally:
                reader.cancel()
                for t in self._tasks:
                    t.cancel()

    async def _break(self, start: float, end: float, reason: str) -> None:
        await self.live.sleep_until(start)
        await self.ask("set_state", state="not_ready", reason=reason)
        await self.live.sleep_until(end)
        await self.ask("set_state", state="ready")

    async def _login(self, http: aiohttp.ClientSession) -> None:
        """Log in; at most a few logins at once, since the server counts each one in flight
        against the address's free attempts, and a throttled one waits its Retry-After."""
        live = self.live
        body = {"username": self.agent_id, "password": live.password(self.agent_id)}
        for _ in range(LOGIN_TRIES):
            async with live.login_gate, http.post(f"{live.url}/api/v1/auth/login", json=body) as res:
                if res.status == 200:
                    return
                text = await res.text()
                if res.status != 429:
                    raise ServerGone(f"login of {self.agent_id} refused ({res.status}: {text})")
                wait = float(res.headers.get("Retry-After", "1"))
            await asyncio.sleep(wait)
        raise ServerGone(f"login of {self.agent_id} throttled {LOGIN_TRIES} times")

    async def ask(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Send a request; its reply (``ack`` or ``error``)."""
        assert self._ws is not None
        n = next(self._ids)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[n] = reply
        await self._ws.send_json({"type": type_, "id": n, **fields})
        try:
            return await asyncio.wait_for(reply, REPLY_TIMEOUT_S)
        finally:
            self._replies.pop(n, None)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frame: dict[str, Any] = msg.json()
            n = frame.get("id")
            if isinstance(n, int) and n in self._replies:
                self._replies[n].set_result(frame)
                continue
            self._event(frame)
        if not (self.finishing or self._leaving):
            raise ServerGone(f"the desk socket of {self.agent_id} closed ({ws.close_code})")

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._offers.discard(task)
        if not task.cancelled() and task.exception() is not None and not self.finishing:
            self.live.fail(f"desk of {self.agent_id}: {task.exception()!r}")

    # What the agent does ------------------------------------------------------------------------

    def _event(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        live = self.live
        if kind == "state":
            live.record(
                "agent.state", agent_id=self.agent_id, state=frame.get("state"), reason=frame.get("reason")
            )
            if frame.get("state") == "NOT_READY" and frame.get("reason") in ("missed", "declined"):
                self._spawn(self._ready_later(RETRY_AFTER_MISS_S))
        elif kind == "offer":
            live.record(
                "contact.offered",
                contact_id=frame["contact_id"],
                agent_id=self.agent_id,
                queue=frame.get("queue"),
            )
            self._offers.add(self._spawn(self._offered(frame)))

    async def _ready_later(self, seconds: float) -> None:
        await self.live.sleep(seconds)
        await self.ask("set_state", state="ready")

    async def _offered(self, offer: dict[str, Any]) -> None:
        live, g = self.live, self.g
        r = live.agent_rng.random()
        if r < g.decline_rate:
            await live.sleep(self.answer())
            await self.ask("decline", offer_id=offer["offer_id"], reason="declined")
            return
        if r < g.decline_rate + g.no_answer_rate:
            return  # lets it ring out: the server makes the agent NOT_READY (missed)
        await live.sleep(self.answer())
        reply = await self.ask("accept", offer_id=offer["offer_id"])
        if reply.get("type") != "ack":
            return  # withdrawn meanwhile (the customer left, or it rang out)
        cid = offer["contact_id"]
        started = live.now()
        live.record("contact.connected", contact_id=cid, agent_id=self.agent_id, queue=offer.get("queue"))
        voice = offer.get("channel") == "voice"
        if voice:
            queue, attributes = offer.get("queue") or "", offer.get("attributes")
            live.voice.agent_accepted(offer.get("caller"), cid, queue, attributes)
        await live.sleep(self.handle())
        if offer.get("channel") == "chat":
            await self.ask("chat_send", contact_id=cid, text="Thank you, that is all done.")
        if self.dispositions:
            await self.ask("disposition", contact_id=cid, code=self.dispositions[0])
        reply = await self.ask("end", contact_id=cid)
        if voice:
            live.voice.agent_ended(offer.get("caller"))
        if reply.get("type") == "ack":
            live.record(
                "contact.wrap_up", contact_id=cid, agent_id=self.agent_id, talk_s=live.now() - started
            )
        wrap = self.wrap()
        await live.sleep(wrap)
        await self.ask("wrap_up_done", contact_id=cid)
