"""Live mode's voice callers: calls over the server's media-stream WebSocket (the Twilio
Media Streams message set), keys pressed as ``dtmf`` events.

A caller dials ``ivr.called`` from their own number, then listens: each time a prompt has
played to its end (the server's ``mark``), they key the next entry of their contact type's
``keys`` (several digits are sent one by one). With no keys left they are in the queue;
their patience runs until an agent of this simulation accepts them (the agents tell the
callers by caller number, as a caller would hear the agent pick up). When the agent has
ended the call, the caller rates it at the next prompt (the flow's survey) and waits for
the server to hang up. The server's contact id is learnt from the agent's offer; events
before that carry ``voice:<caller number>`` and are renamed when the run is settled.

A caller who speaks (``ivr.speech_share``) answers with their contact type's ``say``
instead: after each prompt's end they say the next entry (``simulator/live_speech.py``),
listen silently for an empty one, and key one that is keypad input. Whether the spoken
answers took the intended branch is read from the agent's offer: its queue is the caller's
and, when the contact type names an ``intent``, the offer's ``intent`` attribute is that.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
import msgspec

from callcenter.core.events import InteractionEvent
from simulator.live_caller import Caller
from simulator.live_desk import ServerGone
from simulator.live_speech import Speaker, SpeechTally
from simulator.scenario import KEYPAD, Scenario

RATING_TIMEOUT_S = 30.0


class VoiceLine:
    """What the agents and the callers of one run share: who picked up whom."""

    def __init__(self) -> None:
        self.picked_up: dict[str, asyncio.Future[str]] = {}  # caller number -> contact id
        self.hung_up: dict[str, asyncio.Event] = {}  # the agent ended the call
        self.contact_ids: dict[str, str] = {}  # provisional id -> the server's
        self.offers: dict[str, tuple[str, dict[str, Any]]] = {}  # caller -> (queue, attributes)

    def expect(self, caller: str) -> None:
        self.picked_up[caller] = asyncio.get_running_loop().create_future()
        self.hung_up[caller] = asyncio.Event()

    def agent_accepted(
        self, caller: str | None, contact_id: str, queue: str = "", attributes: dict[str, Any] | None = None
    ) -> None:
        fut = self.picked_up.get(caller or "")
        if fut is not None and not fut.done():
            self.offers[caller or ""] = (queue, dict(attributes or {}))
            fut.set_result(contact_id)
            self.contact_ids[f"voice:{caller}"] = contact_id

    def agent_ended(self, caller: str | None) -> None:
        done = self.hung_up.get(caller or "")
        if done is not None:
            done.set()


class _Run(Protocol):
    @property
    def contact_ids(self) -> list[str]: ...
    @property
    def speech(self) -> SpeechTally: ...


class Live(Protocol):
    """What a voice caller needs of the live run it calls in (``live.Live``)."""

    @property
    def s(self) -> Scenario: ...
    @property
    def run(self) -> _Run: ...
    @property
    def speed(self) -> float: ...
    @property
    def voice(self) -> VoiceLine: ...
    @property
    def speaker(self) -> Speaker | None: ...
    @property
    def media_stream_url(self) -> str: ...
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


async def voice_call(live: Live, http: aiohttp.ClientSession, who: Caller) -> None:
    n, kind, queue, patience = who.n, who.kind, who.queue, who.patience_s
    caller = f"+1555{n:07d}"
    pid = f"voice:{caller}"
    line = live.voice
    line.expect(caller)
    try:
        ws = await http.ws_connect(live.media_stream_url, heartbeat=20)
    except aiohttp.ClientError as exc:
        live.fail(f"media-stream socket refused: {exc}")
        return
    sid = f"MZsim{n}"
    try:
        await ws.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await ws.send_json(
            {
                "event": "start",
                "streamSid": sid,
                "start": {
                    "streamSid": sid,
                    "callSid": f"CAsim{n}",
                    "tracks": ["inbound"],
                    "customParameters": {"From": caller, "To": live.s.ivr.called},
                },
            }
        )
        live.run.contact_ids.append(pid)
        live.record("contact.arrived", contact_id=pid, queue=queue, channel="voice")
        answers = deque(kind.say if who.speaks else kind.keys)

        def queued() -> None:  # the last answer is given: the caller is in the queue
            live.record("contact.queued", contact_id=pid, queue=queue)

        try:
            await asyncio.wait_for(
                _answer_through(live, ws, sid, answers, queued),
                None if who.hangup_after_s is None else who.hangup_after_s / live.speed,
            )
        except TimeoutError:
            live.record("contact.ended", contact_id=pid, reason="ivr_hangup")
            return
        listening = asyncio.create_task(_drain(ws))
        try:
            limit = None if patience is None else patience / live.speed
            await asyncio.wait_for(asyncio.shield(line.picked_up[caller]), limit)
        except TimeoutError:
            live.record("contact.ended", contact_id=pid, reason="abandoned")
            return
        finally:
            listening.cancel()
        if who.speaks:
            _judge(live, who, line.offers.get(caller))
        await line.hung_up[caller].wait()
        live.record("contact.ended", contact_id=pid, reason="completed")
        await _rate(ws, sid, who.rating)
    except ServerGone as exc:
        live.fail(str(exc))
    finally:
        if not ws.closed:
            await ws.send_json({"event": "stop", "streamSid": sid})
        await ws.close()


async def _next_mark(ws: aiohttp.ClientWebSocketResponse) -> None:
    while True:
        msg = await ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ServerGone(f"the media stream closed ({msg.type.name}, {ws.close_code})")
        if msg.json().get("event") == "mark":
            return


async def _press(ws: aiohttp.ClientWebSocketResponse, sid: str, digits: str) -> None:
    for digit in digits:
        await ws.send_json({"event": "dtmf", "streamSid": sid, "dtmf": {"digit": digit}})


async def _answer_through(
    live: Live,
    ws: aiohttp.ClientWebSocketResponse,
    sid: str,
    answers: deque[str],
    queued: Callable[[], None],
) -> None:
    """After each prompt's end: key the next answer, say it, or (empty) just listen on;
    ``queued()`` once the last is given (a spoken one: when its words end)."""
    while answers:
        await _next_mark(ws)
        answer = answers.popleft().strip()
        last = not answers
        if not answer:
            continue
        if all(ch in KEYPAD for ch in answer):
            await _press(ws, sid, answer)
        else:
            assert live.speaker is not None  # started by the run when anyone may speak
            live.run.speech.answers += 1
            await live.speaker.say(ws, sid, answer, said=queued if last else None)
            if last:
                return
    queued()


def _judge(live: Live, who: Caller, offer: tuple[str, dict[str, Any]] | None) -> None:
    """Did the spoken answers take the branch the caller meant? (Seen in the agent's offer.)"""
    speech = live.run.speech
    speech.reached_agent += 1
    if offer is None:
        return
    queue, attributes = offer
    if queue == who.queue and (not who.kind.intent or attributes.get("intent") == who.kind.intent):
        speech.intended += 1
    else:
        speech.wrong.append(f"{who.kind.intent or who.queue} -> {attributes.get('intent') or queue}")


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Listen while queued (music, announcements); a closed stream ends the listening."""
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            break


async def _rate(ws: aiohttp.ClientWebSocketResponse, sid: str, rating: int) -> None:
    """Key a rating at the survey's prompt, then wait for the server to hang up."""
    try:
        await asyncio.wait_for(_next_mark(ws), RATING_TIMEOUT_S)
    except (TimeoutError, ServerGone):
        return  # no survey: the call is over
    await _press(ws, sid, str(rating))
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            break


def rename(events: list[InteractionEvent], ids: dict[str, str]) -> list[InteractionEvent]:
    """Events under a provisional ``voice:`` id get the server's contact id."""
    return [
        msgspec.structs.replace(e, contact_id=ids[e.contact_id]) if e.contact_id in ids else e for e in events
    ]
