"""Asterisk AudioSocket over a real TCP socket on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import uuid

import pytest
from telsupport import tone, tone_power

from callcenter.telephony.audiosocket import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_HANGUP,
    KIND_UUID,
    AudioSocketServer,
    frame,
)
from callcenter.telephony.carriers import AddressAllowList
from callcenter.telephony.media import AudioFrame, CallChannel, DigitPressed, HungUp

pytestmark = pytest.mark.timeout(30)


class Caller:
    def __init__(self) -> None:
        self.call_ids: list[str] = []
        self.digits: list[str] = []
        self.frames: list[bytes] = []
        self.ended: list[str] = []
        self.done = asyncio.Event()

    async def __call__(self, channel: CallChannel) -> None:
        self.call_ids.append(channel.info.call_id)
        played = asyncio.ensure_future(channel.play(tone(1000, 0.1)))
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


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    kind, length = struct.unpack("!BH", await reader.readexactly(3))
    return kind, await reader.readexactly(length)


async def test_audiosocket_call_audio_digits_prompt_and_server_hangup() -> None:
    caller = Caller()
    server = AudioSocketServer("127.0.0.1", 0, caller)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    call = uuid.uuid4()
    writer.write(frame(KIND_UUID, call.bytes))
    audio = tone(400, 0.06)
    writer.write(frame(KIND_AUDIO, audio[:500]) + frame(KIND_AUDIO, audio[500:]))
    writer.write(frame(KIND_DTMF, b"4") + frame(KIND_DTMF, b"#"))
    await writer.drain()
    heard = b""
    while True:
        kind, payload = await asyncio.wait_for(read_frame(reader), 5)
        if kind == KIND_HANGUP:
            break
        assert kind == KIND_AUDIO
        heard += payload
    await asyncio.wait_for(caller.done.wait(), 5)
    assert caller.call_ids == [str(call)]
    assert caller.digits == ["4", "#"]
    assert len(caller.frames) == 3 and tone_power(caller.frames[1], 400) > 0.5
    assert tone_power(heard[:1600], 1000) > 0.5  # our prompt reached the caller
    assert caller.ended == ["server"]
    writer.close()
    await writer.wait_closed()
    await server.stop()
    assert server.clock.active is False


async def test_caller_hangup_frame_and_bad_first_frame() -> None:
    caller = Caller()
    server = AudioSocketServer("127.0.0.1", 0, caller)
    await server.start()
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(frame(KIND_UUID, uuid.uuid4().bytes) + frame(KIND_HANGUP))
    await writer.drain()
    await asyncio.wait_for(caller.done.wait(), 5)
    assert caller.ended == ["caller"]
    writer.close()
    # a peer that starts with audio instead of its UUID is disconnected; nobody else is hurt
    bad_reader, bad_writer = await asyncio.open_connection("127.0.0.1", server.port)
    bad_writer.write(frame(KIND_AUDIO, bytes(320)))
    await bad_writer.drain()
    assert await asyncio.wait_for(bad_reader.read(), 5) == b""
    bad_writer.close()
    await server.stop()
    assert caller.call_ids and len(caller.call_ids) == 1


async def test_a_peer_off_the_allow_list_is_closed_at_once_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caller = Caller()
    caplog.set_level(logging.WARNING, logger="callcenter.telephony.carriers")
    server = AudioSocketServer("127.0.0.1", 0, caller, allow=AddressAllowList(["10.0.0.0/8", "::1"]))
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(frame(KIND_UUID, uuid.uuid4().bytes) + frame(KIND_DTMF, b"1"))
    # closed without a word: an end of stream, or a reset as our frames were never read
    with contextlib.suppress(ConnectionResetError):
        assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    with contextlib.suppress(ConnectionResetError):
        await writer.wait_closed()
    await server.stop()
    assert caller.call_ids == []  # no call reached the center
    lines = [r.getMessage() for r in caplog.records if "telephony.refused" in r.getMessage()]
    assert lines == ["telephony.refused front_end=audiosocket address=127.0.0.1 reason=address_not_allowed"]


def test_the_allow_list_takes_addresses_and_networks_of_both_families() -> None:
    allow = AddressAllowList(["127.0.0.1", "10.1.0.0/16", "::1"])
    assert allow.allows("127.0.0.1") and allow.allows("10.1.2.3") and allow.allows("::1")
    assert allow.allows("::ffff:10.1.2.3")  # an IPv4 peer on a dual-stack socket
    assert not allow.allows("127.0.0.2") and not allow.allows("10.2.0.1") and not allow.allows("::2")
    assert not allow.allows("") and not allow.allows("not-an-address")
    default = AddressAllowList(["127.0.0.0/8", "::1"])  # telephony.audiosocket_allow's default
    assert default.allows("127.0.0.5") and not default.allows("192.168.1.10")
