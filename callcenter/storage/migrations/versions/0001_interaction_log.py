"""The interaction log (events) and the contacts projection.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Time = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", Seq, primary_key=True, autoincrement=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("contact_id", sa.String(64)),
        sa.Column("agent_id", sa.String(64)),
        sa.Column("queue", sa.String(64)),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("context_id", sa.String(64)),
        sa.Column("parent_id", sa.String(64)),
    )
    op.create_index("ix_events_contact_seq", "events", ["contact_id", "seq"])
    op.create_index("ix_events_at", "events", ["at"])
    op.create_table(
        "contacts",
        sa.Column("contact_id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16)),
        sa.Column("caller", sa.String(128)),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("queue", sa.String(64)),
        sa.Column("agent_id", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("arrived_at", Time),
        sa.Column("queued_at", Time),
        sa.Column("offered_at", Time),
        sa.Column("answered_at", Time),
        sa.Column("ended_at", Time),
        sa.Column("end_reason", sa.String(32)),
        sa.Column("disposition", sa.String(64)),
        sa.Column("wait_s", Time),
        sa.Column("offers", sa.Integer, nullable=False),
        sa.Column("transfers", sa.Integer, nullable=False),
        sa.Column("first_seq", Seq, nullable=False),
        sa.Column("last_seq", Seq, nullable=False),
    )
    op.create_index("ix_contacts_arrived", "contacts", ["arrived_at"])
    op.create_index("ix_contacts_customer", "contacts", ["customer_id"])


def downgrade() -> None:
    op.drop_table("contacts")
    op.drop_table("events")
