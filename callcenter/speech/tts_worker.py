"""The TTS worker process: ``python -m callcenter.speech.tts_worker``.

pyttsx3 drives espeak-ng through a C library that keeps global state and may block or
crash; calling it twice from one server process is unsafe. So the server never imports
pyttsx3: it starts this worker and talks to it over pipes, one JSON object per line.

Request (stdin)::

    {"id": 7, "text": "...", "voice": "ko" | null, "rate": 160 | null,
     "out": "<cache>/<key>.wav", "src": "<cache>/src/<key>.wav"}

Reply (stdout), one per request, in order::

    {"id": 7, "ok": true, "ms": 812.5}           # ms: duration of the prompt audio
    {"id": 7, "ok": false, "error": "..."}

``out`` gets 8 kHz 16-bit mono (what calls play), ``src`` the engine's own output
(22.05 kHz). Both are written to a temporary name and renamed, so a reader never sees a
half-written file. The worker exits when stdin closes. Anything the engine prints goes
to stderr: the protocol owns the real stdout.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from callcenter.speech.codecs import read_wav, resample, write_wav

PHONE_RATE = 8000


class _Engine:
    """One pyttsx3 engine for the worker's life; voice and rate set per request."""

    def __init__(self) -> None:
        import pyttsx3  # only ever imported in the worker

        self._engine = pyttsx3.init()
        self._default_voice = self._engine.getProperty("voice")
        self._default_rate = self._engine.getProperty("rate")
        self._voices = {v.id for v in self._engine.getProperty("voices")}
        self._voices |= {v.name for v in self._engine.getProperty("voices")}

    def render(self, text: str, voice: str | None, rate: int | None, path: Path) -> None:
        # espeak silently falls back to its default voice for unknown names; we refuse,
        # so a typo in the config does not make every prompt speak the wrong language.
        if voice and voice.split("+")[0] not in self._voices:
            raise ValueError(f"unknown voice {voice!r} (espeak-ng --voices lists them)")
        # Voice first: selecting an espeak voice can reset the rate.
        self._engine.setProperty("voice", voice or self._default_voice)
        self._engine.setProperty("rate", rate or self._default_rate)
        self._engine.save_to_file(text, str(path))
        self._engine.runAndWait()


def handle(engine: _Engine, request: dict[str, Any]) -> dict[str, Any]:
    """Render one request; return the reply (errors become ``ok: false``)."""
    rid = request.get("id")
    try:
        text, out = str(request["text"]), Path(request["out"])
        src = Path(request["src"]) if request.get("src") else None
        voice, rate = request.get("voice"), request.get("rate")
        out.parent.mkdir(parents=True, exist_ok=True)
        raw = out.with_name(f".{out.stem}.{os.getpid()}.raw.wav")
        engine.render(text, voice, int(rate) if rate else None, raw)
        pcm, engine_rate = read_wav(raw)
        if not pcm:
            raise RuntimeError(f"the engine produced no audio (voice {voice!r})")
        tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.wav")
        write_wav(tmp, resample(pcm, engine_rate, PHONE_RATE), PHONE_RATE)
        if src is not None:
            src.parent.mkdir(parents=True, exist_ok=True)
            os.replace(raw, src)
        else:
            raw.unlink()
        os.replace(tmp, out)
        return {"id": rid, "ok": True, "ms": len(pcm) / 2 / engine_rate * 1000}
    except Exception as exc:  # every failure is reported, the worker keeps serving
        return {"id": rid, "ok": False, "error": f"{type(exc).__name__}: {exc}"}


def serve(requests: TextIO, replies: TextIO) -> None:
    """Answer each request line until ``requests`` ends."""
    engine = _Engine()
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except json.JSONDecodeError as exc:
            reply: dict[str, Any] = {"id": None, "ok": False, "error": f"bad request: {exc}"}
        else:
            reply = handle(engine, request)
        replies.write(json.dumps(reply, ensure_ascii=False) + "\n")
        replies.flush()


def main() -> None:
    # Keep the protocol on a private copy of stdout; point fd 1 (and print) at stderr.
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)  # noqa: SIM115
    serve(requests, replies)


if __name__ == "__main__":
    main()
