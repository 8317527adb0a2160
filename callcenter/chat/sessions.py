"""Chat sessions: one per customer conversation, surviving reconnects.

A customer's first frame is ``start``; the server answers with ``session`` carrying the
contact id and a secret resume token. If the socket drops (a page reload, a train tunnel)
the customer has ``grace_s`` to reconnect with that token and sees the conversation so far
again; after that the backend hears ``left(session, "disconnected")`` once and the contact
ends (or, if an agent has it, the agent sees the customer left). What to do with the
customer's words is the backend's business (IVR in text mode, queue, agent): this module
only carries frames.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from callcenter.chat.protocol import (
    MAX_FRAME_BYTES,
    ChatProtocolError,
    Choose,
    Leave,
    Rate,
    Start,
    Text,
    Typing,
    parse,
)
from callcenter.runtime.ws_sender import WsSender

log = logging.getLogger(__name__)

Frame = dict[str, Any]
REPLAYED = {"prompt", "message", "queued", "agent_joined", "agent_left", "ended"}


class ChatSession:
    def __init__(self, contact_id: str, start: Start) -> None:
        self.contact_id = contact_id
        self.token = secrets.token_urlsafe(24)
        self.name, self.email, self.phone = start.name, start.email, start.phone
        self.entry = start.entry or ""
        self.sockets: set[WsSender] = set()
        self.history: list[Frame] = []
        self.ended = False
        self.rated = False
        self.queued = False  # reached a queue (the backend sets it)
        self.grace: asyncio.TimerHandle | None = None

    def send(self, frame: Frame) -> None:
        """Send to the customer's open pages; kept for replay if it is part of the conversation."""
        if frame.get("type") in REPLAYED:
            self.history.append(frame)
            if len(self.history) > 1000:
                del self.history[:100]
        for sender in tuple(self.sockets):
            sender.send(frame)


class ChatBackend(Protocol):
    async def started(self, session: ChatSession) -> None: ...
    async def text(self, session: ChatSession, text: str) -> None: ...
    async def choose(self, session: ChatSession, key: str) -> None: ...
    def typing(self, session: ChatSession) -> None: ...
    async def rated(self, session: ChatSession, rating: int, comment: str | None) -> None: ...
    async def left(self, session: ChatSession, reason: str) -> None: ...


class ChatSessions:
    def __init__(
        self, backend: ChatBackend, new_contact_id: Callable[[], str], *, grace_s: float = 120.0
    ) -> None:
        self._backend = backend
        self._new_id = new_contact_id
        self.grace_s = grace_s
        self._by_token: dict[str, ChatSession] = {}
        self._by_contact: dict[str, ChatSession] = {}

    def get(self, contact_id: str) -> ChatSession | None:
        return self._by_contact.get(contact_id)

    def finish(self, session: ChatSession, reason: str, *, ask_rating: bool = True) -> None:
        """The conversation is over (agent ended it, IVR hung up): tell the customer."""
        if session.ended:
            return
        session.ended = True
        session.send({"type": "ended", "reason": reason, "rate": ask_rating and not session.rated})

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_FRAME_BYTES * 2)
        await ws.prepare(request)
        sender = WsSender(ws)
        session: ChatSession | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    sender.send(ChatProtocolError("bad_frame", "send JSON text frames").frame())
                    continue
                try:
                    message = parse(msg.data)
                    if session is None:
                        session = await self._open(message, sender)
                    else:
                        await self._dispatch(session, message)
                except ChatProtocolError as exc:
                    sender.send(exc.frame())
        finally:
            if session is not None:
                self._detach(session, sender)
            await sender.stop()
        return ws

    async def close(self) -> None:
        for session in tuple(self._by_token.values()):
            if session.grace is not None:
                session.grace.cancel()
            for sender in tuple(session.sockets):
                await sender.ws.close(code=1001, message=b"server shutting down")

    async def _open(self, message: Any, sender: WsSender) -> ChatSession:
        if not isinstance(message, Start):
            raise ChatProtocolError("start_first", "the first frame must be start")
        if message.resume is not None:
            session = self._by_token.get(message.resume)
            if session is None or session.ended:
                raise ChatProtocolError(
                    "unknown_session", "that chat has ended or expired; start a new one", field="resume"
                )
            if session.grace is not None:
                session.grace.cancel()
                session.grace = None
            session.sockets.add(sender)
            sender.send(
                {"type": "session", "contact_id": session.contact_id, "token": session.token, "resumed": True}
            )
            for frame in session.history:
                sender.send(frame)
            return session
        session = ChatSession(self._new_id(), message)
        self._by_token[session.token] = session
        self._by_contact[session.contact_id] = session
        session.sockets.add(sender)
        sender.send(
            {"type": "session", "contact_id": session.contact_id, "token": session.token, "resumed": False}
        )
        await self._backend.started(session)
        return session

    async def _dispatch(self, session: ChatSession, message: Any) -> None:
        if isinstance(message, Start):
            raise ChatProtocolError("bad_frame", "this socket already has a chat")
        if isinstance(message, Rate):
            if session.rated:
                raise ChatProtocolError("already_rated", "this chat has been rated already")
            session.rated = True
            await self._backend.rated(session, message.rating, message.comment)
            return
        if session.ended:
            raise ChatProtocolError("chat_ended", "this chat has ended")
        if isinstance(message, Text):
            session.history.append({"type": "message", "from": "customer", "text": message.text})
            await self._backend.text(session, message.text)
        elif isinstance(message, Choose):
            await self._backend.choose(session, message.key)
        elif isinstance(message, Typing):
            self._backend.typing(session)
        elif isinstance(message, Leave):
            session.ended = True
            await self._backend.left(session, "customer_left")

    def _detach(self, session: ChatSession, sender: WsSender) -> None:
        session.sockets.discard(sender)
        if session.sockets or session.grace is not None:
            return
        if session.ended:
            self._forget(session)
            return
        loop = asyncio.get_running_loop()
        session.grace = loop.call_later(self.grace_s, lambda: asyncio.ensure_future(self._expire(session)))

    async def _expire(self, session: ChatSession) -> None:
        session.grace = None
        if session.sockets:
            return
        self._forget(session)
        if not session.ended:
            session.ended = True
            try:
                await self._backend.left(session, "disconnected")
            except Exception:
                log.exception("ending chat %s failed", session.contact_id)

    def _forget(self, session: ChatSession) -> None:
        self._by_token.pop(session.token, None)
        self._by_contact.pop(session.contact_id, None)
