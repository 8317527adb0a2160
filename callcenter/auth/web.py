"""Login routes, the session cookie, role checks and CSRF protection.

- ``POST /api/v1/auth/login`` {username, password} -> {user, csrf_token} and the session
  cookie (HttpOnly, SameSite=Strict: the desk and wallboard are same-site pages, so the
  cookie never needs to travel on a cross-site request; Secure when served over HTTPS).
- ``POST /api/v1/auth/logout``, ``GET /api/v1/auth/me``, and the ``/login`` page.
- Every state-changing request (POST/PUT/PATCH/DELETE) made with a session must carry the
  session's CSRF token in ``X-CSRF-Token``; an ``Origin`` header, when sent, must be ours.
- ``require(request, *roles)`` gives the principal or answers 401/403.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from callcenter.appkeys import CLOCK, CONFIG, DB, LOG
from callcenter.auth.store import (
    MAX_S,
    LoginThrottle,
    Principal,
    check_password,
    create_session,
    revoke_session,
    seed_users,
    session_user,
)
from callcenter.core.events import InteractionEvent

COOKIE = "cc_session"
STATIC = Path(__file__).with_name("static")
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
SESSION = web.RequestKey("session", object)  # tuple[Principal, str] | None, looked up once
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
OPEN_POSTS = {"/api/v1/auth/login"}


def install(app: web.Application) -> None:
    app[THROTTLE] = LoginThrottle()
    app.cleanup_ctx.append(_seed_ctx)
    app.middlewares.append(csrf_guard)
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_post("/api/v1/auth/logout", logout)
    app.router.add_get("/api/v1/auth/me", me)
    app.router.add_get("/login", login_page)
    app.router.add_static("/static/auth", STATIC)


async def _seed_ctx(app: web.Application) -> AsyncIterator[None]:
    await seed_users(app[DB], app[CONFIG].users, app[CLOCK].now())
    yield


def json_error(status: int, message: str, field: str | None = None, **headers: str) -> web.Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if field is not None:
        body["field"] = field
    return web.json_response({"error": body}, status=status, headers=headers or None)


class Refused(web.HTTPException):
    """An HTTP refusal with a JSON body, raised from ``require``."""

    def __init__(self, status: int, message: str) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": {"status": status, "message": message}}),
            content_type="application/json",
        )


async def session_of(request: web.Request) -> tuple[Principal, str] | None:
    """The request's logged-in user and CSRF token (looked up once per request)."""
    if SESSION not in request:
        token = request.cookies.get(COOKIE)
        request[SESSION] = (
            await session_user(request.app[DB], token, request.app[CLOCK].now()) if token else None
        )
    result: tuple[Principal, str] | None = request[SESSION]  # type: ignore[assignment]
    return result


async def require(request: web.Request, *roles: str) -> Principal:
    found = await session_of(request)
    if found is None:
        raise Refused(401, "log in first (no session, or it has expired)")
    principal = found[0]
    if roles and principal.role not in roles and principal.role != "admin":
        raise Refused(403, f"this needs the {' or '.join(roles)} role; you are {principal.role}")
    return principal


@web.middleware
async def csrf_guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method in UNSAFE:
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            return json_error(403, f"cross-origin request from {origin} refused", "Origin")
        if request.path not in OPEN_POSTS and request.cookies.get(COOKIE):
            found = await session_of(request)
            sent = request.headers.get("X-CSRF-Token", "")
            if found is not None and not hmac.compare_digest(sent.encode(), found[1].encode()):
                return json_error(403, "missing or wrong CSRF token", "X-CSRF-Token")
    return await handler(request)


async def login(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return json_error(400, 'the body must be JSON: {"username": ..., "password": ...}')
    if not isinstance(body, dict):
        return json_error(400, "the body must be a JSON object")
    for name in ("username", "password"):
        if not isinstance(body.get(name), str) or not body[name]:
            return json_error(400, f"{name} is required (text)", name)
    username, password = body["username"][:64], body["password"][:1024]
    now = request.app[CLOCK].now()
    throttle = request.app[THROTTLE]
    keys = [f"user:{username.lower()}", f"addr:{request.remote}"]
    wait = throttle.retry_after(keys, now)
    if wait > 0:
        return json_error(
            429,
            f"too many failed logins; try again in {wait:.0f} s",
            **{"Retry-After": str(max(1, round(wait)))},
        )
    principal = await check_password(request.app[DB], username, password)
    log = request.app[LOG]
    if principal is None:
        throttle.failed(keys, now)
        log.append(
            InteractionEvent(
                type="auth.login_failed", at=now, data={"username": username, "address": request.remote}
            )
        )
        return json_error(401, "wrong username or password")
    throttle.succeeded(keys[0])
    token, csrf = await create_session(request.app[DB], principal.user_id, now)
    log.append(
        InteractionEvent(
            type="auth.login",
            at=now,
            agent_id=principal.username,
            data={"role": principal.role, "address": request.remote},
        )
    )
    response = web.json_response({"user": principal.public(), "csrf_token": csrf})
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=request.secure, path="/", max_age=int(MAX_S)
    )
    return response


async def logout(request: web.Request) -> web.Response:
    token = request.cookies.get(COOKIE)
    if token:
        await revoke_session(request.app[DB], token)
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    found = await session_of(request)
    if found is None:
        return json_error(401, "not logged in")
    return web.json_response({"user": found[0].public(), "csrf_token": found[1]})


async def login_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "login.html")
