"""Admin API for users (admin role only; JSON under ``/api/v1/auth/users``).

- ``GET    /api/v1/auth/users``                      -> {users: [...]}
- ``POST   /api/v1/auth/users``  {username, password, role?, name?, skills?, chat_capacity?}
                                                      -> 201 {user}
- ``GET    /api/v1/auth/users/{username}``            -> {user}
- ``PATCH  /api/v1/auth/users/{username}`` {role?, name?, skills?, chat_capacity?, disabled?, language?}
                                                      -> {user}
- ``PUT    /api/v1/auth/users/{username}/password`` {password} -> {ok}; ends their sessions

Each change is logged (``auth.user_created``, ``auth.user_changed``, ``auth.password_reset``)
with who made it; the password itself never is.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from callcenter.appkeys import CLOCK, CONFIG, DB, LOG
from callcenter.auth import users
from callcenter.auth.bodies import NewPassword, NewUser, Ok, OneUser, UserChange, UserList
from callcenter.auth.guard import Refused, api_route, encode, read_body, require_role
from callcenter.auth.store import Principal
from callcenter.core.api import Operation, Who
from callcenter.core.events import InteractionEvent

BASE = "/api/v1/auth/users"


def add_routes(app: web.Application) -> None:
    for operation, handler in ROUTES:
        api_route(app, operation, handler)


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
    return encode(msgspec.convert({"users": await users.list_users(request.app[DB])}, UserList))


@require_role("admin")
async def get_user(request: web.Request, principal: Principal) -> web.Response:
    try:
        user = await users.get_user(request.app[DB], request.match_info["username"])
    except users.UserError as exc:
        raise _refuse(exc) from None
    return encode(msgspec.convert({"user": user}, OneUser))


@require_role("admin")
async def create_user(request: web.Request, principal: Principal) -> web.Response:
    body = await read_body(request, NewUser)
    try:
        user = await users.create_user(
            request.app[DB], body, request.app[CLOCK].now(), _known_skills(request)
        )
    except users.UserError as exc:
        raise _refuse(exc) from None
    _log(request, "auth.user_created", principal, user["username"], role=user["role"])
    return encode(msgspec.convert({"user": user}, OneUser), 201)


@require_role("admin")
async def change_user(request: web.Request, principal: Principal) -> web.Response:
    body = await read_body(request, UserChange)
    username = request.match_info["username"]
    try:
        user = await users.change_user(
            request.app[DB], username, body, principal.username, _known_skills(request)
        )
    except users.UserError as exc:
        raise _refuse(exc) from None
    changes = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not msgspec.UNSET}
    _log(request, "auth.user_changed", principal, username, changes=changes)
    return encode(msgspec.convert({"user": user}, OneUser))


@require_role("admin")
async def reset_password(request: web.Request, principal: Principal) -> web.Response:
    body = await read_body(request, NewPassword)
    username = request.match_info["username"]
    try:
        await users.reset_password(request.app[DB], username, body)
    except users.UserError as exc:
        raise _refuse(exc) from None
    _log(request, "auth.password_reset", principal, username)
    return encode(Ok())


ADMIN: tuple[Who, ...] = ("admin",)
_NO_USER = {404: "no such user"}
ROUTES = (
    (
        Operation(method="GET", path=BASE, summary="All users", tag="users", who=ADMIN, response=UserList),
        list_users,
    ),
    (
        Operation(
            method="POST",
            path=BASE,
            summary="Create a user",
            tag="users",
            who=ADMIN,
            body=NewUser,
            response=OneUser,
            status=201,
            errors={409: "the username is taken"},
        ),
        create_user,
    ),
    (
        Operation(
            method="GET",
            path=BASE + "/{username}",
            summary="One user",
            tag="users",
            who=ADMIN,
            response=OneUser,
            errors=_NO_USER,
        ),
        get_user,
    ),
    (
        Operation(
            method="PATCH",
            path=BASE + "/{username}",
            summary="Change a user's role, name, skills, chat capacity, language, or disable them",
            tag="users",
            who=ADMIN,
            body=UserChange,
            response=OneUser,
            errors={**_NO_USER, 409: "an admin cannot disable or demote themselves"},
        ),
        change_user,
    ),
    (
        Operation(
            method="PUT",
            path=BASE + "/{username}/password",
            summary="Set a user's password (ends their sessions)",
            tag="users",
            who=ADMIN,
            body=NewPassword,
            response=Ok,
            errors=_NO_USER,
        ),
        reset_password,
    ),
)
