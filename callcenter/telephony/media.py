"""The media contract every front-end implements, and the shared channel core.

Theory of operation: a call is a ``CallChannel``. Its ``events()`` iterator yields
``AudioFrame``s (20 ms of 16-bit little-endian PCM at 8 kHz: 160 samples, 320 bytes),
``DigitPressed`` and ``HoldChanged`` events, and ends with exactly one ``HungUp``.
``play(pcm)`` queues audio and returns once it has been sent out, paced at real time, or
when ``clear()`` (barge-in) or a hang-up discards it. ``hangup()`` ends the call from our
side. IVR prompts, queue music and the agent bridge use only this contract, so they work
the same whatever the front-end.

``ChannelCore`` holds what every front-end shares: the inbound event queue, re-chunking of
inbound audio into 20 ms frames, and the outbound playback buffer the ``MediaClock`` pulls
one frame from every 20 ms. A front-end subclasses it and implements ``_send_hangup``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

# the clock's tick is the frame's length; named here too, with the frame's other figures
from callcenter.telephony.pacer import FRAME_SECONDS as FRAME_SECONDS
from callcenter.telephony.pacer import MediaClock

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
FRAME_BYTES = 320
SILENCE = bytes(FRAME_BYTES)
MAX_FEED_BACKLOG = 5
DIGITS = frozenset("0123456789*#ABCD")


@dataclass(frozen=True, slots=True, kw_only=True)
class CallInfo:
    """Who called whom, through which front-end. ``call_id`` is unique per front-end;
    ``carrier`` names the configured carrier that handed the call over (media stream)."""

    call_id: str
    caller: str
    called: str
    front_end: str
    carrier: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioFrame:
    """20 ms of caller audio: 320 bytes of 16-bit little-endian PCM at 8 kHz."""

    pcm: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class DigitPressed:
    """A keypad digit (``0-9 * # A-D``); ``source`` says how it came (rfc4733, sip-info...)."""

    digit: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldChanged:
    """The far end put the call on hold (``held``) or took it off hold."""

    held: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class HungUp:
    """The call ended; always the last event. ``reason``: caller, server, cancel, no_rtp..."""

    reason: str


MediaEvent = AudioFrame | DigitPressed | HoldChanged | HungUp


@runtime_checkable
class CallChannel(Protocol):
    """One call's media, whatever the front-end. See the module docstring for the contract."""

    @property
    def info(self) -> CallInfo: ...

    @property
    def ended(self) -> bool: ...

    def events(self) -> AsyncIterator[MediaEvent]:
        """Iterate once per call: frames, digits, hold changes, then one ``HungUp``."""
        ...

    async def play(self, pcm_8k: bytes) -> bool:
        """Queue audio; return True once it was all sent, False if cleared or hung up."""
        ...

    def feed(self, pcm_8k: bytes) -> None:
        """Queue live audio (a bridge) without waiting; a backlog beyond ~100 ms is dropped
        so latency stays bounded."""
        ...

    def clear(self) -> None:
        """Drop queued audio now (barge-in); pending ``play`` calls return False."""
        ...

    async def hangup(self) -> None:
        """End the call from our side; idempotent. ``events()`` then ends with HungUp."""
        ...


class _EventIterator:
    """Async iterator over a channel's queue; stops after the ``HungUp``. On a channel whose
    ``HungUp`` another reader already took, it ends at once with the same ``HungUp``, so a
    reader that starts late (a bridge taking over a leg) never waits forever."""

    def __init__(self, queue: asyncio.Queue[MediaEvent], ended: Callable[[], HungUp | None]) -> None:
        self._queue = queue
        self._ended = ended
        self._done = False

    def __aiter__(self) -> _EventIterator:
        return self

    async def __anext__(self) -> MediaEvent:
        if self._done:
            raise StopAsyncIteration
        if self._queue.empty() and (last := self._ended()) is not None:
            self._done = True
            return last
        event = await self._queue.get()
        if isinstance(event, HungUp):
            self._done = True
        return event


class ChannelCore:
    """Shared channel machinery. Front-ends call ``deliver_*`` from their receive path,
    the media clock calls ``on_tick`` every 20 ms, and ``_send_frame`` gets each outbound
    frame; a front-end overrides ``_send_frame`` and ``_send_hangup``.

    ``continuous`` front-ends (RTP) keep sending silence between prompts so the far end
    sees a steady stream. Must be created with a running event loop; it registers with ``clock`` at once and
    leaves it when the call ends.
    """

    def __init__(self, info: CallInfo, clock: MediaClock) -> None:
        self._info = info
        self._clock = clock
        self._events: asyncio.Queue[MediaEvent] = asyncio.Queue()
        self._inbound = bytearray()
        self._outbound: deque[bytes] = deque()
        self._waiters: deque[tuple[int, asyncio.Future[bool]]] = deque()
        self._queued_frames = 0
        self._sent_frames = 0
        self._ended = False
        self._hung_up: HungUp | None = None  # the last event, once the call ended
        self._held = False
        self.frames_in = 0
        self.frames_out = 0
        self.frames_dropped = 0
        self.continuous = False
        clock.add(self)

    # Public methods for the application (the CallChannel contract)

    @property
    def info(self) -> CallInfo:
        return self._info

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def held(self) -> bool:
        return self._held

    def events(self) -> AsyncIterator[MediaEvent]:
        return _EventIterator(self._events, lambda: self._hung_up)

    async def play(self, pcm_8k: bytes) -> bool:
        if self._ended:
            return False
        data = bytes(pcm_8k)
        if len(data) % 2:
            data = data[:-1]
        for start in range(0, len(data), FRAME_BYTES):
            frame = data[start : start + FRAME_BYTES]
            if len(frame) < FRAME_BYTES:
                frame = frame + bytes(FRAME_BYTES - len(frame))
            self._outbound.append(frame)
            self._queued_frames += 1
        if self._queued_frames == self._sent_frames:
            return True
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._queued_frames, future))
        return await future

    def feed(self, pcm_8k: bytes) -> None:
        if self._ended:
            return
        for start in range(0, len(pcm_8k) - 1, FRAME_BYTES):
            if len(self._outbound) >= MAX_FEED_BACKLOG:
                self.frames_dropped += 1
                continue
            frame = bytes(pcm_8k[start : start + FRAME_BYTES])
            self._outbound.append(frame + bytes(FRAME_BYTES - len(frame)))
            self._queued_frames += 1

    def clear(self) -> None:
        self._sent_frames += len(self._outbound)
        self._outbound.clear()
        self._resolve_waiters(cleared=True)

    async def hangup(self) -> None:
        if self._ended:
            return
        self.end("server")
        await self._send_hangup()

    # Public methods for front-ends

    def deliver_audio(self, pcm: bytes) -> None:
        """Inbound PCM of any length; emitted as whole 20 ms ``AudioFrame``s."""
        if self._ended:
            return
        if not self._inbound and len(pcm) == FRAME_BYTES:  # the common case: one whole frame
            self.frames_in += 1
            self._events.put_nowait(AudioFrame(pcm=pcm))
            return
        self._inbound += pcm
        while len(self._inbound) >= FRAME_BYTES:
            frame = bytes(self._inbound[:FRAME_BYTES])
            del self._inbound[:FRAME_BYTES]
            self.frames_in += 1
            self._events.put_nowait(AudioFrame(pcm=frame))

    def deliver_digit(self, digit: str, source: str) -> None:
        if not self._ended and digit in DIGITS:
            self._events.put_nowait(DigitPressed(digit=digit, source=source))

    def deliver_hold(self, held: bool) -> None:
        if not self._ended and held != self._held:
            self._held = held
            self._events.put_nowait(HoldChanged(held=held))

    def end(self, reason: str) -> None:
        """Mark the call over (once): queue ``HungUp``, release pending ``play`` calls."""
        if self._ended:
            return
        self._ended = True
        self._clock.remove(self)
        self._outbound.clear()
        self._resolve_waiters(cleared=True)
        self._hung_up = HungUp(reason=reason)
        self._events.put_nowait(self._hung_up)

    def on_tick(self) -> None:
        """Called by the media clock every 20 ms: send the next queued frame, if any.
        While held the far end asked for no media, so queued audio waits. A ``continuous``
        channel sends ``SILENCE`` (the same object, so encoders can cache it) when idle."""
        if self._ended or self._held:
            return
        if self._outbound:
            frame = self._outbound.popleft()
            self._sent_frames += 1
            self.frames_out += 1
        elif self.continuous:
            frame = SILENCE
        else:
            return
        try:
            self._send_frame(frame)
        except Exception:  # a broken transport ends only this call
            log.exception("sending a frame failed on %s", self._info.call_id)
            self.end("transport_error")
            return
        self._resolve_waiters(cleared=False)

    def _resolve_waiters(self, *, cleared: bool) -> None:
        while self._waiters and (cleared or self._waiters[0][0] <= self._sent_frames):
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_result(not cleared)

    # Front-end hooks

    def _send_frame(self, pcm: bytes) -> None:
        raise NotImplementedError

    async def _send_hangup(self) -> None:
        raise NotImplementedError


async def run_call(on_call: Callable[[CallChannel], Awaitable[None]], channel: ChannelCore) -> None:
    """Run the application's call handler; the call is hung up when the handler returns or
    fails (a failure is logged, never propagated into the front-end)."""
    try:
        await on_call(channel)
    except Exception:
        log.exception("call handler failed for %s", channel.info.call_id)
    finally:
        if not channel.ended:
            await channel.hangup()


async def settle(task: asyncio.Task[None], grace: float = 5.0) -> None:
    """Give a call handler ``grace`` seconds to return after its call ended, then cancel it."""
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
