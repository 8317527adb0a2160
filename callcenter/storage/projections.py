"""The ``contacts`` projection: one summary row per contact, a pure fold over its events.

``fold_contact(row, event, seq)`` returns the new row (a plain dict with the columns of
``schema.contacts``). The log writer applies it per batch, so the table always agrees
with the events it has written; ``rebuild`` replays a whole log the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from callcenter.core.events import InteractionEvent, StoredEvent

Row = dict[str, Any]

COLUMNS = (
    "contact_id",
    "channel",
    "caller",
    "customer_id",
    "queue",
    "agent_id",
    "state",
    "arrived_at",
    "queued_at",
    "offered_at",
    "answered_at",
    "ended_at",
    "end_reason",
    "disposition",
    "wait_s",
    "offers",
    "transfers",
    "first_seq",
    "last_seq",
)


def new_row(contact_id: str, seq: int) -> Row:
    row: Row = dict.fromkeys(COLUMNS)
    row.update(contact_id=contact_id, state="new", offers=0, transfers=0, first_seq=seq, last_seq=seq)
    return row


def _first(row: Row, key: str, value: Any) -> None:
    if row[key] is None:
        row[key] = value


def fold_contact(row: Row | None, event: InteractionEvent | StoredEvent, seq: int) -> Row | None:
    """Apply one event to a contact's row; events without a contact leave it alone."""
    if event.contact_id is None:
        return row
    row = dict(row) if row is not None else new_row(event.contact_id, seq)
    row["last_seq"] = seq
    data = event.data
    kind = event.type
    if row["state"] == "ended" and kind != "contact.disposition":
        return row  # late events (a survey, a note) do not reopen a contact
    if kind == "contact.arrived":
        row["channel"] = data.get("channel", row["channel"])
        row["caller"] = data.get("caller", row["caller"])
        _first(row, "arrived_at", event.at)
        row["state"] = "arrived"
    elif kind == "ivr.started":
        _first(row, "arrived_at", event.at)
        row["state"] = "ivr"
    elif kind == "contact.identified":
        row["customer_id"] = data.get("customer_id")
    elif kind == "contact.queued":
        row["queue"] = event.queue
        row["channel"] = data.get("channel", row["channel"])
        _first(row, "arrived_at", event.at)
        _first(row, "queued_at", event.at)
        row["state"] = "queued"
    elif kind == "contact.offered":
        _first(row, "offered_at", event.at)
        row["offers"] += 1
        row["agent_id"] = event.agent_id
        row["state"] = "offered"
    elif kind in ("contact.offer_declined", "contact.offer_timed_out", "contact.offer_withdrawn"):
        row["agent_id"] = None
        row["state"] = "queued"
    elif kind == "contact.connected":
        _first(row, "answered_at", event.at)
        row["agent_id"] = event.agent_id
        row["wait_s"] = data.get("wait_s", row["wait_s"])
        row["state"] = "connected"
    elif kind == "contact.transferred":
        row["transfers"] += 1
        if data.get("to_queue"):
            row["queue"] = data["to_queue"]
            row["state"] = "queued"
    elif kind == "contact.callback_requested":
        row["channel"] = "callback"  # the call is over; we call the customer back later
    elif kind == "contact.moved":
        row["queue"] = data.get("to_queue", row["queue"])
    elif kind == "contact.overflowed":
        if data.get("to_queue"):
            row["queue"] = data["to_queue"]
    elif kind == "contact.wrap_up":
        row["state"] = "wrap_up"
    elif kind == "contact.disposition":
        row["disposition"] = data.get("code")
    elif kind == "contact.ended":
        row["ended_at"] = event.at
        row["end_reason"] = data.get("reason")
        row["state"] = "ended"
    return row


def rebuild(events: Iterable[StoredEvent]) -> dict[str, Row]:
    """Fold a whole log into contact rows (used by tests and by ``db rebuild``)."""
    rows: dict[str, Row] = {}
    for event in events:
        if event.contact_id is None:
            continue
        folded = fold_contact(rows.get(event.contact_id), event, event.seq)
        if folded is not None:
            rows[event.contact_id] = folded
    return rows
