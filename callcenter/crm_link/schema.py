"""CRM tables (SQLAlchemy Core; migration ``crm_0001_customers``, kept equal by a test).

- ``customers``: one row per customer; ``account_number`` is unique. ``tier`` is a tier
  set by hand (a contract, a VIP list); when empty the nightly pyramid level stands in.
- ``contact_points``: phone numbers in E.164 and e-mail addresses lowercased, indexed on
  ``value`` so a caller's number finds its customer with one index probe.
- ``orders``, ``tickets`` (``contact_ids`` lists the contacts that were about it),
  ``customer_notes``, ``survey_answers``.
- ``customer_credentials`` (migration ``crm_0002``): what a customer proves who they are
  with in the IVR and the chat: the PIN's scrypt hash (never the PIN), the date of birth
  (``YYYY-MM-DD``).
- ``customer_scores``: what ``refresh_scores`` computes from the analytics, one row per
  customer, rewritten by the nightly ``callcenter crm refresh``.

Contact history is not copied here: it is read from the interaction log's ``contacts``
projection (by ``customer_id``) and its ``contact.note`` events.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, Numeric, String, Table, Text

from callcenter.storage.schema import metadata

Time = Float(precision=53)
Money = Numeric(14, 2)

customers = Table(
    "customers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_number", String(32), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("first_name", String(128)),
    Column("language", String(8), nullable=False),
    Column("tier", String(16)),
    Column("created_at", Time, nullable=False),
)
Index("ix_customers_name", customers.c.name)

contact_points = Table(
    "contact_points",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),  # phone | email
    Column("value", String(254), nullable=False),
    Column("label", String(16)),
)
Index("ix_contact_points_value", contact_points.c.value)
Index("ix_contact_points_customer", contact_points.c.customer_id)

orders = Table(
    "orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("customer_id", String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("ordered_at", Time, nullable=False),
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("tracking", String(64)),
)
Index("ix_orders_customer", orders.c.customer_id, orders.c.ordered_at)

tickets = Table(
    "tickets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("customer_id", String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # complaint | request | follow-up
    Column("status", String(16), nullable=False),  # open | pending | closed
    Column("owner", String(64)),
    Column("due_at", Time),
    Column("subject", String(200), nullable=False),
    Column("contact_ids", JSON, nullable=False),
    Column("created_at", Time, nullable=False),
    Column("updated_at", Time, nullable=False),
)
Index("ix_tickets_customer_status", tickets.c.customer_id, tickets.c.status)

customer_notes = Table(
    "customer_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("at", Time, nullable=False),
    Column("author", String(64), nullable=False),
    Column("text", Text, nullable=False),
)
Index("ix_customer_notes_customer", customer_notes.c.customer_id, customer_notes.c.at)

survey_answers = Table(
    "survey_answers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", String(64)),
    Column("at", Time, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("comment", Text),
)
Index("ix_survey_answers_customer", survey_answers.c.customer_id, survey_answers.c.at)

customer_scores = Table(
    "customer_scores",
    metadata,
    Column("customer_id", String(32), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("computed_at", Time, nullable=False),
    Column("rfm", String(3), nullable=False),
    Column("segment", String(16), nullable=False),
    Column("pyramid", String(8), nullable=False),
    Column("value_cell", String(8), nullable=False),
    Column("clv", Float(precision=53), nullable=False),
    Column("churn_risk", String(8), nullable=False),
    Column("churn_score", Float(precision=53)),
    Column("total_spend", Float(precision=53), nullable=False),
    Column("order_count", Integer, nullable=False),
    Column("last_order_at", Time),
)

customer_credentials = Table(
    "customer_credentials",
    metadata,
    Column("customer_id", String(32), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("pin_hash", String(200)),
    Column("birth_date", String(10)),
)

CRM_TABLES = (
    customers,
    contact_points,
    orders,
    tickets,
    customer_notes,
    survey_answers,
    customer_scores,
    customer_credentials,
)
