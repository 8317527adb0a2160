"""Helpers for the auth tests: an app built like the server's (create_app, with the auth
module inside it) on a virtual clock, plus test-only routes that use the guard helpers the
desk and the wallboard use, and a client that remembers its CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from demo_center import demo_config

from callcenter.app import create_app
from callcenter.auth.guard import authenticate_request, ensure_owner, require_role
from callcenter.auth.store import Principal
from callcenter.core.clock import VirtualClock

ROOT = Path(__file__).resolve().parents[2]
START = 1_800_000_000.0


@require_role("supervisor")
async def supervisors_only(request: web.Request, principal: Principal) -> web.Response:
    return web.json_response({"hello": principal.username})


@require_role("agent", "supervisor")
async def act_for(request: web.Request, principal: Principal) -> web.Response:
    ensure_owner(principal, request.match_info["agent_id"], others_allowed="on_behalf" in request.query)
    return web.json_response({"done_by": principal.username})


async def echo_socket(request: web.Request) -> web.StreamResponse:
    """Closes 4401/4403 when refused; otherwise answers each message with who sent it,
    re-reading the session so that a logout is noticed while the socket is open."""
    ws = web.WebSocketResponse()
    try:
        principal = await authenticate_request(request, "agent")
    except web.HTTPException as refusal:
        await ws.prepare(request)
        await ws.close(code=4401 if refusal.status_code == 401 else 4403)
        return ws
    await ws.prepare(request)
    async for _ in ws:
        try:
            principal = await authenticate_request(request, "agent", fresh=True)
        except web.HTTPException:
            await ws.close(code=4401)
            break
        await ws.send_json({"user": principal.username})
    return ws


def build_app(url: str, clock: VirtualClock) -> web.Application:
    app = create_app(demo_config(url), clock=clock)
    app.router.add_get("/api/v1/test/supervisors", supervisors_only)
    app.router.add_post("/api/v1/test/act/{agent_id}", act_for)
    app.router.add_get("/ws/test", echo_socket)
    return app


class Client:
    """The test client with the app's virtual clock and login helpers."""

    def __init__(self, client: TestClient[Any, Any], clock: VirtualClock, app: web.Application) -> None:
        self.http, self.clock, self.app = client, clock, app
        self.csrf = ""

    async def login(self, username: str, password: str | None = None) -> Any:
        res = await self.http.post(
            "/api/v1/auth/login", json={"username": username, "password": password or username}
        )
        if res.status == 200:
            self.csrf = (await res.json())["csrf_token"]
        return res

    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}

    def browser(self) -> aiohttp.ClientSession:
        """A second browser (its own cookie jar) on the same server; use with ``async with``."""
        return aiohttp.ClientSession(
            base_url=self.http.make_url("/"), cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
