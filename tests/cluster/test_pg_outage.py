"""PostgreSQL going away under a node (a TCP proxy between the node and the shared server,
cut and restored), embedded and in cluster mode: /healthz turns 503 naming the database,
routing goes on while the interaction log keeps what it could not write (new contacts are
refused once it holds its bound), and when the database is back the node is healthy again
by itself and every event appended during the outage is in the table, in append order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from msgspec.structs import replace
from sqlalchemy import select

from callcenter.app import SQL_LOG, create_app
from callcenter.appkeys import BUS
from callcenter.config.sections import CenterConfig
from callcenter.core.events import InteractionEvent
from callcenter.runtime.center import LogBacklogged
from callcenter.runtime.cluster.install import CLUSTER
from callcenter.runtime.keys import CENTER
from callcenter.storage import database, schema
from tests.cluster.conftest import node_config
from tests.cluster.tcp_proxy import TcpProxy
from tests.conftest import PG_HOST, PG_PORT

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(90)]


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    p = TcpProxy(PG_HOST, PG_PORT)
    await p.start()
    yield p
    await p.close()


def through(proxy: TcpProxy, url: str) -> str:
    return url.replace(f"@{PG_HOST}:{PG_PORT}/", f"@127.0.0.1:{proxy.port}/")


def embedded_config(url: str) -> CenterConfig:
    config = node_config(url, "unused", "unused")
    return replace(
        config, bus=replace(config.bus, kind="memory"), cluster=replace(config.cluster, enabled=False)
    )


async def health(http: aiohttp.ClientSession, server: TestServer) -> tuple[int, dict[str, Any]]:
    async with http.get(server.make_url("/healthz")) as res:
        return res.status, await res.json()


async def wait_health(
    http: aiohttp.ClientSession, server: TestServer, status: int, timeout: float = 20
) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            code, body = await health(http, server)
            if code == status:
                return body
            await asyncio.sleep(0.1)


async def table(url: str, after: int) -> list[tuple[int, str, str | None]]:
    engine = database.create_engine(url)
    ev = schema.events
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(ev.c.seq, ev.c.type, ev.c.contact_id).where(ev.c.seq > after).order_by(ev.c.seq)
            )
            return [(r.seq, r.type, r.contact_id) for r in rows]
    finally:
        await engine.dispose()


async def ride_out_outage(server: TestServer, proxy: TcpProxy, direct_url: str) -> None:
    """The outage, the same for both modes (see module docstring)."""
    center, log_ = server.app[CENTER], server.app[SQL_LOG]
    async with aiohttp.ClientSession() as http:
        await wait_health(http, server, 200)
        await center.contact_arrived(contact_id="chat-1", channel="chat", queue="cards", caller="a@b.c")
        await center.acd.idle()
        await log_.flush()
        before = log_.last_seq
        sub = server.app[BUS].subscribe("*")

        await proxy.cut()
        body = await wait_health(http, server, 503)
        assert body["database"]["ok"] is False and body["database"]["detail"] != "ok", body
        for i in (2, 3):  # new contacts: routed, their events kept by the log
            await center.contact_arrived(
                contact_id=f"chat-{i}", channel="chat", queue="cards", caller=f"c{i}@d.e"
            )
        await center.acd.idle()
        assert center.engine.position("chat-3")[0] == 3  # type: ignore[index]
        log_.max_pending = log_.pending  # the fallback's bound, reached: new contacts refused
        with pytest.raises(LogBacklogged, match="could not write"):
            await center.contact_arrived(contact_id="chat-x", channel="chat", queue="cards", caller="x@y.z")
        assert center.engine.contacts["chat-3"].state == "waiting" and "chat-x" not in center.engine.contacts
        async with asyncio.timeout(15):
            while log_.healthy:
                await asyncio.sleep(0.05)
        body = (await health(http, server))[1]
        assert body["interaction_log"]["ok"] is False and body["interaction_log"]["pending"] > 0, body
        assert body["interaction_log"]["last_error"]

        await proxy.restore()
        body = await wait_health(http, server, 200, timeout=30)  # the log retries with backoff
        await center.contact_arrived(contact_id="chat-4", channel="chat", queue="cards", caller="e@f.g")
        center.record(InteractionEvent(type="test.after_outage", at=center.clock.now()))
        appended: list[tuple[str, str | None]] = []
        async with asyncio.timeout(15):
            async for message in sub:
                appended.append((message.topic, message.payload.get("contact_id")))
                if message.topic == "test.after_outage":
                    break
        sub.close()
        await log_.flush()
    rows = await table(direct_url, before)
    assert [(kind, cid) for _, kind, cid in rows] == appended  # nothing lost, nothing reordered
    assert [seq for seq, _, _ in rows] == list(range(before + 1, before + 1 + len(rows)))
    assert ("contact.arrived", "chat-2") in appended and ("contact.queued", "chat-3") in appended
    assert ("contact.arrived", "chat-4") in appended and "chat-x" not in {cid for _, cid in appended}


async def test_embedded_node_rides_out_a_database_outage(proxy: TcpProxy, cluster_db: str) -> None:
    server = TestServer(create_app(embedded_config(through(proxy, cluster_db))))
    await server.start_server()
    try:
        await ride_out_outage(server, proxy, cluster_db)
    finally:
        await server.close()


@pytest.mark.redis
async def test_cluster_node_rides_out_a_database_outage(
    proxy: TcpProxy, cluster_db: str, prefix: str
) -> None:
    server = TestServer(create_app(node_config(through(proxy, cluster_db), prefix, "solo")))
    await server.start_server()
    try:
        await ride_out_outage(server, proxy, cluster_db)
    finally:
        await server.close()


@pytest.mark.redis
async def test_contacts_on_a_follower_are_refused_when_the_holders_log_is_full(
    proxy: TcpProxy, cluster_db: str, prefix: str
) -> None:
    servers = [TestServer(create_app(node_config(through(proxy, cluster_db), prefix, name))) for name in "ab"]
    for server in servers:
        await server.start_server()
    holder, follower = servers
    try:
        assert holder.app[CLUSTER].lease.held and not follower.app[CLUSTER].lease.held
        center = follower.app[CENTER]
        await proxy.cut()
        for i in range(3):
            await center.contact_arrived(
                contact_id=f"chat-{i}", channel="chat", queue="cards", caller=f"{i}@b.c"
            )
        await center.acd.idle()
        follower.app[SQL_LOG].max_pending = 3  # what the follower keeps for the holder counts too
        with pytest.raises(LogBacklogged, match="lease holder has not logged"):
            await center.contact_arrived(contact_id="chat-x", channel="chat", queue="cards", caller="x@y.z")
        await proxy.restore()
        async with asyncio.timeout(30):  # the holder writes and says so; the follower takes contacts again
            while True:
                try:
                    await center.contact_arrived(
                        contact_id="chat-y", channel="chat", queue="cards", caller="y@y.z"
                    )
                    break
                except LogBacklogged:
                    await asyncio.sleep(0.2)
        assert "chat-y" in center.engine.contacts and "chat-x" not in center.engine.contacts
    finally:
        for server in reversed(servers):
            await server.close()
