"""The screen pop: everything an agent sees when a contact is offered, as one JSON-ready
dict. ``build_screen_pop`` is pure (tests and the simulator call it with plain data);
``load_screen_pop`` gathers the data with a handful of indexed queries and calls it.

Payload keys: ``contact_id``, ``identified``, ``verified`` and ``verified_by`` (the
identity's level: a card found by the caller's number or what a chat customer typed is a
candidate, ``verified: false``, for the agent to confirm by asking; ``true`` once the
contact proved it in the IVR or by a login token, ``verified_by`` ``pin`` / ``dob`` /
``token``), ``customer`` (the card), ``attributes`` (what
routing matched on), ``open_tickets``, ``recent_contacts`` (the last N with disposition,
notes and rating), ``ivr`` (flow, path, what the caller keyed or said, masked as logged),
``repeat`` (None, or the warning: reason, previous contact, ticket, days since).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from callcenter.crm_link.analytics import ContactRecord, is_repeat_contact
from callcenter.crm_link.customer_activity import list_tickets, open_ticket_ids
from callcenter.crm_link.history import contact_history, customer_of, ivr_trail, verification_of
from callcenter.crm_link.store import SqlCrmStore
from callcenter.ports.customer_card import CustomerCard, contact_attributes, unidentified_card

DAY_S = 86400.0


def build_screen_pop(
    card: CustomerCard,
    *,
    contact_id: str,
    now: float,
    open_tickets: Sequence[Mapping[str, Any]] = (),
    history: Sequence[Mapping[str, Any]] = (),
    ivr: Mapping[str, Any] | None = None,
    repeat_window_days: float = 7.0,
    history_limit: int = 5,
    verified_by: str | None = None,
) -> dict[str, Any]:
    """The payload for ``contact_id`` (see module docstring). ``history`` must not contain
    the contact itself; only its first ``history_limit`` entries are shown. ``verified_by``
    is how the contact proved to be this card's customer (None: unverified)."""
    verified = card.identified and verified_by is not None
    return {
        "contact_id": contact_id,
        "identified": card.identified,
        "verified": verified,
        "verified_by": verified_by if verified else None,
        "customer": card.to_dict(),
        "attributes": contact_attributes(card, contact_id=contact_id),
        "open_tickets": [dict(t) for t in open_tickets],
        "recent_contacts": [dict(h) for h in history[:history_limit]],
        "ivr": dict(ivr) if ivr is not None else None,
        "repeat": repeat_warning(card, contact_id, now, open_tickets, repeat_window_days),
    }


def repeat_warning(
    card: CustomerCard,
    contact_id: str,
    now: float,
    open_tickets: Sequence[Mapping[str, Any]],
    repeat_window_days: float,
) -> dict[str, Any] | None:
    """None, or why this contact repeats an earlier one. A contact is a repeat when the
    customer's previous contact arrived within the window (the reports' definition); the
    reason is "open_ticket" when that earlier contact's ticket is still open (the
    analytics rule: the customer is chasing it), else "recent_contact"."""
    previous = card.previous_contact(contact_id)
    if previous is None or now - previous.arrived_at > repeat_window_days * DAY_S:
        return None
    ticket_of = open_ticket_ids(open_tickets)
    history = [
        ContactRecord(
            c.contact_id,
            _dt(c.arrived_at),
            ticket_id=ticket_of.get(c.contact_id),
            ticket_open=c.contact_id in ticket_of,
        )
        for c in card.recent_contacts
        if c.contact_id != contact_id
    ]
    flag = is_repeat_contact(ContactRecord(contact_id, _dt(now)), history, within_days=repeat_window_days)
    if flag is not None:
        return {
            "reason": flag.reason,
            "previous_contact_id": flag.previous_contact_id,
            "ticket_id": flag.ticket_id,
            "days_since": round(flag.days_since, 2),
        }
    return {
        "reason": "recent_contact",
        "previous_contact_id": previous.contact_id,
        "ticket_id": None,
        "days_since": round((now - previous.arrived_at) / DAY_S, 2),
    }


def _dt(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


async def load_screen_pop(
    store: SqlCrmStore, contact_id: str, card: CustomerCard | None = None, *, customer_id: str | None = None
) -> dict[str, Any]:
    """Build the pop for ``contact_id`` from the database. Pass the ``card`` the offer
    already has, or a ``customer_id`` to look it up; with neither, the customer the log
    identified on this contact is used; with none (or an unknown id) the
    pop is the unidentified one with the IVR trail only. A customer the contact verified
    (``contact.verified``) is shown, as verified, over any candidate."""
    proof = await verification_of(store.engine, contact_id)
    if proof is not None and (card is None or card.customer_id != proof[0]):
        card, customer_id = None, proof[0]
    if card is None and customer_id is None:
        customer_id = await customer_of(store.engine, contact_id)
    if card is None and customer_id is not None:
        card = await store.card(customer_id)
    if card is None or card.customer_id is None:
        ivr = await ivr_trail(store.engine, contact_id)
        return build_screen_pop(card or unidentified_card(), contact_id=contact_id, now=store.now(), ivr=ivr)
    limit = store.config.history_limit
    # independent reads: run them side by side on the pool rather than one after another
    tickets, history, ivr = await asyncio.gather(
        list_tickets(store.engine, card.customer_id, status="open", limit=20),
        contact_history(store.engine, card.customer_id, limit=limit, exclude=contact_id),
        ivr_trail(store.engine, contact_id),
    )
    return build_screen_pop(
        card,
        contact_id=contact_id,
        now=store.now(),
        open_tickets=tickets,
        history=history,
        ivr=ivr,
        repeat_window_days=store.config.repeat_window_days,
        history_limit=limit,
        verified_by=proof[1] if proof is not None and proof[0] == card.customer_id else None,
    )
