"""The wallboard feed for supervisors: a snapshot on connect, then an update within a
second when a contact joins a queue and when an agent changes state; today's figures;
force-state actions logged with who did them; agents are kept out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from demo_center import demo_config

from callcenter.acd.messages import AgentLoggedIn, AgentReady, ContactAbandoned, OfferAccepted
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.runtime.keys import CENTER

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def app_client(aiohttp_client, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    return await aiohttp_client(create_app(config))


async def logged_in(client, user: str) -> tuple[aiohttp.ClientSession, str]:  # type: ignore[no-untyped-def]
    session = aiohttp.ClientSession(
        base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    res = await session.post("/api/v1/auth/login", json={"username": user, "password": user})
    return session, (await res.json())["csrf_token"]


async def next_update(ws, predicate) -> tuple[dict[str, Any], float]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while True:
        frame = await ws.receive_json(timeout=3)
        if predicate(frame):
            return frame, time.monotonic() - started


def queue(frame: dict[str, Any], name: str) -> dict[str, Any]:
    return next(q for q in frame["queues"] if q["name"] == name)


async def test_the_board_follows_events_within_a_second(app_client) -> None:  # type: ignore[no-untyped-def]
    app = app_client.server.app
    center = app[CENTER]
    session, _ = await logged_in(app_client, "sam")
    ws = await session.ws_connect("/ws/supervisor")
    snapshot = await ws.receive_json(timeout=3)
    assert snapshot["type"] == "snapshot" and queue(snapshot, "cards")["waiting"] == 0

    await center.contact_arrived(contact_id="c-1", channel="voice", queue="cards", caller="+1")
    frame, delay = await next_update(ws, lambda f: queue(f, "cards")["waiting"] == 1)
    assert delay < 1.0

    await center.submit(AgentLoggedIn(agent_id="alice", skills={"cards": 4}))
    frame, delay = await next_update(ws, lambda f: any(a["agent_id"] == "alice" for a in f["agents"]))
    assert delay < 1.0 and queue(frame, "cards")["agents"]["not_ready"] == 1

    await center.submit(AgentReady(agent_id="alice"))
    offer = next(iter(center.engine.offers.values()))
    await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
    frame, delay = await next_update(ws, lambda f: queue(f, "cards")["answered_today"] == 1)
    cards = queue(frame, "cards")
    assert (
        delay < 1.0
        and cards["waiting"] == 0
        and cards["service_level"] == 1.0
        and cards["offered_today"] == 1
    )
    alice = next(a for a in frame["agents"] if a["agent_id"] == "alice")
    assert alice["state"] == "ON_CONTACT" and alice["contact_id"] == "c-1"
    await ws.close()
    await session.close()


async def test_force_state_is_logged_with_who_did_it(app_client) -> None:  # type: ignore[no-untyped-def]
    app = app_client.server.app
    await app[CENTER].submit(AgentLoggedIn(agent_id="bob", skills={"banking": 3}))
    session, csrf = await logged_in(app_client, "sam")
    url = "/api/v1/supervisor/agents/bob/state"
    ok = await session.post(url, json={"state": "ready"}, headers={"X-CSRF-Token": csrf})
    assert ok.status == 200 and (await ok.json())["state"] == "AVAILABLE"
    bad = await session.post(
        url, json={"state": "not_ready", "reason": "nap"}, headers={"X-CSRF-Token": csrf}
    )
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "reason"
    ghost = await session.post(
        "/api/v1/supervisor/agents/ghost/state", json={"state": "ready"}, headers={"X-CSRF-Token": csrf}
    )
    assert ghost.status == 404
    await app[LOG].flush()
    actions = [e for e in await app[LOG].read(limit=500) if e.type == "supervisor.action"]
    assert [(a.agent_id, a.data["by"], a.data["state"]) for a in actions] == [("bob", "sam", "ready")]
    await session.close()


async def test_agents_cannot_watch_or_act(app_client) -> None:  # type: ignore[no-untyped-def]
    session, csrf = await logged_in(app_client, "alice")
    ws = await session.ws_connect("/ws/supervisor")
    msg = await ws.receive(timeout=3)
    assert msg.type == WSMsgType.CLOSE and msg.data == 4403
    res = await session.post(
        "/api/v1/supervisor/agents/bob/state", json={"state": "ready"}, headers={"X-CSRF-Token": csrf}
    )
    assert res.status == 403
    await session.close()


async def test_supervisors_move_and_prioritise_waiting_contacts(app_client) -> None:  # type: ignore[no-untyped-def]
    app = app_client.server.app
    center = app[CENTER]
    for i in range(3):
        await center.contact_arrived(contact_id=f"w-{i}", channel="voice", queue="general", caller=f"+{i}")
    session, csrf = await logged_in(app_client, "sam")
    headers = {"X-CSRF-Token": csrf}
    up = await session.post(
        "/api/v1/supervisor/contacts/w-2/priority", json={"priority_class": 0}, headers=headers
    )
    assert up.status == 200 and (await up.json())["position"] == 1
    moved = await session.post(
        "/api/v1/supervisor/contacts/w-1/move", json={"to_queue": "english"}, headers=headers
    )
    assert moved.status == 200 and (await moved.json())["queue"] == "english"
    bad = await session.post(
        "/api/v1/supervisor/contacts/w-0/move", json={"to_queue": "nowhere"}, headers=headers
    )
    assert bad.status == 400 and "unknown queue" in (await bad.json())["error"]["message"]
    await center.submit(ContactAbandoned(contact_id="w-0"))
    gone = await session.post(
        "/api/v1/supervisor/contacts/w-0/priority", json={"head_start_s": 60}, headers=headers
    )
    assert gone.status == 409 and "already ended" in (await gone.json())["error"]["message"]
    gone = await session.post(
        "/api/v1/supervisor/contacts/w-0/move", json={"to_queue": "cards"}, headers=headers
    )
    assert gone.status == 409 and "already ended" in (await gone.json())["error"]["message"]
    assert "w-0" not in center.engine.contacts and center.engine.queue_snapshot("cards", 0.0).waiting == 0
    field = await session.post(
        "/api/v1/supervisor/contacts/w-2/priority", json={"priority_class": "high"}, headers=headers
    )
    assert field.status == 400 and (await field.json())["error"]["field"] == "priority_class"
    await app[LOG].flush()
    actions = [
        (e.contact_id, e.data["action"], e.data["by"])
        for e in await app[LOG].read(limit=500)
        if e.type == "supervisor.action"
    ]
    assert actions == [("w-2", "priority", "sam"), ("w-1", "move", "sam")]
    await session.close()


async def test_a_skills_change_routes_at_once_and_is_logged_with_who_did_it(app_client) -> None:  # type: ignore[no-untyped-def]
    app = app_client.server.app
    center = app[CENTER]
    await center.submit(AgentLoggedIn(agent_id="dana", skills={"english": 2}))
    await center.submit(AgentReady(agent_id="dana"))
    await center.contact_arrived(contact_id="lost-card", channel="voice", queue="cards", caller="+9725")
    assert center.engine.offers == {}  # nobody with cards or banking: the contact waits
    session, csrf = await logged_in(app_client, "sam")
    headers = {"X-CSRF-Token": csrf}
    url = "/api/v1/supervisor/agents/dana/skills"
    for body, field in [
        ({"skills": {"cards": 9}}, "skills.cards"),
        ({"skills": {"karate": 2}}, "skills.karate"),
        ({"skills": ["cards"]}, "skills"),
        ({"skills": {"cards": True}}, "skills.cards"),
    ]:
        bad = await session.post(url, json=body, headers=headers)
        assert bad.status == 400 and (await bad.json())["error"]["field"] == field, body
    assert center.engine.agents["dana"].skills == {"english": 2} and center.engine.offers == {}
    ghost = await session.post(
        "/api/v1/supervisor/agents/ghost/skills", json={"skills": {"cards": 2}}, headers=headers
    )
    assert ghost.status == 404
    ok = await session.post(url, json={"skills": {"english": 2, "cards": 4}}, headers=headers)
    assert ok.status == 200 and (await ok.json())["skills"] == {"english": 2, "cards": 4}
    offer = next(iter(center.engine.offers.values()))
    assert (offer.agent_id, offer.contact_id) == ("dana", "lost-card")
    ws = await session.ws_connect("/ws/supervisor")
    snapshot = await ws.receive_json(timeout=3)
    dana = next(a for a in snapshot["agents"] if a["agent_id"] == "dana")
    assert dana["skills"] == {"english": 2, "cards": 4} and "cards" in snapshot["skills"]
    await ws.close()
    await app[LOG].flush()
    logged = await app[LOG].read(limit=500)
    actions = [
        (e.agent_id, e.data["action"], e.data["by"], e.data["before"], e.data["skills"])
        for e in logged
        if e.type == "supervisor.action"
    ]
    assert actions == [("dana", "skills", "sam", {"english": 2}, {"english": 2, "cards": 4})]
    assert [e.data["by"] for e in logged if e.type == "agent.skills_changed"] == ["sam"]
    agent_session, agent_csrf = await logged_in(app_client, "alice")
    refused = await agent_session.post(
        url, json={"skills": {"cards": 5}}, headers={"X-CSRF-Token": agent_csrf}
    )
    assert refused.status == 403 and center.engine.agents["dana"].skills == {"english": 2, "cards": 4}
    await agent_session.close()
    await session.close()
