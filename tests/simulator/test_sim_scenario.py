"""Scenario files and traffic generation: mistakes named by file and line; Poisson arrivals
follow the configured profile; the same seed gives the same traffic."""

from __future__ import annotations

import random
import statistics
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from callcenter.core.errors import ConfigError
from simulator.arrivals import poisson, read_trace
from simulator.distributions import Dist
from simulator.scenario import Arrivals, load_scenario

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name: small
seed: 7
duration: 2h
start: 2026-11-25T08:00:00+00:00
skills: [{name: billing}]
queues:
  - name: general
    steps: [{require: {billing: 1}}]
arrivals:
  rate_per_hour: 120
mix:
  - {queue: general, weight: 3}
  - {queue: general, channel: chat, weight: 1}
patience: {dist: exponential, mean: 300}
agents:
  - count: 5
    skills: {billing: 2}
    handle_time: {dist: lognormal, mean: 200, sd: 100}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_good_scenario_loads(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, GOOD))
    assert (s.name, s.seed, s.duration) == ("small", 7, 7200.0)
    assert s.agents[0].handle_time == Dist(dist="lognormal", mean=200, sd=100)
    assert [m.channel for m in s.mix] == ["voice", "chat"]


def test_queues_can_come_from_a_center_config(tmp_path: Path) -> None:
    text = GOOD.replace(
        "skills: [{name: billing}]\nqueues:\n  - name: general\n    steps: [{require: {billing: 1}}]\n",
        f"center: {ROOT / 'config' / 'callcenter.yaml'}\n",
    ).replace("billing: 2", "banking: 2")
    s = load_scenario(write(tmp_path, text))
    assert "cards" in {q.name for q in s.queues}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("rate_per_hour: 120", "rate_per_hour: -1"),
            "scenario.yaml:10: arrivals: arrivals need a positive rate_per_hour",
        ),
        (
            ("{queue: general, weight: 3}", "{queue: genral, weight: 3}"),
            "scenario.yaml:12: mix[0].queue: unknown queue 'genral' (known: general)",
        ),
        (
            ("mean: 300}", "mean: 0}"),
            "scenario.yaml:14: patience: an exponential distribution needs a positive 'mean'",
        ),
        (("billing: 2", "bliling: 2"), "scenario.yaml:17: agents[0].skills.bliling: unknown skill 'bliling'"),
        (("duration: 2h", "duration: soon"), "scenario.yaml:3: duration: 'soon' is not a duration"),
        (
            ("count: 5", "count: five"),
            "scenario.yaml:16: agents[0].count: expected a whole number, found 'five'",
        ),
        (("seed: 7", "seed: 7\nspeed: 3"), "scenario.yaml:3: speed: unknown key"),
        (
            ("{queue: general, weight: 3}", "{queue: general, weight: 3, keys: ['1', 'two']}"),
            "scenario.yaml:12: mix[0]: keys: 'two' is not keypad input",
        ),
    ],
)
def test_mistakes_are_named_by_file_and_line(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_scenario(write(tmp_path, GOOD.replace(*change)))
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_poisson_arrivals_follow_the_hourly_profile() -> None:
    hourly = [0.0] * 24
    hourly[9], hourly[10] = 1.0, 3.0
    spec = Arrivals(rate_per_hour=400, hourly=hourly)
    start = datetime.fromisoformat("2026-11-25T00:00:00+00:00")
    counts = []
    for seed in range(30):
        times = [a.at for a in poisson(spec, start, 86400, random.Random(seed))]
        assert all(9 * 3600 <= t < 11 * 3600 for t in times)
        counts.append((sum(t < 10 * 3600 for t in times), sum(t >= 10 * 3600 for t in times)))
    assert statistics.mean(c[0] for c in counts) == pytest.approx(400, rel=0.05)
    assert statistics.mean(c[1] for c in counts) == pytest.approx(1200, rel=0.05)


def test_same_seed_same_arrivals_and_weekday_factor() -> None:
    spec = Arrivals(rate_per_hour=100, weekdays={"sun": 0.0})
    sunday = datetime.fromisoformat("2026-11-29T00:00:00+00:00")
    assert list(poisson(spec, sunday, 86400, random.Random(1))) == []
    monday = datetime.fromisoformat("2026-11-30T00:00:00+00:00")
    a = [x.at for x in poisson(spec, monday, 3600, random.Random(5))]
    b = [x.at for x in poisson(spec, monday, 3600, random.Random(5))]
    assert a == b and len(a) > 50


def test_trace_files_are_read_with_per_row_errors(tmp_path: Path) -> None:
    good = tmp_path / "trace.csv"
    good.write_text("at,queue,priority\n5,general,2\n1.5,cards,\n")
    assert [(a.at, a.queue, a.priority) for a in read_trace(good)] == [
        (1.5, "cards", None),
        (5.0, "general", 2),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("at,queue\n1,general\nsoon,general\n")
    with pytest.raises(ConfigError) as info:
        read_trace(bad)
    assert info.value.problems[0].startswith(f"{bad}:3: could not convert string to float")
