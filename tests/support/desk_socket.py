"""A logged-in user and an agent's desk over a real WebSocket, for tests that drive a
running server (a test client's, a subprocess node, a cluster node): log in, say hello,
ask and wait for frames. ``base_url`` is the server's root, e.g. ``client.make_url("/")``."""

from __future__ import annotations

from typing import Any

import aiohttp


async def logged_in(base_url: object, user: str) -> aiohttp.ClientSession:
    """A client session logged in as ``user`` (the demo's password is the user name)."""
    session = aiohttp.ClientSession(base_url=str(base_url), cookie_jar=aiohttp.CookieJar(unsafe=True))
    res = await session.post("/api/v1/auth/login", json={"username": user, "password": user})
    assert res.status == 200, await res.text()
    return session


class Desk:
    """An agent's desk over a real WebSocket: ``ask`` waits for the answer to one request,
    ``until`` for the next frame of a type (frames that come first are kept)."""

    def __init__(
        self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse, welcome: dict[str, Any]
    ) -> None:
        self.session, self.ws, self.welcome = session, ws, welcome
        self.n = 0
        self.backlog: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, base_url: object, user: str) -> Desk:
        session = await logged_in(base_url, user)
        ws = await session.ws_connect("/ws/desk")
        await ws.send_json({"type": "hello", "protocol": 1})
        welcome = await ws.receive_json(timeout=10)
        assert welcome["type"] == "welcome", welcome
        return cls(session, ws, welcome)

    async def ask(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.n += 1
        await self.ws.send_json({"type": type_, "id": self.n, **fields})
        while True:
            frame: dict[str, Any] = await self.ws.receive_json(timeout=15)
            if frame.get("id") == self.n:
                return frame
            self.backlog.append(frame)

    async def until(self, type_: str, timeout: float = 10) -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = (
                self.backlog.pop(0) if self.backlog else await self.ws.receive_json(timeout=timeout)
            )
            if frame["type"] == type_:
                return frame

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()
