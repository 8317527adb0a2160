"""Users and sessions tables (migrations: ``auth_0001_users``, ``auth_0002_user_origin``,
``auth_0003_user_language``).

``users.origin`` says who manages a user: ``config`` (seeded from the config file, which
wins on every start) or ``api`` (created by an admin, left alone by seeding).
``users.disabled_by`` says why a user is disabled: ``config`` when removed from the config
(re-enabled if listed again), otherwise the admin who disabled them (seeding keeps that).
``users.language`` is the language of their desk or wallboard (a shipped catalogue's code).
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Integer, String, Table, text

from callcenter.storage.schema import metadata

ROLES = ("agent", "supervisor", "admin")

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("skills", JSON, nullable=False),
    Column("chat_capacity", Integer, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", Float(precision=53), nullable=False),
    Column("origin", String(16), nullable=False, server_default=text("'config'")),
    Column("disabled_by", String(64), nullable=True),
    Column("language", String(16), nullable=False, server_default=text("'en'")),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float(precision=53), nullable=False),
    Column("last_seen", Float(precision=53), nullable=False),
    Column("revoked", Boolean, nullable=False),
)

__all__ = ["ROLES", "metadata", "sessions", "users"]
