"""The demo center for the chat tests (its own calendars; the tests give it a clock), and
reading a chat socket up to a frame."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from demo_center import demo_config
from msgspec.structs import replace

from callcenter.config.sections import CenterConfig

MONDAY_10 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC).timestamp()  # the bank's queues are open


def center_config(tmp_path: Path) -> CenterConfig:
    """The demo center with the demo's own calendars (the tests give it a clock)."""
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", hours="as configured")
    return replace(config, speech=replace(config.speech, cache_dir=str(tmp_path / "prompts")))


async def frames_until(ws: Any, kind: str, text: str = "") -> list[dict[str, Any]]:
    """Frames received up to and including the first of ``kind`` whose text starts so."""
    got: list[dict[str, Any]] = []
    while True:
        frame = await ws.receive_json(timeout=5)
        got.append(frame)
        if frame["type"] == kind and str(frame.get("text", "")).startswith(text):
            return got
