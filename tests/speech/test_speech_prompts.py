"""Prompt cache, build step and the pyttsx3 worker renderer (real espeak-ng)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import pytest

from callcenter.ports.prompt_renderer import PromptRenderError
from callcenter.speech import codecs
from callcenter.speech.prompts import PromptBuildStats, PromptCache, build_prompts, prompt_key
from callcenter.speech.pyttsx3_renderer import Pyttsx3Renderer

needs_tts = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or not __import__("importlib").util.find_spec("pyttsx3"),
    reason="needs espeak-ng and pyttsx3",
)


def test_key_changes_with_text_voice_and_rate() -> None:
    base = prompt_key("안녕하세요", "ko", 160)
    assert base == prompt_key("안녕하세요", "ko", 160)
    assert (
        len(
            {
                base,
                prompt_key("안녕하세요.", "ko", 160),
                prompt_key("안녕하세요", "en", 160),
                prompt_key("안녕하세요", "ko", 170),
                prompt_key("안녕하세요", None, None),
            }
        )
        == 5
    )


def test_cache_index_lists_finished_wavs_only(tmp_path: Path) -> None:
    (tmp_path / "abc.wav").write_bytes(b"x")
    (tmp_path / ".abc.123.tmp.wav").write_bytes(b"x")  # a render in progress
    (tmp_path / "manifest.jsonl").write_text("")
    cache = PromptCache(tmp_path)
    assert cache.get("abc") == tmp_path / "abc.wav"
    assert cache.get(".abc.123.tmp") is None and len(cache) == 1
    (tmp_path / "def.wav").write_bytes(b"x")
    assert cache.get("def") is None
    cache.refresh()
    assert cache.get("def") == tmp_path / "def.wav"


class RecordingRenderer:
    """Fake port: records what it was asked to render; some texts fail."""

    def __init__(self, cached: set[str], failing: set[str]) -> None:
        self.have, self.failing = set(cached), failing
        self.rendered: list[str] = []

    def cached(self, text: str, *, voice: str | None = None) -> Path | None:
        return Path(text) if text in self.have else None

    async def render(self, text: str, *, voice: str | None = None) -> Path:
        if text in self.failing:
            raise PromptRenderError(f"cannot say {text}")
        self.rendered.append(text)
        self.have.add(text)
        return Path(text)

    async def close(self) -> None:
        pass


async def test_build_renders_each_new_text_once_and_reports_failures() -> None:
    renderer = RecordingRenderer(cached={"welcome"}, failing={"bad"})
    stats = await build_prompts(["welcome", "menu", " menu ", "", "  ", "bad", "bye", "menu"], renderer)
    assert renderer.rendered == ["menu", "bye"]
    assert stats == PromptBuildStats(
        total=4, rendered=2, already_cached=1, failed=(("bad", "cannot say bad"),), seconds=stats.seconds
    )
    again = await build_prompts(["menu", "bye"], renderer)
    assert (again.rendered, again.already_cached) == (0, 2)


@needs_tts
async def test_render_gives_8khz_speech_and_caches_it(tmp_path: Path) -> None:
    renderer = Pyttsx3Renderer(tmp_path, voice="ko", rate=160)
    try:
        assert renderer.cached("잔액 조회") is None
        path = await renderer.render("잔액 조회")
        pcm, rate = codecs.read_wav(path)
        assert rate == 8000 and path.parent == tmp_path
        assert 0.3 < len(pcm) / 2 / rate < 3.0
        assert codecs.rms_dbfs(pcm) > -35
        assert codecs.read_wav(tmp_path / "src" / path.name)[1] == 22050
        assert renderer.cached("잔액 조회") == path
        other = await renderer.render("카드 분실 신고")
        assert other != path and codecs.read_wav(other)[0] != pcm
        lines = [json.loads(x) for x in (tmp_path / "manifest.jsonl").read_text("utf-8").splitlines()]
        assert [x["text"] for x in lines] == ["잔액 조회", "카드 분실 신고"]
        assert lines[0] == {"key": path.stem, "text": "잔액 조회", "voice": "ko", "rate": 160}
    finally:
        await renderer.close()


@needs_tts
async def test_cached_prompt_is_ready_in_well_under_a_millisecond(tmp_path: Path) -> None:
    renderer = Pyttsx3Renderer(tmp_path, voice="ko")
    await renderer.render("상담원을 연결합니다")
    await renderer.close()
    # A new server process: the index comes from the folder; no worker is needed.
    fresh = Pyttsx3Renderer(tmp_path, voice="ko")
    await fresh.close()
    started = time.perf_counter()
    for _ in range(1000):
        path = await fresh.render("상담원을 연결합니다")
    assert (time.perf_counter() - started) / 1000 < 1e-3 / 10
    assert path.is_file()
    with pytest.raises(PromptRenderError, match="closed"):
        await fresh.render("처음 듣는 문장")


@needs_tts
async def test_voice_and_rate_make_distinct_cache_entries(tmp_path: Path) -> None:
    slow, fast = (
        Pyttsx3Renderer(tmp_path, voice="ko", rate=120),
        Pyttsx3Renderer(tmp_path, voice="ko", rate=240),
    )
    try:
        a, b = await slow.render("예"), await fast.render("예")
        c = await fast.render("yes", voice="en-us")
        assert len({a, b, c}) == 3
        assert len(codecs.read_wav(a)[0]) > len(codecs.read_wav(b)[0])  # slower speech lasts longer
    finally:
        await slow.close()
        await fast.close()


@needs_tts
async def test_concurrent_requests_for_one_prompt_render_it_once(tmp_path: Path) -> None:
    renderer = Pyttsx3Renderer(tmp_path, voice="ko")
    try:
        paths = await asyncio.gather(*(renderer.render(t) for t in ["하나", "둘", "하나", "셋", "하나"]))
        assert paths[0] == paths[2] == paths[4] and len(set(paths)) == 3
        texts = [json.loads(x)["text"] for x in (tmp_path / "manifest.jsonl").read_text("utf-8").splitlines()]
        assert sorted(texts) == ["둘", "셋", "하나"]
    finally:
        await renderer.close()


@needs_tts
async def test_bad_voice_fails_that_prompt_and_the_worker_keeps_serving(tmp_path: Path) -> None:
    renderer = Pyttsx3Renderer(tmp_path, voice="ko")
    try:
        with pytest.raises(PromptRenderError, match="unknown voice 'klingon'"):
            await renderer.render("안녕", voice="klingon")
        assert renderer.cached("안녕", voice="klingon") is None
        assert (await renderer.render("안녕")).is_file()
        with pytest.raises(ValueError, match="empty"):
            await renderer.render("   ")
    finally:
        await renderer.close()


@needs_tts
async def test_a_cancelled_render_does_not_confuse_the_next_one(tmp_path: Path) -> None:
    renderer = Pyttsx3Renderer(tmp_path, voice="ko")
    try:
        task = asyncio.create_task(renderer.render("취소될 문장입니다"))
        await asyncio.sleep(0)  # let it send its request (no waiting for a result here)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        path = await renderer.render("다음 문장")
        assert (
            json.loads((tmp_path / "manifest.jsonl").read_text("utf-8").splitlines()[-1])["text"]
            == "다음 문장"
        )
        assert codecs.read_wav(path)[1] == 8000
    finally:
        await renderer.close()


@needs_tts
async def test_build_prompts_with_the_real_renderer(tmp_path: Path) -> None:
    renderer = Pyttsx3Renderer(tmp_path, voice="ko")
    try:
        first = await build_prompts(["환영합니다", "메뉴를 말씀하세요", "환영합니다"], renderer)
        second = await build_prompts(["환영합니다", "메뉴를 말씀하세요", "안녕히 가세요"], renderer)
    finally:
        await renderer.close()
    assert (first.total, first.rendered, first.already_cached, first.failed) == (2, 2, 0, ())
    assert (second.rendered, second.already_cached) == (1, 2)
    assert len(list(tmp_path.glob("*.wav"))) == 3


class FlakyEngine:
    """Stands in for the worker's pyttsx3 engine (a fake that records): writes an empty WAV
    for the first ``empty`` renders, then a tone."""

    def __init__(self, empty: int) -> None:
        self.empty = empty
        self.renders = 0

    def render(self, text: str, path: Path) -> None:
        self.renders += 1
        seconds = 0.0 if self.renders <= self.empty else 0.5
        codecs.write_wav(path, bytes(int(22050 * seconds) * 2), 22050)


def test_worker_renders_again_when_the_engine_gives_an_empty_file(tmp_path: Path) -> None:
    from callcenter.speech import tts_worker

    engine = FlakyEngine(empty=2)
    reply = tts_worker.handle(engine, {"id": 1, "text": "안녕하세요", "out": str(tmp_path / "a.wav")})  # type: ignore[arg-type]
    assert reply == {"id": 1, "ok": True, "ms": pytest.approx(500)} and engine.renders == 3
    pcm, rate = codecs.read_wav(tmp_path / "a.wav")
    assert rate == 8000 and len(pcm) == 8000  # 0.5 s at 8 kHz, 16-bit

    engine = FlakyEngine(empty=5)
    reply = tts_worker.handle(engine, {"id": 2, "text": "안녕하세요", "out": str(tmp_path / "b.wav")})  # type: ignore[arg-type]
    assert reply["ok"] is False and "no audio (3 tries)" in reply["error"] and engine.renders == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]  # nothing half-made is left
