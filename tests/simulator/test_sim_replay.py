"""Replay of the Anonymous Bank records: every recorded call is replayed and accounted for on
both sides of the report, priority callers get their 90 s head start, recorded service
times are used, agents work only when the data shows them working, bad rows are named by
file and line."""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from simulator.anonymous_bank import FILE_NAME, CallRecord, read_records, usable
from simulator.cli import main
from simulator.replay import plan_replay, run_replay

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("ANONYMOUS_BANK_TSV", ROOT.parent / "shared" / "data" / FILE_NAME))
needs_data = pytest.mark.skipif(not DATA.exists(), reason="the Anonymous Bank file is not here")


def morning_slice(tmp_path: Path) -> Path:
    """The rows of Wednesday 3 February 1999 whose VRU entry is 08:00-11:59."""
    lines = DATA.read_text(encoding="ascii").splitlines()
    keep = [lines[0]]
    for line in lines[1:]:
        cols = line.split("\t")
        if cols[5] == "990203" and 8 <= int(cols[6].split(":")[0]) < 12:
            keep.append(line)
    path = tmp_path / "slice.tsv"
    path.write_text("\n".join(keep) + "\n", encoding="ascii")
    return path


def record(
    call_id: int,
    entry: str,
    *,
    priority: int = 0,
    served: bool = True,
    wait: int = 0,
    service: int = 300,
    agent: str = "DANA",
) -> CallRecord:
    at = datetime.fromisoformat(f"1999-02-03T{entry}")
    q = at  # joins the queue straight from the VRU
    ser = q + timedelta(seconds=wait)
    return CallRecord(
        vru_line="AA0101",
        call_id=call_id,
        customer_id=None,
        priority=priority,
        type="PS",
        day=at.date(),
        vru_entry=at,
        vru_exit=at,
        vru_s=0,
        q_start=q,
        q_exit=ser,
        q_s=wait,
        outcome="AGENT" if served else "HANG",
        ser_start=ser if served else None,
        ser_exit=ser + timedelta(seconds=service) if served else None,
        ser_s=service if served else 0,
        agent=agent if served else None,
    )


@needs_data
def test_a_replayed_morning_accounts_for_every_recorded_call(tmp_path: Path) -> None:
    path = morning_slice(tmp_path)
    assert main(["replay", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    calls = [r for r in usable(read_records(path)) if r.queued or r.served]
    c = summary["comparison"]
    assert c["recorded"]["offered"] == c["simulated"]["offered"] == len(calls) > 300
    sim = c["simulated"]
    assert sim["answered"] + sim["abandoned"] == sim["offered"]  # nobody left hanging
    served = [r for r in calls if r.served]
    assert c["recorded"]["answered"] == len(served)
    assert c["recorded"]["asa_seconds"] == pytest.approx(sum(r.q_s for r in served) / len(served))
    assert [row["hour"] for row in c["per_hour"]] == [8, 9, 10, 11, 12, 13][: len(c["per_hour"])]
    with (tmp_path / "out" / "per_hour.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["hour"] == "8" and "recorded_asa_seconds" in rows[0]
    assert (tmp_path / "out" / "replay_per_hour.png").stat().st_size > 1000
    assert summary["replay"]["days"] == ["1999-02-03"]
    per_queue = c["per_queue"]
    assert sum(q["recorded"]["offered"] for q in per_queue.values()) == len(calls)
    assert per_queue["general"]["recorded"]["offered"] == sum(r.type in ("PS", "TT") for r in calls)


@needs_data
def test_agents_serve_only_in_their_recorded_sessions_and_queues(tmp_path: Path) -> None:
    records = read_records(morning_slice(tmp_path))
    plan = plan_replay(records, seed=3)
    _, run = run_replay(plan, seed=3)
    sessions: dict[str, list[tuple[float, float]]] = {}
    for s in plan.sessions:
        sessions.setdefault(s.agent_id, []).append((s.login, s.logout))
    connected = [e for e in run.events if e.type == "contact.connected"]
    assert len(connected) > 300
    for e in connected:
        assert e.agent_id is not None
        assert any(a <= e.at <= b for a, b in sessions[e.agent_id]), e
        assert e.queue in plan.skills[e.agent_id]
    again = run_replay(plan_replay(records, seed=3), seed=3)[1]
    assert again.events == run.events


def test_recorded_service_times_are_the_simulated_talk_times() -> None:
    records = [record(1, "09:00:00", service=123), record(2, "09:10:00", service=456)]
    _, run = run_replay(plan_replay(records))
    talks = [e.data["talk_s"] for e in run.events if e.type == "contact.wrap_up"]
    assert talks == [123.0, 456.0]


def test_a_priority_caller_overtakes_a_regular_one_who_waited_less_than_90_s() -> None:
    # one agent, busy from 09:00 to 09:05; a regular caller queues at 09:01:00 and a priority
    # caller at 09:02:00: with the 90 s head start the priority caller is served first
    records = [
        record(1, "09:00:00", service=300),
        record(2, "09:01:00", wait=300, service=60),
        record(3, "09:02:00", priority=2, wait=180, service=60),
    ]
    _, run = run_replay(plan_replay(records))
    order = [e.contact_id for e in run.events if e.type == "contact.connected"]
    assert [str(cid).split("-")[1] for cid in order] == ["1", "3", "2"]


def test_an_abandoning_caller_leaves_after_their_recorded_wait_when_nobody_frees() -> None:
    records = [record(1, "09:00:00", service=600), record(2, "09:01:00", served=False, wait=42)]
    _, run = run_replay(plan_replay(records))
    queued = next(e.at for e in run.events if e.type == "contact.queued" and str(e.contact_id).endswith("-2"))
    ended = next(e for e in run.events if e.type == "contact.ended" and str(e.contact_id).endswith("-2"))
    assert ended.data["reason"] == "abandoned" and ended.at - queued == pytest.approx(42.0)


@needs_data
def test_a_bad_row_is_named_by_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = DATA.read_text(encoding="ascii").splitlines()[:5]
    cols = lines[3].split("\t")
    cols[6] = "7:xx:00"
    lines[3] = "\t".join(cols)
    path = tmp_path / "bad.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    assert main(["replay", str(path), "--out", str(tmp_path / "out")]) == 1
    assert f"{path}:4:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@needs_data
@pytest.mark.slow
def test_the_whole_month_with_a_minute_of_after_call_work_matches_the_recorded_totals(tmp_path: Path) -> None:
    out = tmp_path / "month"
    assert main(["replay", str(DATA), "--out", str(out), "--wrap-seconds", "60", "--quiet"]) == 0
    c = json.loads((out / "summary.json").read_text())["comparison"]
    sim, rec = c["simulated"], c["recorded"]
    assert sim["offered"] == rec["offered"] == 31081
    assert sim["answered"] + sim["abandoned"] == sim["offered"]
    assert abs(sim["abandon_rate"] - rec["abandon_rate"]) < 0.02
    assert abs(sim["asa_seconds"] - rec["asa_seconds"]) < 10
