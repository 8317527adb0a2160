"""Events the interaction log can never write, set aside whole in ``dead_events``.

The log sets an event aside only when the database refused its values or they could not be
encoded at all (a data error, found by splitting the failing batch down to the one event),
never for a connection or schema error, which it retries. Every field is stored as text
that any database takes (``core.client_json.clean_text``); a value that is not even JSON (circular,
or nested too deep to encode) is kept as its bounded ``repr``. Nothing here can fail for
the reason the event did.
"""

from __future__ import annotations

import contextlib
import reprlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.core.client_json import clean_text
from callcenter.core.events import InteractionEvent
from callcenter.storage import schema
from callcenter.storage.database import json_dumps

REASON_MAX = 2000  # characters of the reason kept


def _bounded_repr() -> reprlib.Repr:
    r = reprlib.Repr()
    r.maxlevel, r.maxdict, r.maxlist, r.maxtuple, r.maxset = 40, 1000, 1000, 1000, 1000
    r.maxstring, r.maxother, r.maxlong = 100_000, 1000, 1000
    return r


_REPR = _bounded_repr()


def as_text(value: Any) -> str | None:
    """``value`` as text any database takes: strings cleaned, the rest as JSON or, failing
    that, as a bounded ``repr``."""
    if value is None:
        return None
    if isinstance(value, str):
        return clean_text(value)
    try:
        return json_dumps(value)
    except Exception:  # circular, or too deep for json: keep what repr can show
        return clean_text(_REPR.repr(value))


def dead_row(event: InteractionEvent, reason: str, dead_at: float) -> dict[str, Any]:
    data: Any = event.data
    with contextlib.suppress(Exception):  # not a mapping after all: keep it as it is
        data = dict(data)
    return {
        "dead_at": dead_at,
        "reason": clean_text(reason)[:REASON_MAX],
        "type": as_text(event.type) or "",
        "at": as_text(event.at),
        "contact_id": as_text(event.contact_id),
        "agent_id": as_text(event.agent_id),
        "queue": as_text(event.queue),
        "data": as_text(data) or "",
        "context_id": as_text(event.context_id),
        "parent_id": as_text(event.parent_id),
    }


async def insert(engine: AsyncEngine, row: dict[str, Any]) -> None:
    async with engine.begin() as conn:
        await conn.execute(schema.dead_events.insert(), [row])


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(schema.dead_events))).scalar() or 0)
