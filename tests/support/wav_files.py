"""WAV files for recording tests, written with the standard library's ``wave``: 8 kHz,
16-bit stereo like the recorder's (a tone on the left, silence on the right)."""

from __future__ import annotations

import array
import math
import wave
from pathlib import Path

RATE = 8000


def write_wav(path: Path, seconds: float, *, hz: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(seconds * RATE)
    samples = array.array("h", bytes(4 * frames))
    for i in range(frames):
        samples[2 * i] = int(8000 * math.sin(2 * math.pi * hz * i / RATE))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.tobytes())
    return path
