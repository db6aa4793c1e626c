"""What `takedown scan` matches against: a hash list file (`--list`), the platform agent's
synced local store (`--state DIR` / `--db URL`) or a saved snapshot export (`--snapshot FILE`).

Matches against the local store become review items (source `scan`), unless `--no-review`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from takedown.errors import ConfigError
from takedown.hashing.fingerprint import MediaFingerprint

__all__ = ["Scanner", "open_scanner"]


class Scanner(Protocol):
    """Matches one upload's fingerprint; the matches as `scan --json` prints them."""

    def match(self, path: Path, fp: MediaFingerprint) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


class _ListScanner:
    def __init__(self, list_file: Path) -> None:
        from takedown.matching.listfile import read_list
        from takedown.matching.scan import ListIndex

        self._index = ListIndex(read_list(list_file))

    def match(self, path: Path, fp: MediaFingerprint) -> list[dict[str, Any]]:
        return [m.to_json() for m in self._index.match(fp)]

    def close(self) -> None:
        return None


class _SnapshotScanner:
    def __init__(self, snapshot: Path) -> None:
        from takedown.platform.snapshot_file import read_snapshot

        self._matcher = read_snapshot(snapshot).matcher

    def match(self, path: Path, fp: MediaFingerprint) -> list[dict[str, Any]]:
        return [m.to_json() for m in self._matcher.match(fp)]

    def close(self) -> None:
        return None


class _StoreScanner:
    def __init__(self, state: Path | None, db: str | None, review: bool) -> None:
        from takedown.platform.store import open_store
        from takedown.platform.store_index import StoreIndex

        self._engine = open_store(state, db)
        try:
            self._index = StoreIndex(self._engine)
            self._index.refresh()
        except BaseException:
            self._engine.dispose()
            raise
        self._review = review

    def match(self, path: Path, fp: MediaFingerprint) -> list[dict[str, Any]]:
        from takedown.platform.review import record_match

        matches = self._index.match(fp)
        if self._review:
            # The review page shows the platform's own file: keep a path it can open.
            ref = str(path.resolve())
            for match in matches:
                record_match(self._engine, ref, match, "scan")
        return [m.to_json() for m in matches]

    def close(self) -> None:
        self._engine.dispose()


def open_scanner(
    list_file: Path | None,
    snapshot: Path | None,
    state: Path | None,
    db: str | None,
    *,
    review: bool = True,
) -> Scanner:
    """The one source the options name. ConfigError for none or several; ListFileError for
    a bad list or snapshot file; NotSyncedError for a store without a completed sync."""
    given = [
        name
        for name, value in (
            ("--list", list_file),
            ("--snapshot", snapshot),
            ("--state", state),
            ("--db", db),
        )
        if value
    ]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise ConfigError(
            f"scan against exactly one of --list FILE, --snapshot FILE, --state DIR or --db URL "
            f"(got {what})"
        )
    if list_file is not None:
        return _ListScanner(list_file)
    if snapshot is not None:
        return _SnapshotScanner(snapshot)
    return _StoreScanner(state, db, review)
