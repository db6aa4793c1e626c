"""Alembic environment: runs on the connection `store.migrate` passes in (no alembic.ini)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from takedown.store.schema import metadata


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, sa.Connection):
        raise RuntimeError("run migrations through takedown.store.migrate.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_run()
