"""Cluster fixtures: a fresh PostgreSQL database with the schema, a Redis key prefix of its
own per test, node configs, and helpers to drive desks and chats over real WebSockets."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from demo_center import demo_config
from msgspec.structs import replace
from redis.asyncio import Redis

from callcenter.config.sections import CenterConfig
from callcenter.storage import database, migrate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def cluster_db(pg_url: str) -> str:
    engine = database.create_engine(pg_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    return pg_url


@pytest.fixture
async def prefix(redis_server: str) -> AsyncIterator[str]:
    name = f"cctest-{uuid.uuid4().hex[:8]}"
    yield name
    redis = Redis.from_url(redis_server)
    keys = [k async for k in redis.scan_iter(f"{name}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def node_config(db_url: str, prefix: str, node_id: str, **cluster: Any) -> CenterConfig:
    config = demo_config(db_url, telephony=False)  # the same config on every node
    return replace(
        config,
        bus=replace(config.bus, kind="redis", prefix=prefix),
        cluster=replace(config.cluster, enabled=True, node_id=node_id, **cluster),
    )


async def start_chat(
    session: aiohttp.ClientSession, base_url: str, email: str, word: str = "card"
) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    """A customer chat on one node, steered through its menus (the option naming ``word``,
    else the first) until it picks ``word``: (socket, contact id)."""
    ws = await session.ws_connect(f"{base_url}/ws/chat")
    await ws.send_json({"type": "start", "email": email})
    contact_id = ""
    for _ in range(20):
        frame = await ws.receive_json(timeout=10)
        contact_id = frame.get("contact_id", contact_id)
        if frame["type"] in ("queued", "connected"):
            return ws, contact_id
        options = frame.get("options") or []
        if options:
            pick = next((o for o in options if word in o["label"].lower()), options[0])
            await ws.send_json({"type": "choose", "key": pick["key"]})
            if word in pick["label"].lower():
                return ws, contact_id  # the flow queues it (the offer tells the test when)
    raise AssertionError("the chat never reached a queue")


CLUSTER_TASKS = ("cluster", "lead", "relay", "lease", "redis", "chat-store")


@pytest.fixture(autouse=True)
async def no_cluster_task_outlives_its_node() -> AsyncIterator[None]:
    """After each test (its nodes closed), no task of a cluster node is still running: one
    left behind keeps using Redis after its client closed and leaks a socket."""
    yield
    left = [
        t
        for t in asyncio.all_tasks()
        if not t.done() and t is not asyncio.current_task() and t.get_name().startswith(CLUSTER_TASKS)
    ]
    stacks = io.StringIO()
    for task in left:
        task.print_stack(file=stacks)
    assert not left, stacks.getvalue()
