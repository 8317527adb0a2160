"""A node killed mid-traffic and started again: the log is replayed; callbacks keep their
place in line; calls and chats whose connections died are closed with reason
system_restart; every contact ends exactly once and the contacts table agrees with the log."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from callcenter.app import create_app
from callcenter.appkeys import CENTER, LOG
from callcenter.config.loader import load_config
from callcenter.core.events import InteractionEvent
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
    config = load_config(ROOT / "config" / "callcenter.yaml")
    app = create_app(replace(config, storage=replace(config.storage, url=url)))
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
        rows = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT contact_id, state, end_reason FROM contacts")}
    assert rows["call-1"] == ("ended", "system_restart") and rows["chat-1"] == ("ended", "system_restart")
    assert rows["cb-1"][0] == "queued" and rows["done"] == ("ended", "abandoned")
    folded = rebuild(events)
    assert {k: (v["state"], v["end_reason"]) for k, v in folded.items()} == rows  # table agrees with the log
