"""Cluster building blocks on the real local Redis: the stream bus delivers across nodes in
one order, the routing lease admits one holder at a time with growing fencing tokens, and
a stale token is refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from callcenter.runtime.cluster.lease import FencingGate, LeaseKeeper, RoutingLease
from callcenter.runtime.cluster.redis_bus import RedisBus
from callcenter.runtime.cluster.redis_keys import RedisKeys

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis(redis_server: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server)
    yield client
    await client.aclose()


@pytest.fixture
async def keys(redis: Redis) -> AsyncIterator[RedisKeys]:
    k = RedisKeys(prefix=f"cctest-{uuid.uuid4().hex[:8]}")
    yield k
    names = [n async for n in redis.scan_iter(f"{k.prefix}:*")]
    if names:
        await redis.delete(*names)


async def test_bus_delivers_every_message_to_every_node_in_one_order(redis: Redis, keys: RedisKeys) -> None:
    a = RedisBus(redis, keys, node_id="a")
    b = RedisBus(Redis.from_url("redis://127.0.0.1:6379/0"), keys, node_id="b")
    await a.start()
    await b.start()
    on_a, on_b = a.subscribe("contact.*"), b.subscribe("contact.*")
    agent_only = b.subscribe("agent.state")
    for i in range(20):
        (a if i % 2 else b).publish("contact.queued", {"n": i})
    a.publish("agent.state", {"agent": "alice"})
    got_a = [(await asyncio.wait_for(on_a.get(), 5)).payload["n"] for _ in range(20)]
    got_b = [(await asyncio.wait_for(on_b.get(), 5)).payload["n"] for _ in range(20)]
    assert sorted(got_a) == list(range(20)) and got_a == got_b
    assert (await asyncio.wait_for(agent_only.get(), 5)).payload == {"agent": "alice"}
    await a.close()
    await b.close()
    await b._redis.aclose()


async def test_lease_has_one_holder_and_tokens_grow(redis: Redis, keys: RedisKeys) -> None:
    one = RoutingLease(redis, keys, "node-1", ttl=0.3)
    two = RoutingLease(redis, keys, "node-2", ttl=0.3)
    first = await one.try_acquire()
    assert first is not None and await two.try_acquire() is None
    assert await one.try_acquire() == first  # the holder extends its own term
    assert await one.renew() and await redis.pttl(keys.lease) > 0
    await asyncio.sleep(0.4)  # node-1 stops renewing: the lease expires
    second = await two.try_acquire()
    assert second is not None and second > first
    assert not await one.renew() and not one.held  # the old holder learns it lost
    assert await two.holder() == ("node-2", second)
    await two.release()
    assert await two.holder() is None


async def test_keeper_hands_over_when_the_holder_stops(redis: Redis, keys: RedisKeys) -> None:
    events: list[tuple[str, int | None]] = []
    k1 = LeaseKeeper(
        RoutingLease(redis, keys, "n1", ttl=0.3),
        lambda t: events.append(("n1+", t)),
        lambda: events.append(("n1-", None)),
    )
    k2 = LeaseKeeper(
        RoutingLease(redis, keys, "n2", ttl=0.3),
        lambda t: events.append(("n2+", t)),
        lambda: events.append(("n2-", None)),
    )
    k1.start()
    await asyncio.sleep(0.15)
    k2.start()
    await asyncio.sleep(0.4)
    assert [e[0] for e in events] == ["n1+"]
    await k1.stop(release=False)  # a crash: no release, the TTL must run out
    for _ in range(40):
        if any(e[0] == "n2+" for e in events):
            break
        await asyncio.sleep(0.05)
    tokens = [t for name, t in events if name.endswith("+")]
    assert [e[0] for e in events] == ["n1+", "n2+"] and tokens[1] > tokens[0]  # type: ignore[operator]
    await k2.stop()
    assert events[-1] == ("n2-", None)


def test_fencing_gate_refuses_stale_tokens() -> None:
    gate = FencingGate()
    assert gate.admit(3) and gate.admit(3) and gate.admit(5)
    assert not gate.admit(4)
    assert gate.refused == 1 and gate.highest == 5


async def test_a_redis_that_lost_its_data_never_hands_out_a_stale_token(
    redis: Redis, keys: RedisKeys
) -> None:
    lease = RoutingLease(redis, keys, "node-1", ttl=0.3)
    lease.floor = lambda: 41  # the largest token this node has seen before Redis restarted empty
    assert await lease.try_acquire() == 42
    await lease.release()
    assert await RoutingLease(redis, keys, "node-2", ttl=0.3).try_acquire() == 43
