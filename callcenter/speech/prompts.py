"""Prompt rendering port, cache layout and the ``prompts build`` step.

Cache layout (one folder, safe to delete; it is rebuilt on demand)::

    <cache_dir>/<key>.wav       8 kHz 16-bit mono: what calls play
    <cache_dir>/src/<key>.wav   the engine's own output (22.05 kHz for espeak-ng)
    <cache_dir>/manifest.jsonl  one {"key", "text", "voice", "rate"} line per render

``key`` is the first 32 hex digits of SHA-256 over ``[text, voice, rate]`` (JSON), so a
change of wording, voice or speaking rate renders a new file and never replays a stale one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from callcenter.ports.prompt_renderer import PromptRenderer, PromptRenderError


def prompt_key(text: str, voice: str | None, rate: int | None) -> str:
    """The cache key of one prompt (see the module docstring)."""
    blob = json.dumps([text, voice, rate], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class PromptCache:
    """The cache folder plus an in-memory index of the keys it holds.

    The index is read once at construction (one directory listing), so a hit is a dict
    lookup with no file-system call. Files written by other processes after that are
    found by ``refresh`` or, on a miss, by the renderer's own existence check.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, Path] = {}
        self.refresh()

    def refresh(self) -> None:
        """Re-read the folder listing into the index."""
        with os.scandir(self.folder) as entries:
            self._index = {
                e.name[:-4]: Path(e.path)
                for e in entries
                if e.name.endswith(".wav") and not e.name.startswith(".") and e.is_file()
            }

    def get(self, key: str) -> Path | None:
        return self._index.get(key)

    def path_for(self, key: str) -> Path:
        return self.folder / f"{key}.wav"

    def source_path_for(self, key: str) -> Path:
        return self.folder / "src" / f"{key}.wav"

    def adopt(self, key: str, text: str, voice: str | None, rate: int | None) -> Path:
        """Record a freshly rendered file in the index and the manifest."""
        path = self.path_for(key)
        self._index[key] = path
        line = json.dumps({"key": key, "text": text, "voice": voice, "rate": rate}, ensure_ascii=False)
        with open(self.folder / "manifest.jsonl", "a", encoding="utf-8") as f:
            f.write(line + "\n")
        return path

    def __len__(self) -> int:
        return len(self._index)


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptBuildStats:
    """What ``build_prompts`` did. ``failed`` pairs each text with its error."""

    total: int
    rendered: int
    already_cached: int
    failed: tuple[tuple[str, str], ...]
    seconds: float


async def build_prompts(
    texts: Iterable[str], renderer: PromptRenderer, *, voice: str | None = None
) -> PromptBuildStats:
    """Render every distinct non-blank text that is not cached yet, one after another.

    Failures are collected, not raised, so one bad prompt does not stop the build; the
    caller (``callcenter prompts build``) prints them and exits non-zero if any.
    """
    started = time.perf_counter()
    unique = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    rendered = cached = 0
    failed: list[tuple[str, str]] = []
    for text in unique:
        if renderer.cached(text, voice=voice) is not None:
            cached += 1
            continue
        try:
            await renderer.render(text, voice=voice)
        except PromptRenderError as exc:
            failed.append((text, str(exc)))
        else:
            rendered += 1
    return PromptBuildStats(
        total=len(unique),
        rendered=rendered,
        already_cached=cached,
        failed=tuple(failed),
        seconds=time.perf_counter() - started,
    )
