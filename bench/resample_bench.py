"""Resampler cost per 20 ms frame (streaming, as the speech recognizer feeds it: 8 kHz
phone audio up to 16 kHz) and per second of prompt (one-shot, TTS 22.05 kHz down to 8 kHz).

    python bench/resample_bench.py [--frames 5000]

Prints figures, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from callcenter.speech import codecs


def per_frame_us(src: int, dst: int, frames: int) -> float:
    """Median of 5 runs of ``frames`` consecutive 20 ms frames through one stream."""
    audio = codecs.sine(440, frames * 20, src, amplitude=0.3)
    size = src // 50 * 2
    chunks = [audio[i : i + size] for i in range(0, len(audio), size)]
    runs = []
    for _ in range(5):
        stream = codecs.Resampler(src, dst)
        t = time.perf_counter()
        for chunk in chunks:
            stream.process(chunk)
        runs.append((time.perf_counter() - t) / len(chunks) * 1e6)
    return statistics.median(runs)


def one_shot_ms(src: int, dst: int, seconds: float) -> float:
    audio = codecs.sine(440, int(seconds * 1000), src, amplitude=0.3)
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        codecs.resample(audio, src, dst)
        runs.append((time.perf_counter() - t) * 1000 / seconds)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=5000)
    args = parser.parse_args()
    info = machine()
    print(f"machine: {info}")
    up = per_frame_us(8000, 16000, args.frames)
    down = per_frame_us(16000, 8000, args.frames)
    prompt = one_shot_ms(22050, 8000, 10.0)
    print(f"resample: streaming 8 kHz -> 16 kHz {up:.1f} us per 20 ms frame")
    print(f"resample: streaming 16 kHz -> 8 kHz {down:.1f} us per 20 ms frame")
    print(f"resample: one-shot 22.05 kHz -> 8 kHz {prompt:.2f} ms per second of audio")
    figures = {
        "name": "resample",
        "cores": info["cores"],
        "frame_8k_to_16k_us": round(up, 2),
        "frame_16k_to_8k_us": round(down, 2),
        "prompt_22k_to_8k_ms_per_s": round(prompt, 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
