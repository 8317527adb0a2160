"""Live mode: a scenario's traffic driven through a running server over its real protocols.

Agents log in over HTTP (``/api/v1/auth/login``) and work from the desk WebSocket
(``/ws/desk``, docs/desk-protocol.md): ready, accept (or decline, or let an offer ring out,
at the scenario's rates), hold the contact for its handling time, set a disposition, end
it, wrap up, ready again. Customers come over the chat WebSocket (``/ws/chat``): start,
spend their IVR time, name their queue, wait, and leave when their patience runs out
before an agent joins. With telephony on, voice contacts call over the media stream
(``simulator/live_voice.py``; speaking callers: ``simulator/live_speech.py``); with it
off they are carried over the chat socket (to the same queue) and the summary says so
(``voice_as_chat``).

Time: scenario seconds run ``speed`` times faster than the wall clock; every wait of the
scenario (gaps between arrivals, IVR time, patience, answer delay, handling, wrap-up) is
divided by ``speed``, and the events are stamped in scenario time, so the run folds into
the same summary as a virtual one. The events are what the simulator saw from outside
(the customers' and agents' sockets), not the server's log.

A server that goes away (a refused connection, a socket closed under us) stops the run:
every task is cancelled and what was measured so far is returned with ``stopped`` set.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from callcenter.core.events import InteractionEvent
from simulator.arrivals import Arrival, poisson, read_trace
from simulator.live_caller import Caller
from simulator.live_desk import LOGINS_AT_ONCE, DeskAgent, ServerGone
from simulator.live_speech import Speaker, SpeechTally, spoken_phrases
from simulator.live_voice import VoiceLine, rename, voice_call
from simulator.scenario import AgentGroup, Scenario

DRAIN_TIMEOUT_S = 60.0
RECEIVE_TIMEOUT_S = 30.0


@dataclass
class LiveRun:
    scenario: Scenario
    url: str
    speed: float
    events: list[InteractionEvent] = field(default_factory=list)
    start_epoch: float = 0.0
    end_epoch: float = 0.0
    contacts: int = 0
    contact_ids: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # no end seen by the customer
    voice_as_chat: int = 0  # voice contacts carried over the chat socket (telephony off)
    voice_calls: int = 0  # over the media-stream WebSocket
    max_lag_s: float = 0.0  # the latest an arrival started behind its schedule (wall seconds)
    speech: SpeechTally = field(default_factory=SpeechTally)
    stopped: str | None = None


def agent_ids(scenario: Scenario) -> list[tuple[str, AgentGroup]]:
    """The usernames live mode logs in as (the same ids as virtual mode's agents)."""
    return [(f"{g.name}-{gi}-{n}", g) for gi, g in enumerate(scenario.agents) for n in range(g.count)]


def users_yaml(scenario: Scenario) -> str:
    """The ``users:`` block a server needs for a scenario's live run (password = username)."""
    lines = ["users:"]
    for agent_id, g in agent_ids(scenario):
        skills = ", ".join(f"{k}: {v}" for k, v in g.skills.items())
        lines.append(
            f"  - {{username: {agent_id}, password: {agent_id}, skills: {{{skills}}}, "
            f"chat_capacity: {g.chat_capacity}}}"
        )
    return "\n".join(lines) + "\n"


class Live:
    def __init__(
        self,
        scenario: Scenario,
        url: str,
        *,
        speed: float = 1.0,
        password: Callable[[str], str] | None = None,
        progress: Callable[[float], None] | None = None,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
        speech_cache: Path | None = None,
        carrier: tuple[str, str] | None = None,
    ) -> None:
        """``carrier``: the (name, secret) of a carrier the server accepts on /media-stream
        (``telephony.carriers``); the voice callers dial through it."""
        self.s = scenario
        self.carrier = carrier
        self.url = url.rstrip("/")
        self.speed = speed
        self.password = password or (lambda user: user)
        self.progress = progress
        self.drain_timeout_s = drain_timeout_s
        # three streams: arrivals and customers are drawn in arrival order, so a seed gives
        # the same traffic every run; agents draw as offers come, in the server's order
        self.arrivals_rng = random.Random(scenario.seed)
        self.rng = random.Random(scenario.seed + 1)
        self.agent_rng = random.Random(scenario.seed + 2)
        self.speech_rng = random.Random(scenario.seed + 3)  # who speaks: the others stay as they were
        self.speaker: Speaker | None = None
        self.speech_cache = speech_cache
        self.run = LiveRun(
            scenario=scenario, url=self.url, speed=speed, start_epoch=scenario.start.timestamp()
        )
        self.stop = asyncio.Event()
        self.login_gate = asyncio.Semaphore(LOGINS_AT_ONCE)
        self.voice = VoiceLine()
        self.clock_started = asyncio.Event()
        self.voice_on = False
        self._t0 = 0.0
        self._customers: set[asyncio.Task[None]] = set()
        weights = [k.weight for k in scenario.mix]
        total = sum(weights)
        self.mix_cum = [sum(weights[: i + 1]) / total for i in range(len(weights))]
        self.patience = scenario.patience.sampler(self.rng) if scenario.patience else None
        self.ivr_time = scenario.ivr.time.sampler(self.rng)

    @property
    def media_stream_url(self) -> str:
        """Where voice callers dial: /media-stream with the carrier's credential, if any."""
        if self.carrier is None:
            return f"{self.url}/media-stream"
        query = urlencode({"carrier": self.carrier[0], "secret": self.carrier[1]})
        return f"{self.url}/media-stream?{query}"

    # Clock and log ------------------------------------------------------------------------------

    def now(self) -> float:
        """Scenario time (epoch seconds of the scenario's clock)."""
        return self.run.start_epoch + (asyncio.get_running_loop().time() - self._t0) * self.speed

    async def sleep_until(self, epoch: float) -> None:
        """Until ``epoch`` of the scenario's clock."""
        await self.sleep(epoch - self.now())

    async def sleep(self, scenario_seconds: float) -> None:
        if scenario_seconds > 0:
            await asyncio.sleep(scenario_seconds / self.speed)

    def record(
        self,
        type_: str,
        *,
        contact_id: str | None = None,
        agent_id: str | None = None,
        queue: str | None = None,
        **data: Any,
    ) -> None:
        self.run.events.append(
            InteractionEvent(
                type=type_, at=self.now(), contact_id=contact_id, agent_id=agent_id, queue=queue, data=data
            )
        )

    def fail(self, reason: str) -> None:
        if self.run.stopped is None and not self.stop.is_set():
            self.run.stopped = reason
        self.stop.set()

    # The run ------------------------------------------------------------------------------------

    async def go(self) -> LiveRun:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        async with aiohttp.ClientSession(timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()) as http:
            try:
                async with http.get(f"{self.url}/healthz") as res:
                    if res.status >= 500:
                        raise ServerGone(f"{self.url}/healthz answered {res.status}")
                async with http.get(self.media_stream_url) as res:
                    self.voice_on = res.status != 404  # 404: the server's telephony is off
                    if res.status in (401, 403):
                        raise ServerGone(
                            f"{self.url}/media-stream refuses the simulator's calls ({res.status}): "
                            "give the name of a carrier it accepts (--carrier) and its secret "
                            "(CALLCENTER_CARRIER_SECRET)"
                        )
            except aiohttp.ClientError as exc:
                raise ServerGone(f"cannot reach {self.url}: {exc}") from None
            try:
                await self._start_speaker()
                await self._work(http)
            finally:
                if self.speaker is not None:
                    await self.speaker.close()
        self.run.end_epoch = self.now()
        ids = self.voice.contact_ids
        self.run.events = _settled(rename(self.run.events, ids))
        self.run.contact_ids = [ids.get(c, c) for c in self.run.contact_ids]
        self.run.unfinished = sorted(set(self.run.contact_ids) - self._ended)
        return self.run

    async def _work(self, http: aiohttp.ClientSession) -> None:
        """Agents on, the arrivals, the drain; every task ended on the way out."""
        self._t0 = asyncio.get_running_loop().time()
        agents = [DeskAgent(self, agent_id, group) for agent_id, group in agent_ids(self.s)]
        agent_tasks = [asyncio.create_task(a.work()) for a in agents]
        try:
            await self._wait_or_stop(asyncio.gather(*(a.ready_once.wait() for a in agents)), 30.0)
            self._t0 = asyncio.get_running_loop().time()  # the scenario starts with agents on
            self.clock_started.set()
            await self._wait_or_stop(self._arrivals(http), None)
            if not self.stop.is_set() and self._customers:
                await self._wait_or_stop(
                    asyncio.gather(*self._customers, return_exceptions=True), self.drain_timeout_s
                )
        finally:
            for a in agents:
                a.finishing = True
            for t in [*self._customers, *agent_tasks]:
                t.cancel()
            await asyncio.gather(*self._customers, *agent_tasks, return_exceptions=True)

    async def _start_speaker(self) -> None:
        """Render the phrases of speaking callers before the first arrival (if any may speak)."""
        voiced = [k for k in self.s.mix if k.channel == "voice" and k.say]
        if not (self.voice_on and voiced and self.s.speech_share > 0):
            return
        ivr = self.s.ivr
        self.speaker = Speaker(ivr.voice or None, ivr.voice_rate, self.speech_cache)
        await self.speaker.prepare(spoken_phrases(a for k in voiced for a in k.say))

    async def _wait_or_stop(self, aw: Any, timeout: float | None) -> None:
        task = asyncio.ensure_future(aw)
        stopper = asyncio.create_task(self.stop.wait())
        done, _ = await asyncio.wait({task, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if task not in done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        elif task.exception() is not None:
            raise task.exception()

    async def _arrivals(self, http: aiohttp.ClientSession) -> None:
        s = self.s
        arrivals = (
            read_trace(Path(s.arrivals.trace))
            if s.arrivals.trace
            else poisson(s.arrivals, s.start, s.duration, self.arrivals_rng)
        )
        loop = asyncio.get_running_loop()
        next_report = 0.0
        for arrival in arrivals:
            if arrival.at >= s.duration:
                break
            delay = self._t0 + arrival.at / self.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.run.max_lag_s = max(self.run.max_lag_s, -delay)
            task = asyncio.create_task(self._customer(http, arrival))
            self._customers.add(task)
            task.add_done_callback(self._customers.discard)
            if self.progress and arrival.at >= next_report:
                self.progress(min(1.0, arrival.at / s.duration))
                next_report += s.duration / 100
        if self.progress:
            self.progress(1.0)

    # Customers ----------------------------------------------------------------------------------

    @property
    def _ended(self) -> set[str]:
        return {e.contact_id for e in self.run.events if e.type == "contact.ended" and e.contact_id}

    def _draw(self, arrival: Arrival) -> Caller:
        """Everything about one customer, drawn as they arrive (so in arrival order)."""
        rng = self.rng
        r = rng.random()
        kind = self.s.mix[next(i for i, c in enumerate(self.mix_cum) if r <= c)]
        ivr = self.ivr_time()
        if rng.random() < self.s.ivr.mistake_rate:
            ivr += 8.0
        hangup = rng.random() < self.s.ivr.hangup_rate
        patience = self.patience() if self.patience is not None else None
        speaks = kind.channel == "voice" and bool(kind.say) and self.speech_rng.random() < self.s.speech_share
        self.run.contacts += 1
        return Caller(
            n=self.run.contacts,
            kind=kind,
            queue=arrival.queue or kind.queue,
            ivr_s=ivr,
            hangup_after_s=ivr * rng.random() if hangup else None,
            patience_s=patience,
            rating=1 + rng.randrange(5),
            speaks=speaks,
        )

    async def _customer(self, http: aiohttp.ClientSession, arrival: Arrival) -> None:
        caller = self._draw(arrival)
        kind, queue, patience, n = caller.kind, caller.queue, caller.patience_s, caller.n
        if kind.channel == "voice" and self.voice_on:
            self.run.voice_calls += 1
            self.run.speech.callers += caller.speaks
            await voice_call(self, http, caller)
            return
        try:
            ws = await http.ws_connect(f"{self.url}/ws/chat", heartbeat=20)
        except aiohttp.ClientError as exc:
            self.fail(f"chat socket refused: {exc}")
            return
        cid: str | None = None
        try:
            await ws.send_json({"type": "start", "name": f"sim {n}", "phone": f"+1555{n:07d}"})
            cid = (await self._expect(ws, "session"))["contact_id"]
            self.run.contact_ids.append(cid)
            self.run.voice_as_chat += kind.channel == "voice"
            self.record("contact.arrived", contact_id=cid, queue=queue, channel=kind.channel)
            await self._expect(ws, "prompt")
            if caller.hangup_after_s is not None:
                await self._listen(ws, caller.hangup_after_s)
                await ws.send_json({"type": "leave"})
                self.record("contact.ended", contact_id=cid, reason="ivr_hangup")
                return
            await self._listen(ws, caller.ivr_s)
            self.record("contact.queued", contact_id=cid, queue=queue)  # it joins as this arrives
            await ws.send_json({"type": "text", "text": queue})
            # an agent free at once joins before any position is sent
            first = await self._expect(ws, "queued", "agent_joined")
            if first["type"] != "agent_joined" and not await self._agent_joins(ws, cid, patience):
                return
            ended = await self._expect(ws, "ended", timeout=None)
            self.record("contact.ended", contact_id=cid, reason=ended.get("reason", "completed"))
            if ended.get("rate"):
                await ws.send_json({"type": "rate", "rating": caller.rating})
        except ServerGone as exc:
            self.fail(str(exc))
        finally:
            await ws.close()

    async def _agent_joins(
        self, ws: aiohttp.ClientWebSocketResponse, cid: str, patience: float | None
    ) -> bool:
        """Wait for an agent; False when patience ran out first (the customer leaves)."""
        try:
            limit = None if patience is None else patience / self.speed
            await asyncio.wait_for(self._expect(ws, "agent_joined", timeout=None), limit)
        except TimeoutError:
            await ws.send_json({"type": "leave"})
            self.record("contact.ended", contact_id=cid, reason="abandoned")
            return False
        return True

    async def _listen(self, ws: aiohttp.ClientWebSocketResponse, scenario_seconds: float) -> None:
        """Spend a while on the chat, still reading it (a server closing it is noticed)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._expect(ws, timeout=None), scenario_seconds / self.speed)

    async def _expect(
        self, ws: aiohttp.ClientWebSocketResponse, *types: str, timeout: float | None = RECEIVE_TIMEOUT_S
    ) -> dict[str, Any]:
        """The next frame of one of ``types`` (frames of other types are skipped)."""
        while True:
            msg = await ws.receive(timeout=timeout)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise ServerGone(f"the chat socket closed ({msg.type.name}, {ws.close_code})")
            frame: dict[str, Any] = msg.json()
            if frame.get("type") in types:
                return frame
            if frame.get("type") == "error":
                raise ServerGone(f"the chat refused a frame: {frame.get('message')}")


def _settled(events: list[InteractionEvent]) -> list[InteractionEvent]:
    """Time order; a customer's leave that crossed an agent's accept is the end of a talk."""
    events = sorted(events, key=lambda e: e.at)
    connected: set[str] = set()
    out = []
    for e in events:
        if e.type == "contact.connected" and e.contact_id:
            connected.add(e.contact_id)
        if e.type == "contact.ended" and e.data.get("reason") == "abandoned" and e.contact_id in connected:
            e = InteractionEvent(
                type=e.type, at=e.at, contact_id=e.contact_id, data={"reason": "customer_left"}
            )
        out.append(e)
    return out


async def run_live(scenario: Scenario, url: str, **kwargs: Any) -> LiveRun:
    """Drive ``scenario`` through the server at ``url``; see :class:`Live`."""
    return await Live(scenario, url, **kwargs).go()
