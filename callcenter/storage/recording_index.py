"""Which recordings a contact has, read from the interaction log (the source of truth).

A call's bridge logs ``contact.recording`` (kind ``call``; a contact transferred between
agents has one per bridge, numbered ``part`` 1, 2 ... in log order); a voicemail message
logs ``contact.voicemail`` on its voicemail contact (kind ``voicemail``). Both carry
``data.path`` (relative to ``recordings_dir``), ``seconds`` and ``bytes``. The retention
sweep logs ``recording.deleted`` on the contact when it removes a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import quote

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.storage.schema import events

Kind = Literal["call", "voicemail"]
KINDS: dict[str, Kind] = {"contact.recording": "call", "contact.voicemail": "voicemail"}
DELETED = "recording.deleted"
ACCESSED = "recording.accessed"


class Logged(msgspec.Struct, frozen=True, kw_only=True):
    """One recording as the log tells it."""

    contact_id: str
    kind: Kind
    part: int
    path: str
    seconds: float | None
    bytes: int | None
    recorded_at: float
    agent_id: str | None

    @property
    def url(self) -> str:
        return url_of(self.contact_id, self.kind, self.part)


def url_of(contact_id: str, kind: str, part: int = 1) -> str:
    """``/api/v1/recordings/{contact_id}/{kind}`` (``?part=N`` past the first)."""
    base = f"/api/v1/recordings/{quote(contact_id, safe='')}/{kind}"
    return base if part == 1 else f"{base}?part={part}"


def _number(value: Any, kind: type) -> Any:
    return kind(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


async def logged_recordings(conn: AsyncConnection, contact_ids: Sequence[str]) -> dict[str, list[Logged]]:
    """contact_id -> its recordings in log order (contacts without any are left out)."""
    if not contact_ids:
        return {}
    rows = await conn.execute(
        select(events.c.contact_id, events.c.type, events.c.at, events.c.agent_id, events.c.data)
        .where(events.c.contact_id.in_(list(contact_ids)), events.c.type.in_(tuple(KINDS)))
        .order_by(events.c.seq)
    )
    out: dict[str, list[Logged]] = {}
    for cid, type_, at, agent_id, data in rows:
        data = data or {}
        path = data.get("path")
        if not isinstance(path, str) or not path:
            continue
        kind = KINDS[type_]
        found = out.setdefault(cid, [])
        part = 1 + sum(1 for r in found if r.kind == kind)
        found.append(
            Logged(
                contact_id=cid,
                kind=kind,
                part=part,
                path=path,
                seconds=_number(data.get("seconds"), float),
                bytes=_number(data.get("bytes"), int),
                recorded_at=float(at),
                agent_id=agent_id,
            )
        )
    return out


async def deletions(conn: AsyncConnection, contact_id: str) -> dict[str, tuple[float, str]]:
    """path -> (when, why) for the files of ``contact_id`` the sweep removed."""
    rows = await conn.execute(
        select(events.c.at, events.c.data)
        .where(events.c.contact_id == contact_id, events.c.type == DELETED)
        .order_by(events.c.seq)
    )
    return {
        str(d["path"]): (float(at), str(d.get("reason") or "retention"))
        for at, d in rows
        if isinstance(d, dict) and d.get("path")
    }


async def handled_by(conn: AsyncConnection, contact_id: str, agent_id: str) -> bool:
    """Was ``contact_id`` ever connected to ``agent_id`` (``contact.connected`` in the log)?"""
    rows = await conn.execute(
        select(events.c.seq)
        .where(
            events.c.contact_id == contact_id,
            events.c.type == "contact.connected",
            events.c.agent_id == agent_id,
        )
        .limit(1)
    )
    return rows.first() is not None


async def known_contact(conn: AsyncConnection, contact_id: str) -> bool:
    rows = await conn.execute(select(events.c.seq).where(events.c.contact_id == contact_id).limit(1))
    return rows.first() is not None
