"""Users and sessions in the database.

Sessions are server-side: the cookie holds a random 256-bit token and the table keeps only
its SHA-256, so a copy of the table does not hand out sessions. A session ends when logged
out, after ``IDLE_S`` without use, ``MAX_S`` after login (whichever comes first), when its
user is disabled, or when their password is reset.

Seeding makes the users listed in the config exist with the config's name, role, skills
and chat capacity, and language when the config gives one (else the user's own choice
stays); a plain ``password`` is hashed (and re-hashed only when it changed or the stored
hash is weaker than today's parameters). A config user no longer listed is
disabled, not deleted, so the interaction log's references to them stay meaningful.
Users created through the admin API (``origin = 'api'``) are left alone by seeding.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.auth.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password
from callcenter.auth.schema import sessions, users
from callcenter.config.sections import UserConfig

IDLE_S = 8 * 3600.0
MAX_S = 12 * 3600.0
TOUCH_EVERY_S = 60.0  # last_seen is written at most this often, not on every request


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is making a request. ``username`` is also their agent id in the ACD."""

    user_id: int
    username: str
    role: str
    name: str
    skills: dict[str, int] = field(default_factory=dict)
    chat_capacity: int = 1
    language: str = "en"

    def public(self) -> dict[str, Any]:
        return {"username": self.username, "name": self.name, "role": self.role, "language": self.language}


def principal_from_row(row: Any) -> Principal:
    m = row._mapping
    return Principal(
        user_id=m["id"],
        username=m["username"],
        role=m["role"],
        name=m["name"],
        skills=dict(m["skills"] or {}),
        chat_capacity=m["chat_capacity"],
        language=m["language"],
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Seeding -----------------------------------------------------------------------------


async def seed_users(engine: AsyncEngine, configured: Sequence[UserConfig], now: float) -> None:
    """Make the users table match the config; safe to run on every start (idempotent)."""
    async with engine.begin() as conn:
        existing = {r.username: r for r in await conn.execute(select(users))}
        for u in configured:
            await _seed_one(conn, u, existing.get(u.username), now)
        listed = {u.username for u in configured}
        gone = [
            r.id
            for name, r in existing.items()
            if name not in listed and r.origin == "config" and not r.disabled
        ]
        if gone:
            await conn.execute(
                update(users).where(users.c.id.in_(gone)).values(disabled=True, disabled_by="config")
            )
            await conn.execute(update(sessions).where(sessions.c.user_id.in_(gone)).values(revoked=True))


async def _seed_one(conn: AsyncConnection, u: UserConfig, row: Any, now: float) -> None:
    values: dict[str, Any] = {
        "name": u.name or u.username,
        "role": u.role,
        "skills": dict(u.skills),
        "chat_capacity": u.chat_capacity,
        "origin": "config",
    }
    if u.language is not None:  # unset: the user's own choice (or the admin's) stays
        values["language"] = u.language
    if row is None or row.disabled_by in (None, "config"):  # an admin's disabling survives restarts
        values.update(disabled=False, disabled_by=None)
    new_hash = await _configured_hash(u, row.password_hash if row is not None else None)
    if new_hash is not None:
        values["password_hash"] = new_hash
    if row is None:
        if "password_hash" not in values:  # neither password nor hash configured: no way in
            values["password_hash"] = "!" + hash_password(secrets.token_hex(16))
        await conn.execute(users.insert().values(username=u.username, created_at=now, **values))
    else:
        await conn.execute(update(users).where(users.c.id == row.id).values(**values))


async def _configured_hash(u: UserConfig, current: str | None) -> str | None:
    """The hash to store for a config user, or ``None`` to keep the current one."""
    if u.password_hash is not None:
        return u.password_hash if u.password_hash != current else None
    if u.password is None:
        return None
    if (
        current is not None
        and not needs_rehash(current)
        and await asyncio.to_thread(verify_password, u.password, current)
    ):
        return None
    return await asyncio.to_thread(hash_password, u.password)


# Passwords ---------------------------------------------------------------------------


async def check_password(engine: AsyncEngine, username: str, password: str) -> Principal | None:
    """The user when the password is right and the user enabled, else ``None``.

    An unknown or disabled user costs the same scrypt work as a known one, so timing does
    not tell them apart. A right password stored with weaker parameters is re-hashed."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.username == username))).first()
    usable = row is not None and not row.disabled and row.password_hash.startswith("scrypt$")
    stored = row.password_hash if row is not None and usable else DUMMY_HASH
    if not await asyncio.to_thread(verify_password, password, stored) or row is None or not usable:
        return None
    if needs_rehash(row.password_hash):
        stronger = await asyncio.to_thread(hash_password, password)
        async with engine.begin() as conn:
            await conn.execute(update(users).where(users.c.id == row.id).values(password_hash=stronger))
    return principal_from_row(row)


# Sessions ----------------------------------------------------------------------------


async def create_session(engine: AsyncEngine, user_id: int, now: float) -> tuple[str, str]:
    """A new session: (cookie token, CSRF token). Sessions expired by now are deleted."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        await conn.execute(
            delete(sessions).where(
                or_(sessions.c.last_seen < now - IDLE_S, sessions.c.created_at < now - MAX_S)
            )
        )
        await conn.execute(
            sessions.insert().values(
                token_hash=_digest(token),
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                last_seen=now,
                revoked=False,
            )
        )
    return token, csrf


async def session_user(engine: AsyncEngine, token: str, now: float) -> tuple[Principal, str] | None:
    """The session's user and CSRF token, or ``None`` when unknown, expired or revoked
    (or the user is disabled). Using a session restarts its idle timer."""
    digest = _digest(token)
    query = (
        select(
            users,
            sessions.c.csrf_token,
            sessions.c.created_at.label("session_created_at"),
            sessions.c.last_seen,
            sessions.c.revoked,
        )
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.token_hash == digest)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None or row.revoked or row.disabled:
        return None
    if now - row.last_seen > IDLE_S or now - row.session_created_at > MAX_S:
        return None
    if now - row.last_seen > TOUCH_EVERY_S:
        async with engine.begin() as conn:
            await conn.execute(update(sessions).where(sessions.c.token_hash == digest).values(last_seen=now))
    return principal_from_row(row), row.csrf_token


async def revoke_session(engine: AsyncEngine, token: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(sessions).where(sessions.c.token_hash == _digest(token)).values(revoked=True)
        )


async def revoke_user_sessions(conn: AsyncConnection, user_id: int) -> None:
    await conn.execute(update(sessions).where(sessions.c.user_id == user_id).values(revoked=True))
