"""Call recording: both sides of a call into one stereo WAV (left: caller, right: agent).

The two sides' frames arrive at their own times; the recorder is a media-clock sink, so
each 20 ms tick writes one stereo frame from whatever each side delivered (silence for a
side that sent nothing), keeping both channels aligned in time. A side whose backlog grows
past ``_MAX_BACKLOG`` frames (clock drift) loses its oldest frames. Files are 8 kHz,
16-bit PCM; writes are small and buffered, so they stay on the event loop.
"""

from __future__ import annotations

import array
import re
import wave
from collections import deque
from pathlib import Path

from callcenter.telephony.media import FRAME_BYTES, SAMPLE_RATE, SILENCE
from callcenter.telephony.pacer import MediaClock

_MAX_BACKLOG = 10
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def recording_path(folder: str | Path, contact_id: str) -> Path:
    """``<folder>/<contact_id>.wav`` with the id made safe as a file name."""
    return Path(folder) / f"{_SAFE.sub('_', contact_id) or 'call'}.wav"


class Recorder:
    """Open with a path; ``add_caller``/``add_agent`` feed PCM; ``close()`` returns the path.
    ``pause()``/``resume()`` write nothing while paused (a call on hold is not recorded)."""

    def __init__(self, path: Path, clock: MediaClock) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._wav = wave.open(str(path), "wb")  # noqa: SIM115 - closed in close()
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self._sides: tuple[deque[bytes], deque[bytes]] = (deque(), deque())
        self._clock = clock
        self._paused = False
        self._closed = False
        self.frames_written = 0
        clock.add(self)

    def add_caller(self, pcm: bytes) -> None:
        self._add(0, pcm)

    def add_agent(self, pcm: bytes) -> None:
        self._add(1, pcm)

    def pause(self) -> None:
        self._paused = True
        for side in self._sides:
            side.clear()

    def resume(self) -> None:
        self._paused = False

    def _add(self, index: int, pcm: bytes) -> None:
        if self._paused or self._closed:
            return
        side = self._sides[index]
        for start in range(0, len(pcm) - 1, FRAME_BYTES):
            frame = pcm[start : start + FRAME_BYTES]
            side.append(frame + bytes(FRAME_BYTES - len(frame)))
        while len(side) > _MAX_BACKLOG:
            side.popleft()

    def on_tick(self) -> None:
        if not (self._paused or self._closed):
            self._write_one()

    def close(self) -> Path:
        """Stop recording and finish the WAV header; idempotent."""
        if not self._closed:
            self._closed = True
            self._clock.remove(self)
            while self._sides[0] or self._sides[1]:
                self._write_one()
            self._wav.close()
        return self.path

    def _write_one(self) -> None:
        left = self._sides[0].popleft() if self._sides[0] else SILENCE
        right = self._sides[1].popleft() if self._sides[1] else SILENCE
        self._wav.writeframesraw(interleave(left, right))
        self.frames_written += 1


def interleave(left: bytes, right: bytes) -> bytes:
    """Two mono 16-bit frames of equal length -> one stereo frame."""
    out = array.array("h", bytes(len(left) * 2))
    out[0::2] = array.array("h", left)
    out[1::2] = array.array("h", right)
    return out.tobytes()  # moves whole 2-byte samples, so byte order does not matter
