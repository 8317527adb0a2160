"""Cluster bench on this machine's PostgreSQL and Redis (docs/cluster.md).

1. Routing: contacts routed per second (64 arrivals in flight) and offer latency (arrival
   call -> offer frame at the agent's desk, arrivals paced below what the agents can take)
   with 1 node and with 3 nodes. The nodes are full ``ClusterCenter``s
   (own Redis connections, interaction log on PostgreSQL, Redis bus) in this one process;
   arrivals and agents are spread over the nodes, and each agent's desk accepts its offer
   and ends the contact at once (queues without wrap-up).
2. Failover: three ``callcenter serve`` processes and an observer node here (it follows
   and never leads). Chats arrive on the observer all along (each 50 ms after the last
   was taken); ten times the lease holder is killed with SIGKILL and started again. Failover time: kill -> the
   observer applies a term entry with a larger fencing token. Lost contacts: arrivals the
   cluster accepted that are not waiting in the queue at the end.

Prints the figures and the machine, then one JSON line. It never passes or fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from msgspec.structs import replace
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.acd.messages import AgentLoggedIn, AgentReady, ContactEnded, OfferAccepted  # noqa: E402
from callcenter.config.loader import load_config  # noqa: E402
from callcenter.config.sections import CenterConfig  # noqa: E402
from callcenter.core.desk_frames import Contact, DeskFrame, Offer, State  # noqa: E402
from callcenter.runtime.cluster.install import ClusterNode, redis_client  # noqa: E402
from callcenter.runtime.cluster.node_center import ClusterCenter, ClusterUnavailable  # noqa: E402
from callcenter.runtime.cluster.redis_bus import RedisBus  # noqa: E402
from callcenter.runtime.cluster.redis_keys import RedisKeys  # noqa: E402
from callcenter.runtime.cluster.wire import config_hash  # noqa: E402
from callcenter.runtime.system_clock import SystemClock  # noqa: E402
from callcenter.storage import database, migrate  # noqa: E402
from callcenter.storage.log import SqlInteractionLog  # noqa: E402
from tests.cluster.nodes import free_port, leader_of, make_nodes, write_config  # noqa: E402

PG = dict(host="127.0.0.1", port=5432, user="postgres", database="test")
REDIS_URL = "redis://127.0.0.1:6379/0"


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


# Nodes in this process ------------------------------------------------------------------


class BenchDesks:
    """The desks of the agents on one node: accept each offer and end each contact at once."""

    def __init__(self, center: ClusterCenter, run: Run) -> None:
        self.center, self.run = center, run
        self.agents: set[str] = set()

    def present(self) -> set[str]:
        return self.agents

    def deliver(self, agent_id: str, frame: DeskFrame) -> None:
        if isinstance(frame, Offer):
            self.run.offered(frame.contact_id)
            self.center.post(OfferAccepted(offer_id=frame.offer_id, agent_id=agent_id))
        elif isinstance(frame, Contact) and frame.status == "connected":
            self.center.post(ContactEnded(contact_id=frame.contact_id, by="agent"))
        elif isinstance(frame, State) and frame.state == "WRAP_UP":
            self.center.post(AgentReady(agent_id=agent_id))


@dataclass
class Run:
    total: int
    arrived_at: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def offered(self, contact_id: str) -> None:
        start = self.arrived_at.pop(contact_id, None)
        if start is not None:
            self.latencies.append(time.perf_counter() - start)
            if len(self.latencies) >= self.total:
                self.done.set()


@dataclass
class LocalNode:
    center: ClusterCenter
    node: ClusterNode
    parts: list[Any]

    async def close(self) -> None:
        await self.center.stop()
        await self.node.leave()
        bus, log, redis, db = self.parts
        await bus.close()
        await log.close()
        await redis.aclose()
        await db.dispose()


async def open_node(config: CenterConfig, *, can_lead: bool = True) -> LocalNode:
    db = database.create_engine(config.storage.url)
    log = SqlInteractionLog(db)
    await log.start()
    redis = redis_client(config.bus.url)
    keys = RedisKeys(config.bus.prefix)
    bus = RedisBus(redis, keys, node_id=config.cluster.node_id)
    await bus.start()
    center = ClusterCenter(
        config,
        clock=SystemClock(asyncio.get_running_loop()),
        log=log,
        bus=bus,
        redis=redis,
        keys=keys,
        node_id=config.cluster.node_id,
        incarnation=uuid.uuid4().hex[:8],
        config_hash=config_hash(config),
    )
    node = ClusterNode(center, db, can_lead=can_lead)
    center.start()
    await node.join()
    return LocalNode(center, node, [bus, log, redis, db])


def bench_config(db_url: str, prefix: str, node_id: str) -> CenterConfig:
    config = load_config(ROOT / "config" / "callcenter.yaml")
    return replace(
        config,
        queues=[replace(q, wrap_up_s=0.0) for q in config.queues],
        storage=replace(config.storage, url=db_url),
        bus=replace(config.bus, kind="redis", url=REDIS_URL, prefix=prefix),
        cluster=replace(config.cluster, enabled=True, node_id=node_id),
    )


async def routing(
    db_url: str, n_nodes: int, total: int, agents: int, paced: int, rate: float
) -> tuple[float, float, float]:
    """(contacts routed per second with 64 arrivals in flight; offer latency p50 and p99 in
    ms with ``paced`` arrivals at ``rate`` a second, below what the agents can take)."""
    prefix = f"ccbench-{uuid.uuid4().hex[:8]}"
    nodes = [await open_node(bench_config(db_url, prefix, f"b{i}")) for i in range(n_nodes)]
    run = Run(total)
    desks = [BenchDesks(n.center, run) for n in nodes]
    for n, desk in zip(nodes, desks, strict=True):
        n.center.desks = desk
    for i in range(agents):
        center, desk = nodes[i % n_nodes].center, desks[i % n_nodes]
        desk.agents.add(f"agent-{i}")
        await center.submit(AgentLoggedIn(agent_id=f"agent-{i}", skills={"cards": 3, "banking": 2}))
        await center.submit(AgentReady(agent_id=f"agent-{i}"))
    gate = asyncio.Semaphore(64)

    async def arrive(k: int, tag: str) -> None:
        cid = f"{tag}-{k}"
        desks[0].run.arrived_at[cid] = time.perf_counter()
        await nodes[k % n_nodes].center.contact_arrived(
            contact_id=cid, channel="voice", queue="cards", caller=f"+9725{k:07d}"
        )

    async def flood(k: int) -> None:
        async with gate:
            await arrive(k, "flood")

    start = time.perf_counter()
    await asyncio.gather(*(flood(k) for k in range(total)))
    await asyncio.wait_for(run.done.wait(), timeout=300)
    routed = total / (time.perf_counter() - start)

    run = Run(paced)
    for desk in desks:
        desk.run = run
    begin = time.perf_counter()

    async def paced_arrival(k: int) -> None:
        await asyncio.sleep(max(0.0, begin + k / rate - time.perf_counter()))
        await arrive(k, "paced")

    await asyncio.gather(*(paced_arrival(k) for k in range(paced)))
    await asyncio.wait_for(run.done.wait(), timeout=120)
    for n in reversed(nodes):
        await n.close()
    await drop_keys(prefix)
    lat = sorted(run.latencies)
    return routed, lat[len(lat) // 2] * 1000, lat[max(0, int(len(lat) * 0.99) - 1)] * 1000


# Failover with serve processes -----------------------------------------------------------


async def failover(db_url: str, rounds: int) -> tuple[list[float], int, int, int]:
    """(failover times, contacts accepted, refused while no node led, lost)."""
    prefix = f"ccbench-{uuid.uuid4().hex[:8]}"
    folder = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    nodes = make_nodes(folder, ["n1", "n2", "n3"], db_url=db_url, prefix=prefix)
    accepted: list[str] = []
    refused = 0
    times: list[float] = []
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        try:
            for node in nodes:
                node.start()
                await node.wait_healthy(http)
            config = load_config(write_config(folder, "observer", free_port(), db_url=db_url, prefix=prefix))
            observer = await open_node(config, can_lead=False)
            center = observer.center

            async def arrivals() -> None:
                nonlocal refused
                k = 0
                while not stop.is_set():
                    k += 1
                    try:
                        await center.contact_arrived(
                            contact_id=f"fo-{k}", channel="chat", queue="cards", caller=f"c{k}@example.com"
                        )
                        accepted.append(f"fo-{k}")
                    except ClusterUnavailable:
                        refused += 1
                    await asyncio.sleep(0.05)

            feeder = asyncio.create_task(arrivals())
            for r in range(rounds):
                leader = await leader_of(http, nodes)
                assert leader is not None, "no leader"
                before = center.gate.highest
                leader.kill()
                killed = time.perf_counter()
                while center.gate.highest <= before:
                    await asyncio.sleep(0.01)
                    if time.perf_counter() - killed > 30:
                        raise RuntimeError("no failover within 30 s")
                times.append(time.perf_counter() - killed)
                print(
                    f"  failover {r + 1}: {leader.node_id} killed, new term after {times[-1]:.2f} s",
                    flush=True,
                )
                leader.start()
                await leader.wait_healthy(http, timeout=60)
            stop.set()
            await feeder
            await center.acd.idle()
            lost = sum(1 for cid in accepted if center.engine.position(cid) is None)
            print(
                f"  the observer's replica was checked against the holders' {center.checks.checked} "
                f"times: {center.checks.mismatches} differences"
            )
            await observer.close()
        finally:
            stop.set()
            for node in nodes:
                node.stop()
    await drop_keys(prefix)
    return times, len(accepted), refused, lost


# Plumbing -------------------------------------------------------------------------------


async def drop_keys(prefix: str) -> None:
    redis = Redis.from_url(REDIS_URL)
    keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def with_database(work: Any) -> Any:
    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(**PG)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        engine = database.create_engine(url)
        await migrate.upgrade(engine)
        await engine.dispose()
        return await work(url)
    finally:
        conn = await asyncpg.connect(**PG)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for n in (1, 3):
        rate, p50, p99 = await with_database(
            lambda url, n=n: routing(url, n, args.contacts, args.agents, args.paced, args.rate)
        )
        print(
            f"{n} node(s): {rate:,.0f} contacts routed/s (64 in flight); offer latency at "
            f"{args.rate:g}/s p50 {p50:.1f} ms, p99 {p99:.1f} ms",
            flush=True,
        )
        results[f"routed_per_s_{n}node" + ("s" if n > 1 else "")] = round(rate, 1)
        results[f"offer_p50_ms_{n}node" + ("s" if n > 1 else "")] = round(p50, 2)
        results[f"offer_p99_ms_{n}node" + ("s" if n > 1 else "")] = round(p99, 2)
    times, accepted, refused, lost = await with_database(lambda url: failover(url, args.failovers))
    print(
        f"failover over {len(times)} SIGKILLs of the lease holder: mean {statistics.mean(times):.2f} s, "
        f"worst {max(times):.2f} s; {accepted} contacts accepted, {refused} refused while no node "
        f"led, {lost} lost"
    )
    results.update(
        failover_s=round(max(times), 2),
        failover_s_mean=round(statistics.mean(times), 2),
        failovers=len(times),
        contacts_accepted=accepted,
        contacts_refused=refused,
        lost_contacts=lost,
    )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=24)
    parser.add_argument("--failovers", type=int, default=10)
    parser.add_argument("--paced", type=int, default=400, help="arrivals for the latency figures")
    parser.add_argument("--rate", type=float, default=40.0, help="their rate per second")
    options = parser.parse_args()
    print(f"machine: {machine()}")
    print("measured on a shared machine, under the load of other work")
    figures = asyncio.run(main(options))
    print(json.dumps(figures))
