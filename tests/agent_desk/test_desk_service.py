"""An agent's day over the real desk WebSocket, logged in through the real login route:
ready, an offer arrives, accept, note, disposition, ticket, end, wrap-up, ready; and the
refusals (not logged in, someone else's contact, bad values) that change nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from demo_center import demo_config

from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.runtime.keys import CENTER

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def app_client(aiohttp_client, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    return await aiohttp_client(create_app(config))


async def desk(client, user: str) -> Any:  # type: ignore[no-untyped-def]
    session = aiohttp.ClientSession(
        base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    res = await session.post("/api/v1/auth/login", json={"username": user, "password": user})
    assert res.status == 200
    ws: Any = await session.ws_connect("/ws/desk")  # Any: it carries the test's bookkeeping below
    await ws.send_json({"type": "hello", "protocol": 1})
    welcome = await ws.receive_json(timeout=5)
    assert welcome["type"] == "welcome"
    ws.session, ws.welcome, ws.n, ws.backlog = session, welcome, 0, []
    return ws


async def ask(ws, type_: str, **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ws.n += 1
    await ws.send_json({"type": type_, "id": ws.n, **fields})
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame.get("id") == ws.n:
            return frame  # type: ignore[no-any-return]
        ws.backlog.append(frame)  # events that came first are kept for until()


async def until(ws, type_: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    while True:
        frame = ws.backlog.pop(0) if ws.backlog else await ws.receive_json(timeout=5)
        if frame["type"] == type_:
            return frame  # type: ignore[no-any-return]


async def test_an_agent_answers_a_contact_from_the_desk(app_client) -> None:  # type: ignore[no-untyped-def]
    app = app_client.server.app
    alice = await desk(app_client, "alice")
    assert alice.welcome["state"] == "NOT_READY" and "complaint" in alice.welcome["dispositions"]
    assert (await ask(alice, "set_state", state="ready"))["state"] == "AVAILABLE"
    await app[CENTER].contact_arrived(
        contact_id="c-1", channel="voice", queue="cards", caller="+972501234567"
    )
    offer = await until(alice, "offer")
    assert offer["contact_id"] == "c-1" and "alice" in offer["trace"]
    assert (await ask(alice, "accept", offer_id=offer["offer_id"]))["type"] == "ack"
    assert (await until(alice, "contact"))["status"] == "connected"
    assert (await ask(alice, "note", contact_id="c-1", text="lost card in Haifa"))["type"] == "ack"
    bad = await ask(alice, "disposition", contact_id="c-1", code="sunny")
    assert bad["code"] == "bad_field" and bad["field"] == "code"
    ticket = await ask(alice, "create_ticket", contact_id="c-1", kind="follow-up", subject="send new card")
    assert ticket["type"] == "ack" and ticket["ticket_id"]
    assert (await ask(alice, "end", contact_id="c-1"))["type"] == "ack"
    assert (await until(alice, "state"))["state"] in ("WRAP_UP", "AVAILABLE")
    assert (await ask(alice, "disposition", contact_id="c-1", code="resolved"))["type"] == "ack"  # in wrap-up
    await ask(alice, "wrap_up_done")
    await app[LOG].flush()
    kinds = [e.type for e in await app[LOG].read(contact_id="c-1")]
    for kind in (
        "contact.offered",
        "contact.connected",
        "contact.note",
        "ticket.created",
        "contact.ended",
        "contact.disposition",
    ):
        assert kind in kinds
    await alice.close()
    await alice.session.close()


async def test_an_agent_cannot_touch_another_agents_contact(app_client) -> None:  # type: ignore[no-untyped-def]
    app = app_client.server.app
    alice, dan = await desk(app_client, "alice"), await desk(app_client, "dan")
    await ask(alice, "set_state", state="ready")
    await app[CENTER].contact_arrived(contact_id="c-2", channel="voice", queue="cards", caller="+97250000")
    offer = await until(alice, "offer")
    refused = await ask(dan, "accept", offer_id=offer["offer_id"])
    assert refused["code"] == "not_yours"
    await ask(alice, "accept", offer_id=offer["offer_id"])
    for msg in ({"type": "note", "text": "mine now"}, {"type": "end"}, {"type": "hold"}):
        kind = msg.pop("type")
        answer = await ask(dan, kind, contact_id="c-2", **msg)
        assert answer["code"] == "forbidden", answer
    assert app[CENTER].engine.contacts["c-2"].agent_id == "alice"
    for ws in (alice, dan):
        await ws.close()
        await ws.session.close()


async def test_the_desk_needs_a_login(app_client) -> None:  # type: ignore[no-untyped-def]
    ws = await app_client.ws_connect("/ws/desk")
    msg = await ws.receive(timeout=5)
    assert msg.type == WSMsgType.CLOSE and msg.data == 4401
    page = await app_client.get("/desk", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"] == "/login?next=/desk"


async def test_a_desk_that_never_comes_back_gives_its_offer_back(app_client) -> None:  # type: ignore[no-untyped-def]
    app = app_client.server.app
    from callcenter.agent_desk.routes import HUB

    app[HUB].grace_s = 0.2
    alice = await desk(app_client, "alice")
    await ask(alice, "set_state", state="ready")
    await app[CENTER].contact_arrived(contact_id="c-3", channel="voice", queue="cards", caller="+97250001")
    await until(alice, "offer")
    await alice.close()
    await alice.session.close()
    for _ in range(100):
        if app[CENTER].engine.agents["alice"].reason == "disconnected":
            break
        await asyncio.sleep(0.02)
    assert app[CENTER].engine.agents["alice"].reason == "disconnected"
    assert app[CENTER].engine.contacts["c-3"].state == "waiting"  # kept its place, not lost
