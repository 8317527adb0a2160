"""Admin API for users (admin role only; JSON under ``/api/v1/auth/users``).

- ``GET    /api/v1/auth/users``                      -> {users: [...]}
- ``POST   /api/v1/auth/users``  {username, password, role?, name?, skills?, chat_capacity?}
                                                      -> 201 {user}
- ``GET    /api/v1/auth/users/{username}``            -> {user}
- ``PATCH  /api/v1/auth/users/{username}`` {role?, name?, skills?, chat_capacity?, disabled?}
                                                      -> {user}
- ``PUT    /api/v1/auth/users/{username}/password`` {password} -> {ok}; ends their sessions

Each change is logged (``auth.user_created``, ``auth.user_changed``, ``auth.password_reset``)
with who made it; the password itself never is.
"""

from __future__ import annotations

from aiohttp import web

from callcenter.appkeys import CLOCK, CONFIG, DB, LOG
from callcenter.auth import users
from callcenter.auth.guard import Refused, read_json, require_role
from callcenter.auth.store import Principal
from callcenter.core.events import InteractionEvent

BASE = "/api/v1/auth/users"


def add_routes(app: web.Application) -> None:
    app.router.add_get(BASE, list_users)
    app.router.add_post(BASE, create_user)
    app.router.add_get(BASE + "/{username}", get_user)
    app.router.add_patch(BASE + "/{username}", change_user)
    app.router.add_put(BASE + "/{username}/password", reset_password)


def _known_skills(request: web.Request) -> set[str] | None:
    skills = {s.name for s in request.app[CONFIG].skills}
    return skills or None  # a config without a skills list does not restrict them


def _log(request: web.Request, kind: str, principal: Principal, username: str, **data: object) -> None:
    request.app[LOG].append(
        InteractionEvent(
            type=kind,
            at=request.app[CLOCK].now(),
            data={"username": username, "by": principal.username, **data},
        )
    )


def _refuse(error: users.UserError) -> Refused:
    return Refused(error.status, error.message, error.field)


@require_role("admin")
async def list_users(request: web.Request, principal: Principal) -> web.Response:
    return web.json_response({"users": await users.list_users(request.app[DB])})


@require_role("admin")
async def get_user(request: web.Request, principal: Principal) -> web.Response:
    try:
        user = await users.get_user(request.app[DB], request.match_info["username"])
    except users.UserError as exc:
        raise _refuse(exc) from None
    return web.json_response({"user": user})


@require_role("admin")
async def create_user(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request)
    try:
        user = await users.create_user(
            request.app[DB], body, request.app[CLOCK].now(), _known_skills(request)
        )
    except users.UserError as exc:
        raise _refuse(exc) from None
    _log(request, "auth.user_created", principal, user["username"], role=user["role"])
    return web.json_response({"user": user}, status=201)


@require_role("admin")
async def change_user(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request)
    username = request.match_info["username"]
    try:
        user = await users.change_user(
            request.app[DB], username, body, principal.username, _known_skills(request)
        )
    except users.UserError as exc:
        raise _refuse(exc) from None
    _log(request, "auth.user_changed", principal, username, changes=body)
    return web.json_response({"user": user})


@require_role("admin")
async def reset_password(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request)
    username = request.match_info["username"]
    try:
        await users.reset_password(request.app[DB], username, body)
    except users.UserError as exc:
        raise _refuse(exc) from None
    _log(request, "auth.password_reset", principal, username)
    return web.json_response({"ok": True})
