"""``callcenter check-config`` checks the IVR flows of ``ivr_dir`` with the config: the
demo's three flows pass, a broken flow is listed as file:line problems with exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_flows_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(ROOT / "config" / "callcenter.yaml")]) == 0
    assert capsys.readouterr().out.strip().endswith("6 users, 3 IVR flows")


def test_a_broken_flow_fails_the_check_with_its_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "callcenter.yaml").write_text(
        (ROOT / "config" / "callcenter.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "ivr").mkdir()
    (tmp_path / "ivr" / "line.yaml").write_text(
        "entry: {channels: [voice]}\nstart: q\nnodes:\n  q: {kind: queue, queue: nosuch}\n", encoding="utf-8"
    )
    assert main(["check-config", "--config", str(tmp_path / "callcenter.yaml")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'ivr' / 'line.yaml'}:4: nodes.q.queue" in err and "nosuch" in err
    assert err.strip().endswith("1 problem(s)")
