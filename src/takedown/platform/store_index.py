"""The local store's signals, indexed in memory and kept up to date with it.

`refresh` loads everything the first time, then only what changed since the cursor it last
saw: removed signals leave the index, new and changed ones enter it, with no full rebuild.
Candidates are always confirmed against the store's current rows, so a signal the sync has
just removed stops matching at once, even before the next refresh.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from takedown.errors import ConfigError
from takedown.hashing.fingerprint import MediaFingerprint, Signal
from takedown.platform.matcher import ListedSignal, SignalMatcher, StoreMatch
from takedown.platform.store import read
from takedown.platform.tables import signal, sync_state

__all__ = ["LOAD_CHUNK", "NotSyncedError", "StoreIndex"]

LOAD_CHUNK = 50_000
"""Rows read and indexed per step while loading (bounds the transient Python objects)."""
_LOOKUP_CHUNK = 500


class NotSyncedError(ConfigError):
    """The store has no completed sync (its first snapshot is missing or unfinished)."""


class StoreIndex:
    """Match uploads against the signals of one local store. Thread-safe."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._matcher = SignalMatcher(self._lookup)
        self._ids: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._cursor: int | None = None
        self._lock = threading.Lock()
        """Held while the matcher is used or changed; held through the first load (when there is
        nothing to match yet), never while a later refresh reads the store."""
        self._refreshing = threading.Lock()
        """One refresh at a time: `_ids` and `_cursor` change only under it."""

    @property
    def cursor(self) -> int | None:
        """The feed cursor the index reflects (None before the first load)."""
        return self._cursor

    def __len__(self) -> int:
        return len(self._ids)

    def refresh(self) -> bool:
        """Catch up with the store; True if anything changed. NotSyncedError if the store was
        never fully synced and nothing is loaded yet (a snapshot in progress is waited out:
        the index keeps what it has)."""
        with self._refreshing, read(self._engine) as connection:
            state = connection.execute(
                sa.select(sync_state.c.cursor, sync_state.c.snapshot_done)
            ).first()
            if state is None or not state.snapshot_done:
                if self._cursor is None:
                    raise NotSyncedError(
                        "the local store has no completed sync yet: run "
                        "`takedown platform sync --server URL` first"
                    )
                return False
            if state.cursor == self._cursor:
                return False
            if self._cursor is None:
                self._load_all(connection)
            else:
                self._load_changes(connection, self._cursor)
            self._cursor = state.cursor
            return True

    def match(self, fp: MediaFingerprint) -> list[StoreMatch]:
        with self._lock:
            return self._matcher.match(fp)

    def match_hashes(
        self, signals: Sequence[Signal], md5: str | None, frames: Sequence[Signal] = ()
    ) -> list[StoreMatch]:
        with self._lock:
            return self._matcher.match_hashes(signals, md5, frames)

    def _load_all(self, connection: sa.Connection) -> None:
        ids: list[npt.NDArray[np.int64]] = []

        def chunks() -> Iterator[list[ListedSignal]]:
            rows = connection.execute(_ROWS.order_by(signal.c.id)).yield_per(LOAD_CHUNK)
            for chunk in _chunks(rows):
                ids.append(np.fromiter((s.id for s in chunk), dtype=np.int64, count=len(chunk)))
                yield chunk

        with self._lock:
            self._matcher.add_all(chunks())
        self._ids = np.concatenate(ids) if ids else np.empty(0, dtype=np.int64)

    def _load_changes(self, connection: sa.Connection, since: int) -> None:
        current = np.fromiter(
            connection.execute(sa.select(signal.c.id).order_by(signal.c.id)).scalars(),
            dtype=np.int64,
        )
        removed = np.setdiff1d(self._ids, current, assume_unique=True)
        changed = list(_signals(connection.execute(_ROWS.where(signal.c.added_seq > since))))
        changed_ids = np.array([s.id for s in changed], dtype=np.int64)
        # Rows new to the index that are not above the old cursor (defensive: e.g. ids a
        # database handed out again); fetched by id.
        unseen = np.setdiff1d(np.setdiff1d(current, self._ids, assume_unique=True), changed_ids)
        for part in range(0, len(unseen), _LOOKUP_CHUNK):
            ids = unseen[part : part + _LOOKUP_CHUNK].tolist()
            changed.extend(_signals(connection.execute(_ROWS.where(signal.c.id.in_(ids)))))
        with self._lock:
            self._matcher.remove([*removed.tolist(), *changed_ids.tolist()])
            self._matcher.add(changed)
        self._ids = current

    def _lookup(self, ids: Sequence[int]) -> Mapping[int, ListedSignal]:
        found: dict[int, ListedSignal] = {}
        with read(self._engine) as connection:
            for part in range(0, len(ids), _LOOKUP_CHUNK):
                rows = connection.execute(
                    sa.select(signal).where(signal.c.id.in_(ids[part : part + _LOOKUP_CHUNK]))
                )
                for row in rows:
                    found[row.id] = _listed(row)
        return found


_ROWS = sa.select(
    signal.c.id, signal.c.list, signal.c.type, signal.c.value, signal.c.quality, signal.c.variant
)


def _chunks(result: sa.Result[Any]) -> Iterator[list[ListedSignal]]:
    for part in result.partitions():
        # Unpacked as tuples: attribute access on rows costs more than the rest of a load.
        yield [_plain(row) for row in part]


def _signals(result: sa.Result[Any]) -> Iterator[ListedSignal]:
    for row in result:
        yield _plain(row)


def _plain(row: tuple[Any, ...]) -> ListedSignal:
    id_, list_, type_, value, quality, variant = row
    return ListedSignal(id_, list_, type_, value, quality, variant)


def _listed(row: sa.Row[Any]) -> ListedSignal:
    return ListedSignal(row.id, row.list, row.type, row.value, row.quality, row.variant)
