"""The ACD runs inside the server under its single writer: every transition of a contact's
life lands in the interaction log in order, the contacts table agrees, live subscribers
see the events, and a refused input is reported without stopping anything."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from callcenter.acd import model as m
from callcenter.app import create_app
from callcenter.appkeys import BUS, CENTER, LOG
from callcenter.config.loader import load_config

ROOT = Path(__file__).resolve().parents[2]


async def test_a_contact_path_through_the_running_acd_is_logged(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = load_config(ROOT / "config" / "callcenter.yaml")
    db = tmp_path / "cc.db"
    config = replace(config, storage=replace(config.storage, url=f"sqlite+aiosqlite:///{db}"))
    app = create_app(config)
    client = await aiohttp_client(app)
    center = app[CENTER]
    live = app[BUS].subscribe("contact.*")

    await center.submit(m.AgentLoggedIn(agent_id="alice", skills={"cards": 4, "banking": 4}))
    await center.submit(m.AgentReady(agent_id="alice"))
    await center.contact_arrived(contact_id="c-1", channel="voice", queue="cards", caller="+972501234567")
    offer = next(iter(center.engine.offers.values()))
    assert offer.agent_id == "alice"
    await center.submit(m.OfferAccepted(offer_id=offer.offer_id, agent_id="alice"))
    with pytest.raises(m.UnknownOffer):  # answered already: a second accept is refused
        await center.submit(m.OfferAccepted(offer_id=offer.offer_id, agent_id="bob"))
    await center.submit(m.ContactEnded(contact_id="c-1", by="caller"))
    assert (await asyncio.wait_for(live.get(), 2)).topic == "contact.arrived"

    await app[LOG].flush()
    events = [e for e in await app[LOG].read(limit=100) if e.contact_id == "c-1"]
    assert [e.type for e in events] == ["contact.arrived", "contact.queued", "contact.offered",
                                       "contact.connected", "contact.wrap_up", "contact.ended"]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    chain = [(e.context_id, e.parent_id) for e in events]
    assert all(parent == prev for (_, parent), (prev, _) in zip(chain[1:], chain[:-1], strict=False))
    await client.close()

    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT queue, agent_id, state, end_reason, offers FROM contacts WHERE contact_id='c-1'").fetchone()
        agent_states = [r[0] for r in conn.execute(
            "SELECT json_extract(data, '$.state') FROM events WHERE agent_id='alice' AND type='agent.state' ORDER BY seq")]
    assert row == ("cards", "alice", "ended", "completed", 1)
    assert agent_states == ["NOT_READY", "AVAILABLE", "OFFERED", "ON_CONTACT", "WRAP_UP"]
