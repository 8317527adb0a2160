"""The TTS worker process: ``python -m callcenter.speech.tts_worker [--voice V] [--rate N]``.

pyttsx3 drives espeak-ng through a C library that keeps global state and may block or
crash; calling it twice from one server process is unsafe. So the server never imports
pyttsx3: it starts this worker and talks to it over pipes, one JSON object per line.

A worker speaks with ONE voice and rate, fixed at start: with pyttsx3 2.99's espeak
driver, changing the rate between renders is not reliably applied (later renders kept
the earlier rate), and an extra ``runAndWait`` to flush it re-speaks the previous text.
The renderer starts one worker per voice instead.

Request (stdin)::

    {"id": 7, "text": "...", "out": "<cache>/<key>.wav", "src": "<cache>/src/<key>.wav"}

Reply (stdout), one per request, in order::

    {"id": 7, "ok": true, "ms": 812.5}           # ms: duration of the prompt audio
    {"id": 7, "ok": false, "error": "..."}

``out`` gets 8 kHz 16-bit mono (what calls play), ``src`` the engine's own output
(22.05 kHz). Both are written to a temporary name and renamed, so a reader never sees a
half-written file. The worker exits when stdin closes. Anything the engine prints goes
to stderr: the protocol owns the real stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from callcenter.speech.codecs import read_wav, resample, write_wav

PHONE_RATE = 8000
# pyttsx3 2.99's espeak driver now and then hands back an empty file for text it renders
# fine on the next try (seen on a loaded machine, never reproduced on a quiet one); an
# empty render is retried this many times in all before it is reported.
RENDER_TRIES = 3


class _Engine:
    """One pyttsx3 engine with one voice and rate for the worker's life."""

    def __init__(self, voice: str | None, rate: int | None) -> None:
        import pyttsx3  # only ever imported in the worker

        self._engine = pyttsx3.init()
        self.error: str | None = None
        # espeak-ng takes a voice's id ("gmw/en-us"), its file name ("en-us") or name.
        known: set[str] = set()
        for v in self._engine.getProperty("voices"):
            known |= {v.id, v.id.rsplit("/", 1)[-1], v.name}
        # espeak silently falls back to its default voice for unknown names; we refuse,
        # so a typo in the config does not make every prompt speak the wrong language.
        if voice and voice.split("+")[0] not in known:
            self.error = f"unknown voice {voice!r} (espeak-ng --voices lists them)"
            return
        if voice:  # voice first: selecting an espeak voice resets the rate
            self._engine.setProperty("voice", voice)
        if rate:
            self._engine.setProperty("rate", rate)
        fd, warm = tempfile.mkstemp(suffix=".wav")
        os.close(fd)
        self.render("warm up", Path(warm))  # loads the voice data once
        os.unlink(warm)

    def render(self, text: str, path: Path) -> None:
        if self.error:
            raise ValueError(self.error)
        self._engine.save_to_file(text, str(path))
        self._engine.runAndWait()


def handle(engine: _Engine, request: dict[str, Any]) -> dict[str, Any]:
    """Render one request; return the reply (errors become ``ok: false``)."""
    rid = request.get("id")
    try:
        text, out = str(request["text"]), Path(request["out"])
        src = Path(request["src"]) if request.get("src") else None
        out.parent.mkdir(parents=True, exist_ok=True)
        raw = out.with_name(f".{out.stem}.{os.getpid()}.raw.wav")
        for _ in range(RENDER_TRIES):
            engine.render(text, raw)
            pcm, engine_rate = read_wav(raw) if raw.exists() else (b"", PHONE_RATE)
            if pcm:
                break
            print(f"tts worker: no audio for {text[:40]!r}; rendering it again", file=sys.stderr)
        else:
            raw.unlink(missing_ok=True)
            raise RuntimeError(f"the engine produced no audio ({RENDER_TRIES} tries)")
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


def serve(requests: TextIO, replies: TextIO, voice: str | None = None, rate: int | None = None) -> None:
    """Answer each request line until ``requests`` ends."""
    engine = _Engine(voice, rate)
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m callcenter.speech.tts_worker")
    parser.add_argument("--voice", help="espeak-ng voice name (default: the engine's)")
    parser.add_argument("--rate", type=int, help="words per minute (default: the engine's)")
    args = parser.parse_args(argv)
    # Keep the protocol on a private copy of stdout; point fd 1 (and print) at stderr.
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)  # noqa: SIM115
    serve(requests, replies, args.voice, args.rate)


if __name__ == "__main__":
    main()
