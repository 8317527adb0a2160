"""One fold for the live view and the reports: the wallboard at the end of a day shows the
day's report, figure for figure, whether the day is the hand-written log (through the bus,
as the server logs it) or a day the real ACD engine ran on a virtual clock; the chart's
points of the hours before a restart are read back from the log."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from demo_center import demo_config

from callcenter.acd.messages import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    ContactAbandoned,
    ContactEnded,
    OfferAccepted,
)
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.core.clock import VirtualClock
from callcenter.runtime.center import Center
from callcenter.runtime.keys import CENTER
from callcenter.supervisor.live_metrics import LIVE

ROOT = Path(__file__).resolve().parents[2]
DAY_START = 1_772_402_400.0  # 2026-03-02 00:00 in Asia/Jerusalem (the demo's zone)
T0 = DAY_START + 8 * 3600
DAY_END = DAY_START + 86400
NOT_FIGURES = {"start", "end", "queue", "agent"}


@pytest.fixture
async def started(aiohttp_client, tmp_path: Path) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    clock = VirtualClock(start=T0 - 3600)
    client = await aiohttp_client(create_app(config, clock=clock))
    return SimpleNamespace(client=client, clock=clock, center=client.server.app[CENTER])


async def board_and_report(started: SimpleNamespace, offered: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Just before midnight: the board once it shows the day report's total (it must get
    there within seconds), and the day's report by queue."""
    started.clock.advance_to(DAY_END - 1)
    client = started.client
    session = aiohttp.ClientSession(
        base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    async with session:
        res = await session.post("/api/v1/auth/login", json={"username": "sam", "password": "sam"})
        assert res.status == 200
        await client.server.app[LOG].flush()
        day = {"from": "2026-03-02", "interval": "day"}
        total = await (await session.get("/api/v1/reports", params=day)).json()
        by_queue = await (await session.get("/api/v1/reports", params={**day, "by": "queue"})).json()
        assert total["total"]["offered"] == offered
        ws = await session.ws_connect("/ws/supervisor")
        frame = await ws.receive_json(timeout=3)
        while frame["today"] != total["total"]:  # the fold may still be reading the bus
            frame = await ws.receive_json(timeout=3)
        await ws.close()
    return frame, by_queue


def queue_rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["queue"]: {k: v for k, v in r.items() if k not in NOT_FIGURES} for r in report["rows"]}


async def test_the_board_at_the_days_end_shows_the_hand_computed_day(started, case: SimpleNamespace) -> None:  # type: ignore[no-untyped-def]
    for event in case.events(T0):
        started.center.record(event)
    frame, by_queue = await board_and_report(started, case.day["offered"])
    case.check(frame["today"], case.day)
    rows = queue_rows(by_queue)
    for q in frame["queues"]:
        assert q["today"] == rows.get(q["name"], {**q["today"], "offered": 0}), q["name"]
    general = next(q for q in frame["queues"] if q["name"] == "general")
    case.check(general["today"], {k: v for k, v in case.general_day.items() if k != "occupancy"})
    assert general["service_level"] == general["today"]["service_level"]


async def test_a_day_of_the_real_engine_on_the_board_equals_its_report(started) -> None:  # type: ignore[no-untyped-def]
    center: Center = started.center
    clock: VirtualClock = started.clock

    async def at(t: float) -> None:
        """Move the clock (the engine's timers fire), then answer every ringing offer."""
        clock.advance_to(T0 + t)
        await center.acd.idle()
        for offer in list(center.engine.offers.values()):
            await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id=offer.agent_id))

    await center.submit(AgentLoggedIn(agent_id="alice", skills={"cards": 4, "banking": 3}))
    await center.submit(AgentLoggedIn(agent_id="bob", skills={"cards": 2, "banking": 3}))
    for agent in ("alice", "bob"):
        await center.submit(AgentReady(agent_id=agent))
    for i, (queue, t) in enumerate(
        [("cards", 0), ("general", 5), ("cards", 8), ("general", 30), ("cards", 40)]
    ):
        await at(t)
        await center.contact_arrived(contact_id=f"c{i}", channel="voice", queue=queue, caller=f"+97250{i}")
    await at(50)
    await center.submit(ContactAbandoned(contact_id="c4"))
    for t in (300, 1300, 2300):  # each agent ends its contact; wrap-up ends by the engine's timer
        await at(t)
        for agent in ("alice", "bob"):
            busy = [c for c in center.engine.agents[agent].contacts]
            for contact in busy:
                await center.submit(ContactEnded(contact_id=contact))
    await at(4000)
    for agent in ("alice", "bob"):
        await center.submit(AgentLoggedOut(agent_id=agent))
    frame, by_queue = await board_and_report(started, 5)
    assert frame["today"]["answered"] == 4 and frame["today"]["abandoned"] == 1
    assert frame["today"]["handled"] == 4 and frame["today"]["occupancy"] is not None
    rows = queue_rows(by_queue)
    for q in frame["queues"]:
        if q["name"] in rows:
            assert q["today"] == rows[q["name"]], q["name"]
    assert {a["agent_id"]: a["handled_today"] for a in frame["agents"]} == {"alice": 2, "bob": 2}


async def test_after_a_restart_the_chart_has_the_hours_before_from_the_log(
    aiohttp_client: Any, tmp_path: Path, case: SimpleNamespace
) -> None:
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    first = await aiohttp_client(create_app(config, clock=VirtualClock(start=T0)))
    for event in case.events(T0):
        first.server.app[LOG].append(event)
    await first.close()
    again = await aiohttp_client(create_app(config, clock=VirtualClock(start=T0 + 2 * 3600)))
    series = {round(p["t"] - T0): p for p in again.server.app[LIVE].series}
    assert min(series) == 60 and max(series) == 2 * 3600  # from the first event on, one a minute, to now
    assert series[360]["queues"]["cards"]["waiting"] == 1 and series[360]["waiting"] == 1  # c3, 300-360
    assert series[1260]["queues"]["general"]["waiting"] == 1  # c7 waits 1200-1500
    assert series[1260]["service_level"] == pytest.approx(3 / (4 + 3 - 1))  # the day so far
    assert series[1260]["queues"]["general"]["service_level"] == pytest.approx(2 / (3 + 1 - 1))  # c2 late
    assert series[7200]["waiting"] == 0 and series[7200]["service_level"] == pytest.approx(
        case.day["service_level"]
    )
