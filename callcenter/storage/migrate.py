"""Run the Alembic migrations shipped in this package against an async engine.

Each part of the product (interaction log, CRM, users, ...) adds its tables in its own
migration branch that starts from ``0001``, so the schema can have several heads;
"up to date" means every head is applied. A revision is reported as the sorted heads
joined with ``+``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Any = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _label(heads: tuple[str, ...] | list[str]) -> str | None:
    return "+".join(sorted(heads)) or None


def head_revision() -> str | None:
    """The revision(s) this version of callcenter needs."""
    return _label(ScriptDirectory.from_config(alembic_config()).get_heads())


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> str | None:
    """Upgrade the schema (every branch by default); return the revision now in place."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    return await current_revision(engine)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        heads = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
    return _label(list(heads))
