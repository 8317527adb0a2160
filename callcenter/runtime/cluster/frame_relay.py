"""Frames that adapters send across nodes: a customer's chat line to an agent's desk on
another node, an agent's line to a chat carried by another node.

What the engine decides reaches every node through the applied stream, and each node
delivers it to its own connections. What adapters say directly to each other (chat lines,
typing) does not go through the engine: if the desk or chat is not on this node, the frame
is published on one Redis pub/sub channel and the node that holds it delivers it. Pub/sub
is at most once, like the desk socket itself; the chat lines are in the log either way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any, Protocol

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from callcenter.core.desk_frames import DeskFrame
from callcenter.runtime.cluster.redis_keys import RedisKeys
from callcenter.runtime.cluster.wire import bounded, raise_if_cancelled, stop_tasks

log = logging.getLogger(__name__)


class LocalDesks(Protocol):
    def deliver(self, agent_id: str, frame: DeskFrame) -> None: ...
    def present(self) -> set[str]: ...


class ChatOut(Protocol):
    def agent_says(self, contact_id: str, agent_name: str, text: str) -> bool: ...


class Relay:
    def __init__(self, redis: Redis, keys: RedisKeys, node: str) -> None:
        self._redis, self._channel, self.node = redis, keys.relay, node
        self.desks: LocalDesks | None = None
        self.chats: ChatOut | None = None
        self._outbox: deque[str] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="relay-send"),
            asyncio.create_task(self._receive_loop(), name="relay-receive"),
        ]

    async def stop(self) -> None:
        await stop_tasks(self._tasks)

    # Public methods ---------------------------------------------------------------------

    def deliver(self, agent_id: str, frame: DeskFrame) -> None:
        """A frame for an agent's desk, on this node or another (``DeskSink``)."""
        if self.desks is not None and agent_id in self.desks.present():
            self.desks.deliver(agent_id, frame)
        else:
            self._publish({"agent": agent_id, "frame": frame})

    def agent_says(self, contact_id: str, agent_name: str, text: str) -> bool:
        """Say ``text`` in a chat here, or on the node that carries it; True if here or sent."""
        if self.chats is not None and self.chats.agent_says(contact_id, agent_name, text):
            return True
        self._publish({"contact": contact_id, "name": agent_name, "text": text})
        return True

    # Internals ------------------------------------------------------------------------

    def _publish(self, message: dict[str, Any]) -> None:
        self._outbox.append(msgspec.json.encode({**message, "from": self.node}).decode())
        self._wake.set()

    async def _send_loop(self) -> None:
        while True:
            raise_if_cancelled()
            if not self._outbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self._redis.publish(self._channel, self._outbox[0])
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                log.warning("relay: publish failed: %s", exc)
                await asyncio.sleep(0.3)
                continue
            self._outbox.popleft()

    async def _receive_loop(self) -> None:
        while True:
            raise_if_cancelled()
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                while True:  # a bounded wait: the client's socket timeout must not end it
                    raise_if_cancelled()
                    raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if raw is not None:
                        self._receive(json.loads(raw["data"]))
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                log.warning("relay: subscription lost: %s", exc)
                await asyncio.sleep(0.3)
            finally:
                await bounded(pubsub.aclose(), "closing the relay subscription")  # type: ignore[no-untyped-call,unused-ignore]

    def _receive(self, message: dict[str, Any]) -> None:
        if message.get("from") == self.node:
            return
        if "agent" in message:
            if self.desks is not None and message["agent"] in self.desks.present():
                try:  # a node of another version may send what this one does not know
                    frame = msgspec.convert(message["frame"], DeskFrame)
                except msgspec.ValidationError as exc:
                    log.warning("relay: a desk frame this node cannot read: %s", exc)
                    return
                self.desks.deliver(message["agent"], frame)
        elif "contact" in message and self.chats is not None:
            self.chats.agent_says(message["contact"], message["name"], message["text"])
