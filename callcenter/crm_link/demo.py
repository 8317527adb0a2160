"""Customers for the demo center: a synthetic base plus the demo callers.

With ``crm.demo_customers: N`` (the demo config has 200), the first start on a store
with no customers seeds N synthetic customers (``seed.py``, seed ``DEMO_SEED``, history
ending on the day of that start, so the same day gives the same customers), then the
demo callers below, then the nightly scores. A store that already has customers is left
alone, so a restart or a real customer base is never touched.

The demo callers are the numbers the tests, the browser test and the docs dial:
``+972501234567`` is Noa Levi, a hand-set ``top`` tier customer with an open complaint,
account ``AC90000001``, PIN ``4321``, born 1988-05-14 (what a verify node asks for; the
PIN is stored as its hash). A store seeded before credentials existed gets the demo
callers' credentials on the next start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config.crm import CrmConfig
from callcenter.crm_link.schema import contact_points, customer_credentials, customers, orders, tickets
from callcenter.crm_link.scores import refresh_scores
from callcenter.crm_link.seed import seed
from callcenter.crm_link.verification import hash_pin

log = logging.getLogger(__name__)

DEMO_SEED = 2026
DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class DemoCaller:
    customer_id: str
    account_number: str
    name: str
    first_name: str
    language: str
    tier: str
    phone: str
    email: str
    ticket_id: str
    ticket_subject: str
    pin: str  # stored as its hash
    birth_date: str


DEMO_CALLERS = (
    DemoCaller(
        customer_id="cus-demo-0001",
        account_number="AC90000001",  # keyed as 90000001
        name="Levi",
        first_name="Noa",
        language="he",
        tier="top",
        phone="+972501234567",
        email="noa.levi@example.com",
        ticket_id="tic-demo-0001",
        ticket_subject="Card payment declined twice",
        pin="4321",
        birth_date="1988-05-14",
    ),
)


async def ensure_demo_customers(engine: AsyncEngine, config: CrmConfig, now: float) -> int:
    """Seed the demo customer base if ``config.demo_customers`` asks for it and the store
    has no customers; return how many customers were written (0: left alone)."""
    if config.demo_customers <= 0:
        return 0
    async with engine.connect() as conn:
        present = (await conn.execute(select(func.count()).select_from(customers))).scalar_one()
    if present:
        await _ensure_credentials(engine)
        return 0
    until = datetime.fromtimestamp(now, UTC).date()
    stats = await seed(
        engine, config.demo_customers, DEMO_SEED, until=until, country_code=config.default_country_code
    )
    async with engine.begin() as conn:
        await conn.execute(insert(customers), [_customer_row(c, now) for c in DEMO_CALLERS])
        await conn.execute(insert(contact_points), [p for c in DEMO_CALLERS for p in _points(c)])
        await conn.execute(insert(tickets), [_ticket_row(c, now) for c in DEMO_CALLERS])
        await conn.execute(insert(orders), [o for c in DEMO_CALLERS for o in _orders(c, now)])
    await _ensure_credentials(engine)
    await refresh_scores(engine, now)
    written = stats.customers + len(DEMO_CALLERS)
    log.info("demo CRM: seeded %d customers (demo caller %s)", written, DEMO_CALLERS[0].phone)
    return written


async def _ensure_credentials(engine: AsyncEngine) -> None:
    """The demo callers' PIN and date of birth, unless they have credentials already."""
    async with engine.connect() as conn:
        found = await conn.execute(
            select(customers.c.id).where(
                customers.c.id.in_([c.customer_id for c in DEMO_CALLERS]),
                customers.c.id.not_in(select(customer_credentials.c.customer_id)),
            )
        )
        missing = {row[0] for row in found}
    rows = [
        {"customer_id": c.customer_id, "pin_hash": hash_pin(c.pin), "birth_date": c.birth_date}
        for c in DEMO_CALLERS
        if c.customer_id in missing
    ]
    if rows:
        async with engine.begin() as conn:
            await conn.execute(insert(customer_credentials), rows)


def _customer_row(c: DemoCaller, now: float) -> dict[str, Any]:
    return {
        "id": c.customer_id,
        "account_number": c.account_number,
        "name": c.name,
        "first_name": c.first_name,
        "language": c.language,
        "tier": c.tier,
        "created_at": round(now - 400 * DAY_S, 3),
    }


def _points(c: DemoCaller) -> list[dict[str, Any]]:
    return [
        {"customer_id": c.customer_id, "kind": "phone", "value": c.phone, "label": "mobile"},
        {"customer_id": c.customer_id, "kind": "email", "value": c.email, "label": None},
    ]


def _orders(c: DemoCaller, now: float) -> list[dict[str, Any]]:
    """A steady customer: an order about every two months for two years."""
    return [
        {
            "id": f"ord-{c.customer_id}-{k}",
            "customer_id": c.customer_id,
            "ordered_at": round(now - (10 + 60 * k) * DAY_S, 3),
            "amount": 180.0 + 15 * (k % 4),
            "currency": "ILS",
            "status": "delivered",
            "tracking": None,
        }
        for k in range(12)
    ]


def _ticket_row(c: DemoCaller, now: float) -> dict[str, Any]:
    opened = round(now - 2 * DAY_S, 3)
    return {
        "id": c.ticket_id,
        "customer_id": c.customer_id,
        "kind": "complaint",
        "status": "open",
        "owner": "alice",
        "due_at": round(now + 5 * DAY_S, 3),
        "subject": c.ticket_subject,
        "contact_ids": [],
        "created_at": opened,
        "updated_at": opened,
    }
