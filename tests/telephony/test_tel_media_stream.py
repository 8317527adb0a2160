"""The media-stream WebSocket (Twilio Media Streams message set) through aiohttp's test client."""

from __future__ import annotations

import asyncio
import base64
import json
import logging

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from telsupport import tone, tone_power

from callcenter.config.telephony import CarrierConfig
from callcenter.speech import codecs
from callcenter.telephony.carriers import SIGNATURE_HEADER, CarrierKeys, sign
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


SECRET = "trunk-secret-0123456789"
OTHER_SECRET = "other-secret-0123456789"
CARRIERS = CarrierKeys(
    [CarrierConfig(name="trunk", secret=SECRET), CarrierConfig(name="other", secret=OTHER_SECRET)]
)
PATH = f"/media-stream?carrier=trunk&secret={SECRET}"


async def make_client(aiohttp_client, handler) -> TestClient:  # type: ignore[no-untyped-def,type-arg]
    app = web.Application()
    app.router.add_get("/media-stream", media_stream_handler(handler, carriers=CARRIERS))
    client: TestClient = await aiohttp_client(app)  # type: ignore[type-arg]
    return client


async def test_stream_delivers_caller_audio_and_digits_and_plays_our_prompt(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    caller = Caller()
    client = await make_client(aiohttp_client, caller)
    ws = await client.ws_connect(PATH)
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
    assert (caller.info.caller, caller.info.called, caller.info.front_end, caller.info.carrier) == (
        "+15550100",
        "+15550199",
        "media-stream",
        "trunk",
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
    ws = await client.ws_connect(PATH)
    await ws.send_json({"event": "media", "media": {"payload": "AAAA"}})  # before start: skipped
    await ws.send_json(start())
    await ws.send_json({"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "CA1"}})
    await asyncio.wait_for(caller.done.wait(), 5)
    assert caller.ended == ["caller"]
    await ws.close()


async def test_closing_the_socket_hangs_up(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    caller = Caller()
    client = await make_client(aiohttp_client, caller)
    ws = await client.ws_connect(PATH)
    await ws.send_json(start())
    await ws.send_json({"event": "media", "media": {"payload": "!!not base64!!"}})  # skipped
    await ws.close()
    await asyncio.wait_for(caller.done.wait(), 5)
    assert caller.ended == ["caller"]


@pytest.mark.parametrize(
    ("query", "headers", "status", "reason"),
    [
        ("", {}, 401, "no_credential"),
        ("?carrier=trunk", {}, 401, "no_credential"),
        (f"?secret={SECRET}", {}, 401, "no_credential"),
        ("?carrier=trunk&secret=wrong-secret-0123456789", {}, 403, "bad_secret"),
        (f"?carrier=trunk&secret={OTHER_SECRET}", {}, 403, "bad_secret"),  # another carrier's
        (f"?carrier=nobody&secret={SECRET}", {}, 403, "unknown_carrier"),
        ("?carrier=trunk", {SIGNATURE_HEADER: "00" * 32}, 403, "bad_signature"),
    ],
)
async def test_a_caller_without_a_carriers_credential_is_refused_before_the_upgrade_and_logged(  # type: ignore[no-untyped-def]
    aiohttp_client, caplog, query: str, headers: dict[str, str], status: int, reason: str
) -> None:
    caller = Caller()
    client = await make_client(aiohttp_client, caller)
    caplog.set_level(logging.WARNING, logger="callcenter.telephony.carriers")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/media-stream" + query, headers=headers)
    assert refused.value.status == status
    plain = await client.get("/media-stream" + query, headers=headers)  # the same without upgrade
    body = await plain.json()
    assert plain.status == status and body["error"]["status"] == status and body["error"]["field"]
    lines = [r.getMessage() for r in caplog.records if "telephony.refused" in r.getMessage()]
    assert len(lines) == 2 and all(f"reason={reason}" in line and "127.0.0.1" in line for line in lines)
    assert not any(SECRET in r.getMessage() or OTHER_SECRET in r.getMessage() for r in caplog.records)
    assert caller.info is None  # no call reached the center


async def test_a_carrier_may_sign_the_url_instead_of_sending_its_secret(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    caller = Caller()
    client = await make_client(aiohttp_client, caller)
    path = "/media-stream?carrier=other&leg=7"
    url = str(client.make_url(path)).replace("http://", "wss://", 1)  # what the carrier dialled
    ws = await client.ws_connect(path, headers={SIGNATURE_HEADER: sign(OTHER_SECRET, url)})
    await ws.send_json(start())
    await ws.send_json({"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "CA1"}})
    await asyncio.wait_for(caller.done.wait(), 5)
    assert caller.info is not None and caller.info.carrier == "other" and caller.info.caller == "+15550100"
    await ws.close()
    # the signature covers the query: the same header on another URL, or by another key, fails
    for other_path, secret in (("/media-stream?carrier=other&leg=8", OTHER_SECRET), (path, SECRET)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(other_path, headers={SIGNATURE_HEADER: sign(secret, url)})
        assert refused.value.status == 403
