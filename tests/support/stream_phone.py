"""A caller (or an agent's line) over the media-stream WebSocket, for tests: the Twilio
message set, a steady tone as its voice paced at 20 ms, keys, and what it hears."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMsgType
from demo_center import media_stream_path

from callcenter.speech import codecs

_calls = itertools.count(1)


class StreamPhone:
    """``client`` is anything with ``ws_connect(path)``: aiohttp's ``TestClient`` or a
    ``ClientSession`` with a ``base_url``. ``heard`` keeps each media frame decoded to PCM.
    The call comes through the demo's carrier (its secret in the URL)."""

    def __init__(self, client: Any, caller: str, called: str, freq: float) -> None:
        self.client = client
        self.caller, self.called, self.freq = caller, called, freq
        self.sid = f"MZ-{caller}-{next(_calls)}"
        self.heard: list[bytes] = []
        self.ws: ClientWebSocketResponse | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def dial(self) -> None:
        self.ws = ws = await self.client.ws_connect(media_stream_path())
        sid = self.sid
        await ws.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await ws.send_json(
            {
                "event": "start",
                "streamSid": sid,
                "start": {
                    "streamSid": sid,
                    "callSid": f"CA{sid}",
                    "tracks": ["inbound"],
                    "customParameters": {"From": self.caller, "To": self.called},
                },
            }
        )
        self._tasks = [asyncio.ensure_future(self._speak(ws, sid)), asyncio.ensure_future(self._listen(ws))]

    async def press(self, digit: str) -> None:
        assert self.ws is not None
        await self.ws.send_json({"event": "dtmf", "streamSid": self.sid, "dtmf": {"digit": digit}})

    @property
    def closed(self) -> bool:
        return self.ws is None or self.ws.closed

    async def _speak(self, ws: ClientWebSocketResponse, sid: str) -> None:
        voice = codecs.sine(self.freq, 200, amplitude=6000 / 32768)
        with contextlib.suppress(ConnectionError):
            while not ws.closed:
                for start in range(0, len(voice), 320):
                    payload = base64.b64encode(codecs.ulaw_encode(voice[start : start + 320])).decode()
                    await ws.send_str(
                        json.dumps(
                            {
                                "event": "media",
                                "streamSid": sid,
                                "media": {"track": "inbound", "payload": payload},
                            }
                        )
                    )
                    await asyncio.sleep(0.02)  # real-time pacing of the voice

    async def _listen(self, ws: ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if data.get("event") == "media":
                self.heard.append(codecs.ulaw_decode(base64.b64decode(data["media"]["payload"])))

    async def hang_up(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
