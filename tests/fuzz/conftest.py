"""The fuzz suite's running center (one per module: starting the demo takes seconds)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fuzzsupport import LiveCenter


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCenter]:
    db = tmp_path_factory.mktemp("fuzz") / "callcenter.db"
    live = LiveCenter(f"sqlite+aiosqlite:///{db}")
    live.start()
    try:
        yield live
    finally:
        live.stop()
