"""Copying SQLite's write-ahead log into the database file in the background.

By default SQLite checkpoints inside a commit once the log passes 1,000 pages: the writer that
happens to commit then also copies the log into the database file and syncs it, while every
other writer waits for the write lock. A batch of new cases dirties thousands of pages, so that
was about as much work as the commit itself. With `Checkpointer`, the engine's connections do
not checkpoint (`PRAGMA wal_autocheckpoint = 0`, see `store.engine.create_engine`) and a
thread of the process does, on a connection of its own: PASSIVE checkpoints (they never block
a reader or a writer) a few times a second. Durability is unchanged: a commit is durable once
the log is synced (`synchronous=FULL`), which every commit still waits for.

One thread checkpoints a file, however many processes serve it (`takedown serve` with several
workers): each `Checkpointer` first takes an exclusive `flock` on `<database>.checkpoint-lock`
without waiting, and skips its turns while another one holds it. The holder keeps the lock
until `close` (or until its process ends, when the system releases it); another process's
thread then takes over at its next turn. With one checkpointer per process instead (two
under `bench/registry_load.py`), each checkpoint copied only part of what the log had gained
and ended with its own sync of the database file: checkpointing took about 1.7 times the CPU
(1.6-1.8 ms per new case instead of 0.9-1.1 on a database of a million signals).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
from pathlib import Path

__all__ = ["INTERVAL_SECONDS", "Checkpointer"]

INTERVAL_SECONDS = 0.2
"""Between checkpoints. At 200 new cases per second the log grows by ~16 MB meanwhile."""

logger = logging.getLogger("takedown.store")


class Checkpointer:
    """A daemon thread checkpointing the SQLite database at `path` until `close`."""

    def __init__(self, path: Path, interval: float = INTERVAL_SECONDS) -> None:
        self.path = path
        self._interval = interval
        self._stop = threading.Event()
        self.checkpoints = 0
        self._lock_path = path.with_name(path.name + ".checkpoint-lock")
        self._lock_fd: int | None = None
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        """Whether this one checkpoints the file (holds the lock), rather than another."""
        return self._lock_fd is not None

    def _take_turn(self) -> bool:
        """Hold the file's checkpoint lock (taken once, kept), or False while another
        `Checkpointer` holds it."""
        if self._lock_fd is not None:
            return True
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd
        return True

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        while not self._stop.wait(self._interval):
            try:
                if not self._take_turn():
                    continue
                if connection is None:
                    connection = sqlite3.connect(self.path, timeout=5, isolation_level=None)
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
            except (sqlite3.Error, OSError) as exc:  # logged and retried: the log only grows
                logger.warning("checkpoint of the SQLite log failed: %s", exc)
                if connection is not None:
                    connection.close()
                    connection = None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):  # leave the log short for the next start
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            connection.close()
        if self._lock_fd is not None:  # another process's thread takes over
            os.close(self._lock_fd)
            self._lock_fd = None

    def close(self) -> None:
        """Stop the thread after a last checkpoint."""
        self._stop.set()
        self._thread.join(timeout=30)
