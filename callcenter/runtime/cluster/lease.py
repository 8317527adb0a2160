"""The routing lease: at most one node runs the ACD engine, and stale leaders are fenced.

The lease is one Redis key holding ``node_id:token`` with a TTL. Taking a free lease
starts a new term: the token is the next value of a counter that only grows, so a later
term always has a larger token. The holder renews well within the TTL; a holder that
stops (crash, partition) loses the lease when the TTL runs out and another node takes
it with a larger token.

Fencing: everything the leader sends carries its token; receivers keep the largest token
seen (``FencingGate``) and refuse commands with a smaller one, so a paused old leader that
wakes up cannot offer a contact that the new leader has already offered.
Each operation is one Lua script, so check-and-set is atomic in Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from callcenter.runtime.cluster.redis_keys import RedisKeys
from callcenter.runtime.cluster.wire import bounded, raise_if_cancelled, stop_tasks

log = logging.getLogger(__name__)

_ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local owner, token = string.match(cur, '^(.*):(%d+)$')
  if owner == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(token)
  end
  return -1
end
local token = redis.call('INCR', KEYS[2])
if token <= tonumber(ARGV[3]) then
  token = tonumber(ARGV[3]) + 1
  redis.call('SET', KEYS[2], token)
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class FencingGate:
    """Admits commands whose fencing token is at least the largest seen so far."""

    def __init__(self) -> None:
        self.highest = 0
        self.refused = 0

    def admit(self, token: int) -> bool:
        if token < self.highest:
            self.refused += 1
            return False
        self.highest = token
        return True


class RoutingLease:
    """One node's view of the lease (see module docstring)."""

    def __init__(self, redis: Redis, keys: RedisKeys, node_id: str, *, ttl: float = 3.0) -> None:
        self._redis = redis
        self._keys = keys
        self.node_id = node_id
        self.ttl = ttl
        self.token: int | None = None
        # The largest token this node has seen: a Redis that lost its data (restarted
        # without persistence) must not hand out a token that replicas would refuse.
        self.floor: Callable[[], int] = lambda: 0
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    @property
    def held(self) -> bool:
        return self.token is not None

    async def try_acquire(self) -> int | None:
        """Take or extend the lease; the token of this term, or ``None`` if another holds it."""
        result = int(
            await self._acquire(
                keys=[self._keys.lease, self._keys.fencing_counter],
                args=[self.node_id, int(self.ttl * 1000), self.floor()],
            )
        )
        self.token = result if result > 0 else None
        return self.token

    async def renew(self) -> bool:
        if self.token is None:
            return False
        ok = int(
            await self._renew(
                keys=[self._keys.lease], args=[f"{self.node_id}:{self.token}", int(self.ttl * 1000)]
            )
        )
        if not ok:
            self.token = None
        return bool(ok)

    async def release(self) -> None:
        if self.token is not None:
            await self._release(keys=[self._keys.lease], args=[f"{self.node_id}:{self.token}"])
            self.token = None

    async def holder(self) -> tuple[str, int] | None:
        value = await self._redis.get(self._keys.lease)
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        node, _, token = text.rpartition(":")
        return node, int(token)


class LeaseKeeper:
    """Keeps trying to hold the lease; calls ``on_acquired(token)`` / ``on_lost()``.

    Renews every third of the TTL. When Redis cannot be reached the holder gives the lease
    up locally once the TTL has passed since its last successful renewal, because by then
    another node may hold it.
    """

    def __init__(
        self, lease: RoutingLease, on_acquired: Callable[[int], None], on_lost: Callable[[], None]
    ) -> None:
        self._lease = lease
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lease-keeper")

    async def stop(self, *, release: bool = True) -> None:
        if self._task is not None:
            await stop_tasks([self._task])
            self._task = None
        if release and self._lease.held:
            await bounded(self._lease.release(), "releasing the routing lease")
            self._lease.token = None
            self._on_lost()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_ok = loop.time()
        while True:
            raise_if_cancelled()
            was_held = self._lease.held
            try:
                await (self._lease.renew() if was_held else self._lease.try_acquire())
                last_ok = loop.time()
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                log.warning("routing lease: redis unavailable: %s", exc)
                if was_held and loop.time() - last_ok > self._lease.ttl:
                    self._lease.token = None  # another node may hold it by now
            if was_held and not self._lease.held:
                log.warning("node %s lost the routing lease", self._lease.node_id)
                self._on_lost()
            elif not was_held and self._lease.token is not None:
                log.info("node %s holds the routing lease, token %d", self._lease.node_id, self._lease.token)
                self._on_acquired(self._lease.token)
            await asyncio.sleep(self._lease.ttl / 3)
