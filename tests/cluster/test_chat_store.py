"""The chat resume store on the machine's Redis: what a session needs to resume, written as
it changes, the frames capped like the memory's, everything expiring after the grace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from callcenter.chat.protocol import Message, Prompt, Session, Start
from callcenter.chat.redis_store import RedisChatStore
from callcenter.chat.sessions import MAX_HISTORY, ChatSession
from callcenter.runtime.cluster.node_center import ClusterCenter
from callcenter.runtime.cluster.redis_keys import RedisKeys

pytestmark = [pytest.mark.redis, pytest.mark.timeout(20)]


@pytest.fixture
async def store(redis_server: str, prefix: str) -> AsyncIterator[tuple[RedisChatStore, list[Any]]]:
    redis = Redis.from_url(redis_server)
    claims: list[str] = []
    center = SimpleNamespace(redis=redis, keys=RedisKeys(prefix), owner="n9/abc", claim=claims.append)
    chats = RedisChatStore(cast(ClusterCenter, center), grace_s=5.0)
    chats.start()
    yield chats, claims
    await chats.stop()
    await redis.aclose()


async def test_a_session_is_stored_as_it_changes_and_loads_elsewhere(
    store: tuple[RedisChatStore, list[str]],
) -> None:
    chats, claims = store
    session = ChatSession("c-1", Start(name="Ana", email="ana@example.com"))
    session.store = chats
    chats.saved(session)
    for n in range(MAX_HISTORY + 50):
        session.send(Message(from_="agent", name="Bob", text=f"line {n}", at=1000.0 + n))
    session.send(Session(contact_id="c-1", token=session.token, resumed=True))  # not kept for replay
    session.queued = True
    await chats.flushed()

    keys = chats.keys
    assert await chats.redis.llen(keys.chat_frames(session.token)) == MAX_HISTORY
    for key in (keys.chat(session.token), keys.chat_frames(session.token)):
        assert 0 < await chats.redis.pttl(key) <= 5000

    loaded = await chats.load(session.token)
    assert loaded is not None
    assert (loaded.contact_id, loaded.name, loaded.email, loaded.queued) == (
        "c-1",
        "Ana",
        "ana@example.com",
        True,
    )
    assert loaded.history[0]["text"] == "line 50" and loaded.history[-1]["text"] == f"line {MAX_HISTORY + 49}"
    assert claims == ["c-1"]  # the loading node carries the queued contact now

    chats.forget(loaded)
    await chats.flushed()
    assert await chats.load(session.token) is None
    assert await chats.redis.exists(keys.chat(session.token), keys.chat_frames(session.token)) == 0


async def test_a_chat_not_yet_queued_is_not_claimed(store: tuple[RedisChatStore, list[str]]) -> None:
    chats, claims = store
    session = ChatSession("c-2", Start(phone="+4930123"))
    session.store = chats
    chats.saved(session)
    session.send(Prompt(text="Welcome", options=[]))
    await chats.flushed()
    loaded = await chats.load(session.token)
    assert loaded is not None and not loaded.queued and loaded.phone == "+4930123"
    assert [f["text"] for f in loaded.history] == ["Welcome"] and claims == []
    assert await chats.load("no-such-token") is None
