"""Synthetic customers for demos, simulations and benchmarks: ``callcenter crm seed``.

The same ``seed`` (and ``until``, the day the generated history ends) gives byte-for-byte
the same customers, numbers, orders and tickets: everything comes from one
``random.Random(seed)`` drawn in a fixed order, and ids are numbered. Rows are written in
chunks in one transaction: PostgreSQL through COPY, SQLite through executemany, so a
million customers take about a minute rather than an hour.

Customer ``i`` (from ``first``) is ``cus-%08d``, account ``AC%08d``; its mobile number is
``i`` scrambled by a bijection mod 10^8 (unique, not sequential) under the country code.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.config.crm import parse_country_code
from callcenter.crm_link.schema import contact_points, customers, orders, tickets

DEFAULT_UNTIL = date(2025, 1, 1)
CHUNK = 20_000
DAY_S = 86400.0
FIRST_NAMES = (
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Radia",
    "Ken",
    "Margaret",
    "Dennis",
    "Noa",
    "Yael",
    "Omer",
    "Tamar",
    "Itai",
    "Maya",
    "Ariel",
    "Shira",
)
FAMILY_NAMES = (
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Backus",
    "Perlman",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Cohen",
    "Levi",
    "Mizrahi",
    "Peretz",
    "Biton",
    "Friedman",
    "Katz",
    "Azoulay",
    "Smith",
    "Garcia",
    "Nguyen",
    "Okafor",
)
TICKET_SUBJECTS = {
    "complaint": ("Card payment declined", "Fee charged twice", "Rude branch staff", "Late delivery"),
    "request": ("Raise card limit", "New cheque book", "Change address", "Statement copy"),
    "follow-up": ("Call back about loan offer", "Check dispute outcome", "Confirm card arrived"),
}


@dataclass(frozen=True, slots=True)
class SeedStats:
    customers: int
    phones: int
    emails: int
    orders: int
    tickets: int


async def seed(
    engine: AsyncEngine,
    customers_n: int,
    seed: int,
    *,
    first: int = 1,
    until: date = DEFAULT_UNTIL,
    country_code: str = "+1",
    history: bool = True,
) -> SeedStats:
    """Write ``customers_n`` synthetic customers numbered from ``first``. ``history=False``
    writes customers and contact points only (lookup benchmarks). Ids must be free: seeding
    the same numbers twice fails on the primary key and writes nothing."""
    if customers_n < 0:
        raise ValueError("the number of customers must be 0 or more")
    country = parse_country_code(country_code)
    rng = random.Random(seed)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC).timestamp()
    totals = [0, 0, 0, 0, 0]
    async with engine.begin() as conn:
        for start in range(first, first + customers_n, CHUNK):
            stop = min(first + customers_n, start + CHUNK)
            rows = _chunk(rng, range(start, stop), seed, country, end, history)
            for table, items in zip((customers, contact_points, orders, tickets), rows, strict=True):
                await _bulk(conn, table.name, items)
            totals[0] += len(rows[0])
            totals[1] += sum(1 for p in rows[1] if p["kind"] == "phone")
            totals[2] += sum(1 for p in rows[1] if p["kind"] == "email")
            totals[3] += len(rows[2])
            totals[4] += len(rows[3])
    return SeedStats(*totals)


def phone_number(i: int, seed: int, country: str) -> str:
    """Customer ``i``'s mobile: unique per ``i`` (``48271`` is invertible mod 10^8)."""
    local = (i * 48271 + seed * 7919) % 10**8
    if country == "1":
        return f"+1{201 + local // 10**7}{local % 10**7:07d}"
    return f"+{country}5{local:08d}"


def _chunk(
    rng: random.Random, numbers: range, seed: int, country: str, end: float, history: bool
) -> tuple[list[dict[str, Any]], ...]:
    people: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    bought: list[dict[str, Any]] = []
    asked: list[dict[str, Any]] = []
    for i in numbers:
        cid = f"cus-{i:08d}"
        first_name, family = rng.choice(FIRST_NAMES), rng.choice(FAMILY_NAMES)
        language = "he" if rng.random() < 0.3 else "en"
        created = end - rng.uniform(30, 6 * 365) * DAY_S
        people.append(
            {
                "id": cid,
                "account_number": f"AC{i:08d}",
                "name": family,
                "first_name": first_name,
                "language": language,
                "tier": "vip" if rng.random() < 0.01 else None,
                "created_at": round(created, 3),
            }
        )
        points.append(
            {"customer_id": cid, "kind": "phone", "value": phone_number(i, seed, country), "label": "mobile"}
        )
        if rng.random() < 0.6:
            points.append(
                {
                    "customer_id": cid,
                    "kind": "email",
                    "label": None,
                    "value": f"{first_name}.{family}.{i}@example.com".lower(),
                }
            )
        if history:
            bought += _orders(rng, cid, i, created, end, "ILS" if language == "he" else "USD")
            asked += _tickets(rng, cid, i, created, end)
    return people, points, bought, asked


def _orders(
    rng: random.Random, cid: str, i: int, created: float, end: float, currency: str
) -> list[dict[str, Any]]:
    # how often a customer buys varies a lot between customers: a skewed count, 0 to 12
    count = min(12, int(rng.expovariate(1 / 2.5)))
    out = []
    for k in range(count):
        at = rng.uniform(created, end)
        recent = end - at < 10 * DAY_S
        status = "shipped" if recent else ("cancelled" if rng.random() < 0.03 else "delivered")
        out.append(
            {
                "id": f"ord-{i:08d}-{k}",
                "customer_id": cid,
                "ordered_at": round(at, 3),
                "amount": round(math.exp(rng.gauss(4.0, 1.0)), 2),
                "currency": currency,
                "status": status,
                "tracking": f"TRK{i:08d}{k:02d}" if status in ("shipped", "delivered") else None,
            }
        )
    return out


def _tickets(rng: random.Random, cid: str, i: int, created: float, end: float) -> list[dict[str, Any]]:
    if rng.random() >= 0.15:
        return []
    out: list[dict[str, Any]] = []
    for k in range(1 + int(rng.random() < 0.2)):
        kind = rng.choice(("complaint", "request", "follow-up"))
        at = rng.uniform(max(created, end - 120 * DAY_S), end)
        status = "closed" if end - at > 14 * DAY_S else rng.choice(("open", "pending", "closed"))
        out.append(
            {
                "id": f"tic-{i:08d}-{k}",
                "customer_id": cid,
                "kind": kind,
                "status": status,
                "owner": None if status == "closed" else rng.choice(("alice", "bob", "carol")),
                "due_at": round(at + 7 * DAY_S, 3) if status != "closed" else None,
                "subject": rng.choice(TICKET_SUBJECTS[kind]),
                "contact_ids": [],
                "created_at": round(at, 3),
                "updated_at": round(at, 3),
            }
        )
    return out


async def _bulk(conn: AsyncConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys): COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = list(rows[0])
        if table == "tickets":
            rows = [{**r, "contact_ids": json.dumps(r["contact_ids"])} for r in rows]
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.copy_records_to_table(
            table, records=[tuple(r[c] for c in columns) for r in rows], columns=columns
        )
        return
    target = {"customers": customers, "contact_points": contact_points, "orders": orders, "tickets": tickets}
    await conn.execute(insert(target[table]), rows)
