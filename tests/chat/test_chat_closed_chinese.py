"""A closed topic says when it opens in the chat's language: a page in Simplified Chinese
(or any Chinese tag: the chat resolves it to zh-CN) hears the opening in Chinese, an English
one in English, with the same day and time in the center's zone."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from msgspec.structs import replace

from callcenter.app import create_app
from callcenter.config.hours import closed_message
from callcenter.config.sections import HoursConfig
from callcenter.core.clock import VirtualClock
from callcenter.runtime.keys import CENTER
from tests.chat.chat_center import center_config

ROOT = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("Asia/Jerusalem")
OFFICE = HoursConfig(
    timezone="Asia/Jerusalem", weekly={d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
)
SATURDAY_03 = datetime(2026, 12, 5, 3, 0, tzinfo=ZONE).timestamp()


def test_the_closed_words_in_simplified_chinese() -> None:
    monday = "我们现在不在服务时间。星期一 8:00 重新开放。"
    for tag in ("zh-CN", "zh", "zh-Hans", "zh-TW"):
        assert closed_message(OFFICE, SATURDAY_03, tag) == monday
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=ZONE).timestamp()
    assert closed_message(OFFICE, sunday, "zh-CN") == "我们现在不在服务时间。明天 8:00 重新开放。"
    monday_7 = datetime(2026, 12, 7, 7, 0, tzinfo=ZONE).timestamp()
    assert closed_message(OFFICE, monday_7, "zh-CN") == "我们现在不在服务时间。今天 8:00 重新开放。"
    closed_monday = HoursConfig(
        timezone="Asia/Jerusalem", weekly={"mon": ["08:00-18:00"]}, closed_dates=["2026-12-07"]
    )
    assert (
        closed_message(closed_monday, SATURDAY_03, "zh-CN")
        == "我们现在不在服务时间。12月14日星期一 8:00 重新开放。"
    )
    monday_11 = datetime(2026, 12, 7, 11, 0, tzinfo=ZONE).timestamp()
    assert closed_message(OFFICE, monday_11, "zh-CN") == ""


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("zh-CN", "我们现在不在服务时间。星期一 8:00 重新开放。"),
        ("zh-Hans", "我们现在不在服务时间。星期一 8:00 重新开放。"),
        ("en", "We are closed. We open again on Monday at 8:00."),
    ],
)
async def test_a_chinese_chat_at_a_closed_hour_hears_when_it_opens_in_chinese(
    aiohttp_client: Any, tmp_path: Path, language: str, said: str
) -> None:
    flows = tmp_path / "ivr"
    flows.mkdir()
    shutil.copy(ROOT / "config" / "ivr" / "bank.yaml", flows)  # answers the chat id web-bank only
    base = replace(center_config(tmp_path), ivr_dir=str(flows))
    config = replace(base, hours={**base.hours, "bank": OFFICE})
    client = await aiohttp_client(create_app(config, clock=VirtualClock(SATURDAY_03)))
    ws = await client.ws_connect("/ws/chat")
    await ws.send_json({"type": "start", "name": "Noa", "language": language})
    cid = (await ws.receive_json(timeout=5))["contact_id"]
    menu = await ws.receive_json(timeout=5)
    stocks = next(o["key"] for o in menu["options"] if o["label"] == "stock exchange")
    await ws.send_json({"type": "choose", "key": stocks})
    answer = await ws.receive_json(timeout=5)
    assert (answer["type"], answer["text"]) == ("prompt", said)
    assert client.server.app[CENTER].engine.contacts.get(cid) is None  # not left waiting
    await ws.close()
