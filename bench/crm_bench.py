"""CRM lookup latency with a large customer base, in SQLite and PostgreSQL, and the time to
build a full screen pop.

Each backend gets a fresh temporary database, migrated, seeded with ``--customers``
synthetic customers (numbers and e-mails; COPY on PostgreSQL) and a score row each. Then
``--lookups`` random customers are looked up by caller number, written the national way
(so normalization is included), one at a time as the IVR and the ACD do; the figures are
the p50 and p99 of single lookups. The screen pop is built for one customer with 30
earlier contacts (dispositions, notes), open tickets and an IVR trail. Last, the running
center's path (``crm_link.live.LiveCrm``, real interaction log): ``--live`` contacts arrive
from random customers' numbers (the arrival lookup, before queueing) and are offered (the
offer frame with its fresh screen pop, the log flushed first), one at a time.

Usage: python bench/crm_bench.py [--customers N] [--lookups N] [--pops N] [--live N] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config.crm import CrmConfig
from callcenter.core.desk_frames import DeskFrame, Offer
from callcenter.core.events import InteractionEvent
from callcenter.crm_link.caller_lookup import LiveCrm
from callcenter.crm_link.customer_activity import create_ticket
from callcenter.crm_link.screen_pop import load_screen_pop
from callcenter.crm_link.seed import phone_number, seed
from callcenter.crm_link.store import SqlCrmStore
from callcenter.runtime.ids import RandomIds
from callcenter.storage import database, migrate
from callcenter.storage.log import SqlInteractionLog

SEED = 11
NOW = 1_735_689_600.0  # the seed's default end of history
SCORES_SQL = (
    "INSERT INTO customer_scores (customer_id, computed_at, rfm, segment, pyramid, value_cell, clv, "
    "churn_risk, churn_score, total_spend, order_count, last_order_at) "
    "SELECT id, {now}, '333', 'loyal', 'regular', 'maintain', 100.0, 'low', 0.1, 500.0, 3, {now} "
    "FROM customers"
)


async def _pg_create() -> tuple[str, str]:
    import asyncpg

    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="test")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def _pg_drop(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="test")
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _prepare(engine: AsyncEngine, customers: int) -> float:
    await migrate.upgrade(engine)
    started = time.perf_counter()
    await seed(engine, customers, SEED, country_code="+972", history=False)
    async with engine.begin() as conn:
        await conn.execute(text(SCORES_SQL.format(now=NOW)))
    async with engine.begin() as conn:  # fresh planner statistics, as after a nightly load
        await conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def _lookups(store: SqlCrmStore, customers: int, n: int) -> list[float]:
    rng = random.Random(5)
    samples = []
    for _ in range(n):
        i = rng.randint(1, customers)
        national = "0" + phone_number(i, SEED, "972")[4:]
        started = time.perf_counter()
        card = await store.lookup("caller_number", national)
        samples.append((time.perf_counter() - started) * 1000)
        assert card is not None and card.customer_id == f"cus-{i:08d}"
    return samples


async def _screen_pops(engine: AsyncEngine, store: SqlCrmStore, n: int) -> list[float]:
    cid = "cus-00000001"
    log = SqlInteractionLog(engine, batch_max=500, flush_interval=0.01)
    await log.start()
    for k in range(30):
        contact, at = f"c-bench-{k}", NOW - (30 - k) * 86400
        life: list[tuple[str, dict[str, Any]]] = [
            ("contact.arrived", {"channel": "voice", "caller": "+972500000001"}),
            ("contact.identified", {"customer_id": cid}),
            ("contact.queued", {}),
            ("contact.connected", {"wait_s": 20.0}),
            ("contact.ended", {"reason": "completed"}),
            ("contact.note", {"text": f"note {k}", "by": "alice"}),
            ("contact.disposition", {"code": "resolved"}),
        ]
        for kind, data in life:
            log.append(InteractionEvent(type=kind, at=at, contact_id=contact, data=data, queue="general"))
    for kind, data in [
        ("ivr.started", {"flow": "bank"}),
        ("ivr.node", {"node": "welcome", "kind": "say"}),
        ("ivr.node", {"node": "main_menu", "kind": "menu"}),
        ("ivr.input", {"node": "main_menu", "digits": "1"}),
        ("ivr.input", {"node": "pin", "digits": "****"}),
        ("contact.identified", {"customer_id": cid}),
    ]:
        log.append(InteractionEvent(type=kind, at=NOW - 30, contact_id="c-bench-now", data=data))
    await log.close()
    for k in range(3):
        body = {"kind": "complaint", "subject": f"Issue {k}", "contact_ids": [f"c-bench-{29 - k}"]}
        await create_ticket(engine, cid, body, ticket_id=f"T-bench-{k}", now=NOW)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        card = await store.lookup("caller_number", phone_number(1, SEED, "972"))
        pop = await load_screen_pop(store, "c-bench-now", card)
        samples.append((time.perf_counter() - started) * 1000)
        assert pop["repeat"] is not None and len(pop["recent_contacts"]) == 5
    return samples


async def _live(store: SqlCrmStore, customers: int, n: int) -> tuple[list[float], list[float]]:
    """Arrival (lookup + attributes) and offer-to-frame times of the running center's CRM."""
    rng = random.Random(7)
    frames: asyncio.Queue[DeskFrame] = asyncio.Queue()
    log = SqlInteractionLog(store.engine, batch_max=1000, flush_interval=0.02)
    await log.start()
    crm = LiveCrm(store, store, store.config, now=lambda: NOW, flush=log.flush)
    crm.bind(record=log.append, deliver=lambda agent, frame: frames.put_nowait(frame))
    arrivals, offers = [], []
    for k in range(n):
        i = rng.randint(1, customers)
        national, contact = "0" + phone_number(i, SEED, "972")[4:], f"c-live-{k}"
        log.append(
            InteractionEvent(
                type="contact.arrived",
                at=NOW,
                contact_id=contact,
                data={"channel": "voice", "caller": national},
            )
        )
        started = time.perf_counter()
        _, attributes = await crm.arrival(contact_id=contact, caller=national, queue="general", attributes={})
        queued = time.perf_counter()
        offer = Offer(
            offer_id=f"o-{k}",
            contact_id=contact,
            agent_id="alice",
            queue="general",
            channel="voice",
            ring_deadline=NOW + 20,
            trace="",
            caller=national,
            attributes={},
        )
        crm.offer("alice", offer)
        frame = await frames.get()
        assert isinstance(frame, Offer) and isinstance(frame.screen_pop, dict)
        arrivals.append((queued - started) * 1000)
        offers.append((time.perf_counter() - queued) * 1000)
        assert attributes["identified"] == "yes" and frame.screen_pop["customer"]["id"] == f"cus-{i:08d}"
        crm.ended(contact)
    await crm.close()
    await log.close()
    return arrivals, offers


async def run(url: str, customers: int, lookups: int, label: str, pops: int, live: int) -> dict[str, float]:
    engine = database.create_engine(url)
    try:
        seeded = await _prepare(engine, customers)
        print(f"{label}: seeded {customers:,} customers in {seeded:.1f} s", flush=True)
        store = SqlCrmStore(
            engine,
            CrmConfig(default_country_code="+972"),
            now=lambda: NOW,
            ids=RandomIds(lambda: int(NOW * 1000)),
        )
        await _lookups(store, customers, 50)  # warm the pool and the page cache
        samples = await _lookups(store, customers, lookups)
        out = {"p50": statistics.median(samples), "p99": _pct(samples, 0.99), "seed_s": seeded}
        print(
            f"{label}: lookup by caller number p50 {out['p50']:.2f} ms, p99 {out['p99']:.2f} ms "
            f"({lookups} lookups)",
            flush=True,
        )
        if pops:
            pop_samples = await _screen_pops(engine, store, pops)
            out["pop_p50"], out["pop_p99"] = statistics.median(pop_samples), _pct(pop_samples, 0.99)
            print(
                f"{label}: screen pop (lookup + tickets + 5 contacts + IVR trail) "
                f"p50 {out['pop_p50']:.2f} ms, p99 {out['pop_p99']:.2f} ms ({pops} pops)",
                flush=True,
            )
        if live:
            arrivals, offers = await _live(store, customers, live)
            out["arrival_p50"], out["arrival_p99"] = statistics.median(arrivals), _pct(arrivals, 0.99)
            out["offer_p50"], out["offer_p99"] = statistics.median(offers), _pct(offers, 0.99)
            print(
                f"{label}: live arrival lookup p50 {out['arrival_p50']:.2f} ms, "
                f"p99 {out['arrival_p99']:.2f} ms; offer frame with screen pop "
                f"p50 {out['offer_p50']:.2f} ms, p99 {out['offer_p99']:.2f} ms ({live} contacts)",
                flush=True,
            )
        return out
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--pops", type=int, default=500)
    parser.add_argument("--live", type=int, default=300)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    info = machine()
    print(f"machine: {info['cores']} cores, {info['cpu']}, Python {info['python']}, {info['system']}")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await run(
            f"sqlite+aiosqlite:///{Path(tmp) / 'crm.db'}",
            args.customers,
            args.lookups,
            "sqlite",
            args.pops,
            args.live,
        )
    postgres = None
    if not args.skip_postgres:
        name, url = await _pg_create()
        try:
            postgres = await run(url, args.customers, args.lookups, "postgres", args.pops, args.live)
        finally:
            await _pg_drop(name)
    print(
        json.dumps(
            {
                "name": "crm_bench",
                "cores": info["cores"],
                "customers": args.customers,
                "sqlite_lookup_p50_ms": round(sqlite["p50"], 3),
                "sqlite_lookup_p99_ms": round(sqlite["p99"], 3),
                "postgres_lookup_p50_ms": round(postgres["p50"], 3) if postgres else None,
                "postgres_lookup_p99_ms": round(postgres["p99"], 3) if postgres else None,
                "screen_pop_p50_ms": round(sqlite["pop_p50"], 3),
                "screen_pop_p99_ms": round(sqlite["pop_p99"], 3),
                "postgres_screen_pop_p99_ms": round(postgres["pop_p99"], 3) if postgres else None,
                **{
                    f"{label}_live_{key}_ms": round(figures[key], 3)
                    for label, figures in (("sqlite", sqlite), ("postgres", postgres or {}))
                    for key in ("arrival_p50", "arrival_p99", "offer_p50", "offer_p99")
                    if key in figures
                },
                "sqlite_seed_s": round(sqlite["seed_s"], 1),
                "postgres_seed_s": round(postgres["seed_s"], 1) if postgres else None,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
