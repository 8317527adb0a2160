"""How one batch of the interaction log is written (``log.py`` decides when and what):
the events' rows (a multi-row INSERT, or COPY on PostgreSQL) and the ``contacts``
projection rows they change (one upsert), every text cleaned so the database takes it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.core.client_json import clean_text
from callcenter.core.events import InteractionEvent
from callcenter.storage import schema
from callcenter.storage.database import json_dumps
from callcenter.storage.projections import COLUMNS, Row, fold_contact

_IN_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
_EVENT_COLUMNS = ("seq", "at", "contact_id", "agent_id", "queue", "type", "data", "context_id", "parent_id")


def clean_opt(text: str | None) -> str | None:
    return None if text is None else clean_text(text)


def clean_row(row: Row) -> Row:
    return {k: clean_text(v) if isinstance(v, str) else v for k, v in row.items()}


def event_row(seq: int, e: InteractionEvent) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": e.at,
        "contact_id": clean_opt(e.contact_id),
        "agent_id": clean_opt(e.agent_id),
        "queue": clean_opt(e.queue),
        "type": clean_text(e.type),
        "data": dict(e.data),
        "context_id": clean_opt(e.context_id),
        "parent_id": clean_opt(e.parent_id),
    }


async def copy_events(conn: AsyncConnection, batch: Sequence[tuple[int, InteractionEvent]]) -> None:
    """PostgreSQL: COPY the batch (several times faster than a multi-row INSERT)."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    records = [
        (
            s,
            e.at,
            clean_opt(e.contact_id),
            clean_opt(e.agent_id),
            clean_opt(e.queue),
            clean_text(e.type),
            json_dumps(dict(e.data)),
            clean_opt(e.context_id),
            clean_opt(e.parent_id),
        )
        for s, e in batch
    ]
    try:
        await driver.copy_records_to_table("events", records=records, columns=_EVENT_COLUMNS)
    except Exception as exc:  # the raw driver's errors are not wrapped by SQLAlchemy
        if type(exc).__module__.split(".")[0] != "asyncpg":
            raise
        sqlstate = str(getattr(exc, "sqlstate", None) or "")
        if sqlstate.startswith("23"):  # 23505: another writer took these numbers
            raise IntegrityError("COPY events", None, exc) from exc
        if sqlstate.startswith("22") or type(exc).__name__ == "DataError":  # a value refused
            raise DataError("COPY events", None, exc) from exc
        raise OperationalError("COPY events", None, exc) from exc


async def fold_batch(
    conn: AsyncConnection, batch: Sequence[tuple[int, InteractionEvent]], open_rows: dict[str, Row]
) -> dict[str, Row]:
    """The ``contacts`` rows ``batch`` changes, folded from the table (or ``open_rows``,
    the rows of contacts still open as last written) and the batch's events."""
    # A contact's life begins with ``contact.arrived`` under a freshly minted id, so a
    # contact whose first event here is its arrival has no row yet: no lookup needed.
    first_type: dict[str, str] = {}
    for _, e in batch:
        if e.contact_id is not None and e.contact_id not in first_type:
            first_type[e.contact_id] = e.type
    rows: dict[str, Row] = {}
    # looked up by the id as written (cleaned), kept under the id the events carry
    missing = {
        clean_text(cid): cid
        for cid, kind in first_type.items()
        if kind != "contact.arrived" and cid not in open_rows
    }
    c = schema.contacts
    if missing and conn.dialect.name == "postgresql":
        # one array parameter: the same prepared statement for every batch
        query = select(c).where(c.c.contact_id == any_(bindparam("ids", type_=ARRAY(String))))
        for r in await conn.execute(query, {"ids": list(missing)}):
            rows[missing.get(r.contact_id, r.contact_id)] = dict(r._mapping)
        missing = {}
    ids = list(missing)
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = ids[i : i + _IN_CHUNK]
        for r in await conn.execute(select(c).where(c.c.contact_id.in_(chunk))):
            rows[missing.get(r.contact_id, r.contact_id)] = dict(r._mapping)
    for seq, event in batch:
        cid = event.contact_id
        if cid is None:
            continue
        current = rows.get(cid) or open_rows.get(cid)
        folded = fold_contact(current, event, seq)
        if folded is not None:
            rows[cid] = folded
    return rows


def upsert(conn: AsyncConnection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(schema.contacts)
    keep = ("contact_id", "first_seq")
    return stmt.on_conflict_do_update(
        index_elements=["contact_id"],
        set_={c: stmt.excluded[c] for c in COLUMNS if c not in keep},
    )
