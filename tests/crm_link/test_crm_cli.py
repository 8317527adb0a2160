"""``callcenter crm seed | import | refresh`` through the functions the main CLI calls."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import pytest

from callcenter.crm_link.cli import add_cli
from callcenter.crm_link.cli import run_cli as crm_run_cli
from callcenter.runtime.ids import RandomIds


def run_cli(args: argparse.Namespace) -> int:
    """The ``crm`` subcommand with the ids the main CLI hands it."""
    return crm_run_cli(args, ids=RandomIds(lambda: 0))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="callcenter")
    add_cli(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_seed_refresh_and_import_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cc.db"
    config = tmp_path / "callcenter.yaml"
    config.write_text(f"storage:\n  url: sqlite+aiosqlite:///{db}\n", encoding="utf-8")
    assert run_cli(parse(["crm", "seed", "--customers", "50", "--seed", "3", "--config", str(config)])) == 0
    assert "seeded 50 customers" in capsys.readouterr().out
    assert run_cli(parse(["crm", "refresh", "--config", str(config)])) == 0
    assert "scored 50 customers" in capsys.readouterr().out
    csv = tmp_path / "people.csv"
    csv.write_text("account_number,name,phones\nNEW-1,Hopper,+1 212 555 0100\nNEW-2,,\n", encoding="utf-8")
    assert run_cli(parse(["crm", "import", str(csv), "--config", str(config)])) == 2
    out = capsys.readouterr()
    assert "imported 1 of 2 rows, 1 error(s)" in out.out
    assert "row 3: name: name is required" in out.err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (51,)
        assert conn.execute("SELECT count(*) FROM customer_scores").fetchone() == (50,)
    missing = tmp_path / "missing.csv"
    assert run_cli(parse(["crm", "import", str(missing), "--config", str(config)])) == 1
