"""Virtual mode with the real IVR engine: voice callers walk the demo bank flow to their
queue, mistakes cost a re-prompt, hang-ups end in the IVR, every contact ends once, and
the same seed gives the same log; a bad flow is named when the scenario loads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from callcenter.core.errors import ConfigError
from simulator.scenario import load_scenario
from simulator.virtual import run_virtual

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
name: ivr
seed: 4
duration: 2h
start: 2026-11-25T09:00:00+00:00
center: {root}/config/callcenter.yaml
arrivals: {{rate_per_hour: 120}}
mix:
  - {{queue: general, weight: 5}}
  - {{queue: cards, weight: 2}}
  - {{queue: internet, weight: 1, channel: chat}}
patience: {{dist: exponential, mean: 200}}
ivr:
  flow: {flow}
  mistake_rate: 0.2
  hangup_rate: 0.05
  time: {{dist: uniform, min: 5, max: 60}}
agents:
  - count: 6
    skills: {{banking: 3, cards: 3, internet: 2}}
    handle_time: {{dist: exponential, mean: 150}}
"""


def scenario_file(tmp_path: Path, flow: str = "") -> Path:
    path = tmp_path / "ivr.yaml"
    path.write_text(SCENARIO.format(root=ROOT, flow=flow or ROOT / "config" / "ivr" / "bank.yaml"))
    return path


def test_voice_callers_walk_the_real_flow_to_their_queue(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_file(tmp_path))
    run = run_virtual(scenario)
    events = run.events
    kinds = Counter(e.type for e in events)
    assert kinds["ivr.started"] > 150 and kinds["ivr.routed"] > 150 and kinds["ivr.survey"] > 100
    ends = Counter(e.contact_id for e in events if e.type == "contact.ended")
    assert len(ends) == run.contacts and set(ends.values()) == {1}  # every contact ends once
    by_contact: dict[str, list[str]] = {}
    for e in events:
        if e.contact_id:
            by_contact.setdefault(e.contact_id, []).append(e.type)
    hung_up = {e.contact_id for e in events if e.type == "contact.ended" and e.data["reason"] == "ivr_hangup"}
    assert hung_up and all("contact.queued" not in by_contact[c] for c in hung_up if c)
    # the lost-card callers pressed their way to the cards queue with the flow's intent
    cards = [e for e in events if e.type == "contact.queued" and e.queue == "cards"]
    assert cards and all(e.data["attributes"]["intent"] == "lost_card" for e in cards)
    # a mistake costs a no-match and a second try at the same menu
    assert kinds["ivr.no_match"] > 10
    chats = [c for c, types in by_contact.items() if "ivr.started" not in types and "contact.queued" in types]
    assert chats  # chats skip the voice flow
    assert run_virtual(scenario).events == events


def test_a_scenario_naming_a_missing_flow_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_scenario(scenario_file(tmp_path, flow=str(tmp_path / "nowhere" / "bank.yaml")))
    assert "nowhere" in "\n".join(err.value.problems)


def test_callers_can_answer_the_menus_by_voice(tmp_path: Path) -> None:
    path = scenario_file(tmp_path)
    path.write_text(path.read_text().replace("  mistake_rate: 0.2", "  input: speech\n  mistake_rate: 0.2"))
    events = run_virtual(load_scenario(path)).events
    said = [e.data for e in events if e.type == "ivr.input" and e.data["node"] == "language"]
    assert said and {d.get("speech") for d in said} == {"english"}
    assert any(e.data["via"] == "speech" for e in events if e.type == "ivr.survey")
    cards = [e for e in events if e.type == "contact.queued" and e.queue == "cards"]
    assert cards and all(e.data["attributes"]["intent"] == "lost_card" for e in cards)


def test_known_customers_are_found_and_keep_their_tier_and_language(tmp_path: Path) -> None:
    path = scenario_file(tmp_path)
    text = path.read_text().replace(
        "  - {queue: general, weight: 5}",
        "  - {queue: general, weight: 5, language: he, attributes: {tier: top}}",
    )
    path.write_text(text)
    events = run_virtual(load_scenario(path)).events
    found = [e.data["found"] for e in events if e.type == "ivr.lookup" and e.data["node"] == "identify"]
    assert True in found and False in found  # the general callers are known, the card ones not
    general = [e for e in events if e.type == "contact.queued" and e.queue == "general"]
    assert general and all(e.data["attributes"]["tier"] == "top" for e in general)
    assert all(e.data["attributes"]["language"] == "he" and e.data["head_start_s"] == 90 for e in general)
