"""Chat resume across restarts: the resume token's SHA-256, the contact, the customer's
details and the conversation's replayable frames (``storage/chat_resume.py``).

Revision ID: chat_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "chat_0001"
down_revision = "0001"
branch_labels = ("chat",)
depends_on = None

Time = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "chat_resume",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("entry", sa.Text),
        sa.Column("queued", sa.Integer, nullable=False),
        sa.Column("rated", sa.Integer, nullable=False),
        sa.Column("ended", sa.Integer, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("held_since", Time),
    )
    op.create_index("ix_chat_resume_contact", "chat_resume", ["contact_id"])
    op.create_table(
        "chat_resume_frames",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("frame", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chat_resume_frames")
    op.drop_index("ix_chat_resume_contact", table_name="chat_resume")
    op.drop_table("chat_resume")
