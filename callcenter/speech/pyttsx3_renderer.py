"""``PromptRenderer`` backed by pyttsx3 (espeak-ng) in a worker process.

The server process never imports pyttsx3 (see ``tts_worker``). One worker serves all
renders, one at a time (espeak-ng renders a short prompt in ~10-50 ms); it is started on
first need or by ``start()``, restarted after a crash, and stopped by ``close()``.

Cached prompts are answered from the in-memory index without touching the worker or the
disk. Concurrent requests for the same uncached prompt share one render.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import callcenter
from callcenter.speech.prompts import PromptCache, PromptRenderError, prompt_key

log = logging.getLogger(__name__)


class Pyttsx3Renderer:
    """Render prompts into ``cache_dir`` with a pyttsx3 worker process.

    ``voice`` is an espeak-ng voice name ("ko", "en-us", "ko+f2"); ``rate`` is the
    speaking rate in words per minute. None means the engine's default. ``render``'s own
    ``voice`` argument overrides the default voice for one prompt.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        voice: str | None = None,
        rate: int | None = None,
        *,
        render_timeout: float = 30.0,
    ) -> None:
        self.cache = PromptCache(cache_dir)
        self.voice = voice
        self.rate = rate
        self.render_timeout = render_timeout
        self._hits: dict[tuple[str, str | None], Path] = {}
        self._inflight: dict[str, asyncio.Future[Path]] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._background: set[asyncio.Task[None]] = set()  # stderr readers, reapers
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._closed = False

    # Public methods for callers ---------------------------------------------------------

    def cached(self, text: str, *, voice: str | None = None) -> Path | None:
        """The cached file for ``text``, or None; a dict lookup, no I/O."""
        hit = self._hits.get((text, voice))
        if hit is not None:
            return hit
        path = self.cache.get(self._key(text, voice))
        if path is not None:
            self._hits[(text, voice)] = path
        return path

    async def render(self, text: str, *, voice: str | None = None) -> Path:
        """The 8 kHz WAV for ``text``; renders it in the worker if not cached.

        Raises ``ValueError`` for blank text, ``PromptRenderError`` if the worker fails,
        times out or the renderer is closed.
        """
        hit = self.cached(text, voice=voice)
        if hit is not None:
            return hit
        if not text.strip():
            raise ValueError("prompt text is empty")
        key = self._key(text, voice)
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            path = await self._render_new(key, text, voice or self.voice)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: only waiters (if any) re-raise it
            raise
        else:
            future.set_result(path)
            self._hits[(text, voice)] = path
            return path
        finally:
            del self._inflight[key]

    async def start(self) -> None:
        """Start the worker now, so the first uncached prompt does not wait for it."""
        async with self._lock:
            await self._ensure_worker()

    async def close(self) -> None:
        """Stop the worker (closing its stdin lets it finish the current prompt)."""
        self._closed = True
        async with self._lock:
            await self._stop_worker()

    # Internals ---------------------------------------------------------------------------

    def _key(self, text: str, voice: str | None) -> str:
        return prompt_key(text, voice or self.voice, self.rate)

    async def _render_new(self, key: str, text: str, voice: str | None) -> Path:
        out = self.cache.path_for(key)
        if out.exists():  # rendered by another process since our listing
            return self.cache.adopt(key, text, voice, self.rate)
        request = {
            "text": text,
            "voice": voice,
            "rate": self.rate,
            "out": str(out),
            "src": str(self.cache.source_path_for(key)),
        }
        reply = await self._call(request)
        if not reply.get("ok"):
            raise PromptRenderError(f"could not render {text!r}: {reply.get('error')}")
        return self.cache.adopt(key, text, voice, self.rate)

    async def _call(self, request: Mapping[str, object]) -> dict[str, object]:
        async with self._lock:
            if self._closed:
                raise PromptRenderError("the prompt renderer is closed")
            proc = await self._ensure_worker()
            assert proc.stdin is not None and proc.stdout is not None
            rid = next(self._ids)
            line = json.dumps({"id": rid, **request}, ensure_ascii=False) + "\n"
            try:
                proc.stdin.write(line.encode("utf-8"))
                await proc.stdin.drain()
                raw = await asyncio.wait_for(proc.stdout.readline(), self.render_timeout)
            except asyncio.CancelledError:
                # Its late reply would answer the next request: this worker is done.
                proc.kill()
                self._proc = None
                self._background.add(asyncio.create_task(self._end(proc)))
                raise
            except (TimeoutError, ConnectionError) as exc:
                proc.kill()
                await self._stop_worker()
                raise PromptRenderError(f"TTS worker failed: {type(exc).__name__} {exc}") from exc
            if not raw:
                await self._stop_worker()
                raise PromptRenderError("TTS worker exited (is pyttsx3 with espeak-ng installed?)")
            reply: dict[str, object] = json.loads(raw)
            if reply.get("id") != rid:
                await self._stop_worker()
                raise PromptRenderError(f"TTS worker answered out of order: {reply!r}")
            return reply

    async def _ensure_worker(self) -> asyncio.subprocess.Process:
        if self._proc is not None and self._proc.returncode is None:
            return self._proc
        env = dict(os.environ)
        # The worker must import this very package, installed or not.
        root = str(Path(callcenter.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "callcenter.speech.tts_worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        self._background.add(asyncio.create_task(self._log_stderr(self._proc)))
        log.info("TTS worker started (pid %s)", self._proc.pid)
        return self._proc

    async def _stop_worker(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            await self._end(proc)
        tasks, self._background = self._background, set()
        for task in tasks:
            await task

    @staticmethod
    async def _end(proc: asyncio.subprocess.Process) -> None:
        if proc.stdin is not None:
            proc.stdin.close()
            with contextlib.suppress(ConnectionError):
                await proc.stdin.wait_closed()
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    @staticmethod
    async def _log_stderr(proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            log.debug("tts worker: %s", line.decode("utf-8", "replace").rstrip())
