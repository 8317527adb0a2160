"""The async database engine: SQLite (aiosqlite) embedded, PostgreSQL (asyncpg) in production."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from callcenter.core.client_json import clean_text, unsafe_text
from callcenter.core.errors import CallcenterError

SQLITE_PREFIX = "sqlite+aiosqlite:///"


class DatabaseUnavailable(CallcenterError):
    """The database cannot be opened or reached; the message says which and why."""


# Text no database takes: lone surrogates (a str may hold them, UTF-8 cannot) and NUL
# (PostgreSQL refuses it in text and jsonb); ``clean_text`` (core/client_json.py, the same
# cleaning the edges do) replaces both with U+FFFD.
_SUSPECT = re.compile(r"\\u0000|NaN|Infinity")  # in json.dumps output: NUL, non-finite numbers


def clean_value(value: Any) -> Any:
    """A JSON-like ``value`` with its strings cleaned, keys made text where JSON needs it,
    and NaN/infinities (which PostgreSQL's jsonb refuses) written as text."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_clean_key(k): clean_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_value(v) for v in value]
    return value


def _clean_key(key: Any) -> Any:
    if isinstance(key, bool | int) or key is None:
        return key
    return clean_text(str(key))


def _clean_default(value: Any) -> str:
    return clean_text(str(value))


def json_dumps(value: Any) -> str:
    """JSON text every database takes: the storage layer's safety net, so that no value
    (whatever an edge let through) can stop the interaction log. Unencodable characters
    are replaced (see ``clean_text``); an odd value (not JSON) is written as its text.
    Raises only for what JSON cannot hold at all (a circular or too deeply nested value)."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except TypeError:  # a key JSON cannot hold
        pass
    else:  # json escapes NUL as \u0000, which PostgreSQL's jsonb refuses too
        if not unsafe_text(text) and not _SUSPECT.search(text):
            return text
    return json.dumps(clean_value(value), separators=(",", ":"), ensure_ascii=False, default=_clean_default)


def sqlite_path(url: str) -> Path | None:
    if url.startswith(SQLITE_PREFIX):
        rest = url[len(SQLITE_PREFIX) :]
        return None if rest in ("", ":memory:") else Path(rest)
    return None


def create_engine(url: str) -> AsyncEngine:
    """Create the engine; a SQLite file's folder is created, WAL mode is switched on."""
    path = sqlite_path(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(f"cannot create the folder for {path}: {exc.strerror}") from None
    kwargs: dict[str, Any] = {"json_serializer": json_dumps}
    if url.startswith("postgresql"):
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def describe(url: str) -> str:
    """A URL safe to print: no password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


async def check(engine: AsyncEngine) -> tuple[bool, str]:
    """Ping the database: (ok, detail) for /healthz."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        return False, _reason(exc)
    return True, "ok"


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).splitlines()[0] if str(orig) else ''}".strip()


async def open_checked(url: str) -> AsyncEngine:
    """Create the engine and make sure it answers, else raise ``DatabaseUnavailable``."""
    engine = create_engine(url)
    ok, detail = await check(engine)
    if not ok:
        await engine.dispose()
        raise DatabaseUnavailable(f"cannot open database {describe(url)}: {detail}")
    return engine
