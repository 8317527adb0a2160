"""The nightly score refresh (``callcenter crm refresh``): every customer's RFM cell and
segment, pyramid level, value-matrix cell, lifetime value and churn risk, computed with
the analytics functions over the whole population and written to ``customer_scores``.

Why a stored table rather than computing on lookup: RFM, pyramid and value matrix rank a
customer against everybody else, which needs the whole population (a few seconds for a
million customers); a lookup during a call must take milliseconds. Scores therefore lag
the orders by up to a day, which is what segment figures are for. Tickets and recent
contacts, which change during the day, are read live at lookup.

Inputs per customer, aggregated by SQL: order count, total spend, last order, spend in
the last 365 days and in the 365 before, and distinct order days (for churn). Choices
(``ScoreSettings``): the pyramid ranks total spend; value-matrix potential is the spend
trend (last year minus the year before, ``spend_trend``) with "growing" as high; CLV is
``clv_steady`` with margin = last year's spend x ``margin_rate`` and a retention per churn
level; the segment is named from the RFM cell (``segment_of``), "prospect" for a customer
who never bought.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.crm_link.analytics import (
    CustomerActivity,
    churn_risks,
    clv_steady,
    pyramid_levels,
    rfm_scores,
    spend_trend,
    value_matrix,
)
from callcenter.crm_link.schema import customer_scores, customers, orders

YEAR_S = 365 * 86400.0
WRITE_BATCH = 5000


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreSettings:
    margin_rate: float = 0.2
    discount_rate: float = 0.1
    retention: Mapping[str, float] = field(
        default_factory=lambda: {"low": 0.85, "medium": 0.6, "high": 0.3, "unknown": 0.5}
    )


@dataclass(frozen=True, slots=True)
class RefreshStats:
    customers: int
    with_orders: int
    segments: dict[str, int]
    pyramid: dict[str, int]


def segment_of(recency: int, frequency: int, monetary: int) -> str:
    """A name for an RFM cell, first rule that matches: champions (R>=4, F>=4), new (R>=4,
    F=1), loyal (F>=4), at_risk (R<=2, F>=3), lost (R=1), hibernating (R<=2), promising
    (R>=4), else needs_attention. ``monetary`` does not name the segment; the pyramid
    already ranks value."""
    if recency >= 4 and frequency >= 4:
        return "champions"
    if recency >= 4 and frequency == 1:
        return "new"
    if frequency >= 4:
        return "loyal"
    if recency <= 2 and frequency >= 3:
        return "at_risk"
    if recency == 1:
        return "lost"
    if recency <= 2:
        return "hibernating"
    if recency >= 4:
        return "promising"
    return "needs_attention"


async def refresh_scores(
    engine: AsyncEngine, now: float, settings: ScoreSettings | None = None
) -> RefreshStats:
    """Recompute every customer's scores as of ``now`` and replace ``customer_scores`` in
    one transaction (readers see the old scores or the new ones, never a mix)."""
    settings = settings or ScoreSettings()
    today = datetime.fromtimestamp(now, UTC).date()
    was_enabled = gc.isenabled()
    gc.disable()  # a million small result objects make the cyclic collector rescan the heap
    try:
        rows, order_days = await _read(engine, now)
        scored = _score(rows, order_days, today, settings)
    finally:
        if was_enabled:
            gc.enable()
    async with engine.begin() as conn:
        await conn.execute(delete(customer_scores))
        for start in range(0, len(scored), WRITE_BATCH):
            batch = [{**r, "computed_at": now} for r in scored[start : start + WRITE_BATCH]]
            await conn.execute(insert(customer_scores), batch)
    segments: dict[str, int] = defaultdict(int)
    pyramid: dict[str, int] = defaultdict(int)
    for r in scored:
        segments[r["segment"]] += 1
        pyramid[r["pyramid"]] += 1
    with_orders = sum(1 for r in scored if r["order_count"])
    return RefreshStats(len(scored), with_orders, dict(segments), dict(pyramid))


async def _read(engine: AsyncEngine, now: float) -> tuple[list[Any], dict[str, list[date]]]:
    last_year = orders.c.ordered_at >= now - YEAR_S
    year_before = (orders.c.ordered_at >= now - 2 * YEAR_S) & (orders.c.ordered_at < now - YEAR_S)
    per_customer = (
        select(
            orders.c.customer_id,
            func.count().label("n"),
            func.sum(orders.c.amount).label("total"),
            func.max(orders.c.ordered_at).label("last"),
            func.sum(case((last_year, orders.c.amount), else_=0)).label("last_year"),
            func.sum(case((year_before, orders.c.amount), else_=0)).label("year_before"),
        )
        .where(orders.c.status != "cancelled", orders.c.ordered_at <= now)
        .group_by(orders.c.customer_id)
        .subquery()
    )
    query = select(customers.c.id, per_customer).select_from(
        customers.outerjoin(per_customer, per_customer.c.customer_id == customers.c.id)
    )
    days: dict[str, list[date]] = defaultdict(list)
    async with engine.connect() as conn:
        rows = list((await conn.execute(query)).all())
        stream = await conn.stream(
            select(orders.c.customer_id, orders.c.ordered_at).where(
                orders.c.status != "cancelled", orders.c.ordered_at <= now
            )
        )
        async for cid, at in stream:
            days[cid].append(datetime.fromtimestamp(at, UTC).date())
    return rows, days


def _score(
    rows: list[Any], order_days: Mapping[str, list[date]], today: date, settings: ScoreSettings
) -> list[dict[str, Any]]:
    activities = [
        CustomerActivity(
            r.id,
            None if r.last is None else datetime.fromtimestamp(r.last, UTC).date(),
            int(r.n or 0),
            float(r.total or 0),
        )
        for r in rows
    ]
    rfm = rfm_scores(activities, today)
    totals = {a.customer_id: a.total_amount for a in activities}
    pyramid = pyramid_levels(totals)
    trend = {r.id: spend_trend([float(r.year_before or 0), float(r.last_year or 0)]) for r in rows}
    cells = value_matrix(totals, trend, potential_threshold=0.0)
    churn = churn_risks({r.id: order_days.get(r.id, []) for r in rows}, today)
    out = []
    for r, a in zip(rows, activities, strict=True):
        score, risk = rfm[r.id], churn[r.id]
        margin = float(r.last_year or 0) * settings.margin_rate
        clv = clv_steady(margin, settings.retention[risk.level], settings.discount_rate)
        out.append(
            {
                "customer_id": r.id,
                "rfm": score.code,
                "segment": segment_of(score.recency, score.frequency, score.monetary)
                if a.order_count
                else "prospect",
                "pyramid": pyramid[r.id],
                "value_cell": cells[r.id],
                "clv": round(clv, 2),
                "churn_risk": risk.level,
                "churn_score": risk.score,
                "total_spend": a.total_amount,
                "order_count": a.order_count,
                "last_order_at": r.last,
            }
        )
    return out
