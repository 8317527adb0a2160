"""Load-time validation: every mistake reported with file and line, the folder rejected whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.core.errors import ConfigError
from callcenter.ivr.flow import Menu
from callcenter.ivr.loader import FlowSet, load_flows

QUEUES = {"general", "cards", "sales"}
HOURS = {"bank"}

GOOD = """\
entry: {numbers: ["+15550100"], channels: [voice, chat]}
start: main
nodes:
  main:
    kind: menu
    prompt: Press 1 for cards.
    options:
      - {digit: "1", say: [cards], next: cards}
    fallback: cards
  cards: {kind: queue, queue: cards}
"""


def load(tmp_path: Path, files: dict[str, str], **kwargs: object) -> FlowSet:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return load_flows(tmp_path, queues=QUEUES, hours=HOURS, **kwargs)  # type: ignore[arg-type]


def problems(tmp_path: Path, files: dict[str, str], **kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, files, **kwargs)
    return err.value.problems


def one(tmp_path: Path, text: str) -> str:
    found = problems(tmp_path, {"f.yaml": text})
    assert len(found) == 1, found
    return found[0]


def test_a_good_flow_loads_and_answers_its_numbers_and_channels(tmp_path: Path) -> None:
    flows = load(tmp_path, {"main.yaml": GOOD})
    flow = flows["main"]
    assert flow.start == "main" and flow.file.endswith("main.yaml")
    assert flows.entry_for("voice", "+15550100") is flow
    assert flows.entry_for("chat", "+15550100") is flow
    assert flows.entry_for("voice", "+15550999") is None
    assert flows.warnings == ()


def test_keys_and_numbers_written_as_plain_numbers_are_read_as_text(tmp_path: Path) -> None:
    text = GOOD.replace('digit: "1"', "digit: 1").replace('numbers: ["+15550100"]', "numbers: [15550100]")
    flows = load(tmp_path, {"main.yaml": text})
    menu = flows["main"].node("main")
    assert isinstance(menu, Menu) and menu.options[0].digit == "1"
    assert flows.entry_for("voice", "15550100") is flows["main"]


def test_a_flow_without_numbers_is_the_default_of_its_channels(tmp_path: Path) -> None:
    other = GOOD.replace('numbers: ["+15550100"], channels: [voice, chat]', "channels: [voice]")
    flows = load(tmp_path, {"a.yaml": GOOD, "b.yaml": other})
    assert flows.entry_for("voice", "+15550100") is flows["a"]
    assert flows.entry_for("voice", "+1999") is flows["b"]
    assert flows.entry_for("chat", "+1999") is None


def test_two_flows_claiming_one_number_on_one_channel_is_an_error(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, {"a.yaml": GOOD, "b.yaml": GOOD.replace("voice, chat", "chat")})
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert problem == f"{b}:1: entry: number '+15550100' on chat is already claimed by flow 'a' ({a})"


def test_unknown_node_kind_is_named_with_its_line(tmp_path: Path) -> None:
    text = GOOD + "  extra: {kind: dance, next: main}\n"
    problem = one(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'f.yaml'}:11: nodes.extra.kind: unknown node kind 'dance'")


def test_unknown_field_is_named_with_its_line(tmp_path: Path) -> None:
    problem = one(tmp_path, GOOD.replace("    prompt: Press 1", "    promt: typo\n    prompt: Press 1"))
    assert ":6: nodes.main.promt: unknown key" in problem


def test_missing_target_and_missing_start(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "f.yaml": GOOD.replace("fallback: cards", "fallback: nowhere").replace(
                "start: main", "start: begin"
            )
        },
    )
    assert any(":2: start: start node 'begin' is not defined" in p for p in found)
    assert any(":9: nodes.main.fallback: no node 'nowhere' in this flow" in p for p in found)


def test_unreachable_node(tmp_path: Path) -> None:
    problem = one(tmp_path, GOOD + "  lonely: {kind: hangup}\n")
    assert problem.endswith(":11: nodes.lonely: node 'lonely' cannot be reached from start 'main'")


def test_a_loop_that_never_waits_for_the_caller(tmp_path: Path) -> None:
    text = (
        GOOD.replace("fallback: cards", "fallback: a")
        + """\
  a: {kind: set, values: {x: "1"}, next: b}
  b:
    kind: branch
    cases: [{when: {var: x, equals: "2"}, next: cards}]
    otherwise: a
"""
    )
    problem = one(tmp_path, text)
    assert "loop that never waits for the caller: a -> b -> a" in problem


def test_a_loop_through_a_menu_is_fine(tmp_path: Path) -> None:
    text = (
        GOOD.replace("fallback: cards", "fallback: again")
        + "  again: {kind: say, text: Again., next: main}\n"
    )
    assert len(load(tmp_path, {"f.yaml": text})) == 1


def test_duplicate_keys_and_phrases_in_a_menu(tmp_path: Path) -> None:
    text = GOOD.replace(
        '      - {digit: "1", say: [cards], next: cards}',
        '      - {digit: "1", say: [cards], next: cards}\n      - {digit: "1", say: [ Cards ], next: cards}',
    )
    found = problems(tmp_path, {"f.yaml": text})
    assert any(":9: nodes.main.options[1].digit: key '1' is already option 0" in p for p in found)
    assert any(":9: nodes.main.options[1].say: phrase 'Cards' is already option 0" in p for p in found)


def test_a_menu_without_a_way_out(tmp_path: Path) -> None:
    text = """\
start: main
nodes:
  main:
    kind: menu
    prompt: Press 1.
    options: [{digit: "1", next: other}]
    fallback: main
  other:
    kind: menu
    prompt: Press 2.
    options: [{digit: "2", next: main}]
    fallback: other
"""
    found = problems(tmp_path, {"f.yaml": text})
    assert [p.split(": ", 1)[1] for p in found] == [
        "nodes.main: menu 'main' has no way out: no path from it reaches a queue, callback, transfer or hangup node",
        "nodes.other: menu 'other' has no way out: no path from it reaches a queue, callback, transfer or hangup node",
    ]


def test_unknown_queue_and_hours_names(tmp_path: Path) -> None:
    text = (
        GOOD.replace("queue: cards}", "queue: kards}").replace("fallback: cards", "fallback: check")
        + """\
  check:
    kind: branch
    cases:
      - when: {all: [{open: weekend}, {queue_ewt: loans, above: 60}]}
        next: cards
    otherwise: cards
"""
    )
    found = problems(tmp_path, {"f.yaml": text})
    assert any("nodes.cards.queue: unknown queue 'kards' (known: cards, general, sales)" in p for p in found)
    assert any("nodes.check.cases[0].when: unknown hours 'weekend' (known: bank)" in p for p in found)
    assert any("nodes.check.cases[0].when: unknown queue 'loans'" in p for p in found)


def test_a_voicemail_node_names_a_known_queue(tmp_path: Path) -> None:
    text = """\
start: vm
nodes:
  vm: {kind: voicemail, max_s: 60, next: bye, queue: stonks}
  bye: {kind: hangup, prompt: Goodbye.}
"""
    found = problems(tmp_path, {"f.yaml": text})
    assert any("nodes.vm.queue: unknown queue 'stonks' (known: cards, general, sales)" in p for p in found)
    assert load(tmp_path, {"f.yaml": text.replace("stonks", "sales")}).flows


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (
            '{kind: collect, prompt: x, next: cards, fallback: cards, pattern: "[0-9"}',
            "not a valid regular expression",
        ),
        (
            "{kind: collect, prompt: x, next: cards, fallback: cards, min_length: 5, max_length: 2}",
            "min_length",
        ),
        ("{kind: say, text: 'Hi {customer first}', next: cards}", "is not a variable name"),
        ("{kind: transfer, uri: 'http://x'}", "must start with sip:"),
        (
            "{kind: branch, cases: [{when: {var: x, open: bank}, next: cards}], otherwise: cards}",
            "exactly one subject",
        ),
        ("{kind: branch, cases: [{when: {var: x}, next: cards}], otherwise: cards}", "exactly one test"),
        (
            "{kind: branch, cases: [{when: {queue_ewt: cards, equals: '3'}, next: cards}], otherwise: cards}",
            "queue_ewt",
        ),
        ("{kind: survey, prompt: x, next: cards, phrases: {great: 9}}", "ratings run from 1 to 5"),
        (
            "{kind: menu, prompt: x, options: [{digit: '12', next: cards}], fallback: cards}",
            "must be one key",
        ),
        (
            "{kind: menu, prompt: x, options: [{label: nothing, next: cards}], fallback: cards}",
            "needs a 'digit'",
        ),
        ("{kind: lookup, by: email, value: x, found: cards, not_found: cards}", "is not one of"),
    ],
)
def test_bad_values_are_reported_at_their_node(tmp_path: Path, node: str, message: str) -> None:
    text = GOOD.replace("fallback: cards", "fallback: bad") + f"  bad: {node}\n"
    problem = one(tmp_path, text)
    assert ":11: nodes.bad" in problem and message in problem


def test_every_mistake_in_every_file_is_listed_and_nothing_loads(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "a.yaml": GOOD.replace("queue: cards}", "queue: nope}"),
            "b.yaml": "start: x\nnodes: {x: {kind: hangup, reasn: y}}\n",
            "c.yaml": "start: [\n",
            "d.yaml": "",
        },
    )
    files = sorted({p.split(":")[0].rsplit("/", 1)[-1] for p in found})
    assert files == ["a.yaml", "b.yaml", "c.yaml", "d.yaml"]
    assert any("malformed YAML" in p for p in found)
    assert any("file is empty" in p for p in found)


def test_phrases_the_recognizer_does_not_know_are_warnings(tmp_path: Path) -> None:
    flows = load(tmp_path, {"f.yaml": GOOD}, vocabulary={"card"})
    [warning] = flows.warnings
    assert warning.endswith(
        ":8: nodes.main.options[0].say: warning: the recognizer does not know 'cards' "
        "in 'cards'; callers saying it will not be understood"
    )
    assert load(tmp_path, {}, vocabulary=lambda word: word == "cards").warnings == ()


def test_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="IVR flow folder not found"):
        load_flows(tmp_path / "nope", queues=QUEUES, hours=HOURS)


def test_a_flow_gives_its_own_callback_words_and_a_typo_in_them_is_named(tmp_path: Path) -> None:
    words = 'callback: {offer: "Pulse estrella.", confirm: "Gracias."}\n'
    (tmp_path / "es").mkdir()
    flow = load(tmp_path / "es", {"es.yaml": "language: es\n" + words + GOOD})["es"]
    assert (flow.callback.offer, flow.callback.confirm) == ("Pulse estrella.", "Gracias.")
    (tmp_path / "en").mkdir()
    plain = load(tmp_path / "en", {"en.yaml": GOOD})["en"]
    assert (plain.callback.offer, plain.callback.confirm) == ("", "")  # the telephony section's words
    (tmp_path / "bad").mkdir()
    problem = one(tmp_path / "bad", "callback: {ofer: Pulse.}\n" + GOOD)
    assert ":1: callback.ofer: unknown key" in problem
