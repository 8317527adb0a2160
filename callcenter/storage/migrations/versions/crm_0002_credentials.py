"""CRM: what a customer proves their identity with (a PIN's hash, the date of birth).

Revision ID: crm_0002
Revises: crm_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "crm_0002"
down_revision = "crm_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_credentials",
        sa.Column(
            "customer_id", sa.String(32), sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("pin_hash", sa.String(200)),
        sa.Column("birth_date", sa.String(10)),
    )


def downgrade() -> None:
    op.drop_table("customer_credentials")
