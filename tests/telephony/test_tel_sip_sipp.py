"""The SIP front-end against a real SIP peer (sipp): calls, digits, audio, teardown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telsupport import free_port, needs_sipp, open_fds, run_sipp, tone, tone_power, until

from callcenter.config.telephony import TelephonyConfig
from callcenter.telephony.media import AudioFrame, CallChannel, CallInfo, DigitPressed, HungUp
from callcenter.telephony.sip_server import SipServer

pytestmark = [needs_sipp, pytest.mark.timeout(60)]

IDLE = {"calls": 0, "tasks": 0, "pending_ack": 0, "client_tx": 0, "clock_sinks": 0}


def config(**overrides: object) -> TelephonyConfig:
    base = free_port()
    values: dict[str, object] = {
        "sip_port": 0,
        "rtp_port_min": base,
        "rtp_port_max": base + 40,
        "no_rtp_timeout_s": 5.0,
    }
    values.update(overrides)
    return TelephonyConfig(**values)  # type: ignore[arg-type]


class Recorded:
    """A call handler that plays a 1 kHz prompt and records what the call delivered."""

    def __init__(self, hang_up_after: int | None = None) -> None:
        self.infos: list[CallInfo] = []
        self.digits: list[str] = []
        self.tone_frames = 0
        self.frames = 0
        self.ended: list[str] = []
        self.done = asyncio.Event()
        self._hang_up_after = hang_up_after

    async def __call__(self, channel: CallChannel) -> None:
        self.infos.append(channel.info)
        prompt = asyncio.ensure_future(channel.play(tone(1000, 1.0)))
        async for event in channel.events():
            if isinstance(event, AudioFrame):
                self.frames += 1
                self.tone_frames += tone_power(event.pcm, 1000) > 0.5
            elif isinstance(event, DigitPressed):
                self.digits.append(event.digit)
                if len(self.digits) == self._hang_up_after:
                    await channel.hangup()
            elif isinstance(event, HungUp):
                self.ended.append(event.reason)
        await prompt
        self.done.set()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_caller_digits_arrive_in_order_prompt_reaches_caller_and_bye_cleans_up(
    tmp_path: Path, transport: str
) -> None:
    handler = Recorded()
    server = SipServer(config(), handler)
    await server.start()
    fds = open_fds()
    tasks = set(asyncio.all_tasks())
    extra = ["-t", "t1"] if transport == "tcp" else []
    rc, out = await run_sipp(
        "call_digits_caller_bye.xml",
        server.port,
        tmp_path,
        "-m",
        "1",
        "-mp",
        str(free_port()),
        "-rtp_echo",
        "-s",
        "4100",
        *extra,
    )
    assert rc == 0, out
    await asyncio.wait_for(handler.done.wait(), 5)
    assert handler.infos[0].caller == "5551234"
    assert handler.infos[0].called == "4100"
    assert handler.infos[0].front_end == "sip"
    assert handler.digits == ["1", "2", "3"]
    assert handler.ended == ["caller"]
    # sipp echoes what it receives: our prompt reached the caller and came back as frames
    assert handler.tone_frames >= 40
    assert handler.frames >= 60
    await until(lambda: server.open_resources() == IDLE)
    assert open_fds() <= fds
    assert set(asyncio.all_tasks()) <= tasks
    await server.stop()


async def test_server_hangs_up_after_three_digits_and_caller_acknowledges_bye(tmp_path: Path) -> None:
    handler = Recorded(hang_up_after=3)
    server = SipServer(config(), handler)
    await server.start()
    fds = open_fds()
    rc, out = await run_sipp(
        "call_digits_server_bye.xml", server.port, tmp_path, "-m", "1", "-mp", str(free_port()), "-rtp_echo"
    )
    assert rc == 0, out
    await asyncio.wait_for(handler.done.wait(), 5)
    assert handler.digits == ["1", "2", "3"]
    assert handler.ended == ["server"]
    assert server.stats["server_bye"] == 1
    await until(lambda: server.open_resources() == IDLE)  # sipp's 200 ended our BYE transaction
    assert open_fds() <= fds
    await server.stop()


async def test_cancel_while_ringing_gets_487_and_never_reaches_the_application(tmp_path: Path) -> None:
    handler = Recorded()
    server = SipServer(config(ring_seconds=5.0), handler)
    await server.start()
    fds = open_fds()
    rc, out = await run_sipp("cancel_ringing.xml", server.port, tmp_path, "-m", "1", "-mp", str(free_port()))
    assert rc == 0, out
    assert server.stats["cancelled"] == 1
    assert handler.infos == []
    await until(lambda: server.open_resources() == IDLE)  # the ACK for the 487 arrived
    assert open_fds() <= fds
    await server.stop()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_options_ping_is_answered(tmp_path: Path, transport: str) -> None:
    server = SipServer(config(), Recorded())
    await server.start()
    extra = ["-t", "t1"] if transport == "tcp" else []
    rc, out = await run_sipp("options.xml", server.port, tmp_path, "-m", "1", *extra)
    assert rc == 0, out
    await server.stop()


async def test_stop_hangs_up_live_calls_and_releases_everything(tmp_path: Path) -> None:
    handler = Recorded()
    server = SipServer(config(), handler)
    await server.start()
    sipp = asyncio.ensure_future(
        run_sipp(
            "call_load.xml",
            server.port,
            tmp_path,
            "-m",
            "2",
            "-l",
            "2",
            "-d",
            "20000",
            "-mp",
            str(free_port()),
            "-rtp_echo",
            timeout=25,
        )
    )
    await until(lambda: len(handler.infos) == 2, timeout=10)
    await server.stop()
    assert handler.ended == ["shutdown", "shutdown"]
    assert server.open_resources() == IDLE
    sipp.cancel()
    await asyncio.gather(sipp, return_exceptions=True)
