"""Transaction boundaries: every use case runs in one `write` or `read` block.

`write` serialises writers (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped
advisory lock), so feed sequence numbers are assigned max + 1 without gaps and commit in order:
a reader never sees event N+1 before event N. The block commits on exit and returns only after
the commit, or rolls back if the block raises. On PostgreSQL a writer may insert rows that no
other writer reads or changes before it takes the lock (`write(engine, serialised=False)`,
then `serialise`): the case writer inserts new cases' rows that way, in parallel with other
writers, and holds the lock only for the feed.

On an SQLite file, writers first queue on a lock of their own (`WriterLock`: a thread lock,
then `flock` on `<database>.write-lock`, shared by every process on the file), so a writer
waiting for another one wakes the moment it commits; SQLite's own busy handler, which the
lock leaves for programs that do not take it, polls with sleeps of up to 100 ms.
`read(snapshot=True)` gives one consistent view for several queries (PostgreSQL: REPEATABLE
READ; SQLite: a WAL read transaction is a snapshot already).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from takedown.store.engine import WRITE_OPTION

__all__ = ["FEED_LOCK", "WriterLock", "open_snapshot", "read", "serialise", "write"]

FEED_LOCK = 0x74616B65646F776E  # "takedown"
"""The PostgreSQL advisory lock key every write transaction holds."""
_TAKE_FEED_LOCK = sa.select(sa.func.pg_advisory_xact_lock(FEED_LOCK))


@contextmanager
def write(engine: sa.Engine, *, serialised: bool = True) -> Iterator[sa.Connection]:
    """A serialised write transaction, committed when the block ends without an exception.

    With `serialised=False`, on PostgreSQL the writers' lock is not taken yet: the block may
    insert rows nobody else touches (new rows with fresh keys; a clash with another writer's
    raises as a unique violation), and must call `serialise` before anything else, the feed
    above all. SQLite has one writer at a time anyway (`BEGIN IMMEDIATE`)."""
    with _writer_lock(engine), engine.connect() as connection:
        connection = connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            if serialised:
                serialise(connection)
            yield connection


def serialise(connection: sa.Connection) -> None:
    """Wait for the other writers (PostgreSQL: the advisory lock, held until the transaction
    ends; taking it again is harmless). Nothing to do on SQLite, serialised from `BEGIN`."""
    if connection.dialect.name == "postgresql":
        connection.execute(_TAKE_FEED_LOCK)


class WriterLock:
    """The writers' queue for one SQLite file: a thread lock for this process, then an
    exclusive `flock` on the lock file for all processes. Both wait without polling."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._fd is None or self._pid != os.getpid():  # not a descriptor of a parent
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


_LOCKS: dict[str, WriterLock] = {}
"""By database file as the URL names it; two spellings of one file share the lock file."""
_LOCKS_LOCK = threading.Lock()


def _writer_lock(engine: sa.Engine) -> AbstractContextManager[None]:
    """The `WriterLock` of the engine's SQLite file (one per file and process); nothing for
    PostgreSQL or an in-memory database."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return nullcontext()
    assert database is not None
    lock = _LOCKS.get(database)
    if lock is None:
        path = Path(database).resolve()
        with _LOCKS_LOCK:
            lock = _LOCKS.setdefault(
                database, WriterLock(path.with_name(path.name + ".write-lock"))
            )
    return lock


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
