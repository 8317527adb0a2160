"""The interaction-log record shape shared by engines, drivers and storage.

Engines emit ``RecordEvent`` commands holding an ``InteractionEvent``; the log assigns the
sequence number on append and hands back ``StoredEvent``s on read.

Records are frozen, keyword-only ``msgspec.Struct``s: several are made per contact on the
engines' hot path, and a Struct is made in a fraction of a frozen dataclass's time.
``gc=False``: a record never takes part in a reference cycle (it is frozen, and what it
holds is plain data), so the garbage collector need not track it. Copy or change one with
``msgspec.structs.replace`` / ``asdict``, not the ``dataclasses`` functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec


class InteractionEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    type: str
    at: float
    contact_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    data: Mapping[str, Any] = msgspec.field(default_factory=dict)
    context_id: str | None = None
    parent_id: str | None = None


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    seq: int
    type: str
    at: float
    contact_id: str | None
    agent_id: str | None
    queue: str | None
    data: Mapping[str, Any]
    context_id: str | None
    parent_id: str | None


class RecordEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Command: append ``event`` to the interaction log."""

    event: InteractionEvent
