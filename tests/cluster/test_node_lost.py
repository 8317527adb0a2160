"""When a node dies, the chats it carried end with ``reason: node_lost`` (the one ringing on
a desk and the one waiting alike), not as customers' abandons: the contacts table says
``node_lost`` and the metrics count no abandon for them, while a customer who does leave
is still counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from desk_socket import Desk
from sqlalchemy import select

from callcenter.acd.messages import ContactAbandoned
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.config.loader import load_config
from callcenter.metrics.fold import MetricsFold
from callcenter.runtime.cluster.install import CLUSTER
from callcenter.runtime.keys import CENTER
from callcenter.storage import database, schema
from tests.cluster.conftest import start_chat
from tests.cluster.nodes import Node, free_port, make_nodes, write_config

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.timeout(90)]


@pytest.fixture
async def pair(tmp_path: Path, cluster_db: str, prefix: str) -> AsyncIterator[tuple[TestServer, Node]]:
    """A node in this process (it leads) and a ``callcenter serve`` process that will die."""
    conf: dict[str, Any] = {
        "db_url": cluster_db,
        "prefix": prefix,
        "chat_grace_s": 0.5,
    }  # nobody resumes them
    here = TestServer(create_app(load_config(write_config(tmp_path, "t", free_port(), **conf))))
    [doomed] = make_nodes(tmp_path, ["n1"], **conf)
    try:
        await here.start_server()
        async with aiohttp.ClientSession() as http:
            doomed.start()
            await doomed.wait_healthy(http)
        yield here, doomed
    finally:
        doomed.stop()
        await here.close()


async def end_reasons(url: str, ids: list[str]) -> dict[str, str | None]:
    engine = database.create_engine(url)
    c = schema.contacts
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(c.c.contact_id, c.c.end_reason).where(c.c.contact_id.in_(ids)))
            return {r.contact_id: r.end_reason for r in rows}
    finally:
        await engine.dispose()


async def test_the_contacts_of_a_dead_node_end_node_lost_not_abandoned(
    pair: tuple[TestServer, Node], cluster_db: str
) -> None:
    here, doomed = pair
    center = here.app[CENTER]
    assert here.app[CLUSTER].lease.held
    async with aiohttp.ClientSession() as http:
        alice = await Desk.open(str(here.make_url("")).rstrip("/"), "alice")
        await alice.ask("set_state", state="ready")
        ringing_ws, ringing = await start_chat(http, doomed.url, "ria@example.com")
        offer = await alice.until("offer", timeout=15)
        assert offer["contact_id"] == ringing
        waiting_ws, waiting = await start_chat(http, doomed.url, "wes@example.com")
        async with asyncio.timeout(10):
            while center.engine.contacts.get(waiting) is None:
                await asyncio.sleep(0.05)
        queue = center.engine.contacts[waiting].queue
        await center.contact_arrived(contact_id="leaves", channel="chat", queue=queue, caller="l@e.com")
        await center.submit(ContactAbandoned(contact_id="leaves"))  # a customer who gives up

        doomed.kill()
        async with asyncio.timeout(20):  # its presence expires, then the holder reaps
            while ringing in center.engine.contacts or waiting in center.engine.contacts:
                await asyncio.sleep(0.1)
        withdrawn = await alice.until("offer_withdrawn", timeout=5)
        assert withdrawn["offer_id"] == offer["offer_id"]
        await alice.close()
        await ringing_ws.close()
        await waiting_ws.close()
    await here.app[LOG].flush()
    events = await here.app[LOG].read(limit=10_000)
    ended = {e.contact_id: dict(e.data) for e in events if e.type == "contact.ended"}
    assert ended[ringing] == {"reason": "node_lost", "was": "offered", "node": ended[ringing]["node"]}
    # freed by the first, alice may be offered the second before it is reaped too
    assert ended[waiting]["reason"] == "node_lost" and ended[waiting]["was"] in ("waiting", "offered")
    assert ended[waiting]["node"].startswith("n1/")
    assert ended["leaves"] == {"reason": "abandoned"}
    assert await end_reasons(cluster_db, [ringing, waiting, "leaves"]) == {
        ringing: "node_lost",
        waiting: "node_lost",
        "leaves": "abandoned",
    }
    fold = MetricsFold()
    fold.apply_all(events)
    assert fold.totals[queue].abandoned == 1  # the customer who left; not the node's contacts
