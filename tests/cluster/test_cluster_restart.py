"""A cluster started on a log a crashed run left open (no snapshot in Redis): its first
lease holder settles the log as an embedded restart does (callbacks back in line in their
place, calls and chats ended ``system_restart``), and every replica agrees."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer

from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.runtime.cluster.install import CLUSTER
from callcenter.runtime.keys import CENTER
from tests.app.test_restart_recovery import write_crashed_log
from tests.cluster.conftest import node_config

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


async def test_a_fresh_cluster_settles_what_the_log_left_open(cluster_db: str, prefix: str) -> None:
    await write_crashed_log(cluster_db)
    servers = [TestServer(create_app(node_config(cluster_db, prefix, name))) for name in ("a", "b")]
    for server in servers:
        await server.start_server()
    try:
        leader = next(s for s in servers if s.app[CLUSTER].lease.held)
        async with asyncio.timeout(10):
            while any(s.app[CENTER].engine.position("cb-2") is None for s in servers):
                await asyncio.sleep(0.05)
        for server in servers:
            engine = server.app[CENTER].engine
            assert engine.position("cb-1")[0] == 1 and engine.position("cb-2")[0] == 2  # type: ignore[index]
            assert "call-1" not in engine.contacts and "chat-1" not in engine.contacts
        await leader.app[LOG].flush()
        events = await leader.app[LOG].read(limit=1000)
        ended = {e.contact_id: e.data["reason"] for e in events if e.type == "contact.ended"}
        assert ended == {"done": "abandoned", "call-1": "system_restart", "chat-1": "system_restart"}
        assert [e.type for e in events].count("server.recovered") == 1
    finally:
        for server in reversed(servers):
            await server.close()
