"""Virtual mode: the real ACD on a virtual clock. The same seed gives the identical event
log; results agree with queueing theory; the CLI writes its summary, CSV and charts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from simulator.erlang_check import erlang_scenario, erlang_whatif
from simulator.virtual import run_virtual

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
name: bank-morning
seed: 42
duration: 3h
start: 2026-11-25T07:00:00+00:00
center: {center}
arrivals:
  rate_per_hour: 150
mix:
  - {{queue: general, weight: 6, attributes: {{tier: regular}}}}
  - {{queue: general, weight: 1, attributes: {{tier: top}}}}
  - {{queue: cards, weight: 1}}
  - {{queue: english, weight: 1, channel: chat}}
patience: {{dist: lognormal, mean: 240, sd: 150}}
ivr: {{time: {{dist: uniform, min: 10, max: 40}}, hangup_rate: 0.03, mistake_rate: 0.1}}
agents:
  - count: 6
    skills: {{banking: 3, cards: 2}}
    handle_time: {{dist: lognormal, mean: 200, sd: 120}}
    wrap_up: {{dist: fixed, value: 10}}
    decline_rate: 0.02
    no_answer_rate: 0.02
    answer_delay: {{dist: uniform, min: 1, max: 4}}
  - count: 2
    skills: {{english: 3, banking: 1}}
    chat_capacity: 2
    shift: "07:00-09:00"
service_level_s: 30
"""


def write(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.format(center=ROOT / "config" / "callcenter.yaml"))
    return path


def test_the_same_seed_gives_the_identical_event_log(tmp_path: Path) -> None:
    from simulator.scenario import load_scenario

    scenario = load_scenario(write(tmp_path))
    first, second = run_virtual(scenario), run_virtual(scenario)
    assert len(first.events) > 2000
    assert first.events == second.events
    kinds = {e.type for e in first.events}
    assert {
        "contact.queued",
        "contact.offered",
        "contact.connected",
        "contact.ended",
        "agent.state",
        "contact.offer_declined",
        "contact.offer_timed_out",
    } <= kinds
    reasons = {e.data.get("reason") for e in first.events if e.type == "contact.ended"}
    assert {"completed", "abandoned", "ivr_hangup"} <= reasons


def test_mmc_agrees_with_erlang_c() -> None:
    r = erlang_whatif(arrivals_per_hour=200, aht_seconds=180, agents=14, calls=40_000, seed=3)
    e = r["erlang"]
    assert abs(r["service_level"] - e["service_level"]) < 0.02
    assert r["p_wait"] == pytest.approx(e["p_wait"], rel=0.15)
    assert r["occupancy"] == pytest.approx(e["occupancy"], rel=0.03)
    assert r["asa_seconds"] == pytest.approx(e["asa_seconds"], rel=0.2)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_mmc_matches_erlang_c_over_a_million_calls() -> None:
    """ASA is a noisy figure (SimPy's own M/M/14 swings -8%..+10% between seeds at 200,000
    calls), so the check runs over 1,000,000 calls (about 4 minutes)."""
    r = erlang_whatif(arrivals_per_hour=200, aht_seconds=180, agents=14, calls=1_000_000, seed=11)
    e = r["erlang"]
    assert abs(r["service_level"] - e["service_level"]) < 0.01
    assert r["asa_seconds"] == pytest.approx(e["asa_seconds"], rel=0.05)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_mmcm_matches_erlang_a_abandonment_over_200000_calls() -> None:
    r = erlang_whatif(
        arrivals_per_hour=200, aht_seconds=180, agents=14, calls=200_000, seed=13, patience_seconds=300
    )
    assert r["abandon_rate"] == pytest.approx(r["erlang"]["p_abandon"], rel=0.10)


def test_erlang_scenario_is_a_plain_mmc() -> None:
    s = erlang_scenario(arrivals_per_hour=100, aht_seconds=60, agents=3, calls=100, seed=1)
    assert s.duration == 3600.0 and s.patience is None and s.agents[0].count == 3


def test_cli_run_writes_summary_csv_and_charts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator",
            "run",
            str(write(tmp_path)),
            "--mode",
            "virtual",
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "offered",
        "answered",
        "abandoned",
        "service_level",
        "asa_seconds",
        "aht_seconds",
        "occupancy",
        "p_wait",
        "per_queue",
        "per_interval",
    ):
        assert key in summary
    assert (
        summary["offered"] == summary["answered"] + summary["abandoned"] + summary["overflowed"]
        or summary["offered"] >= summary["answered"] + summary["abandoned"]
    )
    assert set(summary["per_queue"]) == {"general", "cards", "english"}
    assert (out / "intervals.csv").read_text().startswith("start_s,offered,answered")
    for chart in ("waiting.png", "service_level.png", "occupancy.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_erlang_prints_the_summary_beside_the_prediction() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator",
            "erlang",
            "--arrivals-per-hour",
            "120",
            "--aht-seconds",
            "120",
            "--agents",
            "6",
            "--calls",
            "3000",
            "--seed",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary["erlang"]) >= {"p_wait", "service_level", "asa_seconds", "p_abandon"}
    assert summary["offered"] > 2500


def test_a_scenario_with_mistakes_is_refused_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        textwrap.dedent("""\
        name: x
        duration: 1h
        arrivals: {rate_per_hour: 10}
        mix: [{queue: nowhere}]
        agents: [{count: 1}]
        """)
    )
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "run", str(bad), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert f"{bad}:1: queues: no queues" in result.stderr and "Traceback" not in result.stderr


def test_the_example_scenario_runs() -> None:
    from simulator.scenario import load_scenario
    from simulator.summary import summarise

    s = load_scenario(ROOT / "simulator" / "scenarios" / "bank_morning.yaml")
    run = run_virtual(s)
    summary = summarise(
        run.events,
        start=run.start_epoch,
        end=run.end_epoch,
        sl_seconds=s.service_level_s,
        short_abandon_s=s.short_abandon_s,
        interval_s=s.interval_s,
    )
    assert summary["offered"] > 500 and 0 < summary["service_level"] < 1
    assert summary["ivr_hangups"] > 0 and summary["per_queue"]["internet"]["answered"] > 0
