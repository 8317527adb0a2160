"""Users and sessions tables (migration: ``auth_0001_users``)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Integer, MetaData, String, Table

from callcenter.storage.schema import metadata

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

__all__ = ["MetaData", "metadata", "sessions", "users"]
