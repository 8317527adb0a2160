"""The ACD runs inside the server under its single writer: every transition of a contact's
life lands in the interaction log in order, the contacts table agrees, live subscribers
see the events, and a refused input is reported without stopping anything. The CRM is in
the loop: a known caller gets the head start of their tier, a repeat caller with an open
complaint goes to the complaints queue, and the desk's offer carries the screen pop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from demo_center import demo_config

from callcenter.acd.errors import UnknownOffer
from callcenter.acd.messages import AgentLoggedIn, AgentReady, ContactAbandoned, ContactEnded, OfferAccepted
from callcenter.app import create_app
from callcenter.appkeys import BUS, CLOCK, LOG
from callcenter.core.clock import VirtualClock
from callcenter.runtime.keys import CENTER

ROOT = Path(__file__).resolve().parents[2]


async def test_a_contact_path_through_the_running_acd_is_logged(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "cc.db"
    config = demo_config(f"sqlite+aiosqlite:///{db}")
    app = create_app(config)
    client = await aiohttp_client(app)
    center = app[CENTER]
    live = app[BUS].subscribe("contact.*")

    await center.submit(AgentLoggedIn(agent_id="alice", skills={"cards": 4, "banking": 4}))
    await center.submit(AgentReady(agent_id="alice"))
    await center.contact_arrived(contact_id="c-1", channel="voice", queue="cards", caller="+972501234567")
    offer = next(iter(center.engine.offers.values()))
    assert offer.agent_id == "alice"
    await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
    with pytest.raises(UnknownOffer):  # answered already: a second accept is refused
        await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="bob"))
    await center.submit(ContactEnded(contact_id="c-1", by="caller"))
    assert (await asyncio.wait_for(live.get(), 2)).topic == "contact.arrived"

    await app[LOG].flush()
    events = [e for e in await app[LOG].read(limit=100) if e.contact_id == "c-1"]
    assert [e.type for e in events] == [
        "contact.arrived",
        "contact.identified",
        "contact.queued",
        "contact.offered",
        "contact.connected",
        "contact.wrap_up",
        "contact.ended",
    ]  # +972501234567 is the demo's customer
    assert events[1].data["customer_id"] == "cus-demo-0001"
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    chain = [(e.context_id, e.parent_id) for e in events]
    assert all(parent == prev for (_, parent), (prev, _) in zip(chain[1:], chain[:-1], strict=False))
    await client.close()

    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT queue, agent_id, state, end_reason, offers FROM contacts WHERE contact_id='c-1'"
        ).fetchone()
        agent_states = [
            r[0]
            for r in conn.execute(
                "SELECT json_extract(data, '$.state') FROM events WHERE agent_id='alice' AND type='agent.state' ORDER BY seq"
            )
        ]
    assert row == ("cards", "alice", "ended", "completed", 1)
    assert agent_states == ["NOT_READY", "AVAILABLE", "OFFERED", "ON_CONTACT", "WRAP_UP"]


# The CRM in the running center -----------------------------------------------------------

NOW = 1_750_000_000.0  # a Sunday evening in Jerusalem: the bank's queues are open


@pytest.fixture
async def demo(aiohttp_client, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    return await aiohttp_client(create_app(config, clock=VirtualClock(NOW)))


async def desk(client, user: str) -> Any:  # type: ignore[no-untyped-def]
    session = aiohttp.ClientSession(
        base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    assert (await session.post("/api/v1/auth/login", json={"username": user, "password": user})).status == 200
    ws = await session.ws_connect("/ws/desk")
    await ws.send_json({"type": "hello", "protocol": 1})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    ws.session = session  # type: ignore[attr-defined]
    return ws


async def frame_of(ws, type_: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=5)
        if frame["type"] == type_:
            return frame


async def test_a_top_tier_caller_is_offered_first_with_the_customer_on_the_desk(demo) -> None:  # type: ignore[no-untyped-def]
    app = demo.server.app
    center, clock = app[CENTER], app[CLOCK]
    alice = await desk(demo, "alice")
    await center.contact_arrived(
        contact_id="c-stranger", channel="voice", queue="general", caller="+972539999999"
    )
    clock.advance_to(NOW + 30)  # the stranger has waited 30 s when Noa calls, from a national number
    await center.contact_arrived(contact_id="c-noa", channel="voice", queue="general", caller="050-123 4567")
    noa = center.engine.contacts["c-noa"]
    assert center.engine.contacts["c-stranger"].attributes == {"identified": "no"}
    assert (noa.attributes["identified"], noa.attributes["tier"], noa.attributes["open_complaint"]) == (
        "yes",
        "top",
        "yes",
    )
    assert center.engine.position("c-noa")[0] == 1  # first in line: the 90 s head start

    await alice.send_json({"type": "set_state", "id": 1, "state": "ready"})
    offer = await frame_of(alice, "offer")
    assert offer["contact_id"] == "c-noa" and offer["screen_pop_pending"] is False
    pop = offer["screen_pop"]
    assert (pop["customer"]["first_name"], pop["customer"]["name"], pop["customer"]["tier"]) == (
        "Noa",
        "Levi",
        "top",
    )
    assert [t["subject"] for t in pop["open_tickets"]] == ["Card payment declined twice"]
    assert pop["identified"] is True and pop["repeat"] is None
    await alice.close()
    await alice.session.close()


async def test_a_repeat_caller_with_an_open_complaint_goes_to_the_complaints_queue(demo) -> None:  # type: ignore[no-untyped-def]
    app = demo.server.app
    center, clock = app[CENTER], app[CLOCK]
    await center.contact_arrived(
        contact_id="c-first", channel="voice", queue="general", caller="+972501234567"
    )
    assert center.engine.contacts["c-first"].queue == "general"  # not a repeat yet
    await center.submit(ContactAbandoned(contact_id="c-first"))
    await app[LOG].flush()
    clock.advance_to(NOW + 3600)
    await center.contact_arrived(
        contact_id="c-again", channel="voice", queue="general", caller="+972501234567"
    )
    again = center.engine.contacts["c-again"]
    assert again.queue == "complaints" and again.attributes["repeat_contact"] == "yes"
    await center.contact_arrived(contact_id="c-cards", channel="voice", queue="cards", caller="+972501234567")
    assert center.engine.contacts["c-cards"].queue == "cards"  # the rule is for general and english only
    await app[LOG].flush()
    routed = [e for e in await app[LOG].read(contact_id="c-again") if e.type == "contact.crm_routed"]
    assert [(e.data["from_queue"], e.data["to_queue"]) for e in routed] == [("general", "complaints")]
