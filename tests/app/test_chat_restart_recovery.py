"""Restart recovery of chats, in process on a virtual clock: a chat that was with an agent
when the node died goes back at the head of its queue, its offer naming the agent who had
it; the window for the customer to come back counts from the first restart that held the
chat (a second restart does not extend it), and when it is over the chat ends
``abandoned`` (after_restart) and its token is refused. The resume record keeps the
token's SHA-256, never the token."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from demo_center import demo_config

from callcenter.acd.messages import AgentLoggedIn, AgentReady
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.core.clock import VirtualClock
from callcenter.core.events import InteractionEvent
from callcenter.runtime.keys import CENTER
from callcenter.storage import database, migrate
from callcenter.storage.chat_resume import SqlChatResume, token_sha256
from callcenter.storage.log import SqlInteractionLog

T0 = 1_800_000_000.0
WINDOW_S = 600.0


def ev(kind: str, at: float, cid: str, agent: str | None = None, **data: object) -> InteractionEvent:
    return InteractionEvent(type=kind, at=at, contact_id=cid, queue="general", agent_id=agent, data=data)


def arrived(cid: str, at: float) -> list[InteractionEvent]:
    return [
        ev("contact.arrived", at - 1, cid, channel="chat", caller=f"{cid}@example.com"),
        ev("contact.queued", at, cid, channel="chat", priority_class=1, attributes={"topic": "general"}),
    ]


async def crashed(url: str, events: list[InteractionEvent], chats: dict[str, str]) -> None:
    """What a node had written when it was killed: its log and its chats' resume records
    (``chats``: contact id -> token), each with one line of the conversation."""
    engine = database.create_engine(url)
    await migrate.upgrade(engine)
    log = SqlInteractionLog(engine)
    await log.start()
    for e in events:
        log.append(e)
    await log.close()
    resume = SqlChatResume(engine, lambda: T0 - 1)
    resume.start()
    for cid, token in chats.items():
        resume.save(token, cid, {"email": f"{cid}@example.com", "queued": True})
        resume.add_frame(token, 0, {"type": "message", "from": "customer", "text": f"I am {cid}"}, keep=1000)
    await resume.stop()
    await engine.dispose()


async def come_back(client: Any, token: str) -> list[dict[str, Any]]:
    """The customer's page reconnects: the frames up to its place in line (or an error)."""
    ws = await client.ws_connect("/ws/chat")
    await ws.send_json({"type": "start", "resume": token})
    frames = [await ws.receive_json(timeout=5)]
    while frames[-1]["type"] not in ("queued", "error"):
        frames.append(await ws.receive_json(timeout=5))
    await ws.close()
    return frames


async def test_a_chat_with_an_agent_goes_back_at_the_head_of_its_queue(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    talking = [
        *arrived("talk", T0 - 50),
        ev("contact.offered", T0 - 49, "talk", "alice", offer_id="o-1"),
        ev("contact.connected", T0 - 48, "talk", "alice", offer_id="o-1", wait_s=2),
    ]
    await crashed(url, [*arrived("early", T0 - 100), *talking], {"early": "tok-early", "talk": "tok-talk"})
    app = create_app(demo_config(url), clock=VirtualClock(T0))
    client = await aiohttp_client(app)
    early, talk = await come_back(client, "tok-early"), await come_back(client, "tok-talk")
    assert early[-1]["position"] == 1
    assert talk[-1]["position"] == 1  # ahead of the chat that arrived before it
    assert {"type": "message", "from": "customer", "text": "I am talk"} in talk
    center = app[CENTER]
    await center.submit(AgentLoggedIn(agent_id="bob", skills={"banking": 3}))
    await center.submit(AgentReady(agent_id="bob"))
    [offer] = center.engine.offers.values()
    assert offer.contact_id == "talk"
    assert center.engine.contacts["talk"].attributes["previous_agent"] == "alice"
    await client.close()


async def test_the_window_counts_from_the_first_restart_then_the_chat_ends_abandoned(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    await crashed(url, arrived("away", T0 - 30), {"away": "tok-away"})
    first = await aiohttp_client(create_app(demo_config(url), clock=VirtualClock(T0)))
    await first.close()  # stopped again before the customer came back
    with sqlite3.connect(tmp_path / "cc.db") as conn:
        assert list(conn.execute("SELECT token_sha256, held_since FROM chat_resume")) == [
            (token_sha256("tok-away"), T0)
        ]
    clock = VirtualClock(T0 + WINDOW_S - 10)
    app = create_app(demo_config(url), clock=clock)
    client = await aiohttp_client(app)
    clock.advance(9)
    assert (await come_back(client, "tok-away"))[-1]["type"] == "queued"  # still in time
    await client.close()

    # once more, and this time the customer does not come back within the window
    clock = VirtualClock(T0 + WINDOW_S + 100)  # held again since this restart: it came back
    app = create_app(demo_config(url), clock=clock)
    client = await aiohttp_client(app)
    clock.advance(WINDOW_S - 1)
    assert "away" not in app[CENTER].engine.contacts  # kept aside, not offered to anyone
    clock.advance(2)
    await app[LOG].flush()
    ends = [e.data for e in await app[LOG].read(contact_id="away", limit=100) if e.type == "contact.ended"]
    assert ends == [{"reason": "abandoned", "after_restart": True, "was": "waiting"}]
    refused = await come_back(client, "tok-away")
    assert refused[-1]["type"] == "error" and refused[-1]["code"] == "unknown_session"
    await client.close()
    with sqlite3.connect(tmp_path / "cc.db") as conn:
        assert list(conn.execute("SELECT * FROM chat_resume")) == []
        assert list(conn.execute("SELECT state, end_reason FROM contacts")) == [("ended", "abandoned")]
