"""The reports API over the hand-written log stored in a real SQLite log: JSON figures equal
the hand-computed ones, a day's report equals the live fold at the day's end, CSV equals
JSON, bad parameters get a 400 naming the parameter, supervisors only."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from demo_center import demo_config
from desk_socket import logged_in

from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.metrics.fold import MetricsFold
from callcenter.supervisor import web as supervisor_web

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_772_431_200.0  # 2026-03-02 06:00 UTC = 08:00 in Asia/Jerusalem (the demo's zone)
DAY_START = T0 - 8 * 3600  # local midnight
NOT_FIGURES = {"start", "end", "queue", "agent"}


@pytest.fixture
async def client(aiohttp_client, tmp_path: Path, case: SimpleNamespace):  # type: ignore[no-untyped-def]
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    app = create_app(config)
    supervisor_web.install(app)
    client = await aiohttp_client(app)
    for event in case.events(T0):
        app[LOG].append(event)
    await app[LOG].flush()
    return client


async def get_json(session: aiohttp.ClientSession, **query: str) -> tuple[int, Any]:
    res = await session.get("/api/v1/reports", params=query)
    return res.status, await res.json()


async def test_fifteen_minute_report_equals_hand_computed_figures(client, case: SimpleNamespace) -> None:  # type: ignore[no-untyped-def]
    async with await logged_in(client.make_url("/"), "sam") as s:
        status, body = await get_json(
            s, **{"from": "2026-03-02T08:00", "to": "2026-03-02T08:30", "interval": "15"}
        )
    assert status == 200, body
    assert [(r["start"], r["end"]) for r in body["rows"]] == [
        ("2026-03-02T08:00:00+02:00", "2026-03-02T08:15:00+02:00"),
        ("2026-03-02T08:15:00+02:00", "2026-03-02T08:30:00+02:00"),
    ]
    case.check(body["rows"][0], case.interval_1)
    case.check(body["rows"][1], case.interval_2)
    case.check(body["total"], case.day)


async def test_a_days_report_equals_the_live_fold_at_the_days_end(client, case: SimpleNamespace) -> None:  # type: ignore[no-untyped-def]
    live = MetricsFold(service_level_s=case.thresholds)  # the demo config's 20 s for both
    for event in case.events(T0):  # as the bus hands them over, one at a time
        live.apply(event)
    live.advance(DAY_START + 86400)
    async with await logged_in(client.make_url("/"), "sam") as s:
        status, body = await get_json(s, **{"from": "2026-03-02", "to": "2026-03-02", "interval": "day"})
    assert status == 200 and len(body["rows"]) == 1
    row = {k: v for k, v in body["rows"][0].items() if k not in NOT_FIGURES}
    assert row == live.figures(DAY_START, DAY_START + 86400)
    case.check(row, case.day)


async def test_by_queue_filters_and_agents(client, case: SimpleNamespace) -> None:  # type: ignore[no-untyped-def]
    async with await logged_in(client.make_url("/"), "sam") as s:
        _, by_queue = await get_json(
            s, **{"from": "2026-03-02", "to": "2026-03-02", "interval": "day", "by": "queue"}
        )
        _, general = await get_json(s, **{"from": "2026-03-02", "interval": "60", "queue": "general"})
        _, a1 = await get_json(s, **{"from": "2026-03-02", "interval": "day", "agent": "a1"})
    assert [r["queue"] for r in by_queue["rows"]] == ["cards", "general"]
    case.check(by_queue["rows"][1], case.general_day)
    assert len(general["rows"]) == 24 and general["rows"][8]["start"].startswith("2026-03-02T08:00")
    case.check(general["rows"][8], case.general_day)
    assert general["rows"][7]["offered"] == 0 and general["rows"][7]["service_level"] is None
    case.check(a1["total"], case.a1_day)


async def test_csv_equals_json(client) -> None:  # type: ignore[no-untyped-def]
    query = {"from": "2026-03-02T08:00", "to": "2026-03-02T09:00", "interval": "15", "by": "agent"}
    async with await logged_in(client.make_url("/"), "sam") as s:
        _, body = await get_json(s, **query)
        res = await s.get("/api/v1/reports", params={**query, "format": "csv"})
        assert res.status == 200 and res.content_type == "text/csv"
        assert "attachment" in res.headers["Content-Disposition"]
        text = await res.text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(body["rows"]) == 4 * 2
    for got, want in zip(rows, body["rows"], strict=True):
        assert list(got) == list(want)
        for key, value in want.items():
            if value is None:
                assert got[key] == ""
            elif isinstance(value, str):
                assert got[key] == value
            else:
                assert float(got[key]) == pytest.approx(value)


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"from": "2026-03-02T09:00", "to": "2026-03-02T08:00"}, "to", "before"),
        ({"from": "2026-03-02T08:00", "to": "2026-03-02T08:00"}, "to", "empty"),
        ({"from": "2026-01-01", "to": "2026-04-30", "interval": "15"}, "to", "93 days"),
        ({"from": "2026-03-02", "interval": "45"}, "interval", "15, 30, 60"),
        ({"from": "last tuesday"}, "from", "YYYY-MM-DD"),
        ({"from": "2026-03-02", "by": "colour"}, "by", "queue or agent"),
        ({"from": "2026-03-02", "format": "xml"}, "format", "json or csv"),
    ],
)
async def test_bad_parameters_get_a_400_naming_them(
    client: Any, query: dict[str, str], field: str, words: str
) -> None:
    async with await logged_in(client.make_url("/"), "sam") as s:
        status, body = await get_json(s, **query)
    assert status == 400
    assert body["error"]["field"] == field and words in body["error"]["message"]


async def test_a_long_range_at_daily_interval_is_fine(client) -> None:  # type: ignore[no-untyped-def]
    async with await logged_in(client.make_url("/"), "sam") as s:
        status, body = await get_json(s, **{"from": "2026-01-01", "to": "2026-04-30", "interval": "day"})
    assert status == 200 and len(body["rows"]) == 120
    assert body["total"]["offered"] == 8


async def test_supervisors_only(client) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get("/api/v1/reports")).status == 401
    async with await logged_in(client.make_url("/"), "alice") as s:
        status, body = await get_json(s)
        assert status == 403 and body["error"]["field"] == "role"
        page = await s.get("/reports", allow_redirects=False)
        assert page.status == 403
    anonymous = await client.get("/reports", allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"] == "/login?next=/reports"
    async with await logged_in(client.make_url("/"), "sam") as s:
        page = await s.get("/reports")
        assert page.status == 200 and "<title>" in await page.text()
