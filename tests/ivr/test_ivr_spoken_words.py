"""Honest words on the line: a prompt invites the caller to speak only where speech
recognition is on for the flow's language (its ``[[...]]`` parts), a flow that asks to speak
where nobody listens is a warning at load and at check-config, and a closed line says when
it opens, in the flow's language, from the real calendar at an injected instant."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.cli import main
from callcenter.config.hours import HoursTable, closed_message
from callcenter.config.sections import HoursConfig
from callcenter.config.speech import SpeechConfig, recognition_languages
from callcenter.ivr import PlayPrompt
from callcenter.ivr.loader import load_flows
from callcenter.ivr.spoken import speech_promised, spoken_text
from tests.ivr.conftest import HOURS, QUEUES, Call, write

ROOT = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("Asia/Jerusalem")
OFFICE = HoursConfig(
    timezone="Asia/Jerusalem", weekly={d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
)
SATURDAY_03 = datetime(2026, 12, 5, 3, 0, tzinfo=ZONE).timestamp()
MONDAY_11 = datetime(2026, 12, 7, 11, 0, tzinfo=ZONE).timestamp()

MENU = """
entry: {{channels: [voice]}}
language: {language}
start: main
nodes:
  main:
    kind: menu
    prompt: "{prompt}"
    options:
      - {{digit: "1", say: [cards], label: Cards, next: cards}}
    fallback: cards
  cards: {{kind: queue, queue: cards}}
"""


def load(tmp_path: Path, prompt: str, language: str, hearing: set[str] | None) -> tuple[str, tuple[str, ...]]:
    """The menu prompt as the loaded flow says it, and the load warnings."""
    folder = tmp_path / f"flows-{language}-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    write(folder, "line.yaml", MENU.format(language=language, prompt=prompt))
    flows = load_flows(folder, queues=QUEUES, hours=HOURS, speech_languages=hearing)
    node = flows["line"].nodes["main"]
    return node.prompt, flows.warnings  # type: ignore[union-attr]


def test_the_speech_part_is_said_only_where_recognition_is_on(tmp_path: Path) -> None:
    prompt = "For cards, press 1[[ or say cards]]."
    assert load(tmp_path, prompt, "en", set()) == ("For cards, press 1.", ())
    assert load(tmp_path, prompt, "en", {"ko"}) == ("For cards, press 1.", ())
    assert load(tmp_path, prompt, "en", {"en"}) == ("For cards, press 1 or say cards.", ())
    korean = "카드는 1번을 [[누르시거나 카드라고 말씀하세요|누르세요]]."
    assert load(tmp_path, korean, "ko", {"ko"})[0] == "카드는 1번을 누르시거나 카드라고 말씀하세요."
    assert load(tmp_path, korean, "ko", set())[0] == "카드는 1번을 누르세요."


def test_a_prompt_that_asks_to_speak_where_nobody_listens_is_a_warning(tmp_path: Path) -> None:
    said, warnings = load(tmp_path, "For cards, press 1 or say cards.", "en", set())
    assert said == "For cards, press 1 or say cards."  # left as written, but named
    [warning] = warnings
    assert (
        "line.yaml:7: nodes.main.prompt: warning:" in warning
        and "speech recognition is off for 'en'" in warning
    )
    assert load(tmp_path, "For cards, press 1 or say cards.", "en", {"en"})[1] == ()
    assert (
        load(tmp_path, "To speak with an agent, press 1.", "en", set())[1] == ()
    )  # "speak with" is no promise
    assert load(tmp_path, "상담원이라고 말씀하세요.", "ko", set())[1] != ()


def test_the_words_alone() -> None:
    assert spoken_text("Press[[ or say]] a number.", False) == "Press a number."
    assert spoken_text("Press[[ or say]] a number.", True) == "Press or say a number."
    assert spoken_text("No brackets here.", False) == "No brackets here."
    assert speech_promised("Please say yes.", "en") and not speech_promised("Press 1[[ or say yes]].", "en")
    assert not speech_promised("Bitte sagen Sie ja.", "de")  # a language without a word list: not checked


def test_which_languages_recognition_is_on_for() -> None:
    assert recognition_languages(SpeechConfig()) == frozenset()
    assert recognition_languages(SpeechConfig(model_path="korean-demo")) == frozenset({"ko"})
    assert recognition_languages(
        SpeechConfig(model_path="/srv/vosk/vosk-model-small-en-us-0.15")
    ) == frozenset({"en"})
    assert recognition_languages(SpeechConfig(model_path="/srv/models/mine")) is None  # not known: kept


def test_the_demo_flows_offer_no_speech_without_a_model(tmp_path: Path) -> None:
    """The demo config has no speech model: its English menu says "press 1", never "say
    English", and check-config passes without a warning."""
    flows = load_flows(
        ROOT / "config" / "ivr", queues=QUEUES | {"complaints"}, hours=HOURS, speech_languages=()
    )
    language = flows["bank"].nodes["language"]
    assert language.prompt == "For service in English, press 1. For service in Hebrew, press 2."  # type: ignore[union-attr]
    korean = flows["korean"].nodes["main_menu"]
    assert "말씀" not in korean.prompt and "1번을 누르세요" in korean.prompt  # type: ignore[union-attr]
    assert flows.warnings == ()
    spoken = load_flows(
        ROOT / "config" / "ivr", queues=QUEUES | {"complaints"}, hours=HOURS, speech_languages={"ko"}
    )
    assert "외환이라고 말씀하세요" in spoken["korean"].nodes["main_menu"].prompt  # type: ignore[union-attr]
    assert "say English" not in spoken["bank"].nodes["language"].prompt  # type: ignore[union-attr]


def test_check_config_warns_of_a_flow_promising_speech(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "callcenter.yaml").write_text(
        (ROOT / "config" / "callcenter.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "ivr").mkdir()
    write(tmp_path / "ivr", "line.yaml", MENU.format(language="en", prompt="Press 1 or say cards."))
    assert main(["check-config", "--config", str(tmp_path / "callcenter.yaml")]) == 0
    err = capsys.readouterr().err
    assert "line.yaml:7: nodes.main.prompt: warning: the text asks the caller to speak" in err


CLOSED_LINE = """
entry: {channels: [voice]}
language: LANG
start: route
nodes:
  route:
    kind: branch
    cases:
      - when: {not: {open: office}}
        next: closed
    otherwise: desk
  desk: {kind: queue, queue: general}
  closed: {kind: hangup, prompt: "OPENS {opens.office}"}
"""


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "OPENS on Monday at 8:00"),
        ("ko", "OPENS 월요일 8:00"),
        ("he", "OPENS ביום שני ב-8:00"),
    ],
)
def test_a_closed_line_says_when_it_opens_in_its_language(tmp_path: Path, language: str, said: str) -> None:
    write(tmp_path, "line.yaml", CLOSED_LINE.replace("LANG", language))
    flow = load_flows(tmp_path, queues=QUEUES, hours={"office"})["line"]
    call = Call(flow, hours=HoursTable({"office": OFFICE}))  # type: ignore[arg-type]
    call.now = SATURDAY_03
    call.start()
    assert call.prompts() == [said]

    call = Call(flow, hours=HoursTable({"office": OFFICE}))  # type: ignore[arg-type]
    call.now = MONDAY_11
    call.start()
    assert call.nodes() == ["route", "desk"] and not call.of(PlayPrompt)


def test_closed_words_per_language_at_saturday_3_and_monday_11() -> None:
    assert closed_message(OFFICE, SATURDAY_03, "en") == "We are closed. We open again on Monday at 8:00."
    assert (
        closed_message(OFFICE, SATURDAY_03, "ko") == "지금은 상담 시간이 아닙니다. 월요일 8:00에 다시 엽니다."
    )
    assert closed_message(OFFICE, SATURDAY_03, "he") == "אנחנו סגורים כעת. נפתח שוב ביום שני ב-8:00."
    assert closed_message(OFFICE, SATURDAY_03, "fr-FR") == "We are closed. We open again on Monday at 8:00."
    assert closed_message(OFFICE, MONDAY_11, "en") == ""
    friday_evening = datetime(2026, 12, 11, 19, 0, tzinfo=ZONE).timestamp()
    assert (
        closed_message(OFFICE, friday_evening, "ko")
        == "지금은 상담 시간이 아닙니다. 월요일 8:00에 다시 엽니다."
    )
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=ZONE).timestamp()
    assert closed_message(OFFICE, sunday, "en") == "We are closed. We open again tomorrow at 8:00."
