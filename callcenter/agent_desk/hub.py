"""The desk hub: which agents have a desk open, and delivery of frames to them.

Theory of operation
-------------------
An agent may have one or more desk WebSockets open (a second tab, a reconnect racing
the old socket). Frames for an agent go to every open socket. When the last socket of an
agent closes (or stops heartbeating), the agent enters a grace period
(``desk.reconnect_grace_s``): frames meant for them are kept in a bounded outbox, and a
desk that reconnects within the grace period gets a fresh ``welcome`` snapshot (from
``snapshot(agent_id)``: it reads the log, then returns what builds the welcome at the
moment the socket is attached) followed by what it missed. If the grace period ends with no
desk, ``on_gone(agent_id)`` is called once; the center turns that into the ACD input that
re-queues the agent's offers and puts the agent NOT_READY, so no one is ever stuck.

The hub does no routing itself: validated client messages are handed to ``on_message``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from callcenter.agent_desk.protocol import (
    PROTOCOL_VERSION,
    Heartbeat,
    Hello,
    ProtocolError,
    parse_client_frame,
)
from callcenter.config.sections import LimitsConfig
from callcenter.core.desk_frames import Ack, DeskFrame, Welcome
from callcenter.core.errors import EngineError
from callcenter.core.frame_rate import CLOSE_FLOODING, FrameRate, Verdict, rate_limited_frame
from callcenter.core.ws_frames import ErrorFrame
from callcenter.web.ws_sender import WsSender, send_now

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, Any], Awaitable[Ack | None]]
Snapshot = Callable[[str], Awaitable[Callable[[], Welcome]]]


@dataclass
class _Agent:
    sockets: set[WsSender] = field(default_factory=set)
    outbox: deque[DeskFrame] = field(default_factory=lambda: deque(maxlen=500))
    grace: asyncio.TimerHandle | None = None


class DeskHub:
    def __init__(
        self,
        *,
        on_message: MessageHandler,
        snapshot: Snapshot,
        on_gone: Callable[[str], None],
        grace_s: float = 30.0,
        heartbeat_s: float = 15.0,
        limits: LimitsConfig | None = None,
    ) -> None:
        self._on_message = on_message
        self._snapshot = snapshot
        self._on_gone = on_gone
        self.grace_s = grace_s
        self.heartbeat_s = heartbeat_s
        self._agents: dict[str, _Agent] = {}
        self.limits = limits or LimitsConfig()
        self._json = self.limits.json(self.limits.frame_max_bytes)

    # Public methods for the center ----------------------------------------------------

    def deliver(self, agent_id: str, frame: DeskFrame) -> None:
        """Send a frame to the agent's desks, or keep it for a reconnect within grace."""
        agent = self._agents.get(agent_id)
        if agent is None:
            return
        if not agent.sockets:
            agent.outbox.append(frame)
            return
        for conn in tuple(agent.sockets):
            conn.send(frame)

    def connected(self, agent_id: str) -> bool:
        agent = self._agents.get(agent_id)
        return agent is not None and bool(agent.sockets)

    def present(self) -> set[str]:
        """Agents with a desk open or within their grace period."""
        return set(self._agents)

    async def close(self) -> None:
        for agent in self._agents.values():
            if agent.grace is not None:
                agent.grace.cancel()
            for conn in tuple(agent.sockets):
                await conn.ws.close(code=1001, message=b"server shutting down")
                await conn.stop()
        self._agents.clear()

    # The WebSocket endpoint ------------------------------------------------------------

    async def serve(self, request: web.Request, agent_id: str) -> web.WebSocketResponse:
        """Run one desk connection for an authenticated agent until it closes."""
        # a frame over twice the limit closes the socket with 1009 (RFC 6455): past that the
        # frame is not read at all; below it, a too-large frame gets an error frame
        ws = web.WebSocketResponse(heartbeat=self.heartbeat_s, max_msg_size=self.limits.frame_max_bytes * 2)
        await ws.prepare(request)
        rate = self.limits.frame_rate()
        hello = await self._handshake(ws, rate)
        if hello is None:
            return ws
        welcome = await self._snapshot(agent_id)  # reads the log: before the socket is attached
        conn = WsSender(ws)
        agent = self._attach(agent_id, conn)
        conn.send(welcome())  # built now, so no frame delivered meanwhile is older than it
        while agent.outbox:
            conn.send(agent.outbox.popleft())
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and not await conn.admit(rate):
                    continue
                if msg.type == WSMsgType.TEXT:
                    await self._handle(agent_id, conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    refusal = ProtocolError("bad_frame", "binary frames are not part of the protocol")
                    conn.send(refusal.frame())
        finally:
            self._detach(agent_id, conn)
            await conn.stop()
        return ws

    async def _handshake(self, ws: web.WebSocketResponse, rate: FrameRate) -> Hello | None:
        """Wait up to 10 s for a good hello. Any other frame gets an error frame and the
        wait goes on; only another protocol version closes the socket (4002)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), timeout=max(0.0, deadline - loop.time()))
            except TimeoutError:
                await ws.close(code=4008, message=b"no hello within 10 s")
                return None
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                return None  # closed (or closing) by the client
            verdict = rate.frame(loop.time())
            if verdict is Verdict.CLOSE:
                await ws.close(code=CLOSE_FLOODING, message=b"too many frames")
                return None
            if verdict is Verdict.DROP:
                await send_now(ws, rate_limited_frame(rate.per_s))
                continue
            try:
                if msg.type != WSMsgType.TEXT:
                    raise ProtocolError("bad_frame", "binary frames are not part of the protocol")
                parsed = parse_client_frame(msg.data, self._json)
                if not isinstance(parsed.message, Hello):
                    raise ProtocolError("hello_first", "the first frame must be hello", msg_id=parsed.msg_id)
                if parsed.message.protocol != PROTOCOL_VERSION:
                    refusal = ProtocolError(
                        "protocol_version",
                        f"this server speaks desk protocol {PROTOCOL_VERSION}, not {parsed.message.protocol}",
                        field="protocol",
                    )
                    await send_now(ws, refusal.frame())
                    await ws.close(code=4002, message=refusal.message.encode()[:120])
                    return None
            except ProtocolError as exc:
                await send_now(ws, exc.frame())
                continue
            return parsed.message

    async def _handle(self, agent_id: str, conn: WsSender, raw: str) -> None:
        msg_id = None
        try:
            parsed = parse_client_frame(raw, self._json)
            msg_id = parsed.msg_id
            if isinstance(parsed.message, Heartbeat):
                reply: Ack | None = None
            elif isinstance(parsed.message, Hello):
                raise ProtocolError("bad_frame", "hello is only for the first frame", msg_id=msg_id)
            else:
                reply = await self._on_message(agent_id, parsed.message)
        except ProtocolError as exc:
            if exc.msg_id is None:  # raised past parsing: answer the request it belongs to
                exc.msg_id = msg_id
            conn.send(exc.frame())
            return
        except EngineError as exc:
            conn.send(_with_id(ErrorFrame(code=exc.code, message=str(exc)), msg_id))
            return
        except web.HTTPException as exc:  # a refusal from an access check
            code = "forbidden" if exc.status == 403 else "refused"
            conn.send(_with_id(ErrorFrame(code=code, message=exc.text or exc.reason), msg_id))
            return
        conn.send(_with_id(reply or Ack(), msg_id))

    # Internals ---------------------------------------------------------------------------

    def _attach(self, agent_id: str, conn: WsSender) -> _Agent:
        agent = self._agents.setdefault(agent_id, _Agent())
        if agent.grace is not None:
            agent.grace.cancel()
            agent.grace = None
        agent.sockets.add(conn)
        return agent

    def _detach(self, agent_id: str, conn: WsSender) -> None:
        agent = self._agents.get(agent_id)
        if agent is None:
            return
        agent.sockets.discard(conn)
        if not agent.sockets and agent.grace is None:
            loop = asyncio.get_running_loop()
            agent.grace = loop.call_later(self.grace_s, self._expire, agent_id)

    def _expire(self, agent_id: str) -> None:
        agent = self._agents.get(agent_id)
        if agent is None or agent.sockets:
            return
        del self._agents[agent_id]
        log.info("desk of %s did not come back within %.0f s", agent_id, self.grace_s)
        try:
            self._on_gone(agent_id)
        except Exception:
            log.exception("handling the departure of %s failed", agent_id)


def _with_id(frame: Ack | ErrorFrame, msg_id: Any) -> Ack | ErrorFrame:
    return frame if msg_id is None else msgspec.structs.replace(frame, id=msg_id)
