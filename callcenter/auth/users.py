"""Managing users from the admin API: list, create, change role/name, disable, reset password.

Every function validates its input and raises ``UserError`` (status, message, field) for
anything a client got wrong; nothing is written then. Users listed in the config file
(``origin = 'config'``) can be changed here too, but the config wins again at the next
start for what it states (name, role, skills, password); disabling by an admin survives.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth.passwords import hash_password
from callcenter.auth.schema import ROLES, users
from callcenter.auth.store import revoke_user_sessions

USERNAME = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 1024


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
    }


# Validation --------------------------------------------------------------------------


def check_role(value: object) -> str:
    if value not in ROLES:
        raise UserError(400, f"role must be one of {', '.join(ROLES)}", "role")
    return str(value)


def check_password_text(value: object) -> str:
    if not isinstance(value, str) or not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        limits = f"{MIN_PASSWORD} to {MAX_PASSWORD}"
        raise UserError(400, f"password must be text of {limits} characters", "password")
    return value


def check_name(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 128:
        raise UserError(400, "name must be text of 1 to 128 characters", "name")
    return value.strip()


def check_skills(value: object, known: Collection[str] | None) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise UserError(400, 'skills must be an object like {"banking": 3}', "skills")
    skills: dict[str, int] = {}
    for skill, level in value.items():
        if known is not None and skill not in known:
            raise UserError(400, f"unknown skill {skill!r} (known: {', '.join(sorted(known))})", "skills")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            raise UserError(400, f"skill level for {skill!r} must be a whole number from 1 to 5", "skills")
        skills[str(skill)] = level
    return skills


def check_capacity(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 20:
        raise UserError(400, "chat_capacity must be a whole number from 0 to 20", "chat_capacity")
    return value


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
    engine: AsyncEngine, body: Mapping[str, Any], now: float, known_skills: Collection[str] | None = None
) -> dict[str, Any]:
    """Create an API-managed user from a request body (username, password, role, name,
    skills, chat_capacity); 409 when the username is taken."""
    username = body.get("username")
    if not isinstance(username, str) or not USERNAME.match(username):
        raise UserError(400, "username must be 1-64 letters, digits, '.', '_' or '-'", "username")
    password = check_password_text(body.get("password"))
    values = {
        "username": username,
        "role": check_role(body.get("role", "agent")),
        "name": check_name(body.get("name", username)),
        "skills": check_skills(body.get("skills", {}), known_skills),
        "chat_capacity": check_capacity(body.get("chat_capacity", 3)),
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
    body: Mapping[str, Any],
    by: str,
    known_skills: Collection[str] | None = None,
) -> dict[str, Any]:
    """Apply any of role, name, skills, chat_capacity, disabled (true/false). Disabling ends
    the user's sessions at once; an admin cannot disable or demote themselves."""
    allowed = {"role", "name", "skills", "chat_capacity", "disabled"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed))
        raise UserError(400, f"unknown field {unknown[0]!r} (one of {known})", unknown[0])
    if not body:
        raise UserError(400, f"give at least one of {', '.join(sorted(allowed))}", "body")
    values: dict[str, Any] = {}
    if "role" in body:
        values["role"] = check_role(body["role"])
    if "name" in body:
        values["name"] = check_name(body["name"])
    if "skills" in body:
        values["skills"] = check_skills(body["skills"], known_skills)
    if "chat_capacity" in body:
        values["chat_capacity"] = check_capacity(body["chat_capacity"])
    if "disabled" in body:
        if not isinstance(body["disabled"], bool):
            raise UserError(400, "disabled must be true or false", "disabled")
        values["disabled"], values["disabled_by"] = body["disabled"], (by if body["disabled"] else None)
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


async def reset_password(engine: AsyncEngine, username: str, body: Mapping[str, Any]) -> None:
    """Set a new password and end all of the user's sessions."""
    password = check_password_text(body.get("password"))
    encoded = await asyncio.to_thread(hash_password, password)
    async with engine.begin() as conn:
        row = (await conn.execute(select(users.c.id).where(users.c.username == username))).first()
        if row is None:
            raise UserError(404, f"no user {username!r}", "username")
        await conn.execute(update(users).where(users.c.id == row.id).values(password_hash=encoded))
        await revoke_user_sessions(conn, row.id)
