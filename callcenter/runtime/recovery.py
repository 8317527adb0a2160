"""Restart recovery: after a crash, the interaction log says which contacts were still open.

On start, before any adapter takes traffic, every contact whose last event is not
``contact.ended`` is settled:

- a callback contact (waiting for us to call back) goes back in line with its original
  arrival time and order key, so it keeps its place;
- a call or chat was carried by a connection that died with the process: it is closed with
  reason ``system_restart`` (the customer has gone; nothing pretends otherwise).

Agents are not restored: they come back NOT_READY when their desk reconnects and logs
them in. One ``server.recovered`` event records what was done, so the log and the
contacts table agree and every contact ends exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.acd import model as m
from callcenter.core.events import InteractionEvent
from callcenter.runtime.center import Center
from callcenter.storage import schema

log = logging.getLogger(__name__)


@dataclass
class Recovery:
    restored: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)


async def open_contacts(engine: AsyncEngine) -> list[dict[str, Any]]:
    c = schema.contacts
    query = select(c).where(c.c.state != "ended").order_by(c.c.queued_at, c.c.first_seq)
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]


async def last_attributes(engine: AsyncEngine, contact_id: str) -> dict[str, Any]:
    """The attributes and callback number a contact was queued with, and any learnt later
    (from its events)."""
    ev = schema.events
    query = (
        select(ev.c.type, ev.c.data)
        .where(ev.c.contact_id == contact_id)
        .where(ev.c.type.in_(["contact.queued", "contact.attributes_changed", "contact.callback_requested"]))
        .order_by(ev.c.seq)
    )
    attrs: dict[str, Any] = {}
    async with engine.connect() as conn:
        for kind, data in await conn.execute(query):
            if kind in ("contact.queued", "contact.attributes_changed"):
                attrs.update(data.get("attributes") or {})
            else:
                attrs["callback_number"] = data.get("number")
    return attrs


async def recover(center: Center, db: AsyncEngine) -> Recovery:
    """Settle the contacts a previous run left open (see module docstring)."""
    result = Recovery()
    restorable: list[m.ContactArrived] = []
    now = center.clock.now()
    for row in await open_contacts(db):
        cid, queue = row["contact_id"], row["queue"]
        if row["channel"] == "callback" and queue in center.engine.queues:
            attrs = await last_attributes(db, cid)
            restorable.append(
                m.ContactArrived(
                    contact_id=cid,
                    channel="callback",
                    queue=queue,
                    caller=row["caller"],
                    attributes={k: str(v) for k, v in attrs.items() if v is not None},
                    arrived_at=row["arrived_at"] or row["queued_at"] or now,
                )
            )
            result.restored.append(cid)
        else:
            center.record(
                InteractionEvent(
                    type="contact.ended",
                    at=now,
                    contact_id=cid,
                    queue=queue,
                    data={"reason": "system_restart", "was": row["state"]},
                )
            )
            result.closed.append(cid)
    if restorable:
        await center.submit(m.ContactsRestored(contacts=tuple(restorable)))
    if result.restored or result.closed:
        center.record(
            InteractionEvent(
                type="server.recovered", at=now, data={"restored": result.restored, "closed": result.closed}
            )
        )
        log.warning(
            "recovered after a restart: %d callback(s) back in line, %d contact(s) closed",
            len(result.restored),
            len(result.closed),
        )
    return result
