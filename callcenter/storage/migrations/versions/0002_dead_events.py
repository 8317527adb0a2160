"""Dead letters: events the interaction log can never write, kept whole with the reason.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dead_at", sa.Float(precision=53), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("at", sa.Text),
        sa.Column("contact_id", sa.Text),
        sa.Column("agent_id", sa.Text),
        sa.Column("queue", sa.Text),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("context_id", sa.Text),
        sa.Column("parent_id", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("dead_events")
