"""Table definitions (SQLAlchemy Core). Migrations under ``migrations/versions`` create
them; this module is what the code queries against, and the two are kept equal by a test."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from callcenter.core.events import StoredEvent

metadata = MetaData()

# sqlite only auto-aliases INTEGER PRIMARY KEY to the rowid; BigInteger elsewhere.
SeqType = BigInteger().with_variant(Integer, "sqlite")

events = Table(
    "events",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=False),
    Column("at", Float(precision=53), nullable=False),
    Column("contact_id", String(64)),
    Column("agent_id", String(64)),
    Column("queue", String(64)),
    Column("type", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("context_id", String(64)),
    Column("parent_id", String(64)),
)
Index("ix_events_contact_seq", events.c.contact_id, events.c.seq)
Index("ix_events_at", events.c.at)

contacts = Table(
    "contacts",
    metadata,
    Column("contact_id", String(64), primary_key=True),
    Column("channel", String(16)),
    Column("caller", String(128)),
    Column("customer_id", String(64)),
    Column("queue", String(64)),
    Column("agent_id", String(64)),
    Column("state", String(16), nullable=False),
    Column("arrived_at", Float(precision=53)),
    Column("queued_at", Float(precision=53)),
    Column("offered_at", Float(precision=53)),
    Column("answered_at", Float(precision=53)),
    Column("ended_at", Float(precision=53)),
    Column("end_reason", String(32)),
    Column("disposition", String(64)),
    Column("wait_s", Float(precision=53)),
    Column("offers", Integer, nullable=False, default=0),
    Column("transfers", Integer, nullable=False, default=0),
    Column("first_seq", SeqType, nullable=False),
    Column("last_seq", SeqType, nullable=False),
)
Index("ix_contacts_arrived", contacts.c.arrived_at)
Index("ix_contacts_customer", contacts.c.customer_id)

# What a chat's resume needs, kept while the chat lives (``storage/chat_resume.py``): the
# SHA-256 of its resume token (never the token), the contact, the customer's details and
# the replayable frames of the conversation so far.
chat_resume = Table(
    "chat_resume",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("contact_id", String(64), nullable=False),
    Column("name", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("entry", Text),
    Column("queued", Integer, nullable=False, default=0),
    Column("rated", Integer, nullable=False, default=0),
    Column("ended", Integer, nullable=False, default=0),
    Column("updated_at", Float(precision=53), nullable=False),
    Column("held_since", Float(precision=53)),
)
Index("ix_chat_resume_contact", chat_resume.c.contact_id)

chat_resume_frames = Table(
    "chat_resume_frames",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("frame", Text, nullable=False),
)

# Events the log can never write (``storage/dead_letter.py``): every field as text.
dead_events = Table(
    "dead_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dead_at", Float(precision=53), nullable=False),
    Column("reason", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("at", Text),
    Column("contact_id", Text),
    Column("agent_id", Text),
    Column("queue", Text),
    Column("data", Text, nullable=False),
    Column("context_id", Text),
    Column("parent_id", Text),
)


def stored(row: Any) -> StoredEvent:
    m = row._mapping
    return StoredEvent(
        seq=m["seq"],
        at=m["at"],
        contact_id=m["contact_id"],
        agent_id=m["agent_id"],
        queue=m["queue"],
        type=m["type"],
        data=m["data"],
        context_id=m["context_id"],
        parent_id=m["parent_id"],
    )
