"""What the center looks like now, as the engine reports it: each waiting contact's place,
each agent, each queue's figures (``AcdEngine.snapshot()``).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec


class ContactPosition(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    contact_id: str
    queue: str
    channel: str
    position: int
    ewt_s: float | None
    waited_s: float


class AgentSnapshot(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    agent_id: str
    name: str
    state: str
    reason: str | None
    since: float
    skills: Mapping[str, int]
    contacts: tuple[str, ...]
    offer_id: str | None
    handled: int


class QueueSnapshot(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    name: str
    waiting: int
    longest_wait_s: float
    ewt_s: float | None
    agents: Mapping[str, int]
    waiting_by_channel: Mapping[str, int] = msgspec.field(default_factory=dict)  # only channels waiting
    held: int = 0  # voicemails waiting for the queue's opening hours (counted in ``waiting`` too)


class CenterSnapshot(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Every queue's figures and every waiting contact's place, in queue order."""

    at: float
    queues: Mapping[str, QueueSnapshot]
    waiting: Mapping[str, tuple[ContactPosition, ...]]
