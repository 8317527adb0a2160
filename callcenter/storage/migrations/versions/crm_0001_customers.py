"""CRM: customers, contact points, orders, tickets, notes, survey answers, scores.

Revision ID: crm_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "crm_0001"
down_revision = "0001"
branch_labels = ("crm",)
depends_on = None

Time = sa.Float(precision=53)


def _customer_fk() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "customer_id", sa.String(32), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_number", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("first_name", sa.String(128)),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("tier", sa.String(16)),
        sa.Column("created_at", Time, nullable=False),
    )
    op.create_index("ix_customers_name", "customers", ["name"])
    op.create_table(
        "contact_points",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _customer_fk(),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(254), nullable=False),
        sa.Column("label", sa.String(16)),
    )
    op.create_index("ix_contact_points_value", "contact_points", ["value"])
    op.create_index("ix_contact_points_customer", "contact_points", ["customer_id"])
    op.create_table(
        "orders",
        sa.Column("id", sa.String(32), primary_key=True),
        _customer_fk(),
        sa.Column("ordered_at", Time, nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tracking", sa.String(64)),
    )
    op.create_index("ix_orders_customer", "orders", ["customer_id", "ordered_at"])
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(32), primary_key=True),
        _customer_fk(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64)),
        sa.Column("due_at", Time),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("contact_ids", sa.JSON, nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
    )
    op.create_index("ix_tickets_customer_status", "tickets", ["customer_id", "status"])
    op.create_table(
        "customer_notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _customer_fk(),
        sa.Column("at", Time, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_customer_notes_customer", "customer_notes", ["customer_id", "at"])
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _customer_fk(),
        sa.Column("contact_id", sa.String(64)),
        sa.Column("at", Time, nullable=False),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text),
    )
    op.create_index("ix_survey_answers_customer", "survey_answers", ["customer_id", "at"])
    op.create_table(
        "customer_scores",
        sa.Column(
            "customer_id", sa.String(32), sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("computed_at", Time, nullable=False),
        sa.Column("rfm", sa.String(3), nullable=False),
        sa.Column("segment", sa.String(16), nullable=False),
        sa.Column("pyramid", sa.String(8), nullable=False),
        sa.Column("value_cell", sa.String(8), nullable=False),
        sa.Column("clv", sa.Float(precision=53), nullable=False),
        sa.Column("churn_risk", sa.String(8), nullable=False),
        sa.Column("churn_score", sa.Float(precision=53)),
        sa.Column("total_spend", sa.Float(precision=53), nullable=False),
        sa.Column("order_count", sa.Integer, nullable=False),
        sa.Column("last_order_at", Time),
    )


def downgrade() -> None:
    for table in (
        "customer_scores",
        "survey_answers",
        "customer_notes",
        "tickets",
        "orders",
        "contact_points",
        "customers",
    ):
        op.drop_table(table)
