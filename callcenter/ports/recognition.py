"""The speech-recognition port: what the runtime needs from an ASR engine.

A call's IVR menu asks for recognition with a grammar (its option phrases); the runtime
starts a stream, feeds it the caller's 20 ms frames of 8 kHz 16-bit PCM as they arrive,
and turns the first ``Recognition`` into the IVR input ``SpeechRecognized(text,
confidence)``. ``vosk_recognizer.py`` is the adapter; tests may use any object with
these methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class Recognition:
    """One utterance's result.

    ``text`` is the grammar phrase(s) heard, words separated by single spaces; it is ""
    when the caller said something that is none of the phrases (a no-match, where the
    model can tell). ``confidence`` is in 0..1 (0 for a no-match).
    """

    text: str
    confidence: float


class RecognitionStream(Protocol):
    """One call's recognition; feed frames in order, one ``await`` at a time."""

    async def feed(self, frame: bytes) -> Recognition | None:
        """Take the next frame of 8 kHz 16-bit mono PCM (any length, usually 20 ms).

        Returns a ``Recognition`` when an utterance ended with this frame (the caller
        paused), else None. The stream keeps listening afterwards: stop feeding once the
        menu has its answer.
        """
        ...

    async def finish(self) -> Recognition | None:
        """End of input (caller hung up, menu timed out): the result of any utterance in
        progress, or None. The stream must not be fed afterwards."""
        ...


class SpeechRecognizer(Protocol):
    """A loaded ASR model; cheap to start streams from, shared by all calls."""

    def start(self, grammar: Sequence[str]) -> RecognitionStream:
        """A new stream that only hears the ``grammar`` phrases (and no-match)."""
        ...

    def knows(self, word: str) -> bool:
        """Whether the model's vocabulary has ``word`` (flows are checked against it)."""
        ...

    async def close(self) -> None:
        """Release threads; streams must be finished first."""
        ...
