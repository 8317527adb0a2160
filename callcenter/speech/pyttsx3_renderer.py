"""``PromptRenderer`` backed by pyttsx3 (espeak-ng) in a worker process.

The server process never imports pyttsx3 (see ``tts_worker``). One worker per voice
serves that voice's renders one at a time (espeak-ng renders a short prompt in ~10-50
ms); it is started on first need or by ``start()``, restarted after a crash or timeout,
and stopped by ``close()``.

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
from callcenter.ports.prompt_renderer import PromptRenderError
from callcenter.speech.prompts import PromptCache, prompt_key

log = logging.getLogger(__name__)


class Pyttsx3Renderer:
    """Render prompts into ``cache_dir`` with pyttsx3 worker processes.

    ``voice`` is an espeak-ng voice name ("ko", "en-us", "ko+f2"); ``rate`` is the
    speaking rate in words per minute. None means the engine's default. ``render``'s own
    ``voice`` argument overrides the default voice for one prompt (its own worker).
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
        self._workers: dict[str | None, _Worker] = {}
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
        """The 8 kHz WAV for ``text``; renders it in a worker if not cached.

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
        """Start the default voice's worker now, so the first new prompt need not wait."""
        await self._worker(self.voice).start()

    async def close(self) -> None:
        """Stop the workers (closing stdin lets each finish its current prompt)."""
        self._closed = True
        workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            await worker.stop()

    # Internals ---------------------------------------------------------------------------

    def _key(self, text: str, voice: str | None) -> str:
        return prompt_key(text, voice or self.voice, self.rate)

    def _worker(self, voice: str | None) -> _Worker:
        if self._closed:
            raise PromptRenderError("the prompt renderer is closed")
        worker = self._workers.get(voice)
        if worker is None:
            worker = self._workers[voice] = _Worker(voice, self.rate, self.render_timeout)
        return worker

    async def _render_new(self, key: str, text: str, voice: str | None) -> Path:
        out = self.cache.path_for(key)
        if out.exists():  # rendered by another process since our listing
            return self.cache.adopt(key, text, voice, self.rate)
        request = {"text": text, "out": str(out), "src": str(self.cache.source_path_for(key))}
        reply = await self._worker(voice).call(request)
        if not reply.get("ok"):
            raise PromptRenderError(f"could not render {text!r}: {reply.get('error')}")
        return self.cache.adopt(key, text, voice, self.rate)


class _Worker:
    """One ``tts_worker`` process for one (voice, rate); requests strictly one at a time."""

    def __init__(self, voice: str | None, rate: int | None, timeout: float) -> None:
        self.voice, self.rate, self.timeout = voice, rate, timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._background: set[asyncio.Task[None]] = set()  # stderr readers, reapers
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)

    async def start(self) -> None:
        async with self._lock:
            await self._ensure()

    async def call(self, request: Mapping[str, object]) -> dict[str, object]:
        """Send one request and return its reply; ``PromptRenderError`` if the worker fails."""
        async with self._lock:
            proc = await self._ensure()
            assert proc.stdin is not None and proc.stdout is not None
            rid = next(self._ids)
            line = json.dumps({"id": rid, **request}, ensure_ascii=False) + "\n"
            try:
                proc.stdin.write(line.encode("utf-8"))
                await proc.stdin.drain()
                raw = await asyncio.wait_for(proc.stdout.readline(), self.timeout)
            except asyncio.CancelledError:
                self._abandon()  # its late reply would answer the next request
                raise
            except (TimeoutError, ConnectionError) as exc:
                self._abandon()
                raise PromptRenderError(f"TTS worker failed: {type(exc).__name__} {exc}") from exc
            if not raw:
                self._abandon()
                raise PromptRenderError("TTS worker exited (is pyttsx3 with espeak-ng installed?)")
            reply: dict[str, object] = json.loads(raw)
            if reply.get("id") != rid:
                self._abandon()
                raise PromptRenderError(f"TTS worker answered out of order: {reply!r}")
            return reply

    async def stop(self) -> None:
        async with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                await _end(proc)
            tasks, self._background = self._background, set()
            for task in tasks:
                await task

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self._proc is not None and self._proc.returncode is None:
            return self._proc
        env = dict(os.environ)
        # The worker must import this very package, installed or not.
        root = str(Path(callcenter.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        args = ["-m", "callcenter.speech.tts_worker"]
        if self.voice:
            args += ["--voice", self.voice]
        if self.rate:
            args += ["--rate", str(self.rate)]
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        self._background.add(asyncio.create_task(_log_stderr(self._proc)))
        log.info("TTS worker started (pid %s, voice %s, rate %s)", self._proc.pid, self.voice, self.rate)
        return self._proc

    def _abandon(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):  # it may have died already
                proc.kill()
            self._background.add(asyncio.create_task(_end(proc)))


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


async def _log_stderr(proc: asyncio.subprocess.Process) -> None:
    assert proc.stderr is not None
    async for line in proc.stderr:
        log.debug("tts worker: %s", line.decode("utf-8", "replace").rstrip())
