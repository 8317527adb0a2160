"""Users remember who manages them (config or api) and who disabled them.

Revision ID: auth_0002
Revises: auth_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Users that exist already were all seeded from the config.
    op.add_column(
        "users", sa.Column("origin", sa.String(16), nullable=False, server_default=sa.text("'config'"))
    )
    op.add_column("users", sa.Column("disabled_by", sa.String(64), nullable=True))
    op.execute("UPDATE users SET disabled_by = 'config' WHERE disabled")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:  # SQLite drops columns by copying the table
        batch.drop_column("disabled_by")
        batch.drop_column("origin")
