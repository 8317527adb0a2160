"""Failover with real ``callcenter serve`` processes: SIGKILL the routing-lease holder while
an agent has a call ringing and calls wait; another node takes the lease within 5 s,
the waiting calls (on a surviving node) keep their place, the ringing offer is neither lost nor offered again,
and the agent answers it through the new holder. The chat the dead node carried is closed
and the agent whose desk was on it becomes NOT_READY."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from desk_socket import Desk

from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.config.loader import load_config
from callcenter.runtime.cluster.install import CLUSTER
from callcenter.runtime.keys import CENTER
from tests.cluster.conftest import start_chat
from tests.cluster.nodes import Node, free_port, leader_of, make_nodes, write_config

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.timeout(120)]


@pytest.fixture
async def cluster(
    tmp_path: Path, cluster_db: str, prefix: str
) -> AsyncIterator[tuple[list[Node], TestServer]]:
    """Two node processes (the first leads) and a third node in this process."""
    slow_log: dict[str, Any] = {
        "db_url": cluster_db,
        "prefix": prefix,
        "flush_interval_ms": 1500,  # the kill beats the flush
        "chat_grace_s": 0.5,
    }  # nobody resumes the dead node's chat: it is closed soon
    nodes = make_nodes(tmp_path, ["n1", "n2"], **slow_log)
    here = TestServer(create_app(load_config(write_config(tmp_path, "t", free_port(), **slow_log))))
    try:
        async with aiohttp.ClientSession() as http:
            for node in nodes:
                node.start()
                await node.wait_healthy(http)
        await here.start_server()
        yield nodes, here
    finally:
        await here.close()
        for node in nodes:
            node.stop()


async def test_killing_the_leader_hands_over_within_5_s_and_loses_nothing(
    cluster: tuple[list[Node], TestServer],
) -> None:
    nodes, here = cluster
    center = here.app[CENTER]
    async with aiohttp.ClientSession() as http:
        leader = await leader_of(http, nodes)
        assert leader is nodes[0]
        survivor = nodes[1]
        alice = await Desk.open(survivor.url, "alice")
        await alice.ask("set_state", state="ready")
        bob = await Desk.open(leader.url, "bob")  # his desk dies with the leader
        await bob.ask("set_state", state="ready")
        for i in range(4):
            await center.contact_arrived(
                contact_id=f"call-{i}", channel="voice", queue="cards", caller=f"c{i}@example.com"
            )
        offer = await alice.until("offer")
        assert offer["contact_id"] == "call-0"
        doomed, doomed_id = await start_chat(http, leader.url, "dana@example.com")  # dies with the leader
        async with asyncio.timeout(10):
            while center.engine.position(doomed_id) is None:
                await asyncio.sleep(0.05)

        def places() -> list[int]:
            return [center.engine.position(f"call-{i}")[0] for i in range(1, 4)]  # type: ignore[index]

        before = places()  # the flow may put the card chat ahead; the three keep their order
        assert before == sorted(before) and len(set(before)) == 3

        leader.kill()
        killed = time.monotonic()
        while True:
            new = await leader_of(http, [survivor]) or (here if here.app[CLUSTER].lease.held else None)
            if new is not None:
                break
            assert time.monotonic() - killed < 5.0, "no node took the routing lease within 5 s"
            await asyncio.sleep(0.05)
        assert time.monotonic() - killed < 5.0

        assert places() == before  # the waiting contacts keep their place
        assert (await alice.ask("accept", offer_id=offer["offer_id"]))["type"] == "ack"
        assert (await alice.until("contact"))["contact_id"] == "call-0"
        async with asyncio.timeout(5):  # this replica applies the holder's stream a moment later
            while center.engine.contacts["call-0"].agent_id is None:
                await asyncio.sleep(0.02)
        assert center.engine.contacts["call-0"].agent_id == "alice"
        again = [f for f in alice.backlog if f["type"] == "offer" and f["contact_id"] == "call-0"]
        assert not again  # not offered a second time
        await alice.ask("end", contact_id="call-0")
        async with asyncio.timeout(15):  # the dead node's presence expires, then it is reaped
            while (
                doomed_id in center.engine.contacts or center.engine.agents["bob"].state.value != "NOT_READY"
            ):
                await asyncio.sleep(0.1)
        assert places() == [1, 2, 3]
        checks = center.checks  # type: ignore[attr-defined]
        assert checks.checked >= 1 and checks.mismatches == 0  # this replica agreed with the holders
        await alice.close()
        await bob.session.close()
        await doomed.close()
    async with aiohttp.ClientSession() as http:  # the new holder's log has written what it took over
        survivor_holds = await leader_of(http, [survivor]) is not None
    if not survivor_holds:
        await here.app[LOG].flush()
    await asyncio.sleep(2.0)  # a batch of the survivor's log (1.5 s flush interval here)
    kinds = [e.type for e in await here.app[LOG].read(contact_id="call-0")]
    assert kinds.count("contact.offered") == 1 and kinds.count("contact.connected") == 1, kinds
    for i in range(1, 4):  # what the killed holder had not flushed is in the log, once
        kinds = [e.type for e in await here.app[LOG].read(contact_id=f"call-{i}")]
        assert kinds.count("contact.arrived") == 1 and kinds.count("contact.queued") == 1, kinds
