"""A node killed mid-traffic and started again: the log is replayed; callbacks keep their
place in line; calls and chats whose connections died are closed with reason
system_restart; every contact ends exactly once and the contacts table agrees with the log."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from demo_center import demo_config
from msgspec.structs import replace

from callcenter.acd.messages import AgentLoggedIn, AgentReady
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.core.clock import VirtualClock
from callcenter.core.events import InteractionEvent
from callcenter.runtime.keys import CENTER
from callcenter.storage import database, migrate
from callcenter.storage.log import SqlInteractionLog
from callcenter.storage.projections import rebuild

ROOT = Path(__file__).resolve().parents[2]


def ev(kind: str, at: float, cid: str, queue: str = "general", **data: object) -> InteractionEvent:
    return InteractionEvent(type=kind, at=at, contact_id=cid, queue=queue, data=data)


async def write_crashed_log(url: str) -> None:
    """What a node had written when it was killed with SIGKILL."""
    engine = database.create_engine(url)
    await migrate.upgrade(engine)
    log = SqlInteractionLog(engine)
    await log.start()
    for e in [
        ev("contact.arrived", 100, "call-1", channel="voice", caller="+1"),
        ev("contact.queued", 101, "call-1", channel="voice"),
        ev("contact.arrived", 102, "chat-1", queue="cards", channel="chat", caller="dana@example.com"),
        ev("contact.queued", 103, "chat-1", queue="cards", channel="chat"),
        ev("contact.connected", 110, "chat-1", queue="cards", wait_s=7),
        ev("contact.arrived", 104, "cb-2", channel="voice", caller="+3"),
        ev("contact.queued", 105, "cb-2", channel="voice", attributes={"tier": "regular"}),
        ev("contact.callback_requested", 106, "cb-2", number="+3"),
        ev("contact.arrived", 90, "cb-1", channel="voice", caller="+2"),
        ev("contact.queued", 91, "cb-1", channel="voice", attributes={"tier": "top"}),
        ev("contact.callback_requested", 95, "cb-1", number="+2"),
        ev("contact.arrived", 80, "done", channel="voice", caller="+4"),
        ev("contact.queued", 81, "done", channel="voice"),
        ev("contact.ended", 85, "done", reason="abandoned"),
    ]:
        log.append(e)
    await log.close()
    await engine.dispose()


async def test_restart_replays_the_log_and_loses_nothing(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    await write_crashed_log(url)
    app = create_app(demo_config(url))
    client = await aiohttp_client(app)
    engine = app[CENTER].engine
    assert engine.position("cb-1")[0] == 1 and engine.position("cb-2")[0] == 2  # type: ignore[index]
    assert engine.contacts["cb-1"].channel == "callback"
    assert engine.contacts["cb-1"].attributes["callback_number"] == "+2"
    assert "call-1" not in engine.contacts and "chat-1" not in engine.contacts
    await app[LOG].flush()
    events = await app[LOG].read(limit=1000)
    ended = {e.contact_id: e.data["reason"] for e in events if e.type == "contact.ended"}
    assert ended == {"done": "abandoned", "call-1": "system_restart", "chat-1": "system_restart"}
    recovered = [e for e in events if e.type == "server.recovered"]
    assert recovered[0].data == {"restored": ["cb-1", "cb-2"], "closed": ["call-1", "chat-1"]}
    await client.close()
    with sqlite3.connect(tmp_path / "cc.db") as conn:
        rows = {
            r[0]: (r[1], r[2]) for r in conn.execute("SELECT contact_id, state, end_reason FROM contacts")
        }
    assert rows["call-1"] == ("ended", "system_restart") and rows["chat-1"] == ("ended", "system_restart")
    assert rows["cb-1"][0] == "queued" and rows["done"] == ("ended", "abandoned")
    folded = rebuild(events)
    assert {k: (v["state"], v["end_reason"]) for k, v in folded.items()} == rows  # table agrees with the log


# A restart while the queue is closed ------------------------------------------------------------

SATURDAY_03 = datetime(2026, 12, 12, 3, 0, tzinfo=ZoneInfo("Asia/Jerusalem")).timestamp()  # sales: closed


async def crashed_with_a_sales_callback(url: str) -> None:
    """Friday before two: a caller asked the sales queue to call back; the node died."""
    engine = database.create_engine(url)
    await migrate.upgrade(engine)
    log = SqlInteractionLog(engine)
    await log.start()
    at = SATURDAY_03 - 14 * 3600
    for e in [
        ev("contact.arrived", at, "cb-sales", queue="sales", channel="voice", caller="+15550111"),
        ev(
            "contact.queued",
            at + 1,
            "cb-sales",
            queue="sales",
            channel="voice",
            attributes={"intent": "sales"},
        ),
        ev("contact.callback_requested", at + 30, "cb-sales", queue="sales", number="+15550111"),
    ]:
        log.append(e)
    await log.close()
    await engine.dispose()


async def test_a_callback_accepted_before_a_restart_waits_for_its_closed_queue_to_open(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    await crashed_with_a_sales_callback(url)
    clock = VirtualClock(SATURDAY_03)  # sales keeps the bank's hours: closed until 20:00
    app = create_app(demo_config(url, hours="as configured"), clock=clock)
    client = await aiohttp_client(app)
    engine = app[CENTER].engine
    assert engine.position("cb-sales")[0] == 1  # type: ignore[index]
    assert engine.contacts["cb-sales"].attributes["callback_number"] == "+15550111"
    await app[LOG].flush()
    types = [e.type for e in await app[LOG].read(contact_id="cb-sales")]
    assert "contact.overflowed" not in types and "contact.ended" not in types  # not sent away by on_closed
    # carol (sales) is at her desk when the desk opens: the promise is kept
    await app[CENTER].submit(AgentLoggedIn(agent_id="carol", skills={"sales": 3}))
    await app[CENTER].submit(AgentReady(agent_id="carol"))
    [offer] = engine.offers.values()
    assert offer.contact_id == "cb-sales"
    await client.close()


async def test_a_queue_may_send_restored_callbacks_on_when_it_is_closed(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    await crashed_with_a_sales_callback(url)
    config = demo_config(url, hours="as configured")
    queues = [replace(q, keep_callbacks_when_closed=False) if q.name == "sales" else q for q in config.queues]
    app = create_app(replace(config, queues=queues), clock=VirtualClock(SATURDAY_03))
    client = await aiohttp_client(app)
    assert "cb-sales" not in app[CENTER].engine.contacts
    await app[LOG].flush()
    events = await app[LOG].read(contact_id="cb-sales")
    [overflowed] = [e.data for e in events if e.type == "contact.overflowed"]
    assert overflowed["reason"] == "closed" and overflowed["to"] == "disconnect"
    assert overflowed["message"] == "Our advisers are not available now. They are back today at 20:00."
    assert [e.data["reason"] for e in events if e.type == "contact.ended"] == ["overflow_disconnect"]
    await client.close()
