"""Chat sessions: one per customer conversation, surviving reconnects.

A customer's first frame is ``start``; the server answers with ``session`` carrying the
contact id and a secret resume token. If the socket drops (a page reload, a train tunnel)
the customer has ``grace_s`` to reconnect with that token and sees the conversation so far
again; after that the backend hears ``left(session, "disconnected")`` once and the contact
ends (or, if an agent has it, the agent sees the customer left). What to do with the
customer's words is the backend's business (IVR in text mode, queue, agent): this module
only carries frames.

A ``ChatStore`` keeps what a resume needs as the session changes: in cluster mode in Redis
(``runtime/cluster/chat_store.py``), so the customer may reconnect to any node, even after the
node it was on died; on a single node in the database (``chat/resume_store.py``), so the
token still works after the server restarted.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any, Protocol

import msgspec
from aiohttp import WSMsgType, web

from callcenter.chat.protocol import (
    REPLAYED,
    ChatFrame,
    ChatProtocolError,
    Choose,
    Ended,
    Leave,
    Message,
    Rate,
    Session,
    Start,
    Text,
    Typing,
    parse,
)
from callcenter.config.sections import LimitsConfig
from callcenter.i18n.catalogue import DEFAULT, resolve
from callcenter.web.ws_sender import WsSender

log = logging.getLogger(__name__)

Frame = dict[str, Any]  # a sent frame as kept for replay: its JSON object (what the stores hold)
MAX_HISTORY = 1000  # frames kept for replay (the store keeps as many)


class ChatStore(Protocol):
    """Where a session's resumable part lives besides this node's memory (cluster mode)."""

    def saved(self, session: ChatSession) -> None: ...
    def frame(self, session: ChatSession, frame: Frame) -> None: ...
    def forget(self, session: ChatSession) -> None: ...
    async def load(self, token: str) -> ChatSession | None: ...


class ChatSession:
    def __init__(self, contact_id: str, start: Start, *, token: str | None = None) -> None:
        self.store: ChatStore | None = None
        self.contact_id = contact_id
        self.token = token or secrets.token_urlsafe(24)
        self.name, self.email, self.phone = start.name, start.email, start.phone
        self.entry = start.entry or ""
        # the page's language, for words the server says in it (not kept across a restart)
        self.language = resolve([start.language]) if start.language else DEFAULT
        self.login_customer_id: str | None = None  # named by a checked login token
        self.sockets: set[WsSender] = set()
        self.history: list[Frame] = []
        self._ended = self._rated = self._queued = False
        self.grace: asyncio.TimerHandle | None = None

    # What a resume needs: the store hears of each change.

    @property
    def ended(self) -> bool:
        return self._ended

    @ended.setter
    def ended(self, value: bool) -> None:
        self._ended = value
        self._changed()

    @property
    def rated(self) -> bool:
        return self._rated

    @rated.setter
    def rated(self, value: bool) -> None:
        self._rated = value
        self._changed()

    @property
    def queued(self) -> bool:
        """Reached a queue (the backend sets it)."""
        return self._queued

    @queued.setter
    def queued(self, value: bool) -> None:
        self._queued = value
        self._changed()

    def _changed(self) -> None:
        if self.store is not None:
            self.store.saved(self)

    def send(self, frame: ChatFrame) -> None:
        """Send to the customer's open pages; kept for replay if it is part of the conversation."""
        if isinstance(frame, REPLAYED):
            self.keep(frame)
        for sender in tuple(self.sockets):
            sender.send(frame)

    def keep(self, frame: ChatFrame) -> None:
        """Keep ``frame`` for replay (and in the store)."""
        kept: Frame = msgspec.to_builtins(frame)
        self.history.append(kept)
        if len(self.history) > MAX_HISTORY:
            del self.history[:100]
        if self.store is not None:
            self.store.frame(self, kept)

    def replay(self) -> list[ChatFrame]:
        """The conversation so far, as typed frames again (a kept one that is no longer a
        frame of this protocol, from a store written by another version, is left out)."""
        frames: list[ChatFrame] = []
        for kept in self.history:
            try:
                frames.append(msgspec.convert(kept, ChatFrame))
            except msgspec.ValidationError as exc:
                log.warning("chat %s: a kept frame is left out of the replay: %s", self.contact_id, exc)
        return frames


class ChatBackend(Protocol):
    async def started(self, session: ChatSession) -> None: ...
    async def text(self, session: ChatSession, text: str) -> None: ...
    async def choose(self, session: ChatSession, key: str) -> None: ...
    def typing(self, session: ChatSession) -> None: ...
    async def rated(self, session: ChatSession, rating: int, comment: str | None) -> None: ...
    async def left(self, session: ChatSession, reason: str) -> None: ...
    async def resumed(self, session: ChatSession) -> None:
        """A session from the store (its node died or it was carried by another) resumed here."""


class ChatSessions:
    def __init__(
        self,
        backend: ChatBackend,
        new_contact_id: Callable[[], str],
        *,
        grace_s: float = 120.0,
        store: ChatStore | None = None,
        login: Callable[[Start], str | None] | None = None,
        limits: LimitsConfig | None = None,
    ) -> None:
        """``login`` checks a new chat's ``login_token`` (the customer id it names, or
        ``ChatProtocolError`` naming the field) before the chat starts."""
        self._backend = backend
        self._login = login
        self.limits = limits or LimitsConfig()
        self._json = self.limits.json(self.limits.chat_frame_max_bytes)
        self._new_id = new_contact_id
        self.grace_s = grace_s
        self.store = store
        self._by_token: dict[str, ChatSession] = {}
        self._by_contact: dict[str, ChatSession] = {}
        self._closing: set[asyncio.Future[Any]] = set()

    def get(self, contact_id: str) -> ChatSession | None:
        return self._by_contact.get(contact_id)

    def finish(self, session: ChatSession, reason: str, *, ask_rating: bool = True) -> None:
        """The conversation is over (agent ended it, IVR hung up): tell the customer."""
        if session.ended:
            return
        session.ended = True
        session.send(Ended(reason=reason, rate=ask_rating and not session.rated))

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        # over twice the frame limit, aiohttp closes the socket with 1009 (RFC 6455)
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=self.limits.chat_frame_max_bytes * 2)
        await ws.prepare(request)
        sender = WsSender(ws)
        session: ChatSession | None = None
        rate = self.limits.frame_rate()
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and not await sender.admit(rate):
                    continue
                if msg.type != WSMsgType.TEXT:
                    sender.send(ChatProtocolError("bad_frame", "send JSON text frames").frame())
                    continue
                try:
                    message = parse(msg.data, self._json)
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

    def disown(self, contact_id: str) -> None:
        """Its customer resumed the chat on another node: forget it here, store untouched."""
        session = self._by_contact.pop(contact_id, None)
        if session is None:
            return
        self._by_token.pop(session.token, None)
        if session.grace is not None:
            session.grace.cancel()
            session.grace = None
        session.store = None
        for sender in tuple(session.sockets):
            task = asyncio.ensure_future(sender.ws.close(code=4000, message=b"resumed elsewhere"))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

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
            restored = False
            if session is None and self.store is not None:
                session = await self.store.load(message.resume)
                restored = session is not None
                if message.resume in self._by_token:  # another page resumed it meanwhile
                    session, restored = self._by_token[message.resume], False
            if session is None or session.ended:
                raise ChatProtocolError(
                    "unknown_session", "that chat has ended or expired; start a new one", field="resume"
                )
            if session.grace is not None:
                session.grace.cancel()
                session.grace = None
            session.sockets.add(sender)
            sender.send(Session(contact_id=session.contact_id, token=session.token, resumed=True))
            for frame in session.replay():
                sender.send(frame)
            if restored:
                self._by_token[session.token] = session
                self._by_contact[session.contact_id] = session
                await self._backend.resumed(session)
            return session
        login = self._login(message) if self._login is not None else None
        session = ChatSession(self._new_id(), message)
        session.login_customer_id = login
        self._by_token[session.token] = session
        self._by_contact[session.contact_id] = session
        if self.store is not None:
            session.store = self.store
            self.store.saved(session)
        session.sockets.add(sender)
        sender.send(Session(contact_id=session.contact_id, token=session.token, resumed=False))
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
            session.keep(Message(from_="customer", text=message.text))
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
        if self._by_token.get(session.token) is not session:
            return  # resumed on another node (``disown``): that node has it now
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
        if session.store is not None:
            session.store.forget(session)
