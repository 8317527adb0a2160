"""A real aiortc audio track for tests: a browser's microphone playing a steady tone."""

from __future__ import annotations

import asyncio
import fractions

import av
from aiortc import MediaStreamTrack

from callcenter.speech.codecs import sine

RATE = 8000


class ToneTrack(MediaStreamTrack):
    """A steady tone at ``freq`` Hz in 20 ms frames of 8 kHz audio, paced in real time."""

    kind = "audio"

    def __init__(self, freq: float) -> None:
        super().__init__()
        self._pcm = sine(freq, 1000, amplitude=0.3)
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            await asyncio.sleep(max(0.0, self._start + self._n * 0.02 - loop.time()))
        offset = (self._n % 50) * 320
        frame = av.AudioFrame(format="s16", layout="mono", samples=160)
        frame.planes[0].update(self._pcm[offset : offset + 320])
        frame.pts, frame.sample_rate, frame.time_base = self._n * 160, RATE, fractions.Fraction(1, RATE)
        self._n += 1
        return frame
