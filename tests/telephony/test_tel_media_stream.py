"""The media-stream WebSocket (Twilio Media Streams message set) through aiohttp's test client."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from telsupport import tone, tone_power

from callcenter.speech import codecs
from callcenter.telephony.media import AudioFrame, CallChannel, CallInfo, DigitPressed, HungUp
from callcenter.telephony.media_stream import media_stream_handler

pytestmark = pytest.mark.timeout(30)


class Caller:
    def __init__(self) -> None:
        self.info: CallInfo | None = None
        self.digits: list[str] = []
        self.frames: list[bytes] = []
        self.ended: list[str] = []
        self.done = asyncio.Event()

    async def __call__(self, channel: CallChannel) -> None:
        self.info = channel.info
        played = asyncio.ensure_future(channel.play(tone(1000, 0.2)))
        async for event in channel.events():
            if isinstance(event, AudioFrame):
                self.frames.append(event.pcm)
            elif isinstance(event, DigitPressed):
                self.digits.append(event.digit)
                if event.digit == "#":
                    await played
                    await channel.hangup()
            elif isinstance(event, HungUp):
                self.ended.append(event.reason)
        await played
        self.done.set()


def start(sid: str = "MZ1") -> dict[str, object]:
    return {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": sid,
        "start": {
            "streamSid": sid,
            "callSid": "CA1",
            "tracks": ["inbound"],
            "customParameters": {"From": "+15550100", "To": "+15550199"},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }


async def make_client(aiohttp_client, handler) -> TestClient:  # type: ignore[no-untyped-def,type-arg]
    app = web.Application()
    app.router.add_get("/media-stream", media_stream_handler(handler))
    client: TestClient = await aiohttp_client(app)  # type: ignore[type-arg]
    return client


async def test_stream_delivers_caller_audio_and_digits_and_plays_our_prompt(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    caller = Caller()
    client = await make_client(aiohttp_client, caller)
    ws = await client.ws_connect("/media-stream")
    await ws.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    await ws.send_json(start())
    payload = base64.b64encode(codecs.ulaw_encode(tone(400, 0.1))).decode()
    for chunk in range(5):
        await ws.send_json(
            {
                "event": "media",
                "streamSid": "MZ1",
                "media": {"track": "inbound", "chunk": str(chunk), "payload": payload[:216]},
            }
        )
    await ws.send_str("this is not json")  # skipped, the stream goes on
    await ws.send_json(
        {"event": "dtmf", "streamSid": "MZ1", "dtmf": {"track": "inbound_track", "digit": "7"}}
    )
    await ws.send_json(
        {"event": "dtmf", "streamSid": "MZ1", "dtmf": {"track": "inbound_track", "digit": "#"}}
    )
    heard: list[bytes] = []
    marks: list[str] = []
    async for message in ws:
        data = json.loads(message.data)
        if data["event"] == "media":
            assert data["streamSid"] == "MZ1"
            heard.append(codecs.ulaw_decode(base64.b64decode(data["media"]["payload"])))
        elif data["event"] == "mark":
            marks.append(data["mark"]["name"])
    await asyncio.wait_for(caller.done.wait(), 5)
    assert caller.info is not None
    assert (caller.info.caller, caller.info.called, caller.info.front_end) == (
        "+15550100",
        "+15550199",
        "media-stream",
    )
    assert caller.digits == ["7", "#"]
    assert len(caller.frames) == 5  # 5 x 162 mu-law samples re-cut into 20 ms frames of 160
    assert tone_power(caller.frames[0], 400) > 0.5
    assert len(heard) == 10 and all(tone_power(f, 1000) > 0.5 for f in heard)
    assert marks == ["play-1"]
    assert caller.ended == ["server"]


async def test_stop_message_ends_the_call(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    caller = Caller()
    client = await make_client(aiohttp_client, caller)
    ws = await client.ws_connect("/media-stream")
    await ws.send_json({"event": "media", "media": {"payload": "AAAA"}})  # before start: skipped
    await ws.send_json(start())
    await ws.send_json({"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "CA1"}})
    await asyncio.wait_for(caller.done.wait(), 5)
    assert caller.ended == ["caller"]
    await ws.close()


async def test_closing_the_socket_hangs_up(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    caller = Caller()
    client = await make_client(aiohttp_client, caller)
    ws = await client.ws_connect("/media-stream")
    await ws.send_json(start())
    await ws.send_json({"event": "media", "media": {"payload": "!!not base64!!"}})  # skipped
    await ws.close()
    await asyncio.wait_for(caller.done.wait(), 5)
    assert caller.ended == ["caller"]
