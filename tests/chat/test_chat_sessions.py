"""Customer chat over real WebSockets: a session starts with a resume token, messages and
menu choices reach the backend, bad frames get an error and reach nothing, a reload within
the grace period resumes the conversation, a customer who never returns is ended once.

The backend here is a recording fake of the center (a port), not the IVR or ACD."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, web
from aiohttp.test_utils import TestClient

from callcenter.chat.protocol import Option, Prompt, Queued
from callcenter.chat.sessions import ChatSession, ChatSessions


class Backend:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def started(self, session: ChatSession) -> None:
        self.calls.append(("started", session.name))
        options = [Option(key="1", label="Cards"), Option(key="2", label="Other")]
        session.send(Prompt(text="Hello! What is it about?", options=options))

    async def text(self, session: ChatSession, text: str) -> None:
        self.calls.append(("text", text))

    async def choose(self, session: ChatSession, key: str) -> None:
        self.calls.append(("choose", key))
        session.send(Queued(position=1, ewt_s=30))

    def typing(self, session: ChatSession) -> None:
        self.calls.append(("typing", None))

    async def rated(self, session: ChatSession, rating: int, comment: str | None) -> None:
        self.calls.append(("rated", rating))

    async def left(self, session: ChatSession, reason: str) -> None:
        self.calls.append(("left", reason))

    async def resumed(self, session: ChatSession) -> None:
        self.calls.append(("resumed", session.name))


@pytest.fixture
async def chat(aiohttp_client):  # type: ignore[no-untyped-def]
    backend = Backend()
    counter = itertools.count(1)
    sessions = ChatSessions(backend, lambda: f"c-{next(counter)}", grace_s=0.3)
    app = web.Application()
    app.router.add_get("/ws/chat", sessions.serve)
    client = await aiohttp_client(app)
    yield client, sessions, backend
    await sessions.close()


async def start(
    client: TestClient[web.Request, web.Application], **fields: Any
) -> tuple[ClientWebSocketResponse, dict[str, Any]]:
    ws = await client.ws_connect("/ws/chat")
    await ws.send_json({"type": "start", **fields})
    session = await ws.receive_json(timeout=5)
    assert session["type"] == "session"
    return ws, session


async def test_a_chat_starts_and_messages_reach_the_backend(chat) -> None:  # type: ignore[no-untyped-def]
    client, _sessions, backend = chat
    ws, session = await start(client, name="Dana")
    assert session["contact_id"] == "c-1" and len(session["token"]) >= 32 and not session["resumed"]
    prompt = await ws.receive_json(timeout=5)
    assert prompt["options"][0] == {"key": "1", "label": "Cards"}
    await ws.send_json({"type": "choose", "key": "1"})
    assert (await ws.receive_json(timeout=5))["type"] == "queued"
    await ws.send_json({"type": "text", "text": "my card is gone"})
    await ws.send_json({"type": "typing"})
    await asyncio.sleep(0.05)
    assert backend.calls == [
        ("started", "Dana"),
        ("choose", "1"),
        ("text", "my card is gone"),
        ("typing", None),
    ]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"type": "text", "text": ""}', "bad_field"),
        ('{"type": "rate", "rating": 7}', "bad_field"),
        ('{"type": "shout"}', "unknown_type"),
        ("nonsense", "bad_json"),
    ],
)
async def test_bad_frames_get_an_error_and_reach_nothing(chat, frame: str, code: str) -> None:  # type: ignore[no-untyped-def]
    client, _, backend = chat
    ws, _ = await start(client)
    await ws.receive_json(timeout=5)  # the first prompt
    await ws.send_str(frame)
    assert (await ws.receive_json(timeout=5))["code"] == code
    assert backend.calls == [("started", None)]


async def test_reload_within_grace_resumes_the_conversation(chat) -> None:  # type: ignore[no-untyped-def]
    client, _, backend = chat
    ws, session = await start(client)
    await ws.receive_json(timeout=5)
    await ws.send_json({"type": "text", "text": "hello?"})
    await asyncio.sleep(0.05)
    await ws.close()
    ws, again = await start(client, resume=session["token"])
    assert again["resumed"] and again["contact_id"] == session["contact_id"]
    replay = [await ws.receive_json(timeout=5) for _ in range(2)]
    assert [f["type"] for f in replay] == ["prompt", "message"] and replay[1]["text"] == "hello?"
    await asyncio.sleep(0.5)
    assert ("left", "disconnected") not in backend.calls


async def test_a_customer_who_does_not_return_is_ended_once(chat) -> None:  # type: ignore[no-untyped-def]
    client, _sessions, backend = chat
    ws, session = await start(client)
    await ws.close()
    await asyncio.sleep(0.6)
    assert backend.calls.count(("left", "disconnected")) == 1
    ws = await client.ws_connect("/ws/chat")
    await ws.send_json({"type": "start", "resume": session["token"]})
    error = await ws.receive_json(timeout=5)
    assert error["code"] == "unknown_session" and error["field"] == "resume"


async def test_rating_once_after_the_end(chat) -> None:  # type: ignore[no-untyped-def]
    client, sessions, backend = chat
    ws, session = await start(client)
    await ws.receive_json(timeout=5)
    sessions.finish(sessions.get(session["contact_id"]), "completed")
    ended = await ws.receive_json(timeout=5)
    assert ended == {"type": "ended", "reason": "completed", "rate": True}
    await ws.send_json({"type": "text", "text": "still there?"})
    assert (await ws.receive_json(timeout=5))["code"] == "chat_ended"
    await ws.send_json({"type": "rate", "rating": 5})
    await ws.send_json({"type": "rate", "rating": 1})
    assert (await ws.receive_json(timeout=5))["code"] == "already_rated"
    assert ("rated", 5) in backend.calls and ("rated", 1) not in backend.calls


@pytest.mark.parametrize(
    ("language", "kept"), [("zh-CN", "zh-CN"), ("zh-Hant-TW", "zh-CN"), ("en-GB", "en"), ("fr", "en")]
)
async def test_the_pages_language_is_kept_as_the_nearest_shipped_one(chat, language: str, kept: str) -> None:  # type: ignore[no-untyped-def]
    client, sessions, _ = chat
    _, started = await start(client, language=language)
    session = sessions.get(started["contact_id"])
    assert session is not None and session.language == kept


async def test_a_malformed_language_is_refused_naming_it(chat) -> None:  # type: ignore[no-untyped-def]
    client, _, backend = chat
    ws = await client.ws_connect("/ws/chat")
    await ws.send_json({"type": "start", "language": "<script>"})
    error = await ws.receive_json(timeout=5)
    assert (error["type"], error["code"], error["field"]) == ("error", "bad_field", "language")
    assert backend.calls == []
