"""What a call hears and what is heard from it outside the agent bridge.

- ``PromptPlayer`` speaks IVR prompts in order (rendered by the TTS worker, converted to
  8 kHz, played through ``CallChannel.play``), cuts one off on barge-in, and between
  prompts plays comfort audio while the call waits in a queue. It reports each prompt
  that played to the end (``on_finished``), and one that could not be rendered too, so the
  flow goes on rather than waiting for its guard timer.
- ``SpeechListener`` feeds the caller's frames to one recognition stream at a time and
  reports the first result; it never blocks the caller's event reader (frames wait in a
  bounded queue; if ASR falls behind by more than ~2 s the oldest frames are dropped).
- ``VoicemailTaker`` writes the caller's audio to a WAV after a beep.

Each owns at most one task and ends it in ``close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import wave
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from pathlib import Path

from callcenter.ivr.messages import PlayPrompt
from callcenter.ports.prompt_renderer import PromptRenderer
from callcenter.ports.recognition import Recognition, RecognitionStream, SpeechRecognizer
from callcenter.speech.codecs import read_wav, resample, sine
from callcenter.telephony.media import SAMPLE_RATE, CallChannel

log = logging.getLogger(__name__)

MAX_ASR_BACKLOG = 100  # frames (2 s)
_PCM_CACHE = 256  # prompts kept decoded in memory (a few MB at most)


class PromptAudio:
    """Text -> 8 kHz PCM through the renderer, with the decoded audio of recent prompts kept
    in memory (shared by every call of the process)."""

    def __init__(self, renderer: PromptRenderer | None) -> None:
        self.renderer = renderer
        self._pcm: OrderedDict[tuple[str, str | None], bytes] = OrderedDict()

    async def pcm(self, text: str, voice: str | None = None) -> bytes:
        """The prompt's audio in ``voice`` (None: the renderer's default); b"" without a
        renderer. Raises what the renderer raises."""
        if self.renderer is None or not text.strip():
            return b""
        key = (text, voice)
        hit = self._pcm.get(key)
        if hit is not None:
            self._pcm.move_to_end(key)
            return hit
        path = self.renderer.cached(text, voice=voice) or await self.renderer.render(text, voice=voice)
        pcm = await asyncio.get_running_loop().run_in_executor(None, _read_8k, path)
        self._pcm[key] = pcm
        if len(self._pcm) > _PCM_CACHE:
            self._pcm.popitem(last=False)
        return pcm


def _read_8k(path: Path) -> bytes:
    pcm, rate = read_wav(path)
    return pcm if rate == SAMPLE_RATE else resample(pcm, rate, SAMPLE_RATE)


class PromptPlayer:
    """Prompts in order, barge-in, comfort audio between prompts while ``comfort`` is on."""

    def __init__(
        self,
        channel: CallChannel,
        audio: PromptAudio,
        music: bytes,
        on_finished: Callable[[str], None],
        *,
        voice: str | None = None,
    ) -> None:
        self._channel = channel
        self._audio = audio
        self._voice = voice
        self._music = music
        self._on_finished = on_finished
        self._queue: deque[PlayPrompt] = deque()
        self._current: str | None = None
        self._cut = False
        self._comfort = False
        self._paused = False
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.get_running_loop().create_task(self._run())
        self.played: list[str] = []  # prompt ids that played to the end (for the log/tests)

    def say(self, prompt: PlayPrompt) -> None:
        self._queue.append(prompt)
        self._idle.clear()
        if self._current is None and self._comfort:
            self._channel.clear()  # cut the music: the prompt goes first
        self._wake.set()

    def stop(self, prompt_id: str) -> None:
        if self._current == prompt_id:
            self._cut = True
            self._channel.clear()
        else:
            self._queue = deque(p for p in self._queue if p.prompt_id != prompt_id)

    def flush(self) -> None:
        """Cut the prompt playing and drop the waiting ones (none of them is reported)."""
        self._queue.clear()
        self._wake.set()
        if self._current is not None:
            self._cut = True
        self._channel.clear()

    def comfort(self, on: bool) -> None:
        """Comfort audio between prompts (the call waits in a queue) or not."""
        self._comfort = on
        if not on and self._current is None:
            self._channel.clear()
        self._wake.set()

    def pause(self) -> None:
        """Silence now (the agent bridge takes over the call's audio); prompts given while
        paused wait for ``resume``."""
        self._paused = True
        self._cut = self._current is not None
        self._channel.clear()

    def resume(self) -> None:
        self._paused = False
        self._wake.set()

    @property
    def idle(self) -> bool:
        return self._current is None and not self._queue

    async def drained(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until every prompt given so far has been said."""
        if self._paused:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        try:
            while not self._channel.ended:
                if not self._queue:
                    self._idle.set()
                if not self._paused and self._queue:
                    await self._play(self._queue.popleft())
                elif not self._paused and self._comfort and self._music:
                    await self._channel.play(self._music)  # returns early when a prompt clears it
                else:
                    self._wake.clear()
                    await self._wake.wait()
        finally:
            self._idle.set()  # nothing more will be said

    async def _play(self, prompt: PlayPrompt) -> None:
        self._current, self._cut = prompt.prompt_id, False
        try:
            try:
                pcm = await self._audio.pcm(prompt.text, self._voice)
            except Exception as exc:  # the flow goes on without this prompt's audio
                log.warning("prompt %r could not be rendered: %s", prompt.text[:60], exc)
                pcm = b""
            if self._cut or self._paused:  # stopped or bridged while it was being rendered
                return
            # A prompt without audio still "plays" (at once): the far end gets its end
            # mark like any other, so a carrier or a caller counting prompts stays in step.
            finished = await self._channel.play(pcm) and not self._cut
        finally:
            self._current = None
        if finished and not self._channel.ended:
            self.played.append(prompt.prompt_id)
            self._on_finished(prompt.prompt_id)


class SpeechListener:
    """One recognition at a time over the caller's frames (see the module docstring)."""

    def __init__(self, recognizer: SpeechRecognizer | None, on_result: Callable[[Recognition], None]) -> None:
        self._recognizer = recognizer
        self._on_result = on_result
        self._frames: asyncio.Queue[bytes | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    @property
    def listening(self) -> bool:
        return self._frames is not None

    def start(self, grammar: Sequence[str], timeout_s: float) -> None:
        self.stop()
        if self._recognizer is None or not grammar:
            return
        stream = self._recognizer.start(grammar)
        frames: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._frames = frames
        self._task = asyncio.get_running_loop().create_task(self._listen(stream, frames, timeout_s))

    def feed(self, pcm: bytes) -> None:
        frames = self._frames
        if frames is None:
            return
        if frames.qsize() >= MAX_ASR_BACKLOG:
            frames.get_nowait()
            self.dropped += 1
        frames.put_nowait(pcm)

    def stop(self) -> None:
        """End the running recognition (its stream is finished in its own task)."""
        if self._frames is not None:
            self._frames.put_nowait(None)
            self._frames = None

    async def close(self) -> None:
        self.stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _listen(
        self, stream: RecognitionStream, frames: asyncio.Queue[bytes | None], timeout_s: float
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        result: Recognition | None = None
        try:
            while result is None:
                try:
                    frame = await asyncio.wait_for(frames.get(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    break
                if frame is None:
                    await stream.finish()
                    return
                result = await stream.feed(frame)
            if result is None:
                result = await stream.finish()
            else:
                await stream.finish()
        finally:
            if self._frames is frames:
                self._frames = None
        if result is not None:
            self._on_result(result)


class VoicemailTaker:
    """Beep, then the caller's frames into ``path`` until ``max_s``, ``#`` or hang-up."""

    def __init__(self, channel: CallChannel, path: Path, max_s: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._max_frames = int(max_s * 50)
        self._frames = 0
        self._wav: wave.Wave_write | None = None
        self._started = False
        self._channel = channel
        self._beep = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        await self._channel.play(sine(1000, 400, amplitude=0.3))
        wav = wave.open(str(self.path), "wb")  # noqa: SIM115 - closed in finish()
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        self._wav = wav

    @property
    def recording(self) -> bool:
        """The beep is over and frames are being written."""
        return self._wav is not None

    def add(self, pcm: bytes) -> bool:
        """Write one frame; False once ``max_s`` is reached (then call ``finish``)."""
        if self._wav is None:
            return True
        self._wav.writeframesraw(pcm)
        self._frames += 1
        return self._frames < self._max_frames

    async def finish(self) -> tuple[Path, float]:
        self._beep.cancel()
        await asyncio.gather(self._beep, return_exceptions=True)
        if self._wav is None:
            self._wav = wave.open(str(self.path), "wb")  # noqa: SIM115 - closed below
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(SAMPLE_RATE)
        self._wav.close()
        return self.path, self._frames / 50
