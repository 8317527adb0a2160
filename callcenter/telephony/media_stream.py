"""A WebSocket media-stream endpoint speaking the Twilio Media Streams message set.

A carrier or PBX opens the socket and sends ``connected``, then ``start`` (stream and call
ids, media format, custom parameters), then ``media`` messages (base64 mu-law, 8 kHz),
``dtmf``, ``mark`` echoes and finally ``stop``. We answer with ``media`` (our audio, paced
at 20 ms by the media clock), ``mark`` after each completed ``play`` and ``clear`` on
barge-in. Only configured carriers may open the socket (``carriers.py``: the carrier's
secret in the URL or a signature over it, checked before the upgrade; 401/403 otherwise).
The caller and called numbers are the ones the authenticated carrier gives in the start
message's custom parameters (``From``/``To``, or ``caller``/``called``); the call is marked
with the carrier's name (``CallInfo.carrier``).

Mount: ``app.router.add_get("/media-stream", media_stream_handler(on_call, carriers=keys))``.
Bad frames (not JSON, nested too deep, unknown event, media before start, bad base64,
fields of the wrong type) are logged and skipped, as are messages over the connection's
rate (the message set has no error message); the stream keeps going. A connection
flooding far past the rate is closed with 1008.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from callcenter.core.client_json import InputRefused, JsonLimits, decode_json
from callcenter.core.frame_rate import CLOSE_FLOODING, FrameRate, Verdict
from callcenter.speech import codecs
from callcenter.telephony.carriers import SIGNATURE_HEADER, CarrierKeys, CarrierRefused, refused_log
from callcenter.telephony.media import CallChannel, CallInfo, ChannelCore, run_call, settle
from callcenter.telephony.pacer import MediaClock

log = logging.getLogger(__name__)

OnCall = Callable[[CallChannel], Awaitable[None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class MediaStreamChannel(ChannelCore):
    """A call carried over a media-stream WebSocket."""

    def __init__(self, info: CallInfo, clock: MediaClock, stream_sid: str) -> None:
        super().__init__(info, clock)
        self.stream_sid = stream_sid
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._marks = 0

    def _send_frame(self, pcm: bytes) -> None:
        payload = base64.b64encode(codecs.ulaw_encode(pcm)).decode()
        self.outbox.put_nowait(
            {"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}}
        )

    async def play(self, pcm_8k: bytes) -> bool:
        done = await super().play(pcm_8k)
        if done:
            self._marks += 1
            self.outbox.put_nowait(
                {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": f"play-{self._marks}"}}
            )
        return done

    def clear(self) -> None:
        super().clear()
        if not self.ended:
            self.outbox.put_nowait({"event": "clear", "streamSid": self.stream_sid})

    async def _send_hangup(self) -> None:
        self.outbox.put_nowait(None)


_FIELDS = {"no_credential": "carrier", "unknown_carrier": "carrier", "bad_secret": "secret"}


def media_stream_handler(
    on_call: OnCall,
    *,
    carriers: CarrierKeys,
    clock: MediaClock | None = None,
    heartbeat: float = 20.0,
    limits: JsonLimits | None = None,
    frame_rate: Callable[[], FrameRate] | None = None,
) -> Handler:
    """An aiohttp GET handler: one WebSocket from one of ``carriers`` is one call handed to
    ``on_call(channel)``; anyone else gets 401/403 before the upgrade. Messages are read by
    ``core.client_json`` under ``limits``; ``frame_rate`` gives each connection its budget
    (messages over it are skipped; a flood is closed with 1008)."""
    media_clock = clock or MediaClock()
    json_limits = limits or JsonLimits(max_bytes=64 * 1024)
    budget = frame_rate or (lambda: FrameRate(100.0, 200, 200))

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            carrier = carriers.authenticate(request.url, request.headers)
        except CarrierRefused as refusal:
            refused_log("media-stream", request.remote, refusal.reason)
            error = {
                "status": refusal.status,
                "message": refusal.message,
                "field": _FIELDS.get(refusal.reason, SIGNATURE_HEADER),
            }
            return web.json_response({"error": error}, status=refusal.status)
        # over twice the message limit aiohttp closes the socket with 1009 (RFC 6455)
        ws = web.WebSocketResponse(heartbeat=heartbeat, max_msg_size=json_limits.max_bytes * 2)
        await ws.prepare(request)
        session = _Session(ws, on_call, media_clock, carrier, json_limits, budget())
        try:
            await session.receive()
        finally:
            await session.close()
        return ws

    return handler


class _Session:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        on_call: OnCall,
        clock: MediaClock,
        carrier: str,
        limits: JsonLimits,
        rate: FrameRate,
    ) -> None:
        self._ws = ws
        self._carrier = carrier
        self._limits, self._rate = limits, rate
        self._on_call = on_call
        self._clock = clock
        self.channel: MediaStreamChannel | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def receive(self) -> None:
        loop = asyncio.get_running_loop()
        async for message in self._ws:
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            verdict = self._rate.frame(loop.time())
            if verdict is Verdict.CLOSE:
                log.warning("media-stream: closed a connection flooding past %g messages/s", self._rate.per_s)
                await self._ws.close(code=CLOSE_FLOODING, message=b"too many messages")
                return
            if verdict is Verdict.DROP or message.type != WSMsgType.TEXT:
                continue  # the message set has no error message: skipped, the call goes on
            try:
                data = decode_json(message.data, self._limits, what="message")
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                if self._handle(data):
                    return
            except InputRefused as exc:
                log.info("media-stream: bad message skipped (%s): %s", exc.field, exc.message)
            except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
                log.info("media-stream: bad message skipped: %r", exc)
            if self.channel is not None and self.channel.ended:
                return

    def _handle(self, data: dict[str, Any]) -> bool:
        """Apply one message; True when the stream is over."""
        event = data.get("event")
        channel = self.channel
        if event == "connected":
            return False
        if event == "start":
            if channel is None:
                self._start(data)
            return False
        if channel is None:
            raise ValueError(f"{event!r} before start")
        if event == "media":
            media = data["media"]
            if media.get("track", "inbound") in ("inbound", "inbound_track"):
                channel.deliver_audio(codecs.ulaw_decode(base64.b64decode(media["payload"], validate=True)))
        elif event == "dtmf":
            channel.deliver_digit(str(data["dtmf"]["digit"]), "media-stream")
        elif event == "mark":
            pass  # the far end played up to one of our marks; play() already returned
        elif event == "stop":
            channel.end("caller")
            return True
        else:
            raise ValueError(f"unknown event {event!r}")
        return False

    def _start(self, data: dict[str, Any]) -> None:
        start = data["start"]
        params = start.get("customParameters") or {}
        stream_sid = str(data.get("streamSid") or start.get("streamSid") or "")
        info = CallInfo(
            call_id=str(start.get("callSid") or stream_sid),
            caller=str(params.get("From") or params.get("caller") or ""),
            called=str(params.get("To") or params.get("called") or ""),
            front_end="media-stream",
            carrier=self._carrier,
        )
        self.channel = channel = MediaStreamChannel(info, self._clock, stream_sid)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._write(channel)))
        self._tasks.append(loop.create_task(run_call(self._on_call, channel)))

    async def _write(self, channel: MediaStreamChannel) -> None:
        while (item := await channel.outbox.get()) is not None:
            if self._ws.closed:
                return
            await self._ws.send_str(json.dumps(item))
        await self._ws.close()

    async def close(self) -> None:
        channel = self.channel
        if channel is not None:
            channel.end("caller" if not channel.ended else "server")
            channel.outbox.put_nowait(None)
        if self._tasks:
            writer, app = self._tasks
            await asyncio.wait_for(asyncio.gather(writer, return_exceptions=True), 5)
            await settle(app)
        if not self._ws.closed:
            await self._ws.close()
