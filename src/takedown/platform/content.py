"""The platform's own stored media, hashed once so that backfill can re-match it without
reading the files again: `index_files` records each file's hashes in the local store.

Hashes are the platform's query set (what `takedown scan` computes for an upload): an image's
PDQ signals (`original`, `trimmed`, `derotated`, `patch`), a video's vPDQ frames (variant
`frame`), and the file's MD5 (variant `file`). Indexing is idempotent by reference (the
file's absolute path): a file whose SHA-256 is unchanged is not hashed again; a changed file
is re-hashed, and then re-matched against every live signal at the next backfill.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

import sqlalchemy as sa

from takedown.errors import TakedownError
from takedown.hashing.exact import exact_hashes
from takedown.hashing.fingerprint import media_files, query_fingerprint
from takedown.hashing.video import parse_vpdq
from takedown.platform import store
from takedown.platform.backfill_batch import FILE_VARIANT, FRAME_VARIANT
from takedown.platform.pool import bounded_map, spawn_pool
from takedown.platform.tables import content, content_signal

__all__ = [
    "MAX_REF",
    "IndexOutcome",
    "IndexReport",
    "content_ref",
    "index_files",
    "media_files",
]

MAX_REF: Final = 1000
"""Longest reference the store keeps (`content.ref`)."""

_LOOKUP_CHUNK = 500
_WRITE_BATCH = 64
"""Files recorded per write transaction: few commits, yet little lost to an interruption."""

Status = Literal["indexed", "unchanged", "failed"]
_Row = tuple[str, str, str, int]
"""(type, variant, value, quality): one `content_signal` row."""


@dataclass(frozen=True, slots=True)
class IndexOutcome:
    """What happened to one file."""

    ref: str
    status: Status
    error: str | None = None


@dataclass(slots=True)
class IndexReport:
    indexed: int = 0
    unchanged: int = 0
    failed: list[IndexOutcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.indexed + self.unchanged + len(self.failed)


@dataclass(frozen=True, slots=True)
class _Hashed:
    """A file's hashes, computed in a worker."""

    ref: str
    kind: str
    md5: str
    sha256: str
    rows: tuple[_Row, ...]


def content_ref(path: Path) -> str:
    """The reference a file is recorded under: its resolved absolute path, as `takedown scan
    --state` records it, so both find the same review item, whatever the working directory."""
    return str(path.resolve())


def index_files(
    engine: sa.Engine,
    files: Sequence[Path],
    *,
    workers: int = 1,
    on_file: Callable[[IndexOutcome], None] | None = None,
) -> IndexReport:
    """Hash `files` in `workers` processes and record them in the store. A file that cannot
    be read or hashed is reported in `failed` and the rest go on; `on_file` hears of each
    file as it is done (in input order)."""
    report = IndexReport()
    executor = spawn_pool(workers) if workers > 1 else None
    batch: list[_Hashed] = []
    try:
        tasks = _tasks(engine, files)
        for result in bounded_map(executor, _hash_task, tasks, in_flight=2 * workers):
            if isinstance(result, _Hashed):
                batch.append(result)
                outcome = IndexOutcome(result.ref, "indexed")
                report.indexed += 1
            else:
                outcome = result
                if outcome.status == "unchanged":
                    report.unchanged += 1
                else:
                    report.failed.append(outcome)
            if len(batch) >= _WRITE_BATCH:
                _record(engine, batch)
                batch = []
            if on_file is not None:
                on_file(outcome)
        _record(engine, batch)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    return report


def _tasks(engine: sa.Engine, files: Sequence[Path]) -> Iterator[tuple[str, str, str | None]]:
    """(path, ref, SHA-256 recorded for ref or None), looked up a chunk at a time; a file
    named twice is indexed once."""
    seen: set[str] = set()
    for start in range(0, len(files), _LOOKUP_CHUNK):
        chunk: list[tuple[str, str]] = []
        for file in files[start : start + _LOOKUP_CHUNK]:
            ref = content_ref(file)
            if ref not in seen:
                seen.add(ref)
                chunk.append((str(file), ref))
        refs = [ref for _, ref in chunk if len(ref) <= MAX_REF]
        with engine.connect() as connection:
            known = dict(
                connection.execute(
                    sa.select(content.c.ref, content.c.sha256).where(content.c.ref.in_(refs))
                ).all()
            )
        for path_text, ref in chunk:
            yield path_text, ref, known.get(ref)


def _hash_task(task: tuple[str, str, str | None]) -> _Hashed | IndexOutcome:
    """Runs in a worker: the file's hashes, or why not (a TakedownError names the problem)."""
    path_text, ref, known_sha256 = task
    if len(ref) > MAX_REF:
        return IndexOutcome(ref, "failed", f"the path is longer than {MAX_REF} characters")
    path = Path(path_text)
    try:
        if known_sha256 is not None and exact_hashes(path).sha256 == known_sha256:
            return IndexOutcome(ref, "unchanged")
        fingerprint = query_fingerprint(path)
    except TakedownError as exc:
        return IndexOutcome(ref, "failed", exc.message)
    rows: list[_Row] = [("md5", FILE_VARIANT, fingerprint.md5, 100)]
    if fingerprint.kind == "image":
        rows.extend((s.type, s.variant, s.value, s.quality) for s in fingerprint.signals)
    else:
        for line in fingerprint.vpdq:
            frame = parse_vpdq(line)
            rows.append(("pdq", FRAME_VARIANT, frame.hex, frame.quality))
    return _Hashed(ref, fingerprint.kind, fingerprint.md5, fingerprint.sha256, tuple(rows))


def _record(engine: sa.Engine, hashed: Sequence[_Hashed]) -> None:
    """Insert or replace the content rows and hashes of `hashed`, in one transaction."""
    if not hashed:
        return
    now = datetime.now(UTC)
    with store.write(engine) as connection:
        existing = dict(
            connection.execute(
                sa.select(content.c.ref, content.c.id).where(
                    content.c.ref.in_([item.ref for item in hashed])
                )
            ).all()
        )
        rows: list[dict[str, object]] = []
        for item in hashed:
            values = {
                "kind": item.kind,
                "md5": item.md5,
                "sha256": item.sha256,
                "indexed_at": now,
            }
            old_id = existing.get(item.ref)
            if old_id is not None:
                # A changed file is a new row with a new id (see `content` in tables.py).
                connection.execute(
                    content_signal.delete().where(content_signal.c.content_id == old_id)
                )
                connection.execute(content.delete().where(content.c.id == old_id))
            content_id = connection.execute(
                content.insert().values(ref=item.ref, **values).returning(content.c.id)
            ).scalar_one()
            rows.extend(
                {
                    "content_id": content_id,
                    "type": type_,
                    "variant": variant,
                    "value": value,
                    "quality": quality,
                }
                for type_, variant, value, quality in item.rows
            )
        if rows:
            connection.execute(content_signal.insert(), rows)
