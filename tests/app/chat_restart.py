"""A single ``callcenter serve`` process with a chat queue, killed with SIGKILL and started
again on the same SQLite file, and the customers' pages and agents' desks that talk to it.
Shared by the chat restart tests (tests/app/test_chat_resume_restart.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.cluster.nodes import Node, free_port

AGENTS = ("alice", "bob", "carol", "dave")


def write_config(
    folder: Path, *, window_s: float, ring_time_s: float = 120.0, flush_interval_ms: int = 5
) -> Node:
    """One chat queue (topic "1"), agents whose password is their name, no telephony and
    no IVR flows (the chat picks a topic), the database in ``folder``."""
    port = free_port()
    (folder / "ivr").mkdir(exist_ok=True)
    data: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port},
        "storage": {"url": f"sqlite+aiosqlite:///{folder / 'cc.db'}", "flush_interval_ms": flush_interval_ms},
        "chat": {"resume_after_restart_s": window_s},
        "hours": {"always": {"always_open": True}},
        "queues": [
            {
                "name": "general",
                "channels": ["chat", "callback"],
                "hours": "always",
                "ring_time_s": ring_time_s,
                "wrap_up_s": 0,
            }
        ],
        "users": [{"username": a, "name": a.title(), "password": a, "chat_capacity": 50} for a in AGENTS],
        "ivr_dir": str(folder / "ivr"),
        "telephony": {"enabled": False},
    }
    path = folder / "callcenter.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return Node("center", port, path, folder / "center.log")


class Page:
    """A customer's chat page over a real WebSocket: every frame it was sent, in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, email: str = "") -> None:
        self.ws = ws
        self.email = email
        self.frames: list[dict[str, Any]] = []
        self._read = 0
        self.contact_id = ""
        self.token = ""

    @classmethod
    async def start(cls, http: aiohttp.ClientSession, url: str, email: str, *, waits: bool = True) -> Page:
        """Start a chat and pick the topic; ``waits``: until told its place in line (a chat
        offered at once is not told one)."""
        page = cls(await http.ws_connect(f"{url}/ws/chat"), email)
        await page.ws.send_json({"type": "start", "email": email, "name": email.split("@")[0]})
        session = await page.until("session")
        page.contact_id, page.token = session["contact_id"], session["token"]
        await page.until("prompt")
        await page.ws.send_json({"type": "choose", "key": "1"})
        if waits:
            await page.until("queued")
        return page

    @classmethod
    async def resume(cls, http: aiohttp.ClientSession, url: str, token: str) -> Page:
        """Reconnect with ``token``; the first frame is ``session`` or an ``error``."""
        page = cls(await http.ws_connect(f"{url}/ws/chat"))
        page.token = token
        await page.ws.send_json({"type": "start", "resume": token})
        first = await page.next()
        page.contact_id = first.get("contact_id", "")
        return page

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        if self._read < len(self.frames):
            self._read += 1
            return self.frames[self._read - 1]
        frame: dict[str, Any] = await self.ws.receive_json(timeout=timeout)
        self.frames.append(frame)
        self._read += 1
        return frame

    async def until(self, type_: str, timeout: float = 10) -> dict[str, Any]:
        while True:
            frame = await self.next(timeout)
            if frame["type"] == type_:
                return frame

    async def close(self) -> None:
        await self.ws.close()


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db, timeout=10) as conn:
        return list(conn.execute(sql, args))


async def wait_for(check: Any, what: str, timeout: float = 20.0) -> Any:
    """Poll ``check()`` (the server's database, written by another process) until truthy."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                found = check()
                if found:
                    return found
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {timeout} s: {what}") from None


def ends(db: Path) -> dict[str, list[str]]:
    """Every contact's ``contact.ended`` reasons, in log order."""
    out: dict[str, list[str]] = {}
    for cid, data in query(
        db, "SELECT contact_id, data FROM events WHERE type = 'contact.ended' ORDER BY seq"
    ):
        out.setdefault(cid, []).append(json.loads(data)["reason"])
    return out
