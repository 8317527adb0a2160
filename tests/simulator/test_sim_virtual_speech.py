"""Virtual mode's speaking callers on the Korean line: a share of the callers say their
``say`` entries at the menus that listen, the recogniser mishears some (a no-match: the
caller hears the retry prompt and says it again), the summary counts what they did, and a
seed gives the same log; the speech draws do not change the rest of the traffic."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from callcenter.core.errors import ConfigError
from callcenter.ivr.flow import Menu
from simulator.cli import main
from simulator.ivr_caller import CHARS_PER_S
from simulator.scenario import load_flow, load_scenario
from simulator.virtual import VirtualRun, run_virtual

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
name: korean-speech
seed: 6
duration: 1h
start: 2026-11-25T09:00:00+00:00
center: {root}/config/callcenter.yaml
arrivals: {{rate_per_hour: 90}}
mix:
  - {{queue: general, intent: fx, keys: ["1"], say: ["", 외환]}}
  - {{queue: general, intent: deposits, keys: ["2"], say: ["", 예금]}}
  - {{queue: general, intent: agent, keys: ["0", "1"], say: ["", 상담원, 예]}}
patience: {{dist: exponential, mean: 600}}
ivr:
  flow: {root}/config/ivr/korean.yaml
  speech_share: {share}
  speech_accuracy: {accuracy}
agents:
  - count: 4
    skills: {{banking: 3}}
    handle_time: {{dist: exponential, mean: 120}}
"""


def run(tmp_path: Path, share: float = 0.75, accuracy: float = 0.97, seed: int = 6) -> VirtualRun:
    path = tmp_path / f"ko-{share}-{accuracy}-{seed}.yaml"
    text = SCENARIO.format(root=ROOT, share=share, accuracy=accuracy).replace("seed: 6", f"seed: {seed}")
    path.write_text(text)
    return run_virtual(load_scenario(path))


def by_contact(r: VirtualRun) -> dict[str, list[tuple[str, dict[str, object]]]]:
    out: dict[str, list[tuple[str, dict[str, object]]]] = defaultdict(list)
    for e in r.events:
        if e.contact_id:
            out[e.contact_id].append((e.type, dict(e.data)))
    return out


def test_speaking_callers_say_their_words_and_reach_the_branch_they_meant(tmp_path: Path) -> None:
    r = run(tmp_path, accuracy=1.0)
    assert r.speech is not None
    tally = r.speech.as_dict()
    voice = sum(1 for e in r.events if e.type == "ivr.started")
    assert 0.6 * voice < r.speech.callers < 0.9 * voice  # about speech_share of the callers
    said = [e.data for e in r.events if e.type == "ivr.input" and "speech" in e.data]
    assert {d["speech"] for d in said} == {"외환", "예금", "상담원", "예"}
    assert tally["answers"] == len(said) and tally["misheard"] == 0
    keyed = [e for e in r.events if e.type == "ivr.input" and "speech" not in e.data]
    assert keyed  # the others key, as before
    assert r.speech.routed > 30 and r.speech.intended == r.speech.routed and tally["wrong_branch"] == []
    queued = {e.data["attributes"]["intent"] for e in r.events if e.type == "contact.queued"}
    assert queued == {"fx", "deposits", "agent"}


def test_a_misheard_answer_is_a_no_match_then_the_retry_prompt_then_the_branch(tmp_path: Path) -> None:
    r = run(tmp_path, share=1.0, accuracy=0.7)
    assert r.speech is not None
    misheard = [e for e in r.events if e.type == "ivr.no_match" and e.data.get("speech") == ""]
    assert len(misheard) == r.speech.misheard > 10
    assert r.speech.answers == r.speech.misheard + sum(
        1 for e in r.events if e.type == "ivr.input" and "speech" in e.data
    )
    s = r.scenario
    flow = load_flow(
        ROOT / "config" / "ivr" / "korean.yaml", queues={q.name for q in s.queues}, hours=set(s.hours)
    )
    recovered = 0
    for miss in misheard:
        node = flow.nodes[str(miss.data["node"])]
        assert isinstance(node, Menu)
        retry_s = len(f"{node.no_match} {node.prompt}".strip()) / CHARS_PER_S
        after = [e for e in r.events if e.contact_id == miss.contact_id and e.at >= miss.at and e is not miss]
        again = next((e for e in after if e.type in ("ivr.input", "ivr.no_match", "ivr.node")), None)
        if again is None or again.type == "ivr.node":
            continue  # the retries ran out (the fallback) or the caller hung up
        # the same menu again, answered once the retry prompt (sorry, then the menu) has played
        assert again.data["node"] == miss.data["node"]
        assert again.at - miss.at >= retry_s
        if (
            again.type == "ivr.input"
            and again.data.get("speech")
            and any(e.type == "contact.queued" for e in after)
        ):
            recovered += 1
    assert recovered > 5
    # only callers misheard more often than the menu's two retries miss their branch
    exhausted = {e.contact_id for e in misheard if e.data["attempt"] > 2}
    assert r.speech.routed - r.speech.intended == len(r.speech.wrong) <= len(exhausted)
    assert r.speech.intended > 0.8 * r.speech.routed


def test_the_same_seed_gives_the_same_log_and_speech_keeps_the_traffic(tmp_path: Path) -> None:
    first, again = run(tmp_path, accuracy=0.8), run(tmp_path, accuracy=0.8)
    assert first.events == again.events
    assert first.speech is not None and again.speech is not None
    assert first.speech.as_dict() == again.speech.as_dict()
    other = run(tmp_path, accuracy=0.8, seed=7)
    assert other.events != first.events
    keys_only = run(tmp_path, share=0.0)
    arrived = [(e.at, e.contact_id, e.data["caller"]) for e in first.events if e.type == "contact.arrived"]
    assert arrived == [
        (e.at, e.contact_id, e.data["caller"]) for e in keys_only.events if e.type == "contact.arrived"
    ]
    assert keys_only.speech is not None and keys_only.speech.callers == 0
    assert not any("speech" in e.data for e in keys_only.events if e.type == "ivr.input")


def test_the_run_command_reports_the_spoken_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ko.yaml"
    path.write_text(SCENARIO.format(root=ROOT, share=1.0, accuracy=0.9))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    speech = json.loads((tmp_path / "out" / "summary.json").read_text())["speech"]
    assert speech["callers"] > 50 and speech["misheard"] > 0
    assert speech["answers"] > speech["callers"] and speech["intended_branch"] <= speech["routed"]
    assert f"{speech['misheard']} misheard" in capsys.readouterr().out


def test_a_menu_that_does_not_listen_gets_keys_from_a_speaking_caller(tmp_path: Path) -> None:
    flows = tmp_path / "ivr"
    flows.mkdir()
    korean = (ROOT / "config" / "ivr" / "korean.yaml").read_text()
    keys_only = korean.replace("say: [예], ", "").replace("say: [아니요], ", "")
    assert keys_only != korean
    (flows / "korean.yaml").write_text(keys_only)
    path = tmp_path / "ko.yaml"
    text = SCENARIO.format(root=ROOT, share=1.0, accuracy=1.0)
    path.write_text(text.replace(f"{ROOT}/config/ivr/korean.yaml", str(flows / "korean.yaml")))
    events = run_virtual(load_scenario(path)).events
    confirm = [e.data for e in events if e.type == "ivr.input" and e.data["node"] == "confirm_agent"]
    assert confirm and all("speech" not in d and d["digits"] == "1" for d in confirm)
    said = {e.data.get("speech") for e in events if e.type == "ivr.input" and e.data["node"] == "main_menu"}
    assert said == {"외환", "예금", "상담원"}


def test_a_speech_accuracy_outside_0_to_1_is_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "ko.yaml"
    path.write_text(SCENARIO.format(root=ROOT, share=1.0, accuracy=1.5))
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert f"{path}:13: ivr: speech_accuracy must be between 0 and 1" in err.value.problems
