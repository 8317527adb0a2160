"""Alembic environment: always run with a connection handed in by ``storage.migrate``."""

from __future__ import annotations

from alembic import context

from callcenter.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `callcenter db upgrade`, which passes a connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
