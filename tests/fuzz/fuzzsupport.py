"""The running demo app for the fuzz suite, and hypothesis strategies of hostile input.

``LiveCenter`` serves the demo configuration (SQLite file, virtual clock, loopback
telephony) from its own event loop in a background thread, so that hypothesis's
synchronous ``@given`` tests can send one request per example and wait for the answer.
Each role (anonymous, agent, supervisor, admin) has its own cookie jar and CSRF token.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from demo_center import demo_config
from hypothesis import strategies as st
from msgspec.structs import replace
from yarl import URL

from callcenter.app import create_app
from callcenter.config.sections import LimitsConfig
from callcenter.core.clock import VirtualClock

T = TypeVar("T")
START = 1_800_000_000.0
ROLES = {"agent": "alice", "supervisor": "sam", "admin": "admin"}
SLOW_S = 5.0
# Frame rate out of the way: the fuzz sends frames as fast as it can (the rate has its own tests)
FUZZ_LIMITS = LimitsConfig(frames_per_s=100_000, frames_burst=100_000, media_frames_per_s=100_000)


@dataclass
class Answer:
    method: str
    url: str
    status: int
    body: bytes
    elapsed: float
    content_type: str


class LiveCenter:
    """The demo app on a free loopback port, run by a thread's own event loop."""

    def __init__(self, db_url: str, limits: LimitsConfig = FUZZ_LIMITS) -> None:
        self.config = replace(demo_config(db_url), limits=limits)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-server", daemon=True)
        self.app: web.Application | None = None
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.csrf: dict[str, str] = {}

    # Life ----------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()
        self.run(self._start())

    def stop(self) -> None:
        try:
            self.run(self._stop(), timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        self.app = create_app(self.config, clock=VirtualClock(start=START))
        self.runner = web.AppRunner(self.app, shutdown_timeout=5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self.runner.addresses[0][1])
        for role in ("anonymous", *ROLES):
            self.sessions[role] = aiohttp.ClientSession(
                base_url=f"http://127.0.0.1:{self.port}", cookie_jar=aiohttp.CookieJar(unsafe=True)
            )
        for role in ROLES:
            await self.login(role)

    async def _stop(self) -> None:
        for session in self.sessions.values():
            await session.close()
        if self.runner is not None:
            await self.runner.cleanup()

    async def login(self, role: str) -> None:
        user = ROLES[role]
        async with self.sessions[role].post(
            "/api/v1/auth/login", json={"username": user, "password": user}
        ) as res:
            assert res.status == 200, await res.text()
            self.csrf[role] = (await res.json())["csrf_token"]

    # Requests ------------------------------------------------------------------------

    def request(
        self, role: str, method: str, path: str, query: str = "", body: bytes | None = None
    ) -> Answer:
        return self.run(self._request(role, method, path, query, body))

    async def _request(self, role: str, method: str, path: str, query: str, body: bytes | None) -> Answer:
        headers = {"Content-Type": "application/json"}
        if role in self.csrf:
            headers["X-CSRF-Token"] = self.csrf[role]
        url = URL(f"http://127.0.0.1:{self.port}{path}" + (f"?{query}" if query else ""), encoded=True)
        started = time.monotonic()
        async with self.sessions[role].request(
            method, url, data=body, headers=headers, allow_redirects=False
        ) as res:
            data = await res.read()
        return Answer(method, str(url), res.status, data, time.monotonic() - started, res.content_type)

    def health(self) -> tuple[int, dict[str, Any]]:
        async def get() -> tuple[int, dict[str, Any]]:
            async with self.sessions["anonymous"].get("/healthz") as res:
                return res.status, await res.json()

        return self.run(get())


def check_answer(answer: Answer) -> None:
    """What every answer to a client must be: no 5xx, in time, API errors in the error shape."""
    where = f"{answer.method} {answer.url} -> {answer.status}: {answer.body[:300]!r}"
    assert answer.status < 500, where
    assert answer.elapsed < SLOW_S, f"{where} took {answer.elapsed:.1f} s"
    path = urllib.parse.urlsplit(answer.url).path
    if answer.status >= 400 and path.startswith("/api/"):
        assert answer.content_type == "application/json", where
        error = json.loads(answer.body)["error"]
        assert error["status"] == answer.status and isinstance(error["message"], str), where
        assert isinstance(error.get("field", ""), str), where


def routes(app: web.Application) -> list[tuple[str, str]]:
    """Every (method, path template) of the app's router: a new route is fuzzed without
    anyone listing it here."""
    found = []
    for resource in app.router.resources():
        info = resource.get_info()
        template = info.get("formatter") or info.get("path") or (info.get("prefix", "") + "/{filename}")
        for route in resource:
            if route.method != "HEAD":
                found.append((route.method, str(template)))
    return sorted(set(found))


# Strategies ----------------------------------------------------------------------------

FIELDS = [
    # every field name the API's bodies and queries use, so inputs get past "unknown field"
    *("username", "password", "role", "name", "first_name", "skills", "chat_capacity", "disabled"),
    *("state", "reason", "to_queue", "priority_class", "head_start_s", "sdp", "account_number"),
    *("phones", "emails", "language", "tier", "kind", "status", "owner", "due_at", "subject"),
    *("contact_ids", "from", "to", "interval", "queue", "agent", "by", "format", "date", "target"),
    *("t", "shrinkage", "max_occupancy", "patience", "q", "limit", "offset", "before", "value"),
    *("customer_id", "cards", "billing"),
]
FAR_DATES = [
    *("9999-12-31", "0001-01-01", "9999-12-31T23:59", "0001-01-01T00:00:00+14:00", "99999-01-01"),
    *("2026-02-30", "1e20", "-1e20", "1e400", "nan", "inf", "-inf", "253402300800", "-62135596800"),
]
HUGE_NUMBERS = [10**30, -(10**30), 2**63, 2**64, 10**400, 1e308, -1e308, 0.0, -0.0, 5e-324]
NASTY_TEXT = [
    "\ud800",
    "\udfff",
    "a\x00b",
    "\x00",
    "\ud83d",
    "ok\ud800ok",
    "\ufffe",
    "\u202e",
    "'; --",
    "%00",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(NASTY_TEXT + FAR_DATES),
    st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0xFFFF), max_size=12),
    st.integers(min_value=1, max_value=40_000).map(lambda n: "x" * n),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _dumps(value: Any) -> bytes:
    # ensure_ascii writes a lone surrogate as its \\u escape, as a hostile client would
    return json.dumps(value, ensure_ascii=True).encode()


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


raw_bodies = st.one_of(
    st.integers(min_value=33, max_value=20_000).flatmap(
        lambda n: st.sampled_from(["array", "object"]).map(lambda k: _nested(n, k))
    ),
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"{",
            b"null",
            b"[]",
            b'"text"',
            b"NaN",
            b'{"a": NaN}',
            b'{"a": Infinity}',
            b"1" * 5000,
            b"\xff\xfe",
        ]
    ),
    st.integers(min_value=5000, max_value=40_000).map(lambda n: b'{"name": "' + b"y" * n + b'"}'),
)
bodies = st.one_of(
    raw_bodies,
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6).map(_dumps),
    json_values.map(_dumps),
)
query_values = st.one_of(
    st.sampled_from(FAR_DATES + [str(n) for n in HUGE_NUMBERS] + NASTY_TEXT + ["", "-1", "0", "csv", "day"]),
    st.text(max_size=20),
)


def _quote(text: str) -> str:
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


queries = st.dictionaries(st.sampled_from(FIELDS), query_values, max_size=5).map(
    lambda q: "&".join(f"{_quote(k)}={_quote(v)}" for k, v in q.items())
)
path_values = st.one_of(
    st.sampled_from(["c-1", "nobody", "alice-does-not-exist", "t-1", "9" * 40, "%ED%A0%80", "%00", ".."]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20),
)
