"""Storage: the database engine, the append-only interaction log, its projections, and
the Alembic migrations that create them."""
