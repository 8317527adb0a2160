"""Login routes and the session cookie; ``install(app)`` also adds the admin API and the
checks of ``guard`` (re-exported here for the desk and the wallboard).

- ``POST /api/v1/auth/login`` {username, password} -> {user, csrf_token} and the session
  cookie: HttpOnly (scripts cannot read it), SameSite=Strict (the desk and the wallboard
  are same-site pages, so the cookie never needs to travel on a request started by another
  site; links from elsewhere land on the login page and its ``?next=``), Path=/, and Secure
  when the request came over HTTPS (directly, or per ``X-Forwarded-Proto`` from a proxy).
- ``POST /api/v1/auth/logout`` revokes the session; ``GET /api/v1/auth/me`` answers the
  user (with their ``language``) and CSRF token, or 401 when not logged in or expired;
  ``PATCH /api/v1/auth/me`` {language} sets the user's own language (logged as
  ``auth.user_changed`` by themselves).
- ``GET /login`` is the login page (HTML and a small ES module under ``/static/auth``).

Failed logins are slowed down per username and per address (see ``throttle``) and logged
as ``auth.login_failed``; logins as ``auth.login``, logouts as ``auth.logout``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
from aiohttp import web

from callcenter.appkeys import CLOCK, CONFIG, DB, LOG
from callcenter.auth import admin, users
from callcenter.auth.bodies import LoginIn, Me, MyChange, Ok, Session
from callcenter.auth.guard import (
    COOKIE,
    Refused,
    api_route,
    auth_middleware,
    authenticate_request,
    check_role,
    encode,
    ensure_owner,
    json_error,
    read_body,
    require,
    require_role,
    session_of,
)
from callcenter.auth.store import MAX_S, Principal, check_password, create_session, revoke_session, seed_users
from callcenter.auth.throttle import LoginThrottle
from callcenter.core.api import Operation, Who
from callcenter.core.events import InteractionEvent

__all__ = [
    "COOKIE",
    "THROTTLE",
    "Principal",
    "Refused",
    "authenticate_request",
    "check_role",
    "ensure_owner",
    "install",
    "json_error",
    "require",
    "require_role",
    "session_of",
]

STATIC = Path(__file__).with_name("static")
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
LOGIN_BODY_LIMIT = 4096


def install(app: web.Application) -> None:
    """Add the auth routes, the admin API, the CSRF/role middleware and user seeding.
    Call after the core resources (CONFIG, CLOCK, DB, LOG) are in ``cleanup_ctx``."""
    app[THROTTLE] = LoginThrottle()
    app.cleanup_ctx.append(_seed_ctx)
    app.middlewares.append(auth_middleware)
    for operation, handler in ROUTES:
        api_route(app, operation, handler)
    app.router.add_get("/login", login_page)
    app.router.add_static("/static/auth", STATIC)
    admin.add_routes(app)


async def _seed_ctx(app: web.Application) -> AsyncIterator[None]:
    await seed_users(app[DB], app[CONFIG].users, app[CLOCK].now())
    yield


def _address(request: web.Request) -> str:
    return request.remote or "unknown"


def _is_https(request: web.Request) -> bool:
    # Trusting the proxy header can only add Secure, which at worst keeps the cookie from
    # travelling over plain HTTP: it cannot weaken anything.
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


async def login(request: web.Request) -> web.Response:
    body = await read_body(request, LoginIn, LOGIN_BODY_LIMIT)
    username, password = body.username[:64], body.password[:1024]
    now, address, log = request.app[CLOCK].now(), _address(request), request.app[LOG]
    throttle = request.app[THROTTLE]
    wait = throttle.attempt(username, address, now)
    if wait > 0:
        log.append(
            InteractionEvent(
                type="auth.login_failed",
                at=now,
                data={"username": username, "address": address, "reason": "throttled"},
            )
        )
        seconds = max(1, round(wait))
        return json_error(
            429, f"too many failed logins; try again in {seconds} s", None, **{"Retry-After": str(seconds)}
        )
    principal = await check_password(request.app[DB], username, password)
    if principal is None:
        log.append(
            InteractionEvent(
                type="auth.login_failed",
                at=now,
                data={"username": username, "address": address, "reason": "bad_credentials"},
            )
        )
        return json_error(401, "wrong username or password")
    throttle.succeeded(username, address)
    old = request.cookies.get(COOKIE)
    if old:
        await revoke_session(request.app[DB], old)
    token, csrf = await create_session(request.app[DB], principal.user_id, now)
    log.append(
        InteractionEvent(
            type="auth.login",
            at=now,
            agent_id=principal.username,
            data={"role": principal.role, "address": address},
        )
    )
    response = encode(_session(principal, csrf))
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=_is_https(request),
        path="/",
        max_age=int(MAX_S),
    )
    return response


async def logout(request: web.Request) -> web.Response:
    """Revoke the session (the CSRF middleware has checked the token). Idempotent."""
    found = await session_of(request)
    token = request.cookies.get(COOKIE)
    if token:
        await revoke_session(request.app[DB], token)
    if found is not None:
        request.app[LOG].append(
            InteractionEvent(type="auth.logout", at=request.app[CLOCK].now(), agent_id=found[0].username)
        )
    response = encode(Ok())
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    found = await session_of(request)
    if found is None:
        return json_error(401, "not logged in (no session, or it has expired)")
    return encode(_session(*found))


async def change_me(request: web.Request) -> web.Response:
    """What users may change of themselves: their language."""
    found = await session_of(request)
    if found is None:
        return json_error(401, "not logged in (no session, or it has expired)")
    principal, csrf = found
    body = await read_body(request, MyChange, LOGIN_BODY_LIMIT)
    try:
        await users.set_language(request.app[DB], principal.username, body.language)
    except users.UserError as exc:
        return json_error(exc.status, exc.message, exc.field)
    request.app[LOG].append(
        InteractionEvent(
            type="auth.user_changed",
            at=request.app[CLOCK].now(),
            data={
                "username": principal.username,
                "by": principal.username,
                "changes": {"language": body.language},
            },
        )
    )
    return encode(_session(dataclasses.replace(principal, language=body.language), csrf))


def _session(principal: Principal, csrf: str) -> Session:
    return Session(user=msgspec.convert(principal.public(), Me), csrf_token=csrf)


_WHO_ANYONE: tuple[Who, ...] = ("anyone",)
ROUTES = (
    (
        Operation(
            method="POST",
            path="/api/v1/auth/login",
            summary="Log in: sets the session cookie, answers the CSRF token",
            tag="auth",
            who=_WHO_ANYONE,
            body=LoginIn,
            response=Session,
            errors={401: "wrong username or password", 429: "too many failed logins (see Retry-After)"},
        ),
        login,
    ),
    (
        Operation(
            method="POST",
            path="/api/v1/auth/logout",
            summary="Log out (ends the session; idempotent)",
            tag="auth",
            who=_WHO_ANYONE,
            response=Ok,
            errors={403: "the session's CSRF token is missing or wrong"},
        ),
        logout,
    ),
    (
        Operation(
            method="GET",
            path="/api/v1/auth/me",
            summary="Who is logged in, and the CSRF token",
            tag="auth",
            who=("agent",),
            response=Session,
        ),
        me,
    ),
    (
        Operation(
            method="PATCH",
            path="/api/v1/auth/me",
            summary="Change what users may change of themselves: their language",
            tag="auth",
            who=("agent",),
            body=MyChange,
            response=Session,
            errors={400: "a language no catalogue is shipped for", 401: "not logged in"},
        ),
        change_me,
    ),
)


async def login_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "login.html", headers={"Cache-Control": "no-store"})
