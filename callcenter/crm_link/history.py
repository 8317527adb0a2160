"""A customer's contact history, read from the interaction log: the ``contacts``
projection (one row per contact, by ``customer_id``) with its disposition, and the
``contact.note`` and ``ivr.survey`` events of those contacts, and their recordings
(``recordings/index.py``). Nothing is copied into CRM tables, so history and reports
always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.crm_link.customer_activity import ticket_dict
from callcenter.crm_link.schema import tickets
from callcenter.storage.recording_index import Logged, logged_recordings
from callcenter.storage.schema import contacts, events

HISTORY_EVENTS = ("contact.note", "contact.disposition", "ivr.survey")


async def contact_history(
    engine: AsyncEngine,
    customer_id: str,
    *,
    limit: int = 20,
    before: float | None = None,
    exclude: str | None = None,
) -> list[dict[str, Any]]:
    """The customer's contacts, newest first: channel, queue, agent, times, how it ended,
    disposition, the agents' notes and the survey rating; a voicemail contact also has its
    message (``voicemail``: seconds, the call it was left on, how the agent handled it).
    ``before`` keeps contacts that arrived earlier (paging); ``exclude`` leaves one contact
    out (the one being handled)."""
    query = select(contacts).where(contacts.c.customer_id == customer_id)
    if before is not None:
        query = query.where(contacts.c.arrived_at < before)
    if exclude is not None:
        query = query.where(contacts.c.contact_id != exclude)
    query = query.order_by(contacts.c.arrived_at.desc(), contacts.c.contact_id).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
        extras = await _extras(conn, [r["contact_id"] for r in rows])
        heard = await logged_recordings(conn, [r["contact_id"] for r in rows])
        messages = await _voicemails(conn, [r["contact_id"] for r in rows if r["channel"] == "voicemail"])
    out = []
    for r in rows:
        notes, rating = extras.get(r["contact_id"], ([], None))
        out.append(
            {
                "contact_id": r["contact_id"],
                "channel": r["channel"],
                "queue": r["queue"],
                "agent_id": r["agent_id"],
                "state": r["state"],
                "arrived_at": r["arrived_at"],
                "answered_at": r["answered_at"],
                "ended_at": r["ended_at"],
                "end_reason": r["end_reason"],
                "wait_s": r["wait_s"],
                "disposition": r["disposition"],
                "notes": notes,
                "rating": rating,
                "recordings": [recording_ref(x) for x in heard.get(r["contact_id"], [])],
            }
        )
        if r["contact_id"] in messages:
            out[-1]["voicemail"] = messages[r["contact_id"]]
    return out


async def _voicemails(conn: AsyncConnection, contact_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per voicemail contact: ``seconds``, ``from_contact`` and ``handling`` (what the agent
    did: listened, called_back; the last one wins)."""
    if not contact_ids:
        return {}
    found = await conn.execute(
        select(events.c.contact_id, events.c.type, events.c.data)
        .where(
            events.c.contact_id.in_(list(contact_ids)),
            events.c.type.in_(("contact.voicemail", "contact.voicemail_handled")),
        )
        .order_by(events.c.seq)
    )
    out: dict[str, dict[str, Any]] = {}
    for cid, kind, data in found:
        entry = out.setdefault(cid, {"seconds": None, "from_contact": None, "handling": None})
        data = data or {}
        if kind == "contact.voicemail":
            entry.update(seconds=data.get("seconds"), from_contact=data.get("from_contact"))
        else:
            entry["handling"] = data.get("handling")
    return out


def recording_ref(rec: Logged) -> dict[str, Any]:
    """A history entry's recording: what the desk's player needs (it asks the URL, which
    checks who may hear it and says when the file is gone)."""
    return {
        "kind": rec.kind,
        "part": rec.part,
        "seconds": rec.seconds,
        "recorded_at": rec.recorded_at,
        "url": rec.url,
    }


async def _extras(
    conn: AsyncConnection, contact_ids: Sequence[str]
) -> dict[str, tuple[list[dict[str, Any]], int | None]]:
    if not contact_ids:
        return {}
    found = await conn.execute(
        select(events.c.contact_id, events.c.type, events.c.at, events.c.agent_id, events.c.data)
        .where(events.c.contact_id.in_(list(contact_ids)), events.c.type.in_(HISTORY_EVENTS))
        .order_by(events.c.seq)
    )
    out: dict[str, tuple[list[dict[str, Any]], int | None]] = {}
    for cid, kind, at, agent_id, data in found:
        notes, rating = out.get(cid, ([], None))
        data = data or {}
        if kind == "contact.note" and data.get("text"):
            notes.append({"at": at, "by": data.get("by") or agent_id, "text": str(data["text"])})
        elif kind == "ivr.survey" and isinstance(data.get("rating"), int):
            rating = data["rating"]
        out[cid] = (notes, rating)
    return out


async def ivr_trail(engine: AsyncEngine, contact_id: str) -> dict[str, Any]:
    """What happened in the IVR on ``contact_id``: flow, nodes in order, what the caller
    keyed or said, lookups. Digits are shown exactly as logged: the IVR masks sensitive
    input before it is logged, and nothing here can (or tries to) unmask it."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(events.c.type, events.c.at, events.c.data)
                .where(events.c.contact_id == contact_id, events.c.type.like("ivr.%"))
                .order_by(events.c.seq)
            )
        ).all()
    return fold_ivr([(kind, at, data or {}) for kind, at, data in rows])


def fold_ivr(rows: Sequence[tuple[str, float, dict[str, Any]]]) -> dict[str, Any]:
    """The IVR part of a screen pop from ``(type, at, data)`` events in log order."""
    trail: dict[str, Any] = {"flow": None, "path": [], "inputs": [], "lookups": [], "ended": None}
    for kind, at, data in rows:
        if kind == "ivr.started":
            trail["flow"] = data.get("flow")
        elif kind == "ivr.node" and data.get("node"):
            trail["path"].append(data["node"])
        elif kind == "ivr.input":
            entry: dict[str, Any] = {"node": data.get("node"), "at": at}
            if "digits" in data:
                entry["digits"] = data["digits"]
            if "speech" in data:
                entry["speech"] = data["speech"]
            trail["inputs"].append(entry)
        elif kind == "ivr.lookup":
            trail["lookups"].append({k: data.get(k) for k in ("node", "by", "want", "found")})
        elif kind == "ivr.ended":
            trail["ended"] = data.get("reason")
    return trail


async def contact_summary(engine: AsyncEngine, contact_id: str) -> dict[str, Any] | None:
    """One contact as the end-of-contact webhook sends it: the contacts row (customer,
    queue, agent, times, end reason, disposition), the agents' notes, the survey rating and
    the tickets that name this contact. None if the log has no such contact."""
    async with engine.connect() as conn:
        query = select(contacts).where(contacts.c.contact_id == contact_id)
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        notes, rating = (await _extras(conn, [contact_id])).get(contact_id, ([], None))
        linked: list[dict[str, Any]] = []
        if row["customer_id"] is not None:
            found = await conn.execute(select(tickets).where(tickets.c.customer_id == row["customer_id"]))
            linked = [ticket_dict(t) for t in found.mappings() if contact_id in (t["contact_ids"] or [])]
    keys = (
        "contact_id",
        "channel",
        "caller",
        "customer_id",
        "queue",
        "agent_id",
        "state",
        "arrived_at",
        "answered_at",
        "ended_at",
        "end_reason",
        "disposition",
        "wait_s",
        "transfers",
    )
    return {**{k: row[k] for k in keys}, "notes": notes, "rating": rating, "tickets": linked}


async def customer_of(engine: AsyncEngine, contact_id: str) -> str | None:
    """The customer the log identified on ``contact_id`` (``contact.identified``), if any."""
    async with engine.connect() as conn:
        found = await conn.execute(select(contacts.c.customer_id).where(contacts.c.contact_id == contact_id))
        value = found.scalar()
    return None if value is None else str(value)


async def verification_of(engine: AsyncEngine, contact_id: str) -> tuple[str, str] | None:
    """``(customer_id, method)`` of the last ``contact.verified`` of ``contact_id``: whom the
    contact proved to be (by ``pin``, ``dob`` or ``token``); None while unverified."""
    async with engine.connect() as conn:
        found = await conn.execute(
            select(events.c.data)
            .where(events.c.contact_id == contact_id, events.c.type == "contact.verified")
            .order_by(events.c.seq.desc())
            .limit(1)
        )
        data = found.scalar()
    if not data or not data.get("customer_id"):
        return None
    return str(data["customer_id"]), str(data.get("method") or "")
