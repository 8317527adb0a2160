"""Every route and WebSocket of the running demo app against the table of who may reach it
(docs/security.md, "Entry points"): a route missing from the table fails, and so does one
that a caller below the table's answers without refusing (anonymous, an agent, a supervisor;
a carrier route without the carrier's secret). The least caller the table names must get
past the check (the table says no more than the server does). The router is walked, so a
new route is covered as soon as it is added."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from demo_center import demo_config, media_stream_path
from msgspec.structs import replace

from callcenter.app import create_app
from callcenter.config.sections import MetricsConfig

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
TOKEN = "scraper-token-0123456789"
RANKS = {"anyone": 0, "customer": 0, "agent": 1, "supervisor": 2, "admin": 3}
BY_RANK = {0: "anyone", 1: "agent", 2: "supervisor", 3: "admin"}
CREDENTIALS = ("carrier", "metrics-token")  # no session passes these; only their own secret
SESSIONS = {"agent": "alice", "supervisor": "sam", "admin": "admin"}  # the demo's users
_ROW = re.compile(r"^\|\s*(GET|POST|PUT|PATCH|DELETE|WS)\s*\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|$")


def entry_points() -> dict[tuple[str, str], tuple[bool, tuple[str, ...]]]:
    """(method, path) -> (is a WebSocket, who) from the doc's "Entry points" table."""
    text = DOC.read_text(encoding="utf-8").split("## Entry points", 1)[1].split("\n## ", 1)[0]
    table: dict[tuple[str, str], tuple[bool, tuple[str, ...]]] = {}
    for line in text.splitlines():
        m = _ROW.match(line.strip())
        if m is None:
            continue
        method, path, who = m.groups()
        whos = tuple(w.strip() for w in who.split(" or "))
        unknown = [w for w in whos if w not in RANKS and w not in CREDENTIALS]
        assert not unknown, f"docs/security.md: {method} {path}: unknown 'who' {unknown}"
        key = ("GET" if method == "WS" else method, path)
        assert key not in table, f"docs/security.md lists {method} {path} twice"
        table[key] = (method == "WS", whos)
    assert len(table) > 20, "docs/security.md: the Entry points table was not found"
    return table


def admits(whos: tuple[str, ...], caller: str) -> bool:
    """May ``caller`` (anyone, agent, supervisor, admin) reach a route for ``whos``?"""
    return any(w in RANKS and RANKS[caller] >= RANKS[w] for w in whos)


@dataclass
class Caller:
    name: str
    http: aiohttp.ClientSession
    csrf: str = ""
    headers: dict[str, str] | None = None
    path: str | None = None  # another URL for the route (the carrier's, with its secret)


@pytest.fixture
async def server(aiohttp_server: Any, tmp_path: Path) -> Any:
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    return await aiohttp_server(create_app(replace(config, metrics=MetricsConfig(token=TOKEN))))


@pytest.fixture
async def callers(server: Any) -> AsyncIterator[dict[str, Caller]]:
    def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(base_url=server.make_url("/"), cookie_jar=aiohttp.CookieJar(unsafe=True))

    found = {"anyone": Caller("anyone", session())}
    for role, user in SESSIONS.items():
        http = session()
        res = await http.post("/api/v1/auth/login", json={"username": user, "password": user})
        assert res.status == 200, user
        found[role] = Caller(role, http, (await res.json())["csrf_token"])
    found["metrics-token"] = Caller("metrics-token", session(), headers={"Authorization": f"Bearer {TOKEN}"})
    found["carrier"] = Caller("carrier", session(), path=media_stream_path())
    found["wrong carrier"] = Caller(
        "wrong carrier", session(), path="/media-stream?carrier=demo&secret=not-the-secret-at-all"
    )
    yield found
    for caller in found.values():
        await caller.http.close()


async def refused(caller: Caller, method: str, path: str, websocket: bool) -> str | None:
    """How the server refused ``caller`` (None: it did not)."""
    path = caller.path or path
    headers = dict(caller.headers or {})
    if websocket:
        try:
            ws = await caller.http.ws_connect(path, headers=headers)
        except aiohttp.WSServerHandshakeError as exc:
            return f"{exc.status} before the upgrade" if exc.status in (401, 403) else None
        try:
            message = await ws.receive(timeout=0.5)
        except TimeoutError:
            return None  # open and quiet: reached
        finally:
            await ws.close()
        closing = message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        return f"closed with {ws.close_code}" if closing and ws.close_code in (4401, 4403) else None
    if method != "GET":
        headers["X-CSRF-Token"] = caller.csrf
    body: dict[str, object] | None = None if method == "GET" else {}
    async with caller.http.request(method, path, json=body, headers=headers, allow_redirects=False) as res:
        if res.status in (401, 403):
            return str(res.status)
        if res.status in (302, 303, 307) and res.headers.get("Location", "").startswith("/login"):
            return "redirected to the login page"
    return None


def routes_of(app: Any) -> list[tuple[str, str, str]]:
    """(method, path as in the table, a path to request) for every route; HEAD goes with GET;
    logout last (it ends the session it is sent with)."""
    found = set()
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        if route.method == "HEAD" or route.method == "*":
            assert route.method == "HEAD", f"{resource.canonical} takes any method"
            continue
        concrete = re.sub(r"\{[^}]+\}", "probe", resource.canonical)
        if type(resource).__name__ == "StaticResource":
            concrete += "/probe.js"
        found.add((route.method, resource.canonical, concrete))
    return sorted(found, key=lambda r: (r[1].endswith("/logout"), r[1], r[0]))


async def test_every_route_refuses_callers_below_the_one_the_docs_name(
    server: Any, callers: dict[str, Caller]
) -> None:
    table = entry_points()
    routes = routes_of(server.app)
    missing = [f"{method} {path}" for method, path, _ in routes if (method, path) not in table]
    assert not missing, f"routes missing from docs/security.md's Entry points: {missing}"
    stale = sorted(set(table) - {(method, path) for method, path, _ in routes})
    assert not stale, f"docs/security.md lists routes the app does not have: {stale}"

    wrong: list[str] = []
    for method, path, concrete in routes:
        websocket, whos = table[(method, path)]
        below = [c for c in ("anyone", "agent", "supervisor") if not admits(whos, c)]
        if "carrier" in whos:
            below.append("wrong carrier")
        for name in below:
            if await refused(callers[name], method, concrete, websocket) is None:
                wrong.append(f"{method} {path} ({' or '.join(whos)}) is reachable by {name}")
        roles = [RANKS[w] for w in whos if w in RANKS]
        least = [BY_RANK[min(roles)]] if roles else []
        for name in least + [w for w in whos if w in CREDENTIALS]:
            how = await refused(callers[name], method, concrete, websocket)
            if how is not None:
                wrong.append(
                    f"{method} {path}: the table says {name} may reach it, but it was refused ({how})"
                )
    assert not wrong, "\n".join(wrong)
    # a carrier route also refuses a session that holds every role
    assert await refused(callers["admin"], "GET", "/media-stream", True) == "401 before the upgrade"
