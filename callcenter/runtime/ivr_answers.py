"""Self-service answers for IVR lookups (``want: order_status`` ...) from the CRM tables in
the center's own database.

What the CRM holds answers what it can; anything else (``balance``: the CRM keeps no
accounts) is None, so the flow takes its ``not_found`` branch and says so.

- ``order_status``, ``card_status``: the newest order's ``status``, ``tracking`` ("" if
  none), ``amount``, ``currency`` and ``ordered_days_ago``;
- ``open_tickets``: ``count``, and the newest open ticket's ``subject`` and ``status``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.crm_link.model import CustomerCard
from callcenter.crm_link.schema import orders, tickets

DAY_S = 86400.0
CLOSED_TICKETS = ("closed", "resolved")


class CrmAnswers:
    """``answer(want, card)`` over the CRM tables; ``now`` gives the time (for ages)."""

    def __init__(self, engine: AsyncEngine, now: Callable[[], float]) -> None:
        self._engine = engine
        self._now = now

    async def answer(self, want: str, card: CustomerCard) -> Mapping[str, Any] | None:
        if card.customer_id is None:
            return None
        if want in ("order_status", "card_status"):
            return await self._newest_order(card.customer_id)
        if want == "open_tickets":
            return await self._open_tickets(card.customer_id)
        return None

    async def _newest_order(self, customer_id: str) -> Mapping[str, Any] | None:
        o = orders.c
        query = (select(o.status, o.tracking, o.amount, o.currency, o.ordered_at)
                 .where(o.customer_id == customer_id).order_by(o.ordered_at.desc()).limit(1))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        days = max(0, math.floor((self._now() - row.ordered_at) / DAY_S))
        return {"status": row.status, "tracking": row.tracking or "", "amount": row.amount,
                "currency": row.currency, "ordered_days_ago": days}

    async def _open_tickets(self, customer_id: str) -> Mapping[str, Any]:
        t = tickets.c
        query = (select(t.subject, t.status).where(t.customer_id == customer_id)
                 .where(t.status.not_in(CLOSED_TICKETS)).order_by(t.updated_at.desc()))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        newest = rows[0] if rows else None
        return {"count": len(rows), "subject": newest.subject if newest else "",
                "status": newest.status if newest else ""}
