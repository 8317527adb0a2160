"""The channel core, the bridge (both directions, hold with music) and the recorder."""

from __future__ import annotations

import array
import asyncio
import wave
from pathlib import Path

import pytest
from telsupport import tone, tone_power

from callcenter.telephony.bridge import Bridge, hold_music, load_music
from callcenter.telephony.media import FRAME_BYTES, CallInfo, ChannelCore, HungUp
from callcenter.telephony.pacer import MediaClock

pytestmark = pytest.mark.timeout(30)


class Leg(ChannelCore):
    """A channel whose far end is the test: frames we send are kept in ``sent``."""

    def __init__(self, name: str, clock: MediaClock) -> None:
        super().__init__(CallInfo(call_id=name, caller=name, called="", front_end="test"), clock)
        self.sent: list[bytes] = []
        self.sent_at: list[float] = []

    def _send_frame(self, pcm: bytes) -> None:
        self.sent.append(pcm)
        self.sent_at.append(asyncio.get_running_loop().time())

    async def _send_hangup(self) -> None:
        pass


async def test_play_is_paced_at_20ms_and_clear_releases_the_waiter() -> None:
    clock = MediaClock()
    leg = Leg("a", clock)
    assert await leg.play(tone(1000, 0.2)) is True
    assert len(leg.sent) == 10
    gaps = [b - a for a, b in zip(leg.sent_at, leg.sent_at[1:], strict=False)]
    # paced, not bursted: 20 ms on average (a loaded machine delays single ticks, and the
    # clock's absolute deadlines then catch up, so single gaps vary)
    assert 0.015 < sum(gaps) / len(gaps) < 0.03
    assert max(gaps) < 0.1
    pending = asyncio.ensure_future(leg.play(tone(1000, 2.0)))
    await asyncio.sleep(0.05)
    leg.clear()  # barge-in
    assert await pending is False
    assert len(leg.sent) < 20
    await leg.hangup()
    assert await leg.play(tone(1000, 0.1)) is False
    events = [e async for e in leg.events()]
    assert events == [HungUp(reason="server")]
    assert not clock.active


async def test_bridge_carries_audio_both_ways_holds_with_music_and_records(tmp_path: Path) -> None:
    clock = MediaClock()
    caller, agent = Leg("caller", clock), Leg("agent", clock)
    digits: list[tuple[str, str]] = []
    bridge = Bridge(
        caller,
        agent,
        clock=clock,
        recording=tmp_path / "rec" / "c1.wav",
        on_digit=lambda side, d: digits.append((side, d)),
    )
    running = asyncio.ensure_future(bridge.run())
    caller.deliver_audio(tone(500, 0.1))
    agent.deliver_audio(tone(1500, 0.1))
    caller.deliver_digit("5", "test")
    await asyncio.sleep(0.2)
    assert sum(tone_power(f, 500) > 0.5 for f in agent.sent) == 5  # caller -> agent
    assert sum(tone_power(f, 1500) > 0.5 for f in caller.sent) == 5  # agent -> caller
    assert digits == [("caller", "5")]

    bridge.hold()
    before = len(agent.sent)
    caller.deliver_audio(tone(500, 0.1))  # not heard by the agent while on hold
    await asyncio.sleep(0.3)
    assert not any(tone_power(f, 500) > 0.5 for f in agent.sent[before:])
    music = [f for f in caller.sent[-10:] if tone_power(f, 523.25) > 0.3 or tone_power(f, 659.25) > 0.3]
    assert music, "the caller hears music on hold"
    bridge.resume()
    agent.deliver_audio(tone(1500, 0.04))
    await asyncio.sleep(0.1)
    assert tone_power(caller.sent[-1], 1500) > 0.5 or tone_power(caller.sent[-2], 1500) > 0.5

    caller.end("caller")
    result = await asyncio.wait_for(running, 5)
    assert (result.ended_by, result.reason) == ("caller", "caller")
    assert result.recording == tmp_path / "rec" / "c1.wav"
    with wave.open(str(result.recording), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        frames = wav.readframes(wav.getnframes())
    samples = array.array("h", frames)
    left, right = samples[0::2].tobytes(), samples[1::2].tobytes()
    assert len(left) >= 10 * FRAME_BYTES
    frames_of = [
        (left[i : i + FRAME_BYTES], right[i : i + FRAME_BYTES]) for i in range(0, len(left), FRAME_BYTES)
    ]
    assert any(tone_power(a, 500) > 0.5 for a, _ in frames_of)  # left: the caller
    assert any(tone_power(b, 1500) > 0.5 for _, b in frames_of)  # right: the agent
    assert not agent.ended  # the bridge never hangs up the other side
    await agent.hangup()
    assert not clock.active


async def test_stop_ends_the_bridge_without_hanging_up() -> None:
    clock = MediaClock()
    caller, agent = Leg("caller", clock), Leg("agent", clock)
    bridge = Bridge(caller, agent, clock=clock)
    running = asyncio.ensure_future(bridge.run())
    await asyncio.sleep(0)
    bridge.stop()
    result = await asyncio.wait_for(running, 5)
    assert result.ended_by == "stopped" and result.recording is None
    assert not caller.ended and not agent.ended
    await caller.hangup()
    await agent.hangup()


def test_music_on_hold_from_a_wav_must_be_8k_mono(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.wav", tmp_path / "bad.wav"
    for path, rate in ((good, 8000), (bad, 22050)):
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(hold_music(0.5))
    assert load_music(good) == hold_music(0.5)
    with pytest.raises(ValueError, match="8 kHz"):
        load_music(bad)


async def test_a_reader_that_starts_after_the_hang_up_was_taken_still_sees_it() -> None:
    clock = MediaClock()
    leg = Leg("agent", clock)
    leg.deliver_audio(bytes(FRAME_BYTES))
    leg.end("caller")
    first = [e async for e in leg.events()]  # someone else drained the leg, HungUp included
    assert first[-1] == HungUp(reason="caller")
    late = [e async for e in leg.events()]  # the bridge comes later: it does not wait forever
    assert late == [HungUp(reason="caller")]
