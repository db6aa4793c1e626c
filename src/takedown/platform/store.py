"""Open the platform agent's local store: SQLite `agent.db` in a state directory, or a
PostgreSQL database by URL; tables created on first use, the schema version checked.

Writers serialise (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory lock),
so a sync, a scan recording review items and the upload service can share one store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from takedown.errors import ConfigError
from takedown.platform.tables import SCHEMA_VERSION, agent_meta, metadata
from takedown.store.engine import WRITE_OPTION, create_engine

__all__ = [
    "AGENT_LOCK",
    "SCHEMA_KEY",
    "STORE_FILE",
    "open_store",
    "read",
    "shown_url",
    "store_url",
    "write",
]

STORE_FILE = "agent.db"
SCHEMA_KEY = "schema_version"
AGENT_LOCK = 0x74646167656E74  # "tdagent"
"""The PostgreSQL advisory lock every write transaction of the agent holds."""


def store_url(state_dir: Path | None, url: str | None) -> str:
    """The database URL for `--state DIR` or `--db URL` (exactly one of them)."""
    if state_dir is not None and url:
        raise ConfigError("give either --state DIR or --db URL, not both")
    if state_dir is not None:
        if state_dir.exists() and not state_dir.is_dir():
            raise ConfigError(f"the state directory {state_dir} is a file, not a directory")
        return f"sqlite:///{(state_dir / STORE_FILE).as_posix()}"
    if url:
        try:
            backend = make_url(url).get_backend_name()
        except sa.exc.ArgumentError:
            raise ConfigError("--db is not a valid database URL") from None
        if backend == "postgresql":
            return url
        if backend == "sqlite":
            return url
        raise ConfigError(
            f"unsupported database {backend!r} for the local store: use --state DIR (SQLite) "
            "or --db postgresql+psycopg://..."
        )
    raise ConfigError("say where the local store is: --state DIR (SQLite) or --db URL")


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def open_store(state_dir: Path | None, url: str | None) -> sa.Engine:
    """An engine on the local store, its tables created and its schema version recorded.
    ConfigError for a bad location, an unreachable database, or a store written by a newer
    release (its schema version is above `SCHEMA_VERSION`)."""
    target = store_url(state_dir, url)
    engine = create_engine(target, pool_size=4, max_overflow=4)
    try:
        _prepare(engine, target)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _prepare(engine: sa.Engine, target: str) -> None:
    try:
        with write(engine) as connection:
            metadata.create_all(connection)
            found = connection.execute(
                sa.select(agent_meta.c.value).where(agent_meta.c.key == SCHEMA_KEY)
            ).scalar_one_or_none()
            if found is None:
                connection.execute(
                    agent_meta.insert().values(key=SCHEMA_KEY, value=str(SCHEMA_VERSION))
                )
                return
            if not found.isdigit():
                raise ConfigError(
                    f"the local store {shown_url(target)} has an unreadable schema version "
                    f"{found[:20]!r}: it is not a takedown agent store"
                )
            if int(found) > SCHEMA_VERSION:
                raise ConfigError(
                    f"the local store {shown_url(target)} has schema version {found}, newer than "
                    f"this release of takedown understands ({SCHEMA_VERSION}): upgrade takedown"
                )
            if int(found) < SCHEMA_VERSION:
                connection.execute(
                    agent_meta.update()
                    .where(agent_meta.c.key == SCHEMA_KEY)
                    .values(value=str(SCHEMA_VERSION))
                )
    except sa.exc.OperationalError as exc:
        reason = " ".join(str(exc.orig).split())[:300]
        raise ConfigError(f"cannot open the local store {shown_url(target)}: {reason}") from None


@contextmanager
def write(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A serialised write transaction, committed when the block ends without an exception
    (and durable once it returns: SQLite synchronous=FULL, PostgreSQL's default commit)."""
    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(AGENT_LOCK)))
            yield connection


@contextmanager
def read(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A read transaction that sees one consistent state (PostgreSQL: REPEATABLE READ;
    SQLite: a WAL read transaction is a snapshot already)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            yield connection
