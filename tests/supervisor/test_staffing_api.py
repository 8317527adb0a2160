"""Staffing: the forecast is the mean of the same weekday over the four weeks before (cut in
local time, across a daylight-saving change), the patience comes from the log's abandons,
agents come from Erlang C and A; an uploaded CSV forecast; bad input named."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from demo_center import demo_config

from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.core.events import InteractionEvent
from callcenter.supervisor import web as supervisor_web

ROOT = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("Asia/Jerusalem")  # the demo config's; clocks go forward on 2026-03-27
MONDAYS = ["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23"]  # before Monday 2026-03-30
AT_NINE = [4, 2, 6, 4]  # answered contacts 09:00-10:00: mean 4
AT_TEN = [2, 1, 1, 1]  # 10:00-11:00 (week 1: one of the two abandons after 100 s): mean 1.25


def local(day: str, hour: int, minute: int = 0) -> float:
    d = datetime.fromisoformat(day)
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=ZONE).timestamp()


def answered(cid: str, at: float) -> list[InteractionEvent]:
    def ev(kind: str, t: float, **data: Any) -> InteractionEvent:
        return InteractionEvent(
            type=kind, at=at + t, contact_id=cid, queue="general", agent_id="a1", data=data
        )

    return [
        ev("contact.arrived", 0, caller=cid),
        ev("contact.queued", 0),
        ev("contact.connected", 10),
        ev("contact.wrap_up", 180, talk_s=170.0),
        ev("contact.ended", 180, reason="completed"),
    ]


def four_weeks() -> list[InteractionEvent]:
    events: list[InteractionEvent] = []
    for w, day in enumerate(MONDAYS):
        for i in range(AT_NINE[w]):
            events += answered(f"w{w}-9-{i}", local(day, 9, 5 * i))
        events += answered(f"w{w}-10", local(day, 10, 30))
    t = local(MONDAYS[0], 10, 40)
    events += [
        InteractionEvent(
            type="contact.arrived", at=t, contact_id="gone", queue="general", data={"caller": "x"}
        ),
        InteractionEvent(type="contact.queued", at=t, contact_id="gone", queue="general"),
        InteractionEvent(
            type="contact.ended", at=t + 100, contact_id="gone", queue="general", data={"reason": "abandoned"}
        ),
    ]
    events += answered("tuesday", local("2026-03-24", 9))  # another weekday: not counted
    events += answered("same-day", local("2026-03-30", 9))  # the day itself: not counted
    return sorted(events, key=lambda e: e.at)


@pytest.fixture
async def session(aiohttp_client, tmp_path: Path):  # type: ignore[no-untyped-def]
    app = create_app(demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"))
    supervisor_web.install(app)
    client = await aiohttp_client(app)
    for event in four_weeks():
        app[LOG].append(event)
    await app[LOG].flush()
    s = aiohttp.ClientSession(base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True))
    res = await s.post("/api/v1/auth/login", json={"username": "sam", "password": "sam"})
    s.headers["X-CSRF-Token"] = (await res.json())["csrf_token"]
    yield s
    await s.close()


async def test_forecast_from_the_same_weekday_of_four_weeks(session: aiohttp.ClientSession) -> None:
    res = await session.get("/api/v1/staffing", params={"date": "2026-03-30", "target": "0.8", "t": "20"})
    body = await res.json()
    assert res.status == 200, body
    assert body["source"] == "log" and body["days_averaged"] == MONDAYS
    rows = {r["start"]: r for r in body["rows"]}
    assert len(rows) == 24 and rows["09:00"]["calls"] == 4.0 and rows["10:00"]["calls"] == 1.25
    assert sum(r["calls"] for r in body["rows"]) == 5.25
    assert rows["09:00"]["aht_s"] == 170.0 and rows["03:00"]["aht_s"] == 170.0  # the days' mean
    # waits: 20 answered x 10 s + one abandon after 100 s, over 1 abandon
    assert body["patience_s"] == 300.0
    # 09:00: load 4 x 170 / 3600 = 0.189; one agent: P(wait) = 0.189,
    # SL = 1 - 0.189 exp(-(1 - 0.189) 20 / 170) = 0.828 >= 0.8
    nine = rows["09:00"]
    assert nine["load_erlangs"] == pytest.approx(4 * 170 / 3600)
    assert nine["erlang_c"]["agents"] == 1 and nine["erlang_c"]["service_level"] == pytest.approx(
        0.8279, abs=1e-3
    )
    assert nine["erlang_a"]["agents"] == 1 and 0 < nine["erlang_a"]["p_abandon"] < 0.1
    assert rows["03:00"]["erlang_c"]["agents"] == 0
    assert body["summary"]["erlang_c"]["peak_agents"] == 1


async def test_a_queue_without_traffic_needs_nobody(session: aiohttp.ClientSession) -> None:
    body = await (
        await session.get(
            "/api/v1/staffing", params={"date": "2026-03-30", "queue": "cards", "interval": "30"}
        )
    ).json()
    assert len(body["rows"]) == 48 and all(
        r["calls"] == 0 and r["erlang_c"]["agents"] == 0 for r in body["rows"]
    )
    assert body["patience_s"] is None and all(r["erlang_a"] is None for r in body["rows"])


async def test_an_uploaded_forecast(session: aiohttp.ClientSession) -> None:
    csv_text = "interval,calls,aht\n08:00,100,180\n08:30,200\n"
    res = await session.post(
        "/api/v1/staffing",
        params={"interval": "30", "target": "0.8", "t": "20", "date": "2026-03-30"},
        data=csv_text,
    )
    body = await res.json()
    assert res.status == 200, body
    assert body["source"] == "csv" and [r["start"] for r in body["rows"]] == ["08:00", "08:30"]
    first = body["rows"][0]  # 10 Erlangs: 13 agents give 0.7956, 14 give 0.8884 (README)
    assert first["load_erlangs"] == 10.0 and first["erlang_c"]["agents"] == 14
    assert first["erlang_c"]["service_level"] == pytest.approx(0.8884, abs=1e-4)
    assert body["rows"][1]["aht_s"] == 180.0 and body["patience_s"] == 300.0  # from the log
    assert first["erlang_a"]["agents"] <= 14
    res = await session.post(
        "/api/v1/staffing",
        params={"interval": "30", "patience": "300", "date": "2026-03-30"},
        data="08:00,100,180\n",
    )
    assert (await res.json())["rows"][0]["erlang_a"]["service_level"] >= 0.8


@pytest.mark.parametrize(
    ("method", "query", "body", "field"),
    [
        ("POST", {"interval": "30"}, "08:10,5\n", "csv line 1"),
        ("POST", {"interval": "30"}, "08:00,lots\n", "csv line 1"),
        ("POST", {"interval": "30"}, "08:00,5\n08:00,6\n", "csv line 2"),
        ("POST", {"interval": "30"}, "\n", "csv"),
        ("GET", {"target": "1.5"}, None, "target"),
        ("GET", {"interval": "45"}, None, "interval"),
        ("GET", {"queue": "nope"}, None, "queue"),
        ("GET", {"date": "tomorrow"}, None, "date"),
        ("GET", {"patience": "-1"}, None, "patience"),
    ],
)
async def test_bad_input_is_named(
    session: aiohttp.ClientSession, method: str, query: dict[str, str], body: str | None, field: str
) -> None:
    res = await session.request(method, "/api/v1/staffing", params=query, data=body)
    assert res.status == 400
    assert (await res.json())["error"]["field"] == field


async def test_the_staffing_page_is_for_supervisors(session: aiohttp.ClientSession) -> None:
    page = await session.get("/staffing")
    assert page.status == 200 and "Staffing" in await page.text()
