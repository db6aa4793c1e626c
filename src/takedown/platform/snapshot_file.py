"""A saved `/v1/feed/snapshot` export (NDJSON: a `{"cursor": N}` line, then one signal per
line), read strictly for `takedown scan --snapshot FILE`.

The file comes from outside, so every line is checked as the sync checks the live snapshot;
unlike the sync, a bad line stops the read (ListFileError naming the line): a file is fixed by
exporting it again, and silently matching against part of a list would hide a problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from takedown.errors import ListFileError
from takedown.platform.events import (
    MAX_LINE_BYTES,
    MAX_SEQ,
    FeedEvent,
    MalformedEventError,
    SignalKey,
    parse_snapshot_line,
)
from takedown.platform.matcher import ListedSignal, SignalMatcher

__all__ = ["MAX_SNAPSHOT_LINES", "SnapshotFile", "read_snapshot"]

MAX_SNAPSHOT_LINES = 20_000_000
"""About 2.6 GB of NDJSON; the signals are held in memory while scanning."""


class SnapshotFile:
    """The signals of a snapshot file, indexed for matching."""

    def __init__(self, cursor: int, signals: Sequence[ListedSignal]) -> None:
        self.cursor = cursor
        self._signals = {s.id: s for s in signals}
        self._matcher = SignalMatcher(self._lookup)
        self._matcher.add_all([signals])

    def __len__(self) -> int:
        return len(self._signals)

    @property
    def matcher(self) -> SignalMatcher:
        return self._matcher

    def _lookup(self, ids: Sequence[int]) -> Mapping[int, ListedSignal]:
        return {i: self._signals[i] for i in ids if i in self._signals}


def read_snapshot(path: Path) -> SnapshotFile:
    """Read and check a snapshot export. ListFileError for an unreadable file or a bad line."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ListFileError(f"cannot read the snapshot: {exc.strerror}", path=path) from None
    signals: dict[SignalKey, FeedEvent] = {}
    cursor: int | None = None
    with handle:
        number = 0
        while True:
            try:
                raw = handle.readline(MAX_LINE_BYTES + 1)
            except OSError as exc:
                raise ListFileError(f"cannot read: {exc.strerror}", path=path) from None
            if not raw:
                break
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise ListFileError(
                    f"the line is longer than {MAX_LINE_BYTES} bytes", path=path, line=number
                )
            if number > MAX_SNAPSHOT_LINES + 1:
                raise ListFileError(
                    f"more than {MAX_SNAPSHOT_LINES:,} signals: too many to scan against",
                    path=path,
                    line=number,
                )
            line = raw.strip()
            if not line:
                continue
            if cursor is None:
                cursor = _cursor(line, path, number)
                continue
            try:
                event = parse_snapshot_line(line, cursor)
            except MalformedEventError as exc:
                raise ListFileError(exc.message, path=path, line=number) from None
            signals[event.key] = event
    if cursor is None:
        raise ListFileError(
            'the snapshot is empty: its first line must be {"cursor": N}', path=path
        )
    # A signal listed twice counts once, with the values of its last line.
    listed = [
        ListedSignal(i, s.list, s.type, s.value, s.quality, s.variant)
        for i, s in enumerate(signals.values(), start=1)
    ]
    return SnapshotFile(cursor, listed)


def _cursor(line: bytes, path: Path, number: int) -> int:
    try:
        obj = json.loads(line)
    except ValueError:
        obj = None
    cursor = obj.get("cursor") if isinstance(obj, dict) else None
    if type(cursor) is not int or not 0 <= cursor <= MAX_SEQ:
        raise ListFileError(
            'the first line of a snapshot must be {"cursor": N} (is this a '
            "/v1/feed/snapshot export?)",
            path=path,
            line=number,
        )
    return cursor
