"""``callcenter prompts build`` renders every static prompt of the flows with the real
TTS worker (pyttsx3 + espeak-ng) into the prompt cache; a second run finds them cached;
prompts with variables are left for on-demand rendering; the Korean flow gets its voice."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.cli import main
from callcenter.config.loader import load_config
from callcenter.ivr.loader import load_flows
from callcenter.speech.codecs import read_wav
from callcenter.speech.flow_prompts import flow_voice, prompt_batches, static_texts
from callcenter.speech.pyttsx3_renderer import Pyttsx3Renderer

ROOT = Path(__file__).resolve().parents[2]

FLOW = """
entry: {channels: [voice]}
start: hello
nodes:
  hello: {kind: say, text: Hello there., next: greet}
  greet: {kind: say, text: "You are calling from {caller}.", next: menu}
  menu:
    kind: menu
    prompt: Press 1 for cards.
    no_input: I heard nothing.
    options:
      - {digit: "1", next: cards}
    fallback: cards
  cards: {kind: queue, queue: cards, prompt: Please hold., announce: "You are number {position}."}
"""


def center_folder(tmp_path: Path, flow: str) -> Path:
    demo = (ROOT / "config" / "callcenter.yaml").read_text(encoding="utf-8")
    demo = demo.replace("cache_dir: ../var/prompts", "cache_dir: prompts")
    (tmp_path / "callcenter.yaml").write_text(demo, encoding="utf-8")
    (tmp_path / "ivr").mkdir()
    (tmp_path / "ivr" / "small.yaml").write_text(flow, encoding="utf-8")
    return tmp_path / "callcenter.yaml"


def test_prompts_build_renders_the_static_prompts_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = center_folder(tmp_path, FLOW)
    assert main(["prompts", "build", "--config", str(config_path)]) == 0
    first = capsys.readouterr().out
    # 5 texts of the flow (hello, the menu and its two retries, hold) + the 2 callback words a
    # waiting caller may hear (the telephony section's); the demo queues' overflow messages say
    # when the queue opens, so they are said live, not rendered ahead
    assert "1 flows: 7 static prompts, 7 rendered, 0 already cached, 0 failed" in first

    renderer = Pyttsx3Renderer(tmp_path / "prompts")
    for text in (
        "Hello there.",
        "Press 1 for cards.",
        "I heard nothing. Press 1 for cards.",
        "Sorry, that is not one of the choices. Press 1 for cards.",
        "Please hold.",
    ):
        path = renderer.cached(text)
        assert path is not None, text
        pcm, rate = read_wav(path)
        assert rate == 8000 and len(pcm) > 8000  # more than half a second of speech
    assert renderer.cached("Hello .") is None and renderer.cached("You are number .") is None

    assert main(["prompts", "build", "--config", str(config_path)]) == 0
    assert "7 static prompts, 0 rendered, 7 already cached, 0 failed" in capsys.readouterr().out


def test_a_bad_flow_folder_is_reported_and_nothing_is_rendered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = center_folder(tmp_path, "start: nowhere\nnodes: {}\n")
    assert main(["prompts", "build", "--config", str(config_path)]) == 1
    err = capsys.readouterr().err
    assert "small.yaml:1" in err and "problem(s) in the configuration" in err
    assert not (tmp_path / "prompts").exists() or not list((tmp_path / "prompts").glob("*.wav"))


def test_the_demo_flows_have_their_voices_and_static_prompts() -> None:
    config = load_config(ROOT / "config" / "callcenter.yaml")
    flows = load_flows(config.ivr_dir, queues={q.name for q in config.queues}, hours=set(config.hours))
    assert {f.name: flow_voice(f, config.speech) for f in flows} == {
        "bank": None,
        "bank_chat": None,
        "korean": "ko",
    }
    bank = static_texts(flows["bank"])
    assert "Welcome to Demo Bank." in bank and not any("{" in t for t in bank)
    assert "Thank you for calling Demo Bank. Goodbye." in bank


def test_waiting_callers_hear_the_callback_words_in_their_flows_voice() -> None:
    """The Korean line's callers get its own Korean callback words, rendered in the Korean
    voice; the English line's the telephony section's (espeak's Korean voice cannot say the
    English sentence)."""
    config = load_config(ROOT / "config" / "callcenter.yaml")
    flows = load_flows(config.ivr_dir, queues={q.name for q in config.queues}, hours=set(config.hours))
    batches = {b.voice: b.texts for b in prompt_batches(flows, config)}
    korean = flows["korean"].callback
    assert "별표" in korean.offer and korean.confirm
    assert {korean.offer, korean.confirm} <= set(batches["ko"])
    assert config.telephony.callback_offer not in batches["ko"]
    assert {config.telephony.callback_offer, config.telephony.callback_confirm} <= set(batches[None])
