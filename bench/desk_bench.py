"""Offer delivery to agent desks: how long from the ACD's offer command to the frame
arriving at the agent's desk WebSocket, with 1,000 desks connected and 100 offers/s.

The real server (the demo config, SQLite in a temp folder, telephony off) runs on a
loopback port in this process. 1,000 agent users are seeded through the config and get
sessions from the auth store; a second process (this file with ``--client``) opens their
1,000 desk WebSockets with those session cookies, says hello, goes ready, and answers
every offer like a desk: accept, end, wrap-up done (so agents keep coming back). Contacts
arrive in the cards queue at ``--rate`` per second for ``--seconds`` through the real
``Center.contact_arrived`` (log, CRM lookup, ACD). The ACD's ``OfferContact`` command is
stamped where the center hands it to the desk hub; the client stamps each offer frame as
it arrives. Both use CLOCK_MONOTONIC, which one machine's processes share.

    python bench/desk_bench.py [--desks 1000] [--rate 100] [--seconds 20]

Prints the machine and the figures, then one JSON line (``desks``, ``offers_per_s``,
``offer_delivery_p50_ms``, ``offer_delivery_p99_ms`` and more). Figures taken while other
work shares the machine are disturbed by it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from msgspec.structs import replace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from _machine import machine
from aiohttp import web
from sqlalchemy import select

from callcenter.agent_desk.routes import HUB
from callcenter.app import create_app
from callcenter.appkeys import DB
from callcenter.auth.guard import COOKIE
from callcenter.auth.passwords import hash_password
from callcenter.auth.schema import users
from callcenter.auth.store import create_session
from callcenter.config.loader import load_config
from callcenter.config.sections import CenterConfig, UserConfig
from callcenter.core.desk_frames import DeskFrame, Offer
from callcenter.runtime.keys import CENTER

ROOT = Path(__file__).resolve().parents[1]


# The server side ---------------------------------------------------------------------------


class Stamped:
    """Between the center and the desk hub: stamps each offer as the ACD's command is routed."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.sent: dict[str, float] = {}

    def deliver(self, agent_id: str, frame: DeskFrame) -> None:
        if isinstance(frame, Offer):
            self.sent[frame.offer_id] = time.monotonic()
        self.hub.deliver(agent_id, frame)


def bench_config(folder: Path, desks: int) -> CenterConfig:
    config = load_config(ROOT / "config" / "callcenter.yaml")
    secret = hash_password("bench-not-a-login")  # sessions come from the store, not logins
    agents = list(
        UserConfig(
            username=f"a{i:04d}", name=f"Agent {i}", password_hash=secret, skills={"cards": 3, "banking": 2}
        )
        for i in range(desks)
    )
    return replace(
        config,
        users=agents,
        storage=replace(config.storage, url=f"sqlite+aiosqlite:///{folder / 'bench.db'}"),
        telephony=replace(config.telephony, enabled=False),
    )


async def sessions(app: web.Application) -> list[str]:
    engine = app[DB]
    async with engine.connect() as conn:
        ids = [r.id for r in await conn.execute(select(users.c.id).where(users.c.role == "agent"))]
    return [(await create_session(engine, user_id, time.time()))[0] for user_id in ids]


async def arrivals(app: web.Application, rate: float, seconds: float) -> int:
    center = app[CENTER]
    loop = asyncio.get_running_loop()
    start, n, total = loop.time(), 0, int(rate * seconds)
    while n < total:
        await center.contact_arrived(
            contact_id=f"bench-{n}", channel="voice", queue="cards", caller=f"+9725{n % 10_000_000:08d}"
        )
        n += 1
        delay = start + n / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
    return n


async def serve(desks: int, rate: float, seconds: float, gc_freeze: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(bench_config(Path(folder), desks))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        stamped = Stamped(app[HUB])
        app[CENTER].desks = stamped
        try:
            tokens = await sessions(app)
            client = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--client",
                str(port),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=64 * 1024 * 1024,
            )
            assert client.stdin is not None and client.stdout is not None
            client.stdin.write((json.dumps(tokens) + "\n").encode())
            await client.stdin.drain()
            t0 = time.monotonic()
            ready = json.loads(await asyncio.wait_for(client.stdout.readline(), 300))
            connect_s = time.monotonic() - t0
            await wait_ready(app, desks)
            if gc_freeze:  # what the server would gain: startup objects out of the collector's way
                gc.collect()
                gc.freeze()
            lag = LoopLag()
            lag.start()
            t0 = time.monotonic()
            offered = await arrivals(app, rate, seconds)
            elapsed = time.monotonic() - t0
            server_lag = lag.stop()
            await asyncio.sleep(1.0)  # the last offers reach their desks
            client.stdin.write(b"done\n")
            await client.stdin.drain()
            received = json.loads(await asyncio.wait_for(client.stdout.readline(), 120))
            await client.wait()
        finally:
            await runner.cleanup()
    delays = sorted((received[o] - t) * 1000 for o, t in stamped.sent.items() if o in received)
    return {
        "server": server_lag,
        "client": received.pop("_lag"),
        "desks": ready["desks"],
        "connect_s": connect_s,
        "contacts": offered,
        "elapsed": elapsed,
        "offers": len(stamped.sent),
        "received": len(delays),
        "delays": delays,
    }


async def wait_ready(app: web.Application, desks: int) -> None:
    engine = app[CENTER].engine
    for _ in range(600):
        if sum(1 for a in engine.agents.values() if a.state.value == "AVAILABLE") >= desks:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the desks did not all become ready within 30 s")


class LoopLag:
    """How late this process's event loop wakes a 5 ms timer (its stalls), and how long
    the garbage collector's passes took meanwhile."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.gc_ms: list[float] = []
        self._gc_start = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        gc.callbacks.append(self._gc)
        self._task = asyncio.ensure_future(self._watch())

    def stop(self) -> dict[str, float]:
        gc.callbacks.remove(self._gc)
        if self._task is not None:
            self._task.cancel()
        lags = sorted(self.lags)
        return {
            "loop_lag_p99_ms": round(percentile(lags, 0.99), 2),
            "loop_lag_max_ms": round(max(lags, default=0.0), 2),
            "gc_passes": len(self.gc_ms),
            "gc_max_ms": round(max(self.gc_ms, default=0.0), 2),
        }

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.005
            await asyncio.sleep(0.005)
            self.lags.append((loop.time() - due) * 1000)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gc_ms.append((time.perf_counter() - self._gc_start) * 1000)


# The client side (a second process) ---------------------------------------------------------


async def desk(
    session: aiohttp.ClientSession, url: str, received: dict[str, float], up: asyncio.Queue[bool]
) -> None:
    async with session.ws_connect(url, max_msg_size=0) as ws:
        await ws.send_json({"type": "hello", "protocol": 1})
        await ws.receive_json()
        await ws.send_json({"type": "set_state", "state": "ready"})
        up.put_nowait(True)
        async for msg in ws:
            now = time.monotonic()
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            kind = frame.get("type")
            if kind == "offer":
                received[frame["offer_id"]] = now
                await ws.send_json({"type": "accept", "offer_id": frame["offer_id"]})
            elif kind == "contact" and frame.get("status") == "connected":
                await ws.send_json({"type": "end", "contact_id": frame["contact_id"]})
            elif kind == "contact" and frame.get("status") == "wrap_up":
                await ws.send_json({"type": "wrap_up_done", "contact_id": frame["contact_id"]})


async def client(port: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tokens = json.loads(await reader.readline())
    received: dict[str, float] = {}
    up: asyncio.Queue[bool] = asyncio.Queue()
    url = f"http://127.0.0.1:{port}/ws/desk"
    connector = aiohttp.TCPConnector(limit=0)
    sessions = [
        aiohttp.ClientSession(connector=connector, connector_owner=False, cookies={COOKIE: token})
        for token in tokens
    ]
    tasks = []
    for session in sessions:
        tasks.append(asyncio.ensure_future(desk(session, url, received, up)))
        if len(tasks) % 50 == 0:
            await asyncio.sleep(0.05)  # a desk logs in at a time, not all in one burst
    for _ in tasks:
        await up.get()
    gc.collect()
    gc.freeze()  # this process only stands in for the desks: keep its own pauses out of the figures
    print(json.dumps({"desks": len(tasks)}), flush=True)
    lag = LoopLag()
    lag.start()
    await reader.readline()
    print(json.dumps({**received, "_lag": lag.stop()}), flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for session in sessions:
        await session.close()
    await connector.close()


# Report --------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--desks", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="offers per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="freeze the server's startup objects out of the garbage collector first",
    )
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client is not None:
        asyncio.run(client(args.client))
        return
    info = machine()
    print(f"machine: {info['cores']} cores, {info['cpu']}, Python {info['python']}, {info['system']}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    r = asyncio.run(serve(args.desks, args.rate, args.seconds, args.gc_freeze))
    delays = r["delays"]
    p50, p99 = percentile(delays, 0.50), percentile(delays, 0.99)
    achieved = r["contacts"] / r["elapsed"]
    print(f"desks connected and ready: {r['desks']} in {r['connect_s']:.1f} s")
    print(
        f"contacts: {r['contacts']} at {achieved:.1f}/s; offers made: {r['offers']}, "
        f"received at desks: {r['received']}"
    )
    print(
        f"offer delivery (ACD command -> desk frame): p50 {p50:.2f} ms, p90 "
        f"{percentile(delays, 0.90):.2f} ms, p99 {p99:.2f} ms, max {max(delays, default=0):.2f} ms, "
        f"mean {statistics.fmean(delays) if delays else 0:.2f} ms"
    )
    print(f"server loop while offering{' (gc frozen)' if args.gc_freeze else ''}: {r['server']}")
    print(f"desk client loop: {r['client']}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(
        json.dumps(
            {
                "desks": r["desks"],
                "offers_per_s": round(achieved, 1),
                "offers": r["offers"],
                "offers_received": r["received"],
                "offer_delivery_p50_ms": round(p50, 2),
                "offer_delivery_p90_ms": round(percentile(delays, 0.90), 2),
                "offer_delivery_p99_ms": round(p99, 2),
                "offer_delivery_max_ms": round(max(delays, default=0), 2),
                "server_loop_lag_p99_ms": r["server"]["loop_lag_p99_ms"],
                "server_loop_lag_max_ms": r["server"]["loop_lag_max_ms"],
                "server_gc_max_ms": r["server"]["gc_max_ms"],
                "gc_freeze": args.gc_freeze,
                "cores": info["cores"],
                "python": info["python"],
            }
        )
    )


if __name__ == "__main__":
    main()
