"""Configuration: good files load into typed frozen objects; each kind of mistake is
reported with the file, the line and the field; check-config lists all problems."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from callcenter.config.loader import load_config
from callcenter.config.sections import CenterConfig
from callcenter.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "config" / "callcenter.yaml"

GOOD = """\
skills:
  - name: billing
queues:
  - name: general
    steps:
      - require: {billing: 3}
        timeout: 30
      - require: {}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callcenter.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_demo_config_loads_into_frozen_typed_objects() -> None:
    config = load_config(DEMO)
    assert isinstance(config, CenterConfig)
    assert {q.name for q in config.queues} >= {"general", "cards", "english"}
    general = config.queue("general")
    assert general is not None and general.steps[0].require == {"banking": 3}
    assert general.priority_rules[0].head_start_s == 90.0
    with pytest.raises(AttributeError, match="immutable"):
        config.server = config.server  # type: ignore[misc]


def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "storage:\n  url: sqlite+aiosqlite:///data/cc.db\n")
    config = load_config(path)
    assert config.storage.url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'cc.db'}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD + "colour: blue\n", "callcenter.yaml:9: colour: unknown key (known keys: "),
        (
            GOOD + "server:\n  port: eighty\n",
            "callcenter.yaml:10: server.port: expected a whole number, found 'eighty'",
        ),
        (GOOD + "server:\n  port: 70000\n", "callcenter.yaml:10: server: port 70000 is outside 0-65535"),
        (
            GOOD.replace("billing: 3", "bilng: 3"),
            "callcenter.yaml:6: queues[0].steps[0].require.bilng: unknown skill 'bilng' (known: billing)",
        ),
        (
            GOOD.replace("name: general", "name: general\n    strategy: fastest"),
            "callcenter.yaml:5: queues[0].strategy: 'fastest' is not one of 'best-skill-match', 'least-occupied'",
        ),
        (GOOD + "  - name: general\n", "callcenter.yaml:9: queues[1]: queue 'general' is defined twice"),
        (
            GOOD.replace("    steps:", "    hours: office\n    steps:"),
            "callcenter.yaml:5: queues[0].hours: unknown hours 'office' (none are defined)",
        ),
        (
            GOOD.replace(
                "    steps:", "    overflow:\n      on_full: {to: queue, queue: nowhere}\n    steps:"
            ),
            "callcenter.yaml:6: queues[0].overflow.on_full.queue: unknown queue 'nowhere' (known: general)",
        ),
        (
            GOOD + "users:\n  - username: ann\n    skills: {billing: 9}\n",
            "callcenter.yaml:10: users[0]: skill level for 'billing' is 9; levels run from 1 to 5",
        ),
        (GOOD + "users:\n  - name: Ann\n", "callcenter.yaml:10: users[0].username: required key is missing"),
        (
            GOOD + "hours:\n  office:\n    timezone: Mars/Olympus\n",
            "callcenter.yaml:11: hours.office.timezone: unknown timezone 'Mars/Olympus'",
        ),
        (
            GOOD + "hours:\n  office:\n    weekly: {mon: ['17:00-09:00']}\n",
            "callcenter.yaml:11: hours.office: '17:00-09:00' is not a valid span",
        ),
        (
            GOOD + "users:\n  - username: ann\n    skills: {billing: 2, other: high}\n",
            "callcenter.yaml:11: users[0].skills.other: expected a whole number, found 'high'",
        ),
        (
            GOOD.replace("name: general", "name: general\n    ring_time_s: 0"),
            "callcenter.yaml:5: queues[0].ring_time_s: expected a number more than 0, found '0'",
        ),
        (
            GOOD.replace("        timeout: 30\n", ""),
            "callcenter.yaml:4: queues[0]: every routing step but the last needs a timeout",
        ),
    ],
)
def test_each_mistake_names_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    problems = problems_of(write(tmp_path, text))
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(str(tmp_path / "callcenter.yaml") + ":") for p in problems)


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = GOOD.replace("billing: 3", "bilng: 3") + "colour: blue\nserver:\n  port: x\n"
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 3, problems


def test_a_plain_number_where_text_is_expected_is_read_as_written(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD + "crm:\n  default_country_code: +972\n"))
    assert config.crm.default_country_code == "+972"


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "queues:\n  - name: [general\n"))
    assert len(problems) == 1 and ":3: malformed YAML" in problems[0]


def test_missing_file_is_one_clear_problem(tmp_path: Path) -> None:
    problems = problems_of(tmp_path / "nope.yaml")
    assert problems == [f"{tmp_path / 'nope.yaml'}: file not found"]


def test_empty_file(tmp_path: Path) -> None:
    assert problems_of(write(tmp_path, "")) == [f"{tmp_path / 'callcenter.yaml'}:1: file is empty"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def test_check_config_exits_0_on_the_demo_config() -> None:
    result = run_cli("check-config", "--config", str(DEMO))
    assert result.returncode == 0, result.stderr
    assert "ok: 7 queues" in result.stdout


def test_check_config_prints_all_problems_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("billing: 3", "bilng: 3") + "colour: blue\n")
    result = run_cli("check-config", "--config", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert any(":6: queues[0].steps[0].require.bilng" in line for line in lines)
    assert any(":9: colour: unknown key" in line for line in lines)
    assert lines[-1].endswith("2 problem(s)")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["check-config"], ["serve"], ["db", "upgrade"]])
def test_commands_on_bad_input_give_a_message_not_a_traceback(tmp_path: Path, command: list[str]) -> None:
    path = write(tmp_path, "queues: [\n")
    result = run_cli(*command, "--config", str(path))
    assert result.returncode == 1
    assert "malformed YAML" in result.stderr and "Traceback" not in result.stderr


def test_unopenable_database_is_one_clear_message(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    path = write(tmp_path, GOOD + f"storage:\n  url: sqlite+aiosqlite:///{blocker}/sub/cc.db\n")
    result = run_cli("db", "upgrade", "--config", str(path))
    assert result.returncode == 1
    assert "cannot create the folder" in result.stderr and "Traceback" not in result.stderr
    pg = write(tmp_path, GOOD + "storage:\n  url: postgresql+asyncpg://nobody@127.0.0.1:1/none\n")
    result = run_cli("db", "upgrade", "--config", str(pg))
    assert result.returncode == 1
    assert "cannot open database postgresql+asyncpg://nobody@127.0.0.1:1/none" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "telephony:\n  carriers:\n    - {name: trunk, secret: short}\n",
            "callcenter.yaml:11: telephony.carriers[0]: a carrier secret must be at least 16 characters",
        ),
        (
            "telephony:\n  carriers:\n    - {name: trunk}\n",
            "callcenter.yaml:11: telephony.carriers[0]: a carrier needs exactly one of 'secret' and 'secret_env'",
        ),
        (
            "telephony:\n  carriers:\n    - {name: trunk, secret_env: H17_UNSET_CARRIER_SECRET}\n",
            "telephony.carriers[0]: the environment variable H17_UNSET_CARRIER_SECRET (secret_env) is not set",
        ),
        (
            "telephony:\n  carriers:\n    - {name: Trunk One, secret: 0123456789abcdef}\n",
            "telephony.carriers[0]: carrier name 'Trunk One' must start with a lowercase letter",
        ),
        (
            "telephony:\n  carriers:\n"
            "    - {name: trunk, secret: 0123456789abcdef}\n    - {name: trunk, secret: 0123456789abcdefg}\n",
            "telephony: carriers: a name is listed twice",
        ),
        (
            "telephony:\n  audiosocket_allow: [127.0.0.1, asterisk.local]\n",
            "telephony: audiosocket_allow: 'asterisk.local' is not an IP address or network",
        ),
        ("metrics: {token: short}\n", "metrics: a metrics token secret must be at least 16 characters"),
    ],
)
def test_carrier_audiosocket_and_metrics_credentials_are_checked_at_load(
    tmp_path: Path, text: str, expected: str
) -> None:
    problems = problems_of(write(tmp_path, GOOD + text))
    assert any(expected in p for p in problems), problems
    assert not any(
        "0123456789abcdef" in p or "short" in p.split(":")[-1] for p in problems
    )  # no secret shown


def test_a_carrier_secret_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("H17_CARRIER_SECRET", "from-the-environment-1234")
    text = GOOD + "telephony:\n  carriers:\n    - {name: trunk, secret_env: H17_CARRIER_SECRET}\n"
    config = load_config(write(tmp_path, text))
    carrier = config.telephony.carriers[0]
    assert carrier.secret == "" and carrier.secret_value() == "from-the-environment-1234"
    assert config.telephony.audiosocket_allow == ["127.0.0.0/8", "::1"]  # loopback unless told
    assert load_config(DEMO).telephony.carriers[0].name == "demo"  # the demo has a carrier


def test_an_item_with_its_own_problem_leaves_the_others_at_their_places(tmp_path: Path) -> None:
    text = (
        GOOD
        + "  - {name: broken, strategy: fastest}\n  - {name: general}\nusers:\n  - {username: ann, role: boss}\n"
    )
    text += "  - {username: bob, skills: {nope: 2}}\n"
    problems = [p.split(":", 1)[1] for p in problems_of(write(tmp_path, text))]
    assert any(p.startswith("9: queues[1].strategy: 'fastest' is not one of") for p in problems), problems
    assert "10: queues[2]: queue 'general' is defined twice" in problems
    assert "13: users[1].skills.nope: unknown skill 'nope' (known: billing)" in problems
    assert len(problems) == 4, problems
