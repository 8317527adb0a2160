"""Two cluster nodes in one process, on the real PostgreSQL and Redis: a chat that arrives
on node A is offered to an agent whose desk is on node B; both nodes see the same center;
a node with a different configuration refuses to join."""

from __future__ import annotations

import asyncio
import pickle  # to write what an attacker would: no node may load it
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp.test_utils import TestServer
from desk_socket import Desk
from msgspec.structs import replace

from callcenter.acd.messages import ContactArrived
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.runtime.cluster.install import CLUSTER, ClusterConflict
from callcenter.runtime.cluster.leader import Fenced, Lead
from callcenter.runtime.cluster.node_center import ClusterCenter
from callcenter.runtime.cluster.wire import WIRE_VERSION, Entry, Forwarded, encode_entry, encode_forwarded
from callcenter.runtime.keys import CENTER
from tests.cluster.conftest import node_config, start_chat

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
async def nodes(cluster_db: str, prefix: str) -> AsyncIterator[list[TestServer]]:
    servers: list[TestServer] = []
    for name in ("a", "b"):
        server = TestServer(create_app(node_config(cluster_db, prefix, name)))
        await server.start_server()
        servers.append(server)
    yield servers
    for server in reversed(servers):
        await server.close()


def url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def applied(center: Any, contact_id: str, state: str | None = None) -> None:
    """Wait (at most 5 s) until a node's replica holds the contact (in that state): each
    node applies the holder's stream on its own time, after its own inbox is idle."""
    contacts = center.engine.contacts
    async with asyncio.timeout(5):
        while contact_id not in contacts or state not in (None, contacts[contact_id].state):
            await asyncio.sleep(0.02)


async def test_a_chat_on_node_a_is_offered_to_a_desk_on_node_b(nodes: list[TestServer]) -> None:
    a, b = nodes
    assert a.app[CLUSTER].lease.held != b.app[CLUSTER].lease.held  # exactly one leads
    alice = await Desk.open(url(b), "alice")
    assert (await alice.ask("set_state", state="ready"))["state"] == "AVAILABLE"
    await a.app[CENTER].contact_arrived(
        contact_id="chat-1", channel="chat", queue="cards", caller="noa@example.com"
    )
    contact_id = "chat-1"
    offer = await alice.until("offer")
    assert offer["contact_id"] == contact_id
    assert (await alice.ask("accept", offer_id=offer["offer_id"]))["type"] == "ack"
    assert (await alice.until("contact"))["status"] == "connected"
    for node in (a, b):  # every replica agrees, and both nodes' wallboards see it
        contacts = node.app[CENTER].engine.contacts
        await applied(node.app[CENTER], contact_id, "connected")
        assert (contacts[contact_id].state, contacts[contact_id].agent_id) == ("connected", "alice")
    await alice.close()
    leader = a if a.app[CLUSTER].lease.held else b
    await leader.app[LOG].flush()
    kinds = [e.type for e in await leader.app[LOG].read(contact_id=contact_id)]
    assert kinds.count("contact.offered") == 1 and kinds.count("contact.arrived") == 1, kinds


async def test_a_node_with_another_configuration_refuses_to_join(
    nodes: list[TestServer], cluster_db: str, prefix: str
) -> None:
    config = node_config(cluster_db, prefix, "c")
    other = replace(config, desk=replace(config.desk, reconnect_grace_s=5))
    server = TestServer(create_app(other))
    with pytest.raises(ClusterConflict, match="differs from that of live node"):
        await server.start_server()
    await server.close()


async def test_chat_lines_cross_nodes_both_ways(nodes: list[TestServer]) -> None:
    a, b = nodes
    alice = await Desk.open(url(b), "alice")
    await alice.ask("set_state", state="ready")
    async with aiohttp.ClientSession() as customer:
        chat, contact_id = await start_chat(customer, url(a), "noa@example.com")
        offer = await alice.until("offer")
        assert offer["contact_id"] == contact_id
        await alice.ask("accept", offer_id=offer["offer_id"])
        await chat.send_json({"type": "text", "text": "my card is gone"})
        line = await alice.until("chat_message")
        assert (line["from"], line["text"]) == ("customer", "my card is gone")
        assert (await alice.ask("chat_send", contact_id=contact_id, text="blocking it now"))["type"] == "ack"
        while (frame := await chat.receive_json(timeout=10))["type"] != "message":
            pass
        assert (frame["from"], frame["text"]) == ("agent", "blocking it now")
        await chat.close()
    await alice.close()


async def test_commands_with_a_stale_fencing_token_are_refused(nodes: list[TestServer]) -> None:
    a, b = nodes
    leader = a if a.app[CLUSTER].lease.held else b
    center = leader.app[CENTER]
    assert isinstance(center, ClusterCenter)
    token = leader.app[CLUSTER].lease.token
    assert token is not None
    ghost = ContactArrived(contact_id="ghost", channel="chat", queue="cards", caller="x@y.z")
    stale = Entry(token - 1, center.clock.now(), "in", node=center.owner, body=ghost)
    with pytest.raises(Fenced, match="FENCED"):  # Redis refuses a holder whose term is over
        await Lead(center, token - 1, None).append([stale])
    await center.redis.xadd(center.keys.applied_stream, {"e": encode_entry(stale)})  # one that got in anyway
    await center.contact_arrived(contact_id="real", channel="chat", queue="cards", caller="r@y.z")
    for node in (a, b):
        contacts = node.app[CENTER].engine.contacts
        await applied(node.app[CENTER], "real")  # the entry after the stale one
        assert "ghost" not in contacts  # every replica refused it
        assert node.app[CENTER].gate.refused >= 1  # type: ignore[attr-defined]


RAN: list[str] = []


class Payload:
    """What pickle would run on loading it."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return RAN.append, ("code from Redis ran",)


async def test_messages_of_another_version_or_shape_are_refused_and_the_nodes_go_on(
    nodes: list[TestServer],
) -> None:
    a, b = nodes
    leader = a if a.app[CLUSTER].lease.held else b
    center = leader.app[CENTER]
    assert isinstance(center, ClusterCenter)
    token = leader.app[CLUSTER].lease.token
    assert token is not None
    arrival = ContactArrived(contact_id="v2", channel="chat", queue="cards", caller="x@y.z")
    newer = msgspec.msgpack.decode(encode_forwarded(Forwarded(center.owner, 0, "in", arrival)))
    newer["v"] = WIRE_VERSION + 1
    bad_shape = msgspec.msgpack.decode(encode_entry(Entry(token, center.clock.now(), "in", body=arrival)))
    bad_shape["body"]["queue"] = 7
    keys = center.keys
    await center.redis.xadd(keys.inputs_stream, {"f": msgspec.msgpack.encode(newer)})
    await center.redis.xadd(keys.inputs_stream, {"f": pickle.dumps(Payload())})
    await center.redis.xadd(keys.applied_stream, {"e": msgspec.msgpack.encode(bad_shape)})
    await center.redis.xadd(keys.applied_stream, {"e": pickle.dumps(Payload())})
    await center.contact_arrived(contact_id="real", channel="chat", queue="cards", caller="r@y.z")
    for node in (a, b):
        replica = node.app[CENTER]
        assert isinstance(replica, ClusterCenter)
        await applied(replica, "real")  # the entries after the refused ones
        assert "v2" not in replica.engine.contacts
        refused = 4 if node is leader else 2  # the holder also reads the inputs
        assert replica.wire_refused == refused and node.app[CLUSTER].health()["wire_refused"] == refused
    assert RAN == []


async def test_a_replica_that_differs_from_the_holder_resynchronises(cluster_db: str, prefix: str) -> None:
    servers = [
        TestServer(create_app(node_config(cluster_db, prefix, name, snapshot_every_s=0.3, lease_ttl_s=5.0)))
        for name in ("a", "b")
    ]
    for server in servers:
        await server.start_server()
    try:
        leader = next(s for s in servers if s.app[CLUSTER].lease.held)
        follower = next(s for s in servers if s is not leader)
        await leader.app[CENTER].contact_arrived(
            contact_id="c-1", channel="chat", queue="cards", caller="a@b.c"
        )
        replica = follower.app[CENTER]
        assert isinstance(replica, ClusterCenter)
        await applied(replica, "c-1")
        del replica.engine.contacts["c-1"]  # as if the replica had gone its own way
        async with asyncio.timeout(10):
            while "c-1" not in replica.engine.contacts:
                await asyncio.sleep(0.05)
        assert replica.checks.mismatches >= 1 and replica.engine.position("c-1") == leader.app[
            CENTER
        ].engine.position("c-1")
    finally:
        for server in reversed(servers):
            await server.close()
