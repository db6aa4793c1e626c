"""Engines for the registry database: SQLite (a file in the data directory) or PostgreSQL.

SQLite is configured for durability and one writer at a time: WAL journal, synchronous=FULL
(a commit survives power loss), foreign keys on, a 5 s busy timeout, and `BEGIN IMMEDIATE` for
write transactions so two writers never both read and then fail to upgrade their lock; for
speed, a write transaction keeps its dirty pages in memory until commit (`cache_spill`) and
reads go through a memory map (`mmap_size`).
PostgreSQL goes through psycopg 3; writers serialise on an advisory lock (`transactions`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from takedown.errors import ConfigError

__all__ = ["WRITE_OPTION", "create_engine", "sqlite_path"]

WRITE_OPTION = "takedown_write"
"""Execution option marking a connection whose transaction will write (SQLite: IMMEDIATE)."""

_BUSY_TIMEOUT_MS = 5000
_SPILL_PAGES = 20_000
"""Dirty pages a write transaction may hold in memory (78 MiB at 4 KiB) before spilling."""
_MMAP_BYTES = 1 << 30
"""Memory-mapped reads of up to 1 GiB of the database file (address space, not memory)."""
_POOL = {"pool_size": 24, "max_overflow": 16}
"""Enough pooled connections for the API's PIN workers and the feed readers of one process:
a connection beyond `pool_size` is closed when returned, and reopening one per request (a
PostgreSQL backend, or SQLite's PRAGMAs) costs more CPU than the request itself."""


def sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL (None for other databases or in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def create_engine(url: str, *, checkpoints: bool = True, **options: Any) -> sa.Engine:
    """An engine for `url`. For an SQLite file its directory is created first.
    ConfigError when the URL is not one we support or the directory cannot be made.

    `checkpoints=False` (SQLite): commits never copy the log into the database file; the
    caller must run a `store.checkpoint.Checkpointer` while it writes."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError("the database URL is not a valid URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the data directory {path.parent}: {exc.strerror}"
                ) from None
        pool = _POOL if path is not None else {}
        engine = sa.create_engine(
            parsed, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000}, **{**pool, **options}
        )
        _configure_sqlite(engine, checkpoints)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_pre_ping=True, **{**_POOL, **options})
    raise ConfigError(f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://")


def _configure_sqlite(engine: sa.Engine, checkpoints: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's own transaction handling would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            # A batch of new cases dirties thousands of pages (each new hash lands on a random
            # page of the (type, value) index); SQLite would write them out mid-transaction
            # once its small page cache is full, and again at commit.
            cursor.execute(f"PRAGMA cache_spill = {_SPILL_PAGES}")
            # Read pages straight from the OS page cache instead of copying each one in.
            cursor.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
            if not checkpoints:
                cursor.execute("PRAGMA wal_autocheckpoint = 0")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
