"""Every Redis key and stream name the center uses, from one prefix (``bus.prefix``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RedisKeys:
    prefix: str = "callcenter"

    @property
    def bus_stream(self) -> str:
        """The event bus: one stream, every node reads it all."""
        return f"{self.prefix}:bus"

    @property
    def inputs_stream(self) -> str:
        """Inputs forwarded by nodes to the routing-lease holder."""
        return f"{self.prefix}:acd:inputs"

    @property
    def applied_stream(self) -> str:
        """What the lease holder sequenced: every replica applies it in this order."""
        return f"{self.prefix}:acd:applied"

    @property
    def snapshot(self) -> str:
        """The engine replica as of one applied-stream id (joining nodes start from it)."""
        return f"{self.prefix}:acd:snapshot"

    @property
    def log_durable(self) -> str:
        """The last applied-stream id whose events the lease holder's log has written."""
        return f"{self.prefix}:acd:log_durable"

    @property
    def relay(self) -> str:
        """Pub/sub channel for frames that must reach a desk or chat on another node."""
        return f"{self.prefix}:relay"

    @property
    def lease(self) -> str:
        """Who holds the routing lease: ``node_id:token``, with a TTL."""
        return f"{self.prefix}:acd:lease"

    @property
    def fencing_counter(self) -> str:
        """Monotonic counter; each new lease term takes the next token."""
        return f"{self.prefix}:acd:fencing"

    def node(self, node_id: str) -> str:
        """A node's presence key (expires when it stops heartbeating)."""
        return f"{self.prefix}:node:{node_id}"

    @property
    def nodes_pattern(self) -> str:
        return f"{self.prefix}:node:*"

    def chat(self, token: str) -> str:
        """What resuming a chat needs (contact id, customer, queued/rated/ended), by resume token."""
        return f"{self.prefix}:chat:{token}"

    def chat_frames(self, token: str) -> str:
        """The chat's replayable frames, oldest first (a list capped like the memory's)."""
        return f"{self.prefix}:chat:{token}:frames"
