"""The Anonymous Bank parser against the real February 1999 file: the published Wednesday
arrival figures exactly, the documented quirk counts, after-midnight stages, and the
staffing table built on its forecast."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pytest

from callcenter.supervisor.staffing import Target, staffing_table
from simulator.anonymous_bank import (
    FILE_NAME,
    CallRecord,
    forecast,
    hourly_arrivals,
    patience_estimate,
    quirks,
    read_records,
    usable,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("ANONYMOUS_BANK_TSV", ROOT.parent / "shared" / "data" / FILE_NAME))
WEDNESDAY = 2
# Published with the Miller book: mean calls per hour (0..23) over the four Wednesdays.
KNOWN_WEDNESDAY = [
    6.75,
    1.75,
    1.25,
    0,
    0.5,
    0.25,
    4.75,
    39.5,
    97.25,
    107.5,
    124,
    110.25,
    95.5,
    203.5,
    115.75,
    115.5,
    67.75,
    75,
    88.75,
    85.5,
    68,
    61.5,
    57.5,
    44.25,
]

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="the Anonymous Bank file is not here")


@pytest.fixture(scope="module")
def records() -> list[CallRecord]:
    return read_records(DATA)


def test_wednesday_arrivals_reproduce_the_published_figures(records: list[CallRecord]) -> None:
    assert hourly_arrivals(usable(records))[WEDNESDAY] == KNOWN_WEDNESDAY


def test_quirk_counts_are_the_documented_ones(records: list[CallRecord]) -> None:
    q = quirks(records)
    assert (q.rows, q.phantom, q.agent_without_name, q.agent_without_service_start, q.negative_vru) == (
        33344,
        278,
        491,
        50,
        25,
    )
    assert q.service_before_queue_exit > 0 and q.stages_after_midnight > 0
    both = sum(r.outcome == "PHANTOM" and r.vru_s < 0 for r in records)
    assert both == 2 and len(usable(records)) == 33344 - 278 - 25 + both == 33043


def test_typed_records_and_stages_after_midnight(records: list[CallRecord]) -> None:
    first = records[0]
    assert (first.call_id, first.customer_id, first.type, first.outcome, first.agent) == (
        34536,
        None,
        "PS",
        "AGENT",
        "DORIT",
    )
    assert first.vru_entry == datetime(1999, 2, 1, 7, 2, 47) and first.q_start is None and first.ser_s == 166
    late = next(r for r in records if r.call_id == 14375 and r.day == date(1999, 2, 10))
    assert late.vru_entry == datetime(1999, 2, 10, 23, 59, 56)
    assert late.q_start == datetime(1999, 2, 11, 0, 0, 2) and late.ser_exit == datetime(1999, 2, 11, 0, 0, 58)
    assert late.q_s == 27 and late.served and not late.abandoned
    hung = next(r for r in records if r.outcome == "HANG" and r.queued)
    assert hung.abandoned and hung.ser_start is None and hung.agent is None


def test_the_staffing_table_carries_the_arrival_rates_exactly(records: list[CallRecord]) -> None:
    fc = forecast(usable(records), WEDNESDAY)
    table = staffing_table(fc, Target(service_level=0.8, threshold_s=20.0))
    assert [row["calls"] for row in table] == KNOWN_WEDNESDAY
    assert [row["start"] for row in table][:3] == ["00:00", "01:00", "02:00"]
    busiest = table[13]  # 203.5 calls in the 13:00 hour
    assert busiest["load_erlangs"] == pytest.approx(203.5 / 3600 * busiest["aht_s"])
    assert busiest["erlang_c"]["agents"] > busiest["load_erlangs"]
    assert busiest["erlang_c"]["service_level"] >= 0.8
    for row in table:  # abandonments take load off: Erlang A never needs more than Erlang C
        if row["calls"]:
            assert row["erlang_a"]["agents"] <= row["erlang_c"]["agents"]
        else:
            assert row["erlang_c"]["agents"] == 0
    assert fc.patience_s is not None and 60 < fc.patience_s < 3600


def test_patience_is_total_wait_over_abandonments(records: list[CallRecord]) -> None:
    sample = [r for r in records if r.queued][:200]
    waited = sum(r.q_s for r in sample)
    abandons = sum(r.abandoned for r in sample)
    assert abandons > 0 and patience_estimate(sample) == waited / abandons
    assert patience_estimate([r for r in sample if not r.abandoned]) is None


def test_a_bad_row_names_its_line(tmp_path: Path) -> None:
    header = DATA.read_text(encoding="ascii").splitlines()[0]
    bad = tmp_path / "bad.tsv"
    bad.write_text(
        header + "\nAA0101\t1\t0\t0\tPS\t990201\tseven\t7:02:56\t9\t0:00:00\t0:00:00\t0\tAGENT"
        "\t7:02:55\t7:05:41\t166\tDORIT\n",
        encoding="ascii",
    )
    with pytest.raises(ValueError, match="line 2"):
        read_records(bad)
