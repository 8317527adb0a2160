"""Users have a language for the desk and the wallboard (a shipped catalogue's code).

Revision ID: auth_0003
Revises: auth_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "auth_0003"
down_revision = "auth_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    column = sa.Column("language", sa.String(16), nullable=False, server_default=sa.text("'en'"))
    op.add_column("users", column)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:  # SQLite drops columns by copying the table
        batch.drop_column("language")
