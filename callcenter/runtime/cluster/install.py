"""Cluster mode in the application: the Redis bus, joining, presence, the lease, health.

``redis_bus_ctx`` replaces the memory bus when ``bus.kind: redis``; ``cluster_center_ctx``
replaces the embedded center when ``cluster.enabled``. Joining refuses a node whose shared
configuration differs from a live node's (a hash of the config without what is per node:
``server.host``, ``server.port``, ``cluster.node_id``). Each node keeps a presence key
(its incarnation, config hash and the agents whose desks it holds) that expires when the
node stops, which is how the lease holder learns that a node and its connections died.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.appkeys import BUS, CLOCK, CONFIG, DB, LOG
from callcenter.config.sections import CenterConfig
from callcenter.core.errors import CallcenterError
from callcenter.crm_link import web as crm_web
from callcenter.runtime.cluster.leader import Fenced, Lead
from callcenter.runtime.cluster.lease import LeaseKeeper, RoutingLease
from callcenter.runtime.cluster.node_center import ClusterCenter, ClusterUnavailable, finish
from callcenter.runtime.cluster.redis_bus import RedisBus
from callcenter.runtime.cluster.redis_keys import RedisKeys
from callcenter.runtime.cluster.wire import (
    STOP_TIMEOUT_S,
    bounded,
    config_hash,
    raise_if_cancelled,
    stop_tasks,
    text,
)
from callcenter.runtime.keys import CENTER

log = logging.getLogger(__name__)

PRESENCE_TTL_S = 3.0
REDIS_CONNECT_TIMEOUT_S = 2.0
REDIS_SOCKET_TIMEOUT_S = 5.0
JOIN_TIMEOUT_S = 30.0


class ClusterConflict(CallcenterError):
    """This node cannot join: its configuration or node id conflicts with a live node's."""


def node_id_of(config: CenterConfig) -> str:
    return config.cluster.node_id or f"{socket.gethostname()}-{config.server.port}"


class ClusterNode:
    """This node's membership: presence, the lease keeper, and the lead while it holds it."""

    def __init__(self, center: ClusterCenter, db: AsyncEngine | None, *, can_lead: bool = True) -> None:
        """``can_lead=False``: an observer (a bench, a tool) that follows but never leads."""
        self.center, self.db, self.can_lead = center, db, can_lead
        self.redis, self.keys = center.redis, center.keys
        cfg = center.config.cluster
        self.lease = RoutingLease(self.redis, self.keys, center.node_id, ttl=cfg.lease_ttl_s)
        self.lease.floor = lambda: center.gate.highest
        self.keeper = LeaseKeeper(self.lease, self._acquired, self._lost)
        self.lead: Lead | None = None
        self._lead_task: asyncio.Task[None] | None = None
        self._presence_task: asyncio.Task[None] | None = None
        self.presence_error: str | None = None
        self.terms = 0

    async def join(self) -> None:
        """Check the configuration against live nodes, announce this node, follow or lead."""
        await self._check_conflicts()
        await self._announce()
        self._presence_task = asyncio.create_task(self._presence_loop(), name="cluster-presence")
        state = self.center.read_snapshot(await self.redis.get(self.keys.snapshot))
        if state is not None:
            self.center.adopt(state)
        if self.can_lead:
            self.keeper.start()
        try:
            async with asyncio.timeout(JOIN_TIMEOUT_S):
                while not self.center.ready.is_set():
                    state = self.center.read_snapshot(await self.redis.get(self.keys.snapshot))
                    if state is not None:
                        self.center.adopt(state)
                        break
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.1):
                            await self.center.ready.wait()
        except TimeoutError:
            raise ClusterUnavailable(
                f"no routing leader published the ACD state within {JOIN_TIMEOUT_S:g} s"
            ) from None

    async def leave(self) -> None:
        await self._end_lead()
        await self.keeper.stop(release=True)
        if self._presence_task is not None:
            await stop_tasks([self._presence_task])
        await bounded(self.redis.delete(self.keys.node(self.center.node_id)), "removing this node's presence")

    def health(self) -> dict[str, Any]:
        d = self.center.cluster
        problems = [p for p in (d.forward_error, d.read_error, self.presence_error) if p]
        st = self.center.state
        return {
            "ok": not problems and self.center.ready.is_set(),
            "node_id": self.center.node_id,
            "leader": self.lease.held,
            "fencing_token": self.lease.token,
            "highest_token": self.center.gate.highest,
            "applied": st.entry_id if st else None,
            "terms_led": self.terms,
            "replica_checks": self.center.checks.checked,
            "replica_mismatches": self.center.checks.mismatches,
            "wire_refused": self.center.wire_refused,
            "detail": "; ".join(problems) if problems else ("ok" if st else "joining"),
        }

    # Lease callbacks ------------------------------------------------------------------------

    def _acquired(self, token: int) -> None:
        self.terms += 1
        previous = self._lead_task
        self._lead_task = asyncio.create_task(self._lead(token, previous), name="cluster-lead")

    def _lost(self) -> None:
        if self._lead_task is not None:
            self._lead_task.cancel()

    async def _lead(self, token: int, previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            # Redis came back within a term's ending (it takes up to 4 s): that term's
            # clean-up must not undo this one's (timers, marks), so it finishes first.
            await asyncio.wait([previous], timeout=2 * STOP_TIMEOUT_S + 1)
        self.lead = Lead(self.center, token, self.db)
        try:
            await self.lead.run()
        except Fenced as exc:
            log.warning("node %s: writes refused, the term is over: %s", self.center.node_id, exc)
            self.lease.token = None
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("node %s: leading failed", self.center.node_id)
            self.lease.token = None
        finally:
            self.lead = None

    async def _end_lead(self) -> None:
        if self._lead_task is not None:
            lead = self.lead
            await finish([self._lead_task], lambda: setattr(lead, "stopping", True) if lead else None)
            self._lead_task = None

    # Presence and conflicts ------------------------------------------------------------------

    def _presence(self) -> str:
        desks = self.center.relay.desks
        agents = sorted(desks.present()) if desks is not None else []
        return json.dumps(
            {
                "node": self.center.node_id,
                "owner": self.center.owner,
                "hash": self.center.config_hash,
                "agents": agents,
            }
        )

    async def _announce(self) -> None:
        await self.redis.set(
            self.keys.node(self.center.node_id), self._presence(), px=int(PRESENCE_TTL_S * 1000)
        )

    async def _presence_loop(self) -> None:
        while True:
            raise_if_cancelled()
            await asyncio.sleep(PRESENCE_TTL_S / 3)
            try:
                await self._announce()
                self.presence_error = None
                mark = await self.center.log_catch_up.durable_mark(self.redis, self.keys)
                self.center.log_catch_up.drop_until(mark)
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                self.presence_error = f"redis unavailable: {type(exc).__name__}: {exc}"

    async def _check_conflicts(self) -> None:
        me, mine = self.center.node_id, self.center.config_hash
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PRESENCE_TTL_S + 0.5
        while True:
            raise_if_cancelled()
            same_id = False
            async for key in self.redis.scan_iter(self.keys.nodes_pattern):
                raw = await self.redis.get(key)
                if raw is None:
                    continue
                info = json.loads(text(raw))
                if info["hash"] != mine:
                    raise ClusterConflict(
                        f"node {me} cannot join: its version or configuration (hash {mine}) differs "
                        f"from that of live node {info['node']} (hash {info['hash']}); every node of a "
                        "cluster needs the same callcenter version, queues, skills, users and settings "
                        "(only server.host, server.port and cluster.node_id may differ)"
                    )
                same_id = same_id or info["node"] == me
            if not same_id:
                return
            if loop.time() > deadline:
                raise ClusterConflict(
                    f"node id {me!r} is in use by a running node; give each node its own cluster.node_id"
                )
            await asyncio.sleep(0.2)  # a killed node's presence expires within PRESENCE_TTL_S


REDIS = web.AppKey("redis", Redis)
CLUSTER = web.AppKey("cluster", ClusterNode)


def redis_client(url: str) -> Redis:
    """A client with bounded socket waits: a Redis that vanished without closing its
    connections (a partition) must show in health and must not hold up the shutdown.
    Blocking reads block for at most a second, well within the socket timeout."""
    return Redis.from_url(
        url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S, socket_timeout=REDIS_SOCKET_TIMEOUT_S
    )


async def redis_bus_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    redis = redis_client(config.bus.url)
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        await redis.aclose()
        raise ClusterUnavailable(f"Redis at {config.bus.url} is unreachable: {exc}") from None
    bus = RedisBus(redis, RedisKeys(config.bus.prefix), node_id=node_id_of(config))
    await bus.start()
    app[REDIS], app[BUS] = redis, bus
    yield
    try:
        await bus.close()
    finally:
        await bounded(redis.aclose(), "closing the Redis connections")


async def cluster_center_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    center = ClusterCenter(
        config,
        clock=app[CLOCK],
        log=app[LOG],
        bus=app[BUS],
        redis=app[REDIS],
        keys=RedisKeys(config.bus.prefix),
        node_id=node_id_of(config),
        incarnation=uuid.uuid4().hex[:8],
        config_hash=config_hash(config),
    )
    center.use_crm(crm_web.live_crm(app))
    node = ClusterNode(center, app[DB])
    center.start()
    try:
        await node.join()
    except BaseException:
        await node.leave()
        await center.stop()
        raise
    app[CENTER], app[CLUSTER] = center, node
    yield
    try:
        await center.stop()  # what this node forwarded is applied before the lease is released
    finally:
        await node.leave()


def install_relay(app: web.Application) -> None:
    """In cluster mode, after the desk and chat routes are linked (app.py): their frames
    reach other nodes."""
    if app[CONFIG].cluster.enabled:
        app.cleanup_ctx.append(_relay_ctx)


async def _relay_ctx(app: web.Application) -> AsyncIterator[None]:
    center = app[CENTER]
    assert isinstance(center, ClusterCenter)
    center.relay.start()
    yield
    await center.relay.stop()
