"""What a desk's ``welcome`` reads from the interaction log: the agent's "Today" list (the
contacts they let go of since midnight in the center's time zone) and the lines of open
chats so far. The log is the source of truth; the desk book's recent closes
(``runtime/desk_book.py``) fill in what the log writer has not written yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config.hours import day_bounds
from callcenter.core import desk_frames as f
from callcenter.crm_link.schema import customers
from callcenter.storage.schema import events

log = logging.getLogger(__name__)

HISTORY_MAX = 200  # the "Today" list shows the newest; a day of chats can be long
TRANSCRIPT_MAX = 500


def day_start(zone: ZoneInfo, now: float) -> float:
    """Midnight of the center's day that holds ``now``, as epoch seconds."""
    return day_bounds(zone, now)[0]


async def history(db: AsyncEngine, agent: str, since: float) -> list[f.HistoryItem]:
    """The contacts ``agent`` let go of (ended or transferred) since ``since``, newest first."""
    async with db.connect() as conn:
        mine = (
            await conn.execute(
                select(events.c.contact_id, events.c.type, events.c.at, events.c.queue, events.c.data)
                .where(
                    events.c.agent_id == agent,
                    events.c.at >= since,
                    events.c.type.in_(("contact.wrap_up", "contact.disposition")),
                )
                .order_by(events.c.seq)
            )
        ).all()
        released: dict[str, tuple[float, str | None]] = {}
        dispositions: dict[str, str] = {}
        for cid, kind, at, queue, data in mine:
            if cid is None:
                continue
            if kind == "contact.wrap_up":
                released[cid] = (at, queue)
            elif (data or {}).get("code"):
                dispositions[cid] = str(data["code"])
        newest = sorted(released, key=lambda c: released[c][0], reverse=True)[:HISTORY_MAX]
        facts = await _facts(conn, newest)
    names = await _names(
        db, {c: facts[c]["customer_id"] for c in newest if facts.get(c, {}).get("customer_id")}
    )
    out = []
    for cid in newest:
        at, queue = released[cid]
        known = facts.get(cid, {})
        out.append(
            f.HistoryItem(
                contact_id=cid,
                channel=known.get("channel"),
                queue=queue,
                caller=known.get("caller"),
                customer=names.get(cid),
                disposition=dispositions.get(cid),
                ended_at=at,
            )
        )
    return out


async def _facts(conn: Any, contact_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not contact_ids:
        return {}
    rows = await conn.execute(
        select(events.c.contact_id, events.c.type, events.c.data)
        .where(
            events.c.contact_id.in_(list(contact_ids)),
            events.c.type.in_(("contact.arrived", "contact.identified", "contact.callback_requested")),
        )
        .order_by(events.c.seq)
    )
    out: dict[str, dict[str, Any]] = {}
    for cid, kind, data in rows:
        data = data or {}
        row = out.setdefault(cid, {})
        if kind == "contact.arrived":
            row["channel"], row["caller"] = data.get("channel"), data.get("caller")
        elif kind == "contact.identified":
            row["customer_id"] = data.get("customer_id")
        else:
            row["channel"] = "callback"
    return out


async def _names(db: AsyncEngine, customer_of: dict[str, str]) -> dict[str, str]:
    """The customers' names, where the CRM's tables are on the center's database."""
    if not customer_of:
        return {}
    try:
        async with db.connect() as conn:
            rows = await conn.execute(
                select(customers.c.id, customers.c.first_name, customers.c.name).where(
                    customers.c.id.in_(sorted(set(customer_of.values())))
                )
            )
            name = {r.id: " ".join(p for p in (r.first_name, r.name) if p) for r in rows}
    except SQLAlchemyError as exc:  # an outside CRM: the list shows the caller instead
        log.debug("no customer names for the desk's Today list: %s", exc)
        return {}
    return {cid: name[cust] for cid, cust in customer_of.items() if cust in name}


async def transcripts(db: AsyncEngine, contact_ids: Iterable[str]) -> dict[str, list[f.TranscriptLine]]:
    """The lines of each chat so far, in order (what the customer and the agents wrote)."""
    ids = list(contact_ids)
    if not ids:
        return {}
    async with db.connect() as conn:
        rows = await conn.execute(
            select(events.c.contact_id, events.c.at, events.c.data)
            .where(events.c.contact_id.in_(ids), events.c.type == "contact.chat_message")
            .order_by(events.c.seq)
        )
        out: dict[str, list[f.TranscriptLine]] = {}
        for cid, at, data in rows:
            data = data or {}
            lines = out.setdefault(cid, [])
            if len(lines) < TRANSCRIPT_MAX and isinstance(data.get("text"), str):
                lines.append(
                    f.TranscriptLine(from_=str(data.get("from") or "customer"), text=data["text"], at=at)
                )
    return out


def merged(logged: list[f.HistoryItem], recent: Iterable[f.HistoryItem], since: float) -> list[f.HistoryItem]:
    """The log's list with the book's recent closes it does not have yet, newest first."""
    seen = {h.contact_id for h in logged}
    extra = [h for h in recent if h.ended_at >= since and h.contact_id not in seen]
    return sorted([*logged, *extra], key=lambda h: h.ended_at, reverse=True)[:HISTORY_MAX]
