"""Ten kill -9 restarts under a steady load of chats and callbacks (``slow``): a real
``callcenter serve`` process on loopback, two agents answering as they can, five new chats
a round and two callbacks left in the log between rounds (as a node with telephony would
have written them). Each round ends with a SIGKILL; after it, the customers come back with
their resume tokens, except one in five who never does. At the end every contact has
ended exactly once, none is lost, no agent is stuck, every customer who came back resumed,
and the contacts table agrees with the log. Prints its figures."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from pathlib import Path

import aiohttp
import pytest
from desk_socket import Desk

from callcenter.core.events import InteractionEvent
from callcenter.storage import database
from callcenter.storage.log import SqlInteractionLog
from callcenter.storage.projections import rebuild
from tests.app.chat_restart import Page, ends, query, wait_for, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROUNDS = 10
CHATS_PER_ROUND = 5
CALLBACKS_PER_ROUND = 2
WINDOW_S = 8.0


async def agent_works(desk: Desk, handled: list[str]) -> None:
    """Answer each offer after a moment and end the contact: until the server goes away."""
    with contextlib.suppress(Exception):
        while True:
            offer = await desk.until("offer", timeout=60)
            await asyncio.sleep(0.3)
            if (await desk.ask("accept", offer_id=offer["offer_id"]))["type"] == "ack":
                await asyncio.sleep(0.2)
                if (await desk.ask("end", contact_id=offer["contact_id"]))["type"] == "ack":
                    handled.append(offer["contact_id"])


async def read_out(page: Page) -> None:
    """Every frame the page got before its socket closed."""
    with contextlib.suppress(Exception):
        while True:
            msg = await page.ws.receive(timeout=2)
            if msg.type != aiohttp.WSMsgType.TEXT:
                return
            page.frames.append(json.loads(msg.data))


def written(db: Path, ids: set[str]) -> bool:
    """The chats are in the log and their resume records in the database."""
    records = {r[0] for r in query(db, "SELECT contact_id FROM chat_resume WHERE queued = 1")}
    logged = {r[0] for r in query(db, "SELECT contact_id FROM contacts WHERE state != 'arrived'")}
    return ids <= records and ids <= logged


def ended(page: Page) -> bool:
    return any(f["type"] == "ended" for f in page.frames)


async def leave_callbacks(db: Path, round_no: int) -> list[str]:
    """Callbacks a node with telephony would have logged before it died."""
    engine = database.create_engine(f"sqlite+aiosqlite:///{db}")
    log = SqlInteractionLog(engine)
    await log.start()
    ids = []
    at = float(1_800_000_000 + round_no * 10)
    for i in range(CALLBACKS_PER_ROUND):
        cid = f"cb-{round_no}-{i}"
        ids.append(cid)
        for kind, data in (
            ("contact.arrived", {"channel": "voice", "caller": f"+1555{round_no:03d}{i}"}),
            ("contact.queued", {"channel": "voice", "priority_class": 1}),
            ("contact.callback_requested", {"number": f"+1555{round_no:03d}{i}"}),
        ):
            log.append(InteractionEvent(type=kind, at=at + i, contact_id=cid, queue="general", data=data))
    await log.close()
    await engine.dispose()
    return ids


async def test_ten_kill_9_restarts_under_load_lose_nothing(tmp_path: Path) -> None:
    node = write_config(tmp_path, window_s=WINDOW_S, ring_time_s=5.0)
    db = tmp_path / "cc.db"
    pages: list[Page] = []
    absent: set[str] = set()
    absent_pages: list[Page] = []
    came_back = resumed = 0
    callbacks: list[str] = []
    handled: list[str] = []
    async with aiohttp.ClientSession() as http:
        try:
            for round_no in range(ROUNDS + 1):
                node.start()
                await node.wait_healthy(http)
                for page in list(pages):  # the customers whose chats were still open come back
                    if ended(page) or page.contact_id in absent:
                        continue
                    came_back += 1
                    back = await Page.resume(http, node.url, page.token)
                    assert back.frames[0]["type"] == "session", (page.contact_id, back.frames[0])
                    resumed += 1
                    back.contact_id = page.contact_id
                    pages[pages.index(page)] = back
                desks = [await Desk.open(node.url, a) for a in ("alice", "bob")]
                for desk in desks:
                    await desk.ask("set_state", state="ready")
                workers = [asyncio.create_task(agent_works(d, handled)) for d in desks]
                if round_no == ROUNDS:
                    break  # the last start: drain everything
                new = [
                    await Page.start(http, node.url, f"r{round_no}c{i}@example.com", waits=False)
                    for i in range(CHATS_PER_ROUND)
                ]
                pages.extend(new)
                absent.add(new[0].contact_id)  # one in five never comes back
                absent_pages.append(new[0])
                ids = {p.contact_id for p in new}
                await wait_for(functools.partial(written, db, ids), "this round's chats written")
                await asyncio.sleep(0.5)  # the agents at work
                node.kill()
                for task in workers:
                    task.cancel()
                for desk in desks:
                    with contextlib.suppress(Exception):
                        await desk.close()
                for page in pages:
                    await read_out(page)
                    await page.close()
                callbacks += await leave_callbacks(db, round_no)

            def all_over() -> bool:
                return not query(db, "SELECT 1 FROM contacts WHERE state != 'ended'")

            await wait_for(all_over, "every contact ended", timeout=WINDOW_S + 60)
            await asyncio.sleep(0.5)
            for task in workers:
                task.cancel()
            for desk in desks:
                await desk.close()
            for page in pages:
                await page.close()
        finally:
            node.stop()
    assert node.proc is not None and node.proc.returncode == 0, node.log_path.read_text()[-3000:]

    started = {p.contact_id for p in pages}
    every_end = ends(db)
    known = {r[0] for r in query(db, "SELECT contact_id FROM contacts")}
    lost = (started | set(callbacks)) - set(every_end)
    duplicated = {c: r for c, r in every_end.items() if len(r) > 1}
    last_state: dict[str, str] = {}
    for agent, data in query(db, "SELECT agent_id, data FROM events WHERE type = 'agent.state' ORDER BY seq"):
        last_state[agent] = json.loads(data)["state"]
    stuck = {a: s for a, s in last_state.items() if s in ("OFFERED", "ON_CONTACT", "WRAP_UP")}
    reasons: dict[str, int] = {}
    for r in every_end.values():
        reasons[r[0]] = reasons.get(r[0], 0) + 1
    engine = database.create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        events = await SqlInteractionLog(engine).read(limit=1_000_000)
    finally:
        await engine.dispose()
    table = {r[0]: (r[1], r[2]) for r in query(db, "SELECT contact_id, state, end_reason FROM contacts")}
    print(
        f"\nchat restart soak: {ROUNDS} kill -9 restarts, {len(started)} chats, {len(callbacks)} callbacks, "
        f"{len(known)} contacts; lost {len(lost)}, duplicated {len(duplicated)}, agents stuck {len(stuck)}; "
        f"customers came back {came_back}, resumed {resumed}; handled by agents {len(set(handled))}; "
        f"ends by reason {dict(sorted(reasons.items()))}"
    )
    assert not lost and not duplicated and not stuck
    assert resumed == came_back > 0
    assert all(every_end[p.contact_id] == ["abandoned"] for p in absent_pages if not ended(p))
    assert "system_restart" not in reasons  # no chat or callback had to be given up
    assert {k: (v["state"], v["end_reason"]) for k, v in rebuild(events).items()} == table
