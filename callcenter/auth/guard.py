"""Checks every route and WebSocket runs before acting: who is asking, in which role, on
whose behalf, and whether a state-changing request really comes from our own pages.

For route handlers::

    @require_role("supervisor")
    async def force_state(request: web.Request, principal: Principal) -> web.Response: ...

For WebSocket upgrades, ``principal = await authenticate_request(request, "agent")``
before ``ws.prepare``; for each message, ``check_role(principal, ...)`` and, where an
agent acts on an offer or contact, ``ensure_owner(principal, agent_id)``. All of them
raise ``Refused`` (401 not logged in, 403 not allowed), which ``auth_middleware`` turns
into ``{"error": {"status", "message", "field"}}``; WebSocket code catches it and closes
with 4401/4403 or answers the message.

CSRF: any POST/PUT/PATCH/DELETE that carries a live session cookie must also carry the
session's CSRF token in ``X-CSRF-Token`` (compared in constant time); a request with an
``Origin`` header from another origin is refused whatever it carries. Requests without a
session cookie have no ambient authority to abuse and reach the handler, which refuses
them with 401 if it needs a login. A WebSocket upgrade carrying the session cookie must come
from our own origin too (no cross-site WebSocket hijacking); the customer chat, which has no
session, may be opened from anywhere.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from aiohttp import web
from yarl import URL

from callcenter.appkeys import CLOCK, CONFIG, DB, OPENAPI
from callcenter.auth.store import Principal, session_user
from callcenter.config.sections import LimitsConfig
from callcenter.core.api import Operation, convert_body
from callcenter.core.client_json import InputRefused, decode_json

COOKIE = "cc_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_POSTS = frozenset({"/api/v1/auth/login"})  # the one unsafe route that needs no session
SESSION = web.RequestKey("auth_session", object)  # tuple[Principal, str] | None, looked up once

R = TypeVar("R", bound=web.StreamResponse)
B = TypeVar("B")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Guarded = Callable[[web.Request, Principal], Awaitable[R]]


def json_error(status: int, message: str, field: str | None = None, **headers: str) -> web.Response:
    """The API's error body: ``{"error": {"status", "message", "field"?}}``."""
    body: dict[str, Any] = {"status": status, "message": message}
    if field is not None:
        body["field"] = field
    return web.json_response({"error": body}, status=status, headers=headers or None)


def unavailable(message: str) -> web.Response:
    """503: the server cannot answer now (the interaction log is not reaching its database);
    ``field`` is null, since no part of the request is at fault."""
    return web.json_response({"error": {"status": 503, "message": message, "field": None}}, status=503)


class Refused(web.HTTPException):
    """A 4xx refusal with the API's JSON error body; raise it from anywhere in a handler."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status_code = status
        self.message, self.field = message, field
        body: dict[str, Any] = {"status": status, "message": message}
        if field is not None:
            body["field"] = field
        super().__init__(text=json.dumps({"error": body}), content_type="application/json")


# Who is asking -----------------------------------------------------------------------


async def session_of(request: web.Request) -> tuple[Principal, str] | None:
    """The request's logged-in user and CSRF token, or ``None`` (looked up once per request)."""
    if SESSION not in request:
        token = request.cookies.get(COOKIE)
        request[SESSION] = (
            await session_user(request.app[DB], token, request.app[CLOCK].now()) if token else None
        )
    result: tuple[Principal, str] | None = request[SESSION]  # type: ignore[assignment]
    return result


def check_role(principal: Principal, *roles: str) -> Principal:
    """``principal`` if it holds one of ``roles`` (admin holds them all; no roles: anyone
    logged in), else ``Refused(403)``."""
    if roles and principal.role not in roles and principal.role != "admin":
        raise Refused(403, f"this needs the {' or '.join(roles)} role; you are {principal.role}", "role")
    return principal


async def require(request: web.Request, *roles: str) -> Principal:
    """The logged-in principal holding one of ``roles``; ``Refused`` 401 or 403 otherwise."""
    found = await session_of(request)
    if found is None:
        raise Refused(401, "log in first (no session, or it has expired)")
    return check_role(found[0], *roles)


async def authenticate_request(request: web.Request, *roles: str, fresh: bool = False) -> Principal:
    """``require`` for WebSocket upgrades and long-lived connections. With ``fresh=True``
    the session is read again from the database, so a connection can notice a logout,
    expiry, password reset or disabling while it is open."""
    if fresh:
        request.pop(SESSION, None)
    return await require(request, *roles)


def require_role(*roles: str) -> Callable[[Guarded[R]], Callable[[web.Request], Awaitable[R]]]:
    """Decorate a handler ``(request, principal)`` so it runs only for those roles."""

    def decorate(handler: Guarded[R]) -> Callable[[web.Request], Awaitable[R]]:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> R:
            return await handler(request, await require(request, *roles))

        return guarded

    return decorate


def ensure_owner(principal: Principal, agent_id: str | None, *, others_allowed: bool = False) -> None:
    """Refuse (403) unless ``agent_id`` is the principal's own; supervisors and admins pass
    for other agents only when the caller says the action allows it (``others_allowed``)."""
    if agent_id == principal.username:
        return
    if others_allowed and principal.role in ("supervisor", "admin"):
        return
    whose = f"agent {agent_id}'s" if agent_id else "no agent's"
    raise Refused(403, f"that is {whose}, not yours (you are {principal.username})", "agent_id")


# Request bodies ----------------------------------------------------------------------


def limits_of(app: web.Application) -> LimitsConfig:
    """The app's ``limits`` section (the defaults for an app built without a config)."""
    config = app.get(CONFIG)
    return config.limits if config is not None else LimitsConfig()


async def read_json(request: web.Request, limit: int | None = None) -> dict[str, Any]:
    """The body as a JSON object, read by ``core.client_json`` (every handler that takes
    JSON uses this): ``Refused`` 413 past ``limit`` bytes (default ``limits.body_max_bytes``),
    400 naming the field when it is not a JSON object, nested too deep, holds a string
    too long or a number too big; lone surrogates and NULs in its text become U+FFFD."""
    limits = limits_of(request.app)
    limit = limits.body_max_bytes if limit is None else limit
    if request.content_length is not None and request.content_length > limit:
        raise Refused(413, f"the body is {request.content_length} bytes; the limit is {limit}", "body")
    data = bytearray()
    while chunk := await request.content.readany():
        data += chunk
        if len(data) > limit:
            raise Refused(413, f"the body is over the limit of {limit} bytes", "body")
    try:
        body = decode_json(data, limits.json(limit))
    except InputRefused as exc:
        raise Refused(exc.status, exc.message, exc.field) from None
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object", "body")
    return body


async def read_body(request: web.Request, kind: type[B], limit: int | None = None) -> B:
    """The body as the struct ``kind``: read as ``read_json`` does, then converted by
    ``core.api.convert_body`` (unknown fields, wrong types, broken constraints: 400 naming
    the field)."""
    try:
        return convert_body(await read_json(request, limit), kind)
    except InputRefused as exc:
        raise Refused(exc.status, exc.message, exc.field) from None


def encode(value: Any, status: int = 200, **headers: str) -> web.Response:
    """A JSON response of a struct (or anything msgspec encodes)."""
    return web.Response(
        body=msgspec.json.encode(value),
        status=status,
        content_type="application/json",
        headers=headers or None,
    )


# Routes ------------------------------------------------------------------------------


def api_route(app: web.Application, operation: Operation, handler: Handler) -> None:
    """Register ``handler`` for ``operation`` and describe it in the app's OpenAPI
    document: the one way an ``/api/v1`` route is added."""
    app.router.add_route(operation.method, operation.path, handler)
    if OPENAPI in app:
        app[OPENAPI].add(operation)


# Middleware --------------------------------------------------------------------------


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Origin and CSRF checks for unsafe methods; ``Refused`` becomes its JSON response."""
    try:
        if request.method in UNSAFE:
            await _check_unsafe(request)
        elif request.headers.get("Upgrade", "").lower() == "websocket" and request.cookies.get(COOKIE):
            _check_origin(request)  # a page elsewhere must not open a socket with our cookie
        return await handler(request)
    except Refused as refusal:
        return json_error(refusal.status_code, refusal.message, refusal.field)


def _check_origin(request: web.Request) -> None:
    """An ``Origin`` header must name this server: the same scheme, host and port (default
    ports filled in). The scheme is ``https`` when the request came over TLS or a proxy says
    so in ``X-Forwarded-Proto`` (as for the cookie's ``Secure`` flag; a page on another site
    cannot set that header), else ``http``. ``Origin: null`` never matches."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    scheme = "https" if request.secure or forwarded == "https" else "http"
    own = _origin_key(f"{scheme}://{request.host}")
    if own is None or _origin_key(origin) != own:
        raise Refused(403, f"cross-origin request from {origin} refused", "Origin")


def _origin_key(text: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an origin, or None when it is not one."""
    try:
        url = URL(text)
    except ValueError:
        return None
    if not url.is_absolute() or url.scheme not in ("http", "https") or not url.host:
        return None
    if url.user is not None or url.raw_path not in ("", "/") or url.raw_query_string:
        return None  # a browser's Origin is scheme://host[:port], nothing else
    try:
        port = url.port
    except ValueError:
        return None
    return url.scheme, url.host.lower(), port


async def _check_unsafe(request: web.Request) -> None:
    _check_origin(request)
    if request.path in OPEN_POSTS or not request.cookies.get(COOKIE):
        return
    found = await session_of(request)
    if found is None:
        return  # no live session: the handler answers 401 if it needs one
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), found[1].encode()):
        raise Refused(403, f"missing or wrong CSRF token (send it in {CSRF_HEADER})", CSRF_HEADER)
