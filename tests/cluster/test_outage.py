"""Redis going away under a cluster node (a Redis of its own, killed and started again
without its data): health turns red and says why, new contacts get a clear refusal, the
contact already waiting keeps its place, and the node recovers by itself."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from msgspec.structs import replace

from callcenter.app import create_app
from callcenter.runtime.cluster.install import CLUSTER
from callcenter.runtime.cluster.node_center import ClusterUnavailable
from callcenter.runtime.keys import CENTER
from tests.cluster.conftest import node_config
from tests.cluster.nodes import free_port
from tests.conftest import service_env

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.timeout(90)]


class PrivateRedis:
    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=service_env(),
        )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    async def wait_up(self) -> None:
        async with asyncio.timeout(10):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.close()
                    return
                except OSError:
                    await asyncio.sleep(0.05)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (scripts/test.sh installs it)")
    server = PrivateRedis(free_port())
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def node(private_redis: PrivateRedis, cluster_db: str, prefix: str) -> AsyncIterator[TestServer]:
    await private_redis.wait_up()
    config = node_config(cluster_db, prefix, "solo")
    config = replace(
        config,
        bus=replace(config.bus, url=f"redis://127.0.0.1:{private_redis.port}/0"),
        cluster=replace(config.cluster, submit_timeout_s=3.0),
    )
    server = TestServer(create_app(config))
    await server.start_server()
    yield server
    await server.close()


async def health(http: aiohttp.ClientSession, server: TestServer) -> tuple[int, dict[str, Any]]:
    async with http.get(server.make_url("/healthz")) as res:
        return res.status, await res.json()


async def wait_health(http: aiohttp.ClientSession, server: TestServer, status: int) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            code, body = await health(http, server)
            if code == status:
                return body
            await asyncio.sleep(0.1)


async def test_redis_outage_is_reported_refused_and_recovered(
    node: TestServer, private_redis: PrivateRedis
) -> None:
    center = node.app[CENTER]
    async with aiohttp.ClientSession() as http:
        body = await wait_health(http, node, 200)
        assert body["cluster"]["leader"] is True
        await center.contact_arrived(contact_id="chat-1", channel="chat", queue="cards", caller="a@b.c")
        token = node.app[CLUSTER].lease.token
        assert token is not None

        private_redis.kill()
        body = await wait_health(http, node, 503)
        assert "redis unavailable" in body["cluster"]["detail"]
        with pytest.raises(ClusterUnavailable, match="redis unavailable"):
            await center.contact_arrived(contact_id="chat-2", channel="chat", queue="cards", caller="c@d.e")

        private_redis.start()  # empty: no lease, no streams, no fencing counter
        body = await wait_health(http, node, 200)
        async with asyncio.timeout(20):
            while not node.app[CLUSTER].lease.held:
                await asyncio.sleep(0.1)
        assert node.app[CLUSTER].lease.token > token  # type: ignore[operator]
        await center.contact_arrived(contact_id="chat-3", channel="chat", queue="cards", caller="f@g.h")
        assert center.engine.position("chat-1")[0] == 1  # type: ignore[index]
        assert center.engine.position("chat-3")[0] == 2  # type: ignore[index]
        assert "chat-2" not in center.engine.contacts


async def test_a_node_shuts_down_promptly_while_redis_is_away(
    private_redis: PrivateRedis, cluster_db: str, prefix: str
) -> None:
    await private_redis.wait_up()
    config = node_config(cluster_db, prefix, "solo")
    config = replace(config, bus=replace(config.bus, url=f"redis://127.0.0.1:{private_redis.port}/0"))
    server = TestServer(create_app(config))
    await server.start_server()
    closed = False
    try:
        center = server.app[CENTER]
        async with aiohttp.ClientSession() as http:
            await wait_health(http, server, 200)
            await center.contact_arrived(contact_id="chat-1", channel="chat", queue="cards", caller="a@b.c")
            private_redis.kill()
            await wait_health(http, server, 503)
        started = asyncio.get_running_loop().time()
        await server.close()
        closed = True
        assert asyncio.get_running_loop().time() - started < 10.0  # every wait on Redis is bounded
    finally:
        if not closed:
            await server.close()
