"""The prompt renderer port: text to speech audio for the IVR and announcements.

``speech.pyttsx3_renderer.Pyttsx3Renderer`` implements it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from callcenter.core.errors import CallcenterError


class PromptRenderError(CallcenterError):
    """A prompt could not be rendered (engine error, worker died or timed out)."""


class PromptRenderer(Protocol):
    """Text -> a WAV file of 8 kHz 16-bit mono speech, cached."""

    def cached(self, text: str, *, voice: str | None = None) -> Path | None:
        """The cached file for ``text`` if it is already rendered, else None (no I/O)."""
        ...

    async def render(self, text: str, *, voice: str | None = None) -> Path:
        """The file for ``text``, rendering it first if needed.

        Raises ``PromptRenderError``; ``ValueError`` for empty text.
        """
        ...

    async def close(self) -> None:
        """Stop any worker; later ``render`` calls of uncached text fail."""
        ...
