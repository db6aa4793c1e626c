"""Copying SQLite's write-ahead log into the database file in the background.

By default SQLite checkpoints inside a commit once the log passes 1,000 pages: the writer that
happens to commit then also copies the log into the database file and syncs it, while every
other writer waits for the write lock. A batch of new cases dirties thousands of pages, so that
was about as much work as the commit itself. With `Checkpointer`, the engine's connections do
not checkpoint (`PRAGMA wal_autocheckpoint = 0`, see `store.engine.create_engine`) and a
thread of the process does, on a connection of its own: PASSIVE checkpoints (they never block
a reader or a writer) a few times a second. Durability is unchanged: a commit is durable once
the log is synced (`synchronous=FULL`), which every commit still waits for.
"""

from __future__ import annotations

import contextlib
import logging
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
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        while not self._stop.wait(self._interval):
            try:
                if connection is None:
                    connection = sqlite3.connect(self.path, timeout=5, isolation_level=None)
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
            except sqlite3.Error as exc:  # logged and retried: the log only grows meanwhile
                logger.warning("checkpoint of the SQLite log failed: %s", exc)
                if connection is not None:
                    connection.close()
                    connection = None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):  # leave the log short for the next start
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            connection.close()

    def close(self) -> None:
        """Stop the thread after a last checkpoint."""
        self._stop.set()
        self._thread.join(timeout=30)
