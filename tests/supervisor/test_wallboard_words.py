"""What the wallboard and the reports say is true: no estimated wait for a queue nobody
waits in; a queue closed by its hours is marked closed with its next opening; an agent's
row names the customer; waiting contacts are counted per channel; a transferred contact is
one contact in the day's totals and an offer in each queue it reached; the board and the
reports carry the center's time zone and its day, taken from the server's clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from demo_center import demo_config

from callcenter.acd.messages import (
    AgentLoggedIn,
    AgentNotReady,
    AgentReady,
    ContactTransferred,
    OfferAccepted,
)
from callcenter.acd.views import QueueSnapshot
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.core.clock import VirtualClock
from callcenter.runtime.keys import CENTER
from callcenter.supervisor.wallboard import waiting_by_channel

ZONE = ZoneInfo("Asia/Jerusalem")  # the demo's wallboard.timezone and its bank calendar
SATURDAY_03 = datetime(2026, 12, 5, 3, 0, tzinfo=ZONE).timestamp()  # the bank's desks are closed
MONDAY_11 = datetime(2026, 12, 7, 11, 0, tzinfo=ZONE).timestamp()  # they are open
NOA = "+972501234567"  # the demo's known caller, Noa Levi


async def board_client(aiohttp_client: Any, tmp_path: Path, now: float) -> Any:
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", hours="as configured")
    return await aiohttp_client(create_app(config, clock=VirtualClock(now)))


async def logged_in(client: Any, user: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(
        base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    res = await session.post("/api/v1/auth/login", json={"username": user, "password": user})
    assert res.status == 200
    return session


async def snapshot(client: Any) -> dict[str, Any]:
    session = await logged_in(client, "sam")
    try:
        ws = await session.ws_connect("/ws/supervisor")
        frame: dict[str, Any] = await ws.receive_json(timeout=3)
        await ws.close()
        return frame
    finally:
        await session.close()


async def accept(center: Any, agent_id: str) -> None:
    offer = next(o for o in center.engine.offers.values() if o.agent_id == agent_id)
    await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id=agent_id))


def queue(frame: dict[str, Any], name: str) -> dict[str, Any]:
    return next(q for q in frame["queues"] if q["name"] == name)


async def test_a_closed_queue_is_marked_closed_with_its_opening_in_the_center_zone(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    client = await board_client(aiohttp_client, tmp_path, SATURDAY_03)
    frame = await snapshot(client)
    assert frame["timezone"] == "Asia/Jerusalem" and frame["today_date"] == "2026-12-05"
    assert frame["server_time"] == SATURDAY_03
    internet = queue(frame, "internet")  # bank hours: Saturday from 20:00
    assert internet["open"] is False
    assert internet["opens_at"] == datetime(2026, 12, 5, 20, 0, tzinfo=ZONE).timestamp()
    general = queue(frame, "general")  # always open
    assert general["open"] is True and general["opens_at"] is None


async def test_at_monday_11_the_bank_queues_are_open(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await board_client(aiohttp_client, tmp_path, MONDAY_11)
    frame = await snapshot(client)
    assert frame["today_date"] == "2026-12-07"
    assert all(q["open"] and q["opens_at"] is None for q in frame["queues"])


async def test_no_estimated_wait_without_anyone_waiting_and_waiting_per_channel(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    client = await board_client(aiohttp_client, tmp_path, MONDAY_11)
    center = client.server.app[CENTER]
    await center.submit(AgentLoggedIn(agent_id="alice", name="Alice Cohen", skills={"banking": 4}))
    await center.submit(AgentReady(agent_id="alice"))  # idle, and nobody waits
    assert center.engine.queue_snapshot("general", MONDAY_11).ewt_s is not None  # the engine's guess
    empty = queue(await snapshot(client), "general")
    assert empty["waiting"] == 0 and empty["agents"]["available"] == 1
    assert empty["ewt_s"] is None and empty["waiting_by_channel"] == {}

    await center.submit(AgentNotReady(agent_id="alice", reason="break"))

    await center.contact_arrived(contact_id="v-1", channel="voice", queue="general", caller="+15550001")
    await center.contact_arrived(contact_id="v-2", channel="voice", queue="general", caller="+15550002")
    await center.contact_arrived(contact_id="ch-1", channel="chat", queue="general", caller="a@example.com")
    general = queue(await snapshot(client), "general")
    assert general["waiting"] == 3
    assert general["ewt_s"] == center.engine.queue_snapshot("general", MONDAY_11).ewt_s
    assert general["waiting_by_channel"] == {"voice": 2, "chat": 1}


def test_the_count_per_channel_is_the_engines_without_empty_channels() -> None:
    """The tile's "1 call · 3 voicemails" is the engine's own count (``waiting_by_channel`` of
    its queue snapshot, which counts voicemails held while the queue is closed)."""
    snap = QueueSnapshot(
        name="q",
        waiting=4,
        longest_wait_s=0.0,
        ewt_s=None,
        agents={},
        waiting_by_channel={"voice": 1, "voicemail": 3, "chat": 0},
    )
    assert waiting_by_channel(snap) == {"voice": 1, "voicemail": 3}


async def test_an_agent_row_names_the_customer(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await board_client(aiohttp_client, tmp_path, MONDAY_11)
    center = client.server.app[CENTER]
    await center.submit(AgentLoggedIn(agent_id="alice", name="Alice Cohen", skills={"banking": 4}))
    await center.submit(AgentLoggedIn(agent_id="bob", name="Bob Levi", skills={"banking": 3}))
    await center.contact_arrived(contact_id="c-noa", channel="voice", queue="general", caller=NOA)
    await center.submit(AgentReady(agent_id="alice"))
    await accept(center, "alice")
    await center.contact_arrived(contact_id="c-anon", channel="voice", queue="general", caller="+15550199")
    await center.submit(AgentReady(agent_id="bob"))
    await accept(center, "bob")
    rows = {a["agent_id"]: a for a in (await snapshot(client))["agents"]}
    assert rows["alice"]["contact_id"] == "c-noa" and rows["alice"]["customer"] == "Noa Levi"
    assert rows["bob"]["contact_id"] == "c-anon" and rows["bob"]["customer"] == "+15550199"


async def test_a_transferred_contact_is_one_contact_and_an_offer_in_each_queue(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    client = await board_client(aiohttp_client, tmp_path, MONDAY_11)
    app = client.server.app
    center = app[CENTER]
    await center.submit(
        AgentLoggedIn(agent_id="alice", name="Alice Cohen", skills={"banking": 4, "cards": 3})
    )
    await center.submit(AgentReady(agent_id="alice"))
    await center.contact_arrived(contact_id="t-1", channel="voice", queue="general", caller="+15550123")
    await accept(center, "alice")
    await center.submit(ContactTransferred(contact_id="t-1", by_agent="alice", to_queue="cards"))
    await app[LOG].flush()

    frame = await snapshot(client)
    assert frame["today"]["contacts"] == 1 and frame["today"]["offered"] == 2
    assert queue(frame, "general")["offered_today"] == 1 and queue(frame, "cards")["offered_today"] == 1
    assert queue(frame, "cards")["waiting"] == 1

    session = await logged_in(client, "sam")
    try:
        res = await session.get("/api/v1/reports", params={"interval": "day", "by": "queue"})
        report = await res.json()
    finally:
        await session.close()
    assert res.status == 200 and report["today"] == "2026-12-07" and report["timezone"] == "Asia/Jerusalem"
    assert report["from"].startswith("2026-12-07T00:00")  # the server's today, in the center's zone
    assert report["total"]["contacts"] == 1 and report["total"]["offered"] == 2
    per_queue = {r["queue"]: r for r in report["rows"]}
    assert per_queue["general"]["offered"] == 1 and per_queue["cards"]["offered"] == 1
    assert "once in each queue" in report["counting"]


async def test_the_staffing_api_says_its_zone_and_the_center_day(aiohttp_client: Any, tmp_path: Path) -> None:
    early_monday = datetime(2026, 12, 7, 1, 30, tzinfo=ZONE).timestamp()  # still Sunday 23:30 in UTC
    client = await board_client(aiohttp_client, tmp_path, early_monday)
    session = await logged_in(client, "sam")
    try:
        res = await session.get("/api/v1/staffing")
        body = await res.json()
    finally:
        await session.close()
    assert res.status == 200
    assert (body["timezone"], body["today"], body["date"]) == ("Asia/Jerusalem", "2026-12-07", "2026-12-08")
