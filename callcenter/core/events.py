"""The interaction-log record shape shared by engines, drivers and storage.

Engines emit ``RecordEvent`` commands holding an ``InteractionEvent``; the log assigns the
sequence number on append and hands back ``StoredEvent``s on read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.core.fastinit import fast_init


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class InteractionEvent:
    type: str
    at: float
    contact_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    context_id: str | None = None
    parent_id: str | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEvent:
    seq: int
    type: str
    at: float
    contact_id: str | None
    agent_id: str | None
    queue: str | None
    data: Mapping[str, Any]
    context_id: str | None
    parent_id: str | None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class RecordEvent:
    """Command: append ``event`` to the interaction log."""

    event: InteractionEvent
