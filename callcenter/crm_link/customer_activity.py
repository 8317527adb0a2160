"""Tickets, orders, notes and survey answers of a customer.

Functions take the engine and plain values; times are epoch seconds passed in by the
caller (the web module reads its clock), so tests choose them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from msgspec import UNSET
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.crm_link.bodies import (
    TICKET_STATUSES,
    CrmInputError,
    TicketIn,
    TicketPatch,
    crm_convert,
    order_values,
    ticket_values,
)
from callcenter.crm_link.schema import customer_notes, customers, orders, survey_answers, tickets


async def _require_customer(conn: AsyncConnection, customer_id: str) -> None:
    found = await conn.execute(select(customers.c.id).where(customers.c.id == customer_id))
    if found.first() is None:
        raise CrmInputError("customer_id", f"no customer {customer_id!r}", 404)


def ticket_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "customer_id": row["customer_id"],
        "kind": row["kind"],
        "status": row["status"],
        "owner": row["owner"],
        "due_at": row["due_at"],
        "subject": row["subject"],
        "contact_ids": list(row["contact_ids"] or []),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


async def create_ticket(
    engine: AsyncEngine,
    customer_id: str,
    body: TicketIn | Mapping[str, Any],
    *,
    ticket_id: str,
    now: float,
) -> dict[str, Any]:
    """A new ticket for ``customer_id`` from an API body (kind, subject required; status
    defaults to open). ``CrmInputError`` 400 naming the field, 404 for an unknown customer."""
    values = ticket_values(body)
    row = {**values, "id": ticket_id, "customer_id": customer_id, "created_at": now, "updated_at": now}
    async with engine.begin() as conn:
        await _require_customer(conn, customer_id)
        await conn.execute(insert(tickets).values(**row))
    return ticket_dict(row)


async def patch_ticket(
    engine: AsyncEngine, ticket_id: str, body: TicketPatch | Mapping[str, Any], *, now: float
) -> dict[str, Any]:
    """Change the fields present (status, owner, due_at, subject, kind, contact_ids).
    ``add_contact_id`` appends one contact instead of replacing the list."""
    given = crm_convert(body, TicketPatch)
    add = None if given.add_contact_id is UNSET else given.add_contact_id
    values = ticket_values(given, partial=True)
    if not values and add is None:
        raise CrmInputError(
            "body", "nothing to change: send status, owner, due_at, subject, kind or contact_ids"
        )
    async with engine.begin() as conn:
        row = (await conn.execute(select(tickets).where(tickets.c.id == ticket_id))).mappings().first()
        if row is None:
            raise CrmInputError("ticket_id", f"no ticket {ticket_id!r}", 404)
        if add is not None:
            ids = list(values.get("contact_ids", row["contact_ids"] or []))
            values["contact_ids"] = [*ids, add] if add not in ids else ids
        values["updated_at"] = now
        await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(**values))
    return ticket_dict({**row, **values})


async def list_tickets(
    engine: AsyncEngine, customer_id: str, *, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """A customer's tickets, newest first; ``status`` "open" means open or pending, else
    one of open / pending / closed exactly."""
    query = select(tickets).where(tickets.c.customer_id == customer_id)
    if status == "open":
        query = query.where(tickets.c.status != "closed")
    elif status is not None:
        if status not in TICKET_STATUSES:
            raise CrmInputError("status", f"status must be one of {', '.join(TICKET_STATUSES)}")
        query = query.where(tickets.c.status == status)
    query = query.order_by(tickets.c.created_at.desc(), tickets.c.id).limit(limit)
    async with engine.connect() as conn:
        await _require_customer(conn, customer_id)
        rows = (await conn.execute(query)).mappings().all()
    return [ticket_dict(r) for r in rows]


async def add_order(
    engine: AsyncEngine, customer_id: str, row: Mapping[str, Any], *, order_id: str
) -> dict[str, Any]:
    values = {**order_values(row), "id": order_id, "customer_id": customer_id}
    async with engine.begin() as conn:
        await _require_customer(conn, customer_id)
        await conn.execute(insert(orders).values(**values))
    return values


async def recent_orders(engine: AsyncEngine, customer_id: str, limit: int = 5) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    select(orders)
                    .where(orders.c.customer_id == customer_id)
                    .order_by(orders.c.ordered_at.desc())
                    .limit(limit)
                )
            )
            .mappings()
            .all()
        )
    return [
        {
            "id": r["id"],
            "ordered_at": r["ordered_at"],
            "amount": float(r["amount"]),
            "currency": r["currency"],
            "status": r["status"],
            "tracking": r["tracking"],
        }
        for r in rows
    ]


async def add_note(engine: AsyncEngine, customer_id: str, text: str, *, author: str, now: float) -> None:
    if not text.strip():
        raise CrmInputError("text", "a note needs text")
    async with engine.begin() as conn:
        await _require_customer(conn, customer_id)
        await conn.execute(
            insert(customer_notes).values(customer_id=customer_id, at=now, author=author, text=text.strip())
        )


async def add_survey_answer(
    engine: AsyncEngine,
    customer_id: str,
    rating: int,
    *,
    contact_id: str | None,
    now: float,
    comment: str | None = None,
) -> None:
    async with engine.begin() as conn:
        await _require_customer(conn, customer_id)
        await conn.execute(
            insert(survey_answers).values(
                customer_id=customer_id, contact_id=contact_id, at=now, rating=rating, comment=comment
            )
        )


async def customer_notes_of(engine: AsyncEngine, customer_id: str, limit: int = 10) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    select(customer_notes)
                    .where(customer_notes.c.customer_id == customer_id)
                    .order_by(customer_notes.c.at.desc())
                    .limit(limit)
                )
            )
            .mappings()
            .all()
        )
    return [{"at": r["at"], "by": r["author"], "text": r["text"]} for r in rows]


def open_ticket_ids(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """contact id -> id of an open ticket that contact was about (the repeat-contact check)."""
    out: dict[str, str] = {}
    for r in rows:
        if r["status"] != "closed":
            for cid in r["contact_ids"] or []:
                out.setdefault(cid, r["id"])
    return out


SELF_SERVICE = ("card_status", "order_status", "open_tickets")


async def self_service_answer(engine: AsyncEngine, want: str, customer_id: str) -> dict[str, Any] | None:
    """What an IVR self-service lookup (``want``) tells the caller, or None when the CRM
    has no such answer: ``card_status`` / ``order_status`` is the latest order (status,
    tracking, ordered_at, order_id); ``open_tickets`` is their count and the latest subject.
    Balances are not kept here (``balance`` is None: the flow's not_found branch)."""
    if want in ("card_status", "order_status"):
        latest = await recent_orders(engine, customer_id, limit=1)
        if not latest:
            return None
        order = latest[0]
        return {
            "status": order["status"],
            "tracking": order["tracking"],
            "ordered_at": order["ordered_at"],
            "order_id": order["id"],
        }
    if want == "open_tickets":
        rows = await list_tickets(engine, customer_id, status="open", limit=50)
        return {"count": len(rows), "latest_subject": rows[0]["subject"] if rows else None}
    return None
