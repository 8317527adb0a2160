"""Users and sessions in the database, and a throttle for failed logins.

Sessions are server-side: the cookie holds a random 256-bit token and the table keeps only
its SHA-256, so a leaked table does not hand out sessions. A session ends when logged out,
after ``IDLE_S`` without use, or ``MAX_S`` after login, whichever comes first.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password
from callcenter.auth.schema import sessions, users
from callcenter.config.model import UserConfig

IDLE_S = 8 * 3600.0
MAX_S = 12 * 3600.0
TOUCH_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    name: str
    role: str
    skills: dict[str, int] = field(default_factory=dict)
    chat_capacity: int = 1

    def public(self) -> dict[str, Any]:
        return {"username": self.username, "name": self.name, "role": self.role}


def _principal(row: Any) -> Principal:
    m = row._mapping
    return Principal(
        user_id=m["id"],
        username=m["username"],
        name=m["name"],
        role=m["role"],
        skills=dict(m["skills"] or {}),
        chat_capacity=m["chat_capacity"],
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def seed_users(engine: AsyncEngine, configured: Sequence[UserConfig], now: float) -> None:
    """Make the users table match the config: add, update, and disable users not listed."""
    async with engine.begin() as conn:
        existing = {r.username: r for r in await conn.execute(select(users))}
        for u in configured:
            row = existing.get(u.username)
            values = {
                "name": u.name or u.username,
                "role": u.role,
                "skills": dict(u.skills),
                "chat_capacity": u.chat_capacity,
                "disabled": False,
            }
            new_hash = await _configured_hash(u, row.password_hash if row is not None else None)
            if new_hash is not None:
                values["password_hash"] = new_hash
            if row is None:
                values.setdefault("password_hash", hash_password(secrets.token_hex(16)))  # no way in
                await conn.execute(users.insert().values(username=u.username, created_at=now, **values))
            else:
                await conn.execute(update(users).where(users.c.id == row.id).values(**values))
        listed = {u.username for u in configured}
        gone = [r.id for name, r in existing.items() if name not in listed]
        if gone:
            await conn.execute(update(users).where(users.c.id.in_(gone)).values(disabled=True))
            await conn.execute(update(sessions).where(sessions.c.user_id.in_(gone)).values(revoked=True))


async def _configured_hash(u: UserConfig, current: str | None) -> str | None:
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


async def check_password(engine: AsyncEngine, username: str, password: str) -> Principal | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.username == username))).first()
    stored = row.password_hash if row is not None and not row.disabled else DUMMY_HASH
    ok = await asyncio.to_thread(verify_password, password, stored)
    return _principal(row) if ok and row is not None and not row.disabled else None


async def create_session(engine: AsyncEngine, user_id: int, now: float) -> tuple[str, str]:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    async with engine.begin() as conn:
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
    """The session's user and CSRF token, or ``None`` when unknown, expired or revoked."""
    digest = _digest(token)
    query = (
        select(users, sessions.c.csrf_token, sessions.c.created_at, sessions.c.last_seen, sessions.c.revoked)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.token_hash == digest)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None or row.revoked or row.disabled:
        return None
    if now - row.last_seen > IDLE_S or now - row.created_at > MAX_S:
        return None
    if now - row.last_seen > TOUCH_EVERY_S:
        async with engine.begin() as conn:
            await conn.execute(update(sessions).where(sessions.c.token_hash == digest).values(last_seen=now))
    return _principal(row), row.csrf_token


async def revoke_session(engine: AsyncEngine, token: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(sessions).where(sessions.c.token_hash == _digest(token)).values(revoked=True)
        )


class LoginThrottle:
    """Slows down guessing: after ``free`` failures for a username or a client address,
    each further attempt must wait twice as long as the last (1 s, 2 s, 4 s ... 15 min).
    A success clears the username's count. Kept in memory: per node, reset on restart."""

    def __init__(self, free: int = 5, cap_s: float = 900.0) -> None:
        self.free = free
        self.cap_s = cap_s
        self._failures: dict[str, tuple[int, float]] = {}

    def retry_after(self, keys: Sequence[str], now: float) -> float:
        wait = 0.0
        for key in keys:
            count, last = self._failures.get(key, (0, 0.0))
            if count >= self.free:
                delay = min(self.cap_s, 2.0 ** (count - self.free))
                wait = max(wait, last + delay - now)
        return max(0.0, wait)

    def failed(self, keys: Sequence[str], now: float) -> None:
        for key in keys:
            count, _ = self._failures.get(key, (0, 0.0))
            self._failures[key] = (count + 1, now)
        if len(self._failures) > 100_000:  # forget the oldest half rather than grow without bound
            for key in sorted(self._failures, key=lambda k: self._failures[k][1])[:50_000]:
                del self._failures[key]

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
