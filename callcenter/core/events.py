"""The interaction-log record shape shared by engines, drivers and storage.

Engines emit ``RecordEvent`` commands holding an ``InteractionEvent``; the log assigns the
sequence number on append and hands back ``StoredEvent``s on read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.core.fastinit import fast_init, positional


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


# Positional makers for the engines' hot paths (``core/fastinit.py``): every field, in order.
# make_event(type, at, contact_id, agent_id, queue, data, context_id, parent_id)
_Opt = str | None
_EventMaker = Callable[[str, float, _Opt, _Opt, _Opt, Mapping[str, Any], _Opt, _Opt], InteractionEvent]
make_event: _EventMaker = positional(InteractionEvent)
make_record: Callable[[InteractionEvent], RecordEvent] = positional(RecordEvent)
