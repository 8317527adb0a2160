"""The ACD's commands, named as orders: what the adapters are to do (offer, withdraw,
connect, overflow, finish, tell a waiting customer their place).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from callcenter.config.sections import OverflowTarget


class OfferContact(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    offer_id: str
    contact_id: str
    agent_id: str
    queue: str
    channel: str
    ring_deadline: float
    trace: str
    caller: str | None
    attributes: Mapping[str, str]


class WithdrawOffer(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    offer_id: str
    contact_id: str
    agent_id: str
    reason: str  # timed_out, declined, abandoned, agent_not_ready, agent_gone, logged_out


class ConnectContact(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    contact_id: str
    agent_id: str
    offer_id: str
    queue: str
    channel: str


class OverflowContact(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The contact leaves its queue for ``target``; adapters act on callback, voicemail,
    disconnect (play ``target.message`` and hang up); a queue move needs nothing from them."""

    contact_id: str
    queue: str
    reason: str  # closed, full, max_wait, no_agents
    target: OverflowTarget


class FinishContact(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The contact is over as far as routing goes; adapters release what they hold."""

    contact_id: str
    reason: str


class PositionUpdated(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Tell a waiting customer where they are: sent at a bounded rate, and only to contacts
    whose position or (rounded) estimated wait changed since they were last told."""

    contact_id: str
    queue: str
    channel: str
    position: int
    ewt_s: float | None


def event_data(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
