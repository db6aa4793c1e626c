"""Backfill: re-match the hashes of all stored content against the signals that arrived since
the last run, and put every match in the review queue.

`match_batch` (backfill_batch) is the one pure function that matches a block of stored
hashes; `LocalEngine` runs it over blocks in a process pool, `RayEngine` as a Ray Data
pipeline (local Ray, or a cluster by address) (backfill_engines). Both see the same blocks and
give the same matches. This module reads the store, runs an engine and records the matches.

A run reads one consistent snapshot of the store: the watermark W0 (`agent_meta`), the newest
signal W1, the content hashes and the signals. Content matched before is compared with the
signals added in (W0, W1]; content never matched yet (newly indexed, or changed) with every
live signal up to W1. Matches are recorded (idempotently) before the watermark moves to W1,
so an interrupted run is simply run again.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from takedown.errors import ConfigError, InputError, TakedownError
from takedown.matching import rules
from takedown.matching.scan import VIDEO_MATCH_FRACTION
from takedown.platform import review, store
from takedown.platform.backfill_batch import (
    FRAME_VARIANT,
    HIT_COLUMNS,
    INPUT_COLUMNS,
    KINDS,
    WORDS,
    Batch,
    SignalSet,
    match_batch,
    variant_class,
)
from takedown.platform.backfill_engines import Engine, LocalEngine, RayEngine
from takedown.platform.tables import agent_meta, content, content_signal, signal

__all__ = [
    "BLOCK_ROWS",
    "HIT_COLUMNS",
    "INPUT_COLUMNS",
    "SOURCE",
    "WATERMARK_KEY",
    "BackfillMatch",
    "BackfillReport",
    "Batch",
    "Engine",
    "LocalEngine",
    "RayEngine",
    "SignalSet",
    "backfill",
    "match_batch",
    "read_watermark",
    "variant_class",
]

WATERMARK_KEY: Final = "backfill_watermark"
"""`agent_meta` key: the feed seq up to which every stored hash has been matched."""
SOURCE: Final = "backfill"
"""The `source` of the review items backfill records."""
BLOCK_ROWS: Final = 65_536
"""Stored hashes per block (one task of either engine)."""

Words = npt.NDArray[np.uint64]
_NO_FRAME: Final = 1 << 30
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class BackfillMatch:
    """One stored content item matching one listed signal (a `review.MatchLike`)."""

    ref: str
    signal_id: int
    list: str
    type: str
    value: str
    query_variant: str
    listed_variant: str
    distance: int


@dataclass(frozen=True, slots=True)
class BackfillReport:
    engine: str
    watermark_before: int
    watermark_after: int
    new_signals: int
    """Signals added in (watermark_before, watermark_after] (any quality)."""
    fresh_content: int
    """Content matched for the first time, against every live signal."""
    hashes_checked: int
    """Stored hashes compared (content_signal rows of both passes)."""
    matches: tuple[BackfillMatch, ...]
    recorded: int
    """New review items (a match recorded before is not recorded again)."""
    gone: int
    """Matches not recorded because their signal was removed while backfill ran."""
    refused: tuple[str, ...]
    """Matches the review queue refused, with the reason."""
    seconds: float


def read_watermark(connection: sa.Connection) -> int:
    value = connection.execute(
        sa.select(agent_meta.c.value).where(agent_meta.c.key == WATERMARK_KEY)
    ).scalar_one_or_none()
    if value is None:
        return 0
    if not value.isdigit():
        raise ConfigError(
            f"the local store's backfill watermark is unreadable ({value[:20]!r}); "
            f"delete the agent_meta row {WATERMARK_KEY!r} to backfill everything again"
        )
    return int(value)


class _Vocabulary:
    """Variant names seen in this run, as small integer codes."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, name: str) -> int:
        found = self._codes.get(name)
        if found is None:
            found = self._codes[name] = len(self.names)
            self.names.append(name)
        return found


@dataclass(frozen=True, slots=True)
class _Listed:
    """Listed signals: the compact set for the workers, and what the driver needs besides."""

    set: SignalSet
    ids: tuple[int, ...]
    lists: tuple[str, ...]
    types: tuple[str, ...]
    values: tuple[str, ...]
    variants: tuple[str, ...]
    added: tuple[int, ...]


def backfill(
    engine: sa.Engine,
    runner: Engine,
    *,
    block_rows: int = BLOCK_ROWS,
    on_block: Callable[[int], None] | None = None,
) -> BackfillReport:
    """One backfill run (see the module docstring). `on_block` hears the number of stored
    hashes in each block as it is read."""
    if block_rows < 1:
        raise ValueError(f"block_rows must be 1 or more, got {block_rows}")
    started = time.perf_counter()
    vocabulary = _Vocabulary()
    with store.read(engine) as connection:
        before = read_watermark(connection)
        newest = connection.execute(sa.select(sa.func.max(signal.c.added_seq))).scalar()
        after = max(before, int(newest or 0))
        newest_content = int(connection.execute(sa.select(sa.func.max(content.c.id))).scalar() or 0)
        fresh = int(
            connection.execute(
                sa.select(sa.func.count()).where(content.c.backfilled_seq.is_(None))
            ).scalar_one()
        )
        new_signals = int(
            connection.execute(
                sa.select(sa.func.count()).where(
                    signal.c.added_seq > before, signal.c.added_seq <= after
                )
            ).scalar_one()
        )
        # (content never matched before?, signals added after this seq are compared)
        passes: list[tuple[bool, int]] = []
        if new_signals:
            passes.append((False, before))  # content matched before: the new signals only
        if fresh:
            passes.append((True, 0))  # content never matched: every live signal
        checked = 0
        hits: list[tuple[Batch, _Listed, int]] = []
        for is_fresh, floor in passes:
            listed = _listed(connection, floor, after)
            if not len(listed.set):
                continue
            counted = _Counter(on_block)
            blocks = counted.wrap(
                _blocks(connection, vocabulary, fresh=is_fresh, block_rows=block_rows)
            )
            hits.extend((found, listed, floor) for found in runner.run(blocks, listed.set))
            checked += counted.rows
        matches = _matches(connection, hits, vocabulary, after)
    recorded, gone, refused = _record(engine, matches)
    with store.write(engine) as connection:
        _set_watermark(connection, after)
        connection.execute(
            content.update()
            .where(content.c.backfilled_seq.is_(None), content.c.id <= newest_content)
            .values(backfilled_seq=after)
        )
    return BackfillReport(
        engine=runner.name,
        watermark_before=before,
        watermark_after=after,
        new_signals=new_signals,
        fresh_content=fresh,
        hashes_checked=checked,
        matches=tuple(matches),
        recorded=recorded,
        gone=gone,
        refused=tuple(refused),
        seconds=time.perf_counter() - started,
    )


class _Counter:
    def __init__(self, on_block: Callable[[int], None] | None) -> None:
        self.rows = 0
        self._on_block = on_block

    def wrap(self, blocks: Iterable[Batch]) -> Iterator[Batch]:
        for block in blocks:
            size = len(block["row"])
            self.rows += size
            if self._on_block is not None:
                self._on_block(size)
            yield block


def _listed(
    connection: sa.Connection,
    floor: int,
    ceiling: int,
    *,
    frames_of: Sequence[str] | None = None,
) -> _Listed:
    """Signals with floor < added_seq <= ceiling (PDQ only at usable quality); with
    `frames_of`, only the video frames of those lists."""
    query = (
        sa.select(
            signal.c.id,
            signal.c.list,
            signal.c.type,
            signal.c.value,
            signal.c.variant,
            signal.c.added_seq,
        )
        .where(
            signal.c.added_seq > floor,
            signal.c.added_seq <= ceiling,
            sa.or_(
                signal.c.type == "md5",
                sa.and_(signal.c.type == "pdq", signal.c.quality >= rules.MIN_QUALITY),
            ),
        )
        .order_by(signal.c.id)
    )
    if frames_of is not None:
        query = query.where(
            signal.c.type == "pdq",
            signal.c.variant == FRAME_VARIANT,
            signal.c.list.in_(list(frames_of)),
        )
    rows = connection.execute(query).all()
    ids = tuple(row[0] for row in rows)
    lists = tuple(row[1] for row in rows)
    types = tuple(row[2] for row in rows)
    values = tuple(row[3] for row in rows)
    variants = tuple(row[4] for row in rows)
    added = tuple(row[5] for row in rows)
    return _Listed(
        set=SignalSet(
            words=_words(values, types),
            kinds=np.array([KINDS[t] for t in types], dtype=np.int8),
            classes=np.array([variant_class(v) for v in variants], dtype=np.int8),
        ),
        ids=ids,
        lists=lists,
        types=types,
        values=values,
        variants=variants,
        added=added,
    )


def _words(values: Sequence[str], types: Sequence[str]) -> Words:
    """Hex values as (n, 4) uint64 words; an MD5 (32 hex) is padded with zeros."""
    if not values:
        return np.zeros((0, 4), dtype=np.uint64)
    if "md5" in types:
        padded = "".join(
            v if t == "pdq" else v + "0" * 32 for v, t in zip(values, types, strict=True)
        )
    else:
        padded = "".join(values)
    try:
        raw = bytes.fromhex(padded)
    except ValueError:
        bad = next(v for v in values if not _is_hex(v))
        raise TakedownError(
            f"the local store holds a malformed hash {bad[:80]!r}; re-index the content or "
            "re-sync the list"
        ) from None
    if len(raw) != 32 * len(values):
        raise TakedownError("the local store holds a hash of the wrong length; re-sync the list")
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(values), 4)


def _is_hex(value: str) -> bool:
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def _blocks(
    connection: sa.Connection, vocabulary: _Vocabulary, *, fresh: bool, block_rows: int
) -> Iterator[Batch]:
    """The stored hashes of content matched before (or of fresh content), in blocks."""
    matched = content.c.backfilled_seq.is_(None) if fresh else content.c.backfilled_seq.isnot(None)
    query = (
        sa.select(
            content_signal.c.id,
            content_signal.c.content_id,
            content_signal.c.type,
            content_signal.c.variant,
            content_signal.c.value,
            content_signal.c.quality,
        )
        .select_from(content_signal.join(content, content.c.id == content_signal.c.content_id))
        .where(matched, content_signal.c.type.in_(list(KINDS)))
        .order_by(content_signal.c.id)
    )
    result = connection.execution_options(stream_results=True, yield_per=block_rows).execute(query)
    for part in result.partitions(block_rows):
        yield _batch(part, vocabulary)


def _batch(rows: Sequence[Sequence[Any]], vocabulary: _Vocabulary) -> Batch:
    ids, contents, types, variants, values, qualities = zip(*rows, strict=True)
    words = _words(values, types)
    # A block holds a handful of distinct types and variants: code them via np.unique
    # rather than one dictionary lookup per row.
    type_names, type_at = np.unique(np.array(types), return_inverse=True)
    variant_names, variant_at = np.unique(np.array(variants), return_inverse=True)
    variant_codes = [vocabulary.code(str(v)) for v in variant_names]
    batch: Batch = {
        "row": np.array(ids, dtype=np.int64),
        "content": np.array(contents, dtype=np.int64),
        "kind": np.array([KINDS[str(t)] for t in type_names], dtype=np.int8)[type_at],
        "variant": np.array(variant_codes, dtype=np.int16)[variant_at],
        "vclass": np.array([variant_class(str(v)) for v in variant_names], dtype=np.int8)[
            variant_at
        ],
        "quality": np.array(qualities, dtype=np.int16),
    }
    for k, name in enumerate(WORDS):
        batch[name] = np.ascontiguousarray(words[:, k])
    return batch


def _matches(
    connection: sa.Connection,
    found: Sequence[tuple[Batch, _Listed, int]],
    vocabulary: _Vocabulary,
    ceiling: int,
) -> list[BackfillMatch]:
    """Matches from the hits of every block: per (content, listed signal) the nearest pair
    for photos and MD5; videos by the vPDQ rule (see `_video_matches`)."""
    best: dict[tuple[int, int], tuple[int, str, _Listed, int]] = {}
    videos: dict[tuple[int, str], int] = {}
    for hits, listed, floor in found:
        for content_id, position, distance, code in zip(
            hits["content"].tolist(),
            hits["signal"].tolist(),
            hits["distance"].tolist(),
            hits["variant"].tolist(),
            strict=True,
        ):
            query_variant = vocabulary.names[code]
            if query_variant == FRAME_VARIANT:
                videos[(content_id, listed.lists[position])] = floor
                continue
            key = (content_id, listed.ids[position])
            candidate = (distance, query_variant, listed, position)
            if key not in best or candidate[:2] < best[key][:2]:
                best[key] = candidate
    refs = _refs(connection, {c for c, _ in best} | {c for c, _ in videos})
    matches = []
    for (content_id, signal_id), (distance, query_variant, listed, at) in best.items():
        matches.append(
            BackfillMatch(
                refs[content_id],
                signal_id,
                listed.lists[at],
                listed.types[at],
                listed.values[at],
                query_variant,
                listed.variants[at],
                distance,
            )
        )
    matches.extend(_video_matches(connection, videos, refs, ceiling))
    return sorted(matches, key=lambda m: (m.ref, m.list, m.type, m.value))


def _refs(connection: sa.Connection, ids: set[int]) -> dict[int, str]:
    refs: dict[int, str] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        part = ordered[start : start + _CHUNK]
        refs.update(
            connection.execute(
                sa.select(content.c.id, content.c.ref).where(content.c.id.in_(part))
            ).all()
        )
    return refs


def _video_matches(
    connection: sa.Connection,
    candidates: dict[tuple[int, str], int],
    refs: dict[int, str],
    ceiling: int,
) -> list[BackfillMatch]:
    """Stored videos that now match a list: at least VIDEO_MATCH_FRACTION of their usable
    frames near some live listed frame of that list (old or new), with at least one new
    listed frame among the hits. Listed frames are not grouped by video in the feed, so a
    list's frames count together. `candidates` maps (content, list) to the seq after which
    a listed frame is new for that content."""
    if not candidates:
        return []
    contents = sorted({c for c, _ in candidates})
    lists = sorted({name for _, name in candidates})
    vocabulary = _Vocabulary()
    rows: list[Sequence[Any]] = []
    for start in range(0, len(contents), _CHUNK):
        rows.extend(
            connection.execute(
                sa.select(
                    content_signal.c.id,
                    content_signal.c.content_id,
                    content_signal.c.type,
                    content_signal.c.variant,
                    content_signal.c.value,
                    content_signal.c.quality,
                )
                .where(
                    content_signal.c.content_id.in_(contents[start : start + _CHUNK]),
                    content_signal.c.type == "pdq",
                    content_signal.c.variant == FRAME_VARIANT,
                    content_signal.c.quality >= rules.MIN_QUALITY,
                )
                .order_by(content_signal.c.id)
            ).all()
        )
    listed = _listed(connection, 0, ceiling, frames_of=lists)
    if not rows or not len(listed.set):
        return []
    frames = _batch(rows, vocabulary)
    hits = match_batch(frames, listed.set)
    usable: dict[int, int] = defaultdict(int)
    for content_id in frames["content"].tolist():
        usable[content_id] += 1
    nearest: dict[tuple[int, str], dict[int, int]] = defaultdict(dict)
    chosen: dict[tuple[int, str], tuple[int, str, int]] = {}
    for row, content_id, position, distance in zip(
        hits["row"].tolist(),
        hits["content"].tolist(),
        hits["signal"].tolist(),
        hits["distance"].tolist(),
        strict=True,
    ):
        key = (content_id, listed.lists[position])
        if key not in candidates:
            continue
        near = nearest[key]
        near[row] = min(distance, near.get(row, _NO_FRAME))
        if listed.added[position] > candidates[key]:
            pick = (distance, listed.values[position], position)
            chosen[key] = min(chosen.get(key, pick), pick)
    matches = []
    for key, near in nearest.items():
        content_id, name = key
        total = usable[content_id]
        if key not in chosen or len(near) < VIDEO_MATCH_FRACTION * total:
            continue
        distances = sorted(near.values()) + [_NO_FRAME] * (total - len(near))
        median = distances[(total - 1) // 2]
        at = chosen[key][2]
        matches.append(
            BackfillMatch(
                refs[content_id],
                listed.ids[at],
                name,
                "pdq",
                listed.values[at],
                FRAME_VARIANT,
                FRAME_VARIANT,
                median,
            )
        )
    return matches


def _record(engine: sa.Engine, matches: Sequence[BackfillMatch]) -> tuple[int, int, list[str]]:
    """Record each match whose signal is still live as a review item: (recorded, gone,
    refused). `review.record_match` ignores a match recorded before, so a re-run after an
    interruption records nothing twice. `_CHUNK` matches per transaction; a chunk with a
    malformed match (none is expected: they come from our own index) is recorded match by
    match, so that only that one is refused."""
    live: set[int] = set()
    ids = sorted({m.signal_id for m in matches})
    with engine.connect() as connection:
        for start in range(0, len(ids), _CHUNK):
            live.update(
                connection.execute(
                    sa.select(signal.c.id).where(signal.c.id.in_(ids[start : start + _CHUNK]))
                ).scalars()
            )
    kept = [m for m in matches if m.signal_id in live]
    recorded = 0
    refused: list[str] = []
    for start in range(0, len(kept), _CHUNK):
        chunk = kept[start : start + _CHUNK]
        try:
            items = review.record_matches(engine, [(m.ref, m) for m in chunk], SOURCE)
        except InputError:
            items = []
            for match in chunk:
                try:
                    items.append(review.record_match(engine, match.ref, match, SOURCE))
                except InputError as exc:
                    refused.append(f"{match.ref}: {exc.message}")
        recorded += sum(item is not None for item in items)
    return recorded, len(matches) - len(kept), refused


def _set_watermark(connection: sa.Connection, value: int) -> None:
    updated = connection.execute(
        agent_meta.update().where(agent_meta.c.key == WATERMARK_KEY).values(value=str(value))
    ).rowcount
    if not updated:
        connection.execute(agent_meta.insert().values(key=WATERMARK_KEY, value=str(value)))
