"""Live mode's speaking callers: phrases rendered by the project's TTS worker (pyttsx3 with
espeak-ng, ``Pyttsx3Renderer``), turned into 8 kHz mu-law and streamed over the media
stream in real time, one 20 ms ``media`` frame every 20 ms, as a phone line carries them.

Each phrase is rendered once per run (before the first arrival) into a cache folder of the
run's own (a temporary one unless given). A spoken answer is a short silence, the phrase,
then a second of silence, so the server's recogniser hears where the words end.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from callcenter.ports.prompt_renderer import PromptRenderError
from callcenter.speech import codecs
from callcenter.speech.pyttsx3_renderer import Pyttsx3Renderer
from simulator.live_desk import ServerGone

RATE = 8000
FRAME_S = 0.02
LEAD_MS = 200
TAIL_MS = 1000


@dataclass
class SpeechTally:
    """What the speaking callers of a run did and where their answers took them."""

    callers: int = 0  # voice callers who answer by speech
    answers: int = 0  # phrases said
    reached_agent: int = 0  # speaking callers an agent picked up
    intended: int = 0  # ... whose offer showed the branch they meant
    wrong: list[str] = field(default_factory=list)  # "meant -> taken" for the others

    def as_dict(self) -> dict[str, object]:
        return {
            "callers": self.callers,
            "answers": self.answers,
            "reached_agent": self.reached_agent,
            "intended_branch": self.intended,
            "wrong_branch": self.wrong[:100],
        }


def spoken_phrases(answers: Iterable[str]) -> list[str]:
    """The entries of ``say`` lists that are speech."""
    from simulator.scenario import is_spoken

    return [a.strip() for a in answers if is_spoken(a)]


class SpeechUnavailable(Exception):
    """The callers' phrases could not be rendered (espeak-ng/pyttsx3 missing, bad voice)."""


class Speaker:
    """The phrases a run's callers say, as base64 mu-law frames ready to send."""

    def __init__(self, voice: str | None, rate: int | None = None, cache_dir: Path | None = None) -> None:
        self._own_dir = cache_dir is None
        self.cache_dir = Path(tempfile.mkdtemp(prefix="sim-speech-")) if cache_dir is None else cache_dir
        self.voice = voice
        self.renderer = Pyttsx3Renderer(self.cache_dir, voice=voice, rate=rate)
        self._frames: dict[str, list[str]] = {}

    async def prepare(self, phrases: Iterable[str]) -> None:
        """Render every phrase now (so no caller waits for the TTS worker)."""
        for phrase in dict.fromkeys(phrases):
            if phrase not in self._frames:
                self._frames[phrase] = await self._render(phrase)

    def seconds(self, phrase: str) -> float:
        """How long saying ``phrase`` takes on the line, silences included."""
        return len(self._frames[phrase]) * FRAME_S

    async def say(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        sid: str,
        phrase: str,
        *,
        said: Callable[[], None] | None = None,
    ) -> None:
        """Stream ``phrase`` paced in real time (frames are due every 20 ms from the start);
        ``said()`` is called when the words end, before the trailing silence."""
        frames = self._frames.get(phrase) or await self._render(phrase)
        words_end = len(frames) - TAIL_MS // 20
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i, payload in enumerate(frames):
            if i == words_end and said is not None:
                said()
            media = {"track": "inbound", "payload": payload}
            try:
                await ws.send_json({"event": "media", "streamSid": sid, "media": media})
            except (ConnectionError, aiohttp.ClientError) as exc:
                raise ServerGone(f"the media stream closed while a caller spoke: {exc}") from None
            delay = t0 + (i + 1) * FRAME_S - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)

    async def close(self) -> None:
        await self.renderer.close()
        if self._own_dir:
            shutil.rmtree(self.cache_dir, ignore_errors=True)

    async def _render(self, phrase: str) -> list[str]:
        try:
            path = await self.renderer.render(phrase)
        except (PromptRenderError, ValueError) as exc:
            raise SpeechUnavailable(
                f"cannot render the callers' phrase {phrase!r} in voice {self.voice or 'default'}: {exc}"
            ) from None
        pcm, rate = await asyncio.to_thread(codecs.read_wav, path)
        if rate != RATE:
            pcm = codecs.resample(pcm, rate, RATE)
        line = codecs.silence(LEAD_MS) + pcm + codecs.silence(TAIL_MS)
        return [base64.b64encode(codecs.ulaw_encode(f)).decode() for f in codecs.frames_20ms(line)]
