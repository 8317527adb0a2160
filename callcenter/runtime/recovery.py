"""Restart recovery: after a crash, the interaction log says which contacts were still open.

On start, before any adapter takes traffic, every contact whose last event is not
``contact.ended`` is settled:

- a callback contact (waiting for us to call back) goes back in line with its original
  arrival time and order key, so it keeps its place; so does a voicemail (waiting, ringing
  or with an agent when the server stopped: it waits again, for its queue's opening hours);
- a chat that had reached a queue (waiting, ringing, or with an agent) and whose resume
  record survived (``storage/chat_resume.py``) is put aside for its customer (``HeldChats``)
  for ``chat.resume_after_restart_s``, counted from the first restart that held it. When
  the customer's page reconnects with its resume token, the chat goes back in line with its
  original arrival time and order key (so it is ahead of everyone who came after it, and
  behind everyone who came before); a chat that was with an agent goes back at the head of
  its queue (priority class 0), its offer naming the agent who had it. It is not offered
  to anyone while its customer is away: nobody would answer. If the customer does not come
  back in time, it ends ``abandoned`` (``after_restart: true``) and its token is refused;
- a call, or a chat still in the IVR or at the topic menu (whose state died with the
  process), or one without a resume record, was carried by a connection that cannot come
  back: it is closed with reason ``system_restart``.

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

from callcenter.acd.messages import ContactArrived, ContactsRestored
from callcenter.core.clock import TimerHandle
from callcenter.core.events import InteractionEvent
from callcenter.ports.chat_resume import ChatResume
from callcenter.runtime.center import Center
from callcenter.storage import schema

log = logging.getLogger(__name__)

HELD_STATES = {"queued": "waiting", "offered": "ringing", "connected": "connected"}  # row state -> was
HEAD_OF_QUEUE_CLASS = 0  # a chat that was with an agent: before the default class (1)


@dataclass
class Recovery:
    restored: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


@dataclass
class HeldChat:
    arrival: ContactArrived
    was: str  # waiting, ringing or connected
    deadline: float
    timer: TimerHandle | None = None


class HeldChats:
    """Chats set aside at a restart until their customers come back (see module docstring).
    ``take`` hands a chat's arrival to the one who resumes it; a chat not taken by its
    deadline ends ``abandoned``, ``after_restart: true``, and its resume record is deleted."""

    def __init__(self, center: Center, resume: ChatResume, window_s: float) -> None:
        self.center = center
        self.resume = resume
        self.window_s = window_s
        self._held: dict[str, HeldChat] = {}

    def holds(self, contact_id: str) -> bool:
        return contact_id in self._held

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, chat: HeldChat) -> None:
        cid = chat.arrival.contact_id
        self._held[cid] = chat
        chat.timer = self.center.clock.call_at(chat.deadline, lambda: self.expire(cid))

    def take(self, contact_id: str) -> HeldChat | None:
        """The customer is back: the chat is theirs to put back in line (``arrival``)."""
        chat = self._held.pop(contact_id, None)
        if chat is not None and chat.timer is not None:
            chat.timer.cancel()
        return chat

    def expire(self, contact_id: str) -> None:
        chat = self._held.pop(contact_id, None)
        if chat is None:
            return  # resumed in the meantime
        self.center.record(
            InteractionEvent(
                type="contact.ended",
                at=self.center.clock.now(),
                contact_id=contact_id,
                queue=chat.arrival.queue,
                data={"reason": "abandoned", "after_restart": True, "was": chat.was},
            )
        )
        self.resume.forget_contact(contact_id)

    def close(self) -> None:
        """The server stops: the chats stay open in the log, for the next start to hold."""
        for chat in self._held.values():
            if chat.timer is not None:
                chat.timer.cancel()
        self._held.clear()


async def open_contacts(engine: AsyncEngine) -> list[dict[str, Any]]:
    c = schema.contacts
    query = select(c).where(c.c.state != "ended").order_by(c.c.queued_at, c.c.first_seq)
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]


@dataclass
class QueuedWith:
    """What a contact was queued with, from its events: its attributes (and any learnt
    later), the callback number, and the priority that made its order key."""

    attributes: dict[str, Any] = field(default_factory=dict)
    priority_class: int | None = None
    head_start_s: float = 0.0


async def queued_with(engine: AsyncEngine, contact_id: str) -> QueuedWith:
    ev = schema.events
    kinds = [
        "contact.queued",
        "contact.attributes_changed",
        "contact.callback_requested",
        "contact.priority_changed",
    ]
    query = select(ev.c.type, ev.c.data).where(ev.c.contact_id == contact_id).where(ev.c.type.in_(kinds))
    found = QueuedWith()
    first_queued = True
    async with engine.connect() as conn:
        for kind, data in await conn.execute(query.order_by(ev.c.seq)):
            if kind in ("contact.queued", "contact.attributes_changed"):
                found.attributes.update(data.get("attributes") or {})
            if kind == "contact.queued" and first_queued:  # later ones (a transfer) keep the key
                first_queued = False
                found.priority_class = data.get("priority_class")
                found.head_start_s += float(data.get("head_start_s") or 0.0)
            elif kind == "contact.priority_changed":
                if data.get("priority_class") is not None:
                    found.priority_class = data["priority_class"]
                found.head_start_s += float(data.get("head_start_s") or 0.0)
            elif kind == "contact.callback_requested":
                found.attributes["callback_number"] = data.get("number")
    return found


async def last_attributes(engine: AsyncEngine, contact_id: str) -> dict[str, Any]:
    """The attributes and callback number a contact was queued with, and any learnt later."""
    return (await queued_with(engine, contact_id)).attributes


def _strings(attributes: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in attributes.items() if v is not None}


async def _chat_arrival(db: AsyncEngine, row: dict[str, Any], now: float) -> ContactArrived:
    """The chat's arrival as the engine first took it: a chat enters the ACD when it is
    queued, so its order key is (class, first queued time - head start, sequence)."""
    found = await queued_with(db, row["contact_id"])
    attributes = _strings(found.attributes)
    pclass = found.priority_class
    if row["state"] == "connected":
        pclass = min(pclass if pclass is not None else HEAD_OF_QUEUE_CLASS, HEAD_OF_QUEUE_CLASS)
        if row["agent_id"]:
            attributes["previous_agent"] = row["agent_id"]
    attributes["resumed_after_restart"] = "true"
    return ContactArrived(
        contact_id=row["contact_id"],
        channel="chat",
        queue=row["queue"],
        caller=row["caller"],
        attributes=attributes,
        priority_class=pclass,
        head_start_s=found.head_start_s,
        arrived_at=row["queued_at"] or row["arrived_at"] or now,
    )


async def recover(center: Center, db: AsyncEngine, *, chats: HeldChats | None = None) -> Recovery:
    """Settle the contacts a previous run left open (see module docstring). Without
    ``chats`` (cluster mode, whose chats resume from Redis) every chat is closed."""
    result = Recovery()
    restorable: list[ContactArrived] = []
    now = center.clock.now()
    rows = await open_contacts(db)
    holdable = {
        r["contact_id"]
        for r in rows
        if chats is not None
        and r["channel"] == "chat"
        and r["state"] in HELD_STATES
        and r["queue"] in center.engine.queues
    }
    held_since = await chats.resume.hold(holdable, now) if chats is not None else {}
    for row in rows:
        cid, queue = row["contact_id"], row["queue"]
        if row["channel"] in ("callback", "voicemail") and queue in center.engine.queues:
            found = await queued_with(db, cid)
            restorable.append(
                ContactArrived(
                    contact_id=cid,
                    channel=row["channel"],
                    queue=queue,
                    caller=row["caller"],
                    attributes=_strings(found.attributes),
                    arrived_at=row["arrived_at"] or row["queued_at"] or now,
                    priority_class=found.priority_class if row["channel"] == "voicemail" else None,
                )
            )
            result.restored.append(cid)
        elif chats is not None and cid in held_since:
            deadline = held_since[cid] + chats.window_s
            held = HeldChat(
                arrival=await _chat_arrival(db, row, now), was=HELD_STATES[row["state"]], deadline=deadline
            )
            chats.hold(held)  # a deadline already past ends it at once (after this settling)
            result.held.append(cid)
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
        await center.submit(ContactsRestored(contacts=tuple(restorable)))
    if result.restored or result.closed or result.held:
        data: dict[str, Any] = {"restored": result.restored, "closed": result.closed}
        if result.held:
            data["held"] = result.held  # chats waiting for their customers
        center.record(InteractionEvent(type="server.recovered", at=now, data=data))
        log.warning(
            "recovered after a restart: %d callback(s) back in line, %d chat(s) kept for their "
            "customers, %d contact(s) closed",
            len(result.restored),
            len(result.held),
            len(result.closed),
        )
    return result
