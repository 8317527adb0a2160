"""Bridge two calls (the caller and the agent's leg) so audio flows both ways.

Each side's frames are fed to the other side with ``feed`` (never awaited, so a slow side
cannot stall the other; the backlog is bounded). ``hold()`` stops both directions, plays
music on hold to the caller and nothing to the agent, and pauses the recording;
``resume()`` restores the talk path. ``run()`` returns when either side hangs up or
``stop()`` is called; it never hangs up the other side: what happens next (wrap-up, a
survey, a transfer) is the caller of ``run``'s decision. Digits pressed during the bridge
go to the optional ``on_digit(side, digit)`` callback.

Listen-in: ``add_listener(channel, on_end)`` lets a third party (a supervisor) hear both
sides, mixed, without being heard: the bridge only ``feed``s the listener and never reads
its events. ``remove_listener(channel)`` takes it off; when the bridge's ``run()`` ends,
every listener's ``on_end`` is called once (the listener is not hung up here).
"""

from __future__ import annotations

import asyncio
import math
import struct
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.telephony.media import (
    FRAME_BYTES,
    SAMPLE_RATE,
    AudioFrame,
    CallChannel,
    DigitPressed,
    HungUp,
)
from callcenter.telephony.pacer import MediaClock
from callcenter.telephony.recorder import Recorder

OnDigit = Callable[[str, str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeResult:
    """``ended_by``: 'caller', 'agent' or 'stopped'; ``reason`` from that side's HungUp;
    ``recording`` is the WAV path when the bridge recorded (for the interaction log)."""

    ended_by: str
    reason: str
    recording: Path | None


def hold_music(seconds: float = 4.0) -> bytes:
    """A generated, gentle music-on-hold pattern (a rising three-note chime, then a rest),
    16-bit PCM at 8 kHz, about -20 dBFS."""
    notes = (523.25, 659.25, 783.99)
    samples: list[int] = []
    for freq in notes:
        for i in range(int(0.4 * SAMPLE_RATE)):
            fade = min(1.0, i / 200, (0.4 * SAMPLE_RATE - i) / 400)
            samples.append(int(3200 * fade * math.sin(2 * math.pi * freq * i / SAMPLE_RATE)))
    total = int(seconds * SAMPLE_RATE)
    samples = (samples + [0] * max(0, total - len(samples)))[:total]
    return struct.pack(f"<{len(samples)}h", *samples)


def load_music(path: Path) -> bytes:
    """Music on hold from a WAV file that is already 8 kHz, mono, 16-bit."""
    with wave.open(str(path), "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise ValueError(f"{path}: music on hold must be 8 kHz mono 16-bit PCM WAV")
        return wav.readframes(wav.getnframes())


MIX_BACKLOG = 3  # frames of one side kept waiting for the other side's frame to mix with


@dataclass(slots=True)
class _Listener:
    """A receive-only third party: each caller frame is mixed with the agent's oldest
    waiting frame; agent frames the caller's side never comes to pair go out alone."""

    channel: CallChannel
    on_end: Callable[[], None] | None
    waiting: dict[str, deque[bytes]] = field(default_factory=lambda: {"caller": deque(), "agent": deque()})

    def hear(self, side: str, pcm: bytes) -> None:
        other = self.waiting["agent" if side == "caller" else "caller"]
        if other:
            self.channel.feed(_mix(pcm, other.popleft()))
            return
        mine = self.waiting[side]
        mine.append(pcm)
        if len(mine) > MIX_BACKLOG:  # the other side is silent (on hold, muted, no packets)
            self.channel.feed(mine.popleft())


def _mix(a: bytes, b: bytes) -> bytes:
    n = min(len(a), len(b)) // 2
    xs, ys = struct.unpack(f"<{n}h", a[: 2 * n]), struct.unpack(f"<{n}h", b[: 2 * n])
    return struct.pack(f"<{n}h", *(max(-32768, min(32767, x + y)) for x, y in zip(xs, ys, strict=True)))


class Bridge:
    """Connect ``caller`` and ``agent``; see the module docstring."""

    def __init__(
        self,
        caller: CallChannel,
        agent: CallChannel,
        *,
        clock: MediaClock,
        music: bytes | None = None,
        recording: Path | None = None,
        on_digit: OnDigit | None = None,
    ) -> None:
        self.caller = caller
        self.agent = agent
        self._music = music if music is not None else hold_music()
        self._recorder = Recorder(recording, clock) if recording is not None else None
        self._on_digit = on_digit
        self._held = False
        self._music_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._listeners: list[_Listener] = []

    @property
    def held(self) -> bool:
        return self._held

    def hold(self) -> None:
        if self._held:
            return
        self._held = True
        self.agent.clear()
        self.caller.clear()
        if self._recorder is not None:
            self._recorder.pause()
        self._music_task = asyncio.get_running_loop().create_task(self._play_music())

    def resume(self) -> None:
        if not self._held:
            return
        self._held = False
        self._stop_music()
        self.caller.clear()
        if self._recorder is not None:
            self._recorder.resume()

    def add_listener(self, channel: CallChannel, on_end: Callable[[], None] | None = None) -> None:
        """Let ``channel`` hear both sides from now on; it is never heard (see the module)."""
        self._listeners.append(_Listener(channel, on_end))

    def remove_listener(self, channel: CallChannel) -> bool:
        """Stop feeding ``channel``; False if it was not listening."""
        before = len(self._listeners)
        self._listeners = [x for x in self._listeners if x.channel is not channel]
        return len(self._listeners) < before

    @property
    def listeners(self) -> tuple[CallChannel, ...]:
        return tuple(x.channel for x in self._listeners)

    def stop(self) -> None:
        """End the bridge without hanging up either side (e.g. a transfer)."""
        self._stopped.set()

    async def run(self) -> BridgeResult:
        """Forward audio until a side hangs up or ``stop()``; then release everything."""
        pumps = {
            asyncio.ensure_future(self._pump("caller", self.caller, self.agent)): "caller",
            asyncio.ensure_future(self._pump("agent", self.agent, self.caller)): "agent",
        }
        stopper = asyncio.ensure_future(self._stopped.wait())
        try:
            done, _ = await asyncio.wait({*pumps, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*pumps, stopper):
                task.cancel()
            await asyncio.gather(*pumps, stopper, return_exceptions=True)
            self._stop_music()
            path = self._recorder.close() if self._recorder is not None else None
            self._end_listeners()
        ended = next((t for t in pumps if t in done), None)
        if ended is None:
            return BridgeResult(ended_by="stopped", reason="stopped", recording=path)
        return BridgeResult(ended_by=pumps[ended], reason=ended.result(), recording=path)

    async def _pump(self, side: str, source: CallChannel, sink: CallChannel) -> str:
        add = None
        if self._recorder is not None:
            add = self._recorder.add_caller if side == "caller" else self._recorder.add_agent
        async for event in source.events():
            if isinstance(event, AudioFrame):
                if not self._held:
                    sink.feed(event.pcm)
                    if add is not None:
                        add(event.pcm)
                    for listener in self._listeners:
                        listener.hear(side, event.pcm)
            elif isinstance(event, DigitPressed):
                if self._on_digit is not None:
                    self._on_digit(side, event.digit)
            elif isinstance(event, HungUp):
                return event.reason
        return "ended"

    async def _play_music(self) -> None:
        chunk = max(FRAME_BYTES, len(self._music) - len(self._music) % FRAME_BYTES)
        while self._held and not self.caller.ended:
            if not self._music or not await self.caller.play(self._music[:chunk]):
                return

    def _end_listeners(self) -> None:
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            if listener.on_end is not None:
                listener.on_end()

    def _stop_music(self) -> None:
        if self._music_task is not None:
            self._music_task.cancel()
            self._music_task = None
