"""Managing users from the admin API: list, create, change role/name, disable, reset password.

Every function validates its input and raises ``UserError`` (status, message, field) for
anything a client got wrong; nothing is written then. Users listed in the config file
(``origin = 'config'``) can be changed here too, but the config wins again at the next
start for what it states (name, role, skills, password); disabling by an admin survives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any

import msgspec
from msgspec import UNSET
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth.bodies import NewPassword, NewUser, UserChange
from callcenter.auth.passwords import hash_password
from callcenter.auth.schema import users
from callcenter.auth.store import revoke_user_sessions
from callcenter.i18n import catalogue


class UserError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def public_user(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "username": m["username"],
        "name": m["name"],
        "role": m["role"],
        "skills": dict(m["skills"] or {}),
        "chat_capacity": m["chat_capacity"],
        "disabled": bool(m["disabled"]),
        "disabled_by": m["disabled_by"],
        "managed_by": m["origin"],
        "created_at": m["created_at"],
        "language": m["language"],
    }


# Checks beyond shape (the shape is ``bodies.NewUser`` / ``UserChange``) ---------------


def check_skills(value: Mapping[str, int], known: Collection[str] | None) -> dict[str, int]:
    for skill in value:
        if known is not None and skill not in known:
            raise UserError(400, f"unknown skill {skill!r} (known: {', '.join(sorted(known))})", "skills")
    return dict(value)


def check_language(value: str) -> str:
    try:
        return catalogue.check_language(value)
    except catalogue.UnknownLanguage as exc:
        raise UserError(400, str(exc), "language") from None


def check_name(value: str) -> str:
    if not value.strip():
        raise UserError(400, "name must be text of 1 to 128 characters", "name")
    return value.strip()


# Operations --------------------------------------------------------------------------


async def list_users(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(users).order_by(users.c.username))
        return [public_user(r) for r in rows]


async def get_user(engine: AsyncEngine, username: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.username == username))).first()
    if row is None:
        raise UserError(404, f"no user {username!r}", "username")
    return public_user(row)


async def create_user(
    engine: AsyncEngine, body: NewUser, now: float, known_skills: Collection[str] | None = None
) -> dict[str, Any]:
    """Create an API-managed user (username, password, role, name, skills,
    chat_capacity, language); 409 when the username is taken."""
    username, password = body.username, body.password
    values = {
        "username": username,
        "role": body.role,
        "name": check_name(username if body.name is UNSET else body.name),
        "skills": check_skills(body.skills, known_skills),
        "chat_capacity": body.chat_capacity,
        "language": check_language(body.language),
        "disabled": False,
        "disabled_by": None,
        "origin": "api",
        "created_at": now,
    }
    values["password_hash"] = await asyncio.to_thread(hash_password, password)
    try:
        async with engine.begin() as conn:
            await conn.execute(users.insert().values(**values))
    except IntegrityError:
        raise UserError(409, f"username {username!r} is taken", "username") from None
    return await get_user(engine, username)


async def change_user(
    engine: AsyncEngine,
    username: str,
    body: UserChange,
    by: str,
    known_skills: Collection[str] | None = None,
) -> dict[str, Any]:
    """Apply any of role, name, skills, chat_capacity, disabled (true/false), language. Disabling ends
    the user's sessions at once; an admin cannot disable or demote themselves."""
    given = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not UNSET}
    if not given:
        raise UserError(400, f"give at least one of {', '.join(body.__struct_fields__)}", "body")
    values: dict[str, Any] = {k: v for k, v in given.items() if k in ("role", "chat_capacity")}
    if "name" in given:
        values["name"] = check_name(given["name"])
    if "skills" in given:
        values["skills"] = check_skills(given["skills"], known_skills)
    if "language" in given:
        values["language"] = check_language(given["language"])
    if "disabled" in given:
        values["disabled"], values["disabled_by"] = given["disabled"], (by if given["disabled"] else None)
    if username == by and (values.get("disabled") or values.get("role", "admin") != "admin"):
        field = "disabled" if values.get("disabled") else "role"
        raise UserError(409, "you cannot disable or demote yourself; ask another admin", field)
    async with engine.begin() as conn:
        row = (await conn.execute(select(users.c.id).where(users.c.username == username))).first()
        if row is None:
            raise UserError(404, f"no user {username!r}", "username")
        await conn.execute(update(users).where(users.c.id == row.id).values(**values))
        if values.get("disabled"):
            await revoke_user_sessions(conn, row.id)
    return await get_user(engine, username)


async def reset_password(engine: AsyncEngine, username: str, body: NewPassword) -> None:
    """Set a new password and end all of the user's sessions."""
    encoded = await asyncio.to_thread(hash_password, body.password)
    async with engine.begin() as conn:
        row = (await conn.execute(select(users.c.id).where(users.c.username == username))).first()
        if row is None:
            raise UserError(404, f"no user {username!r}", "username")
        await conn.execute(update(users).where(users.c.id == row.id).values(password_hash=encoded))
        await revoke_user_sessions(conn, row.id)


async def set_language(engine: AsyncEngine, username: str, language: str) -> dict[str, Any]:
    """A user's own choice of language (``PATCH /api/v1/auth/me``)."""
    value = check_language(language)
    async with engine.begin() as conn:
        await conn.execute(update(users).where(users.c.username == username).values(language=value))
    return await get_user(engine, username)
