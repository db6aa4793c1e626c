"""Transaction boundaries: every use case runs in one `write` or `read` block.

`write` serialises writers (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped
advisory lock), so feed sequence numbers are assigned max + 1 without gaps and commit in order:
a reader never sees event N+1 before event N. The block commits on exit and returns only after
the commit, or rolls back if the block raises.
`read(snapshot=True)` gives one consistent view for several queries (PostgreSQL: REPEATABLE
READ; SQLite: a WAL read transaction is a snapshot already).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from takedown.store.engine import WRITE_OPTION

__all__ = ["FEED_LOCK", "open_snapshot", "read", "write"]

FEED_LOCK = 0x74616B65646F776E  # "takedown"
"""The PostgreSQL advisory lock key every write transaction holds."""


@contextmanager
def write(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A serialised write transaction, committed when the block ends without an exception."""
    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(FEED_LOCK)))
            yield connection


@contextmanager
def read(engine: sa.Engine, *, snapshot: bool = False) -> Iterator[sa.Connection]:
    """A read-only transaction; with `snapshot`, every query in it sees the same state."""
    with engine.connect() as connection:
        if snapshot and connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            yield connection


def open_snapshot(engine: sa.Engine) -> sa.Connection:
    """A connection inside a snapshot transaction that the caller must close (for streaming
    results beyond the function that opened it). Closing it ends the transaction."""
    connection = engine.connect()
    try:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        connection.begin()
    except BaseException:
        connection.close()
        raise
    return connection
