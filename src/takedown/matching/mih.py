"""PdqRangeIndex: exact PDQ range search by multi-index hashing, with incremental adds and removes.

Each of the 16 16-bit substrings of a hash is a key of one table; tables are CSR buckets
built per segment (see docs/matching.md for the design, costs and memory).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from takedown.errors import InputError
from takedown.matching.pdq_index import PDQ_BITS, pdq_words

__all__ = ["DEFAULT_THRESHOLD", "PdqRangeIndex", "Queries", "RangeHits", "hash_words"]

DEFAULT_THRESHOLD = 31
"""Meta's recommended PDQ match distance."""

TABLES = 16
"""Keys per hash: 256 bits as 16 keys of 16 bits (key t is bits 16t..16t+15 of the hex)."""

KEY_BITS = 16

BUFFER_ROWS = 4096
"""Rows added since the last segment are compared one by one (a few microseconds per
query); past this many they become a segment of their own."""

MERGE_RATIO = 4
"""A segment is merged into the one before it when it is at least 1/MERGE_RATIO of its size,
so sizes fall geometrically and there are at most about log4(n / BUFFER_ROWS) + 1 segments."""

MAX_PROBES = 8192
"""Above this many bucket probes per query (thresholds from 53 on) a scan of every hash is
cheaper than the tables, and is what a search does."""

_PAIRS = TABLES // 2

_BRUTE_CELLS = 1 << 16
"""Query-by-row comparisons per numpy step in the numpy-only path (about 8 MiB)."""

Words = npt.NDArray[np.uint64]
Ids = npt.NDArray[np.int64]
Queries = Sequence[str] | npt.NDArray[np.uint64]

_NO_SEGMENTS = (np.empty((0, 4), dtype=np.int64), np.empty(0, dtype=np.uint32))


class RangeHits(NamedTuple):
    """Flat search results, one entry per (query, stored hash) pair within the threshold,
    sorted by query, then distance, then id."""

    query: npt.NDArray[np.int64]
    """Index of the query in the batch."""
    id: npt.NDArray[np.int64]
    """Id of the stored hash."""
    distance: npt.NDArray[np.int32]
    """Hamming distance between the two, 0-256."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Segment:
    start: int
    """First row of the store it covers (and first column of its tables)."""
    end: int
    """One past its last row."""
    count: int
    """Rows it indexes: the rows of start..end alive when it was built."""
    bits: int
    """Bucket bits: keys are cut to their top `bits` bits (16 for large segments)."""
    offsets: npt.NDArray[np.uint32]
    """(16 * (2**bits + 1),) CSR bucket starts, table by table."""


class PdqRangeIndex:
    """Stored PDQ hashes, each under an int64 id; `search` returns every one within a threshold.

    An id holds one hash: adding an id that is present replaces its hash (so replaying a
    feed is harmless), and removing an id that is absent does nothing. Removed hashes stop
    matching at once. Safe to share between threads (one operation runs at a time).
    """

    def __init__(self, *, buffer_rows: int = BUFFER_ROWS) -> None:
        if buffer_rows < 1:
            raise ValueError(f"buffer_rows must be at least 1, got {buffer_rows}")
        self._buffer_rows = buffer_rows
        self._lock = threading.Lock()
        self._rows = 0
        self._live = 0
        self._hashes: Words = np.empty((0, 4), dtype=np.uint64)
        self._ids: Ids = np.empty(0, dtype=np.int64)
        self._alive: npt.NDArray[np.bool_] = np.empty(0, dtype=np.bool_)
        self._tables: npt.NDArray[np.uint32] = np.empty((TABLES, 0), dtype=np.uint32)
        self._partners: npt.NDArray[np.uint16] = np.empty((TABLES, 0), dtype=np.uint16)
        self._sorted_ids: Ids = np.empty(0, dtype=np.int64)
        self._sorted_rows: npt.NDArray[np.uint32] = np.empty(0, dtype=np.uint32)
        self._segments: list[_Segment] = []
        # The segments as the kernel reads them: a (segments, 4) table of (start, count,
        # bits, offsets start) and every segment's offsets in one array (their views).
        self._packed: tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32]] = _NO_SEGMENTS

    @classmethod
    def build(
        cls, ids: npt.ArrayLike, hashes: Queries, *, buffer_rows: int = BUFFER_ROWS
    ) -> PdqRangeIndex:
        """An index holding `hashes` under `ids` (one segment, built in one pass)."""
        index = cls(buffer_rows=buffer_rows)
        index.add(ids, hashes)
        return index

    def __len__(self) -> int:
        return self._live

    def __contains__(self, id_: object) -> bool:
        if isinstance(id_, bool | np.bool_) or not isinstance(id_, int | np.integer):
            return False
        if not np.iinfo(np.int64).min <= int(id_) <= np.iinfo(np.int64).max:
            return False
        with self._lock:
            return bool(len(self._live_rows(np.array([id_], dtype=np.int64))))

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (the Python object overhead is a few KB)."""
        arrays: list[npt.NDArray[Any]] = [
            self._hashes,
            self._ids,
            self._alive,
            self._tables,
            self._partners,
            self._sorted_ids,
            self._sorted_rows,
        ]
        arrays += list(self._packed)  # the segments' offsets are views of it
        return sum(array.nbytes for array in arrays)

    def add(self, ids: npt.ArrayLike, hashes: Queries) -> None:
        """Store each hash under the id at the same position. Within one call, the last of
        repeated ids wins; an id already stored gets the new hash."""
        id_array = _ids(ids)
        words = hash_words(hashes)
        if len(id_array) != len(words):
            raise InputError(f"got {len(id_array)} ids for {len(words)} hashes")
        if not len(id_array):
            return
        # Last occurrence of each id: np.unique on the reversed array finds first ones.
        _, last = np.unique(id_array[::-1], return_index=True)
        if len(last) != len(id_array):
            keep = np.sort(len(id_array) - 1 - last)
            id_array, words = id_array[keep], words[keep]
        with self._lock:
            self._kill(self._live_rows(id_array))
            self._append(id_array, words)
            if self._rows - self._sealed_end >= self._buffer_rows:
                self._seal()
            self._compact_if_sparse()

    def remove(self, ids: npt.ArrayLike) -> None:
        """Remove the hashes stored under `ids`; ids not stored are ignored."""
        id_array = _ids(ids)
        if not len(id_array):
            return
        with self._lock:
            self._kill(self._live_rows(np.unique(id_array)))
            self._compact_if_sparse()

    def search(
        self, queries: Queries, threshold: int = DEFAULT_THRESHOLD
    ) -> list[list[tuple[int, int]]]:
        """For each query, every stored (id, distance) with distance <= threshold, nearest
        first (ties by id)."""
        words = hash_words(queries)
        hits = self.search_batch(words, threshold)
        pairs = list(zip(hits.id.tolist(), hits.distance.tolist(), strict=True))
        if len(words) == 1:  # the upload path: one query per call
            return [pairs]
        bounds = np.searchsorted(hits.query, np.arange(len(words) + 1)).tolist()
        return [pairs[lo:hi] for lo, hi in itertools.pairwise(bounds)]

    def search_batch(self, queries: Queries, threshold: int = DEFAULT_THRESHOLD) -> RangeHits:
        """Every (query index, id, distance) with distance <= threshold, as flat arrays."""
        if type(threshold) is not int or not 0 <= threshold <= PDQ_BITS:
            raise InputError(f"threshold must be an integer 0-{PDQ_BITS}, got {threshold!r}")
        words = hash_words(queries)
        pair_radius, scan_all = _plan(threshold)
        masks, within = _masks()
        with self._lock:
            if scan_all:
                segments, offsets = _NO_SEGMENTS
                brute_start = 0
            else:
                segments, offsets = self._packed
                brute_start = self._sealed_end
            if self._segments:
                query, rows, distance = _kernels().search(
                    words,
                    self._hashes,
                    self._alive,
                    self._tables,
                    self._partners,
                    offsets,
                    segments,
                    brute_start,
                    self._rows,
                    threshold,
                    pair_radius,
                    masks,
                    within,
                )
            else:
                # Nothing sealed yet (a small list): numpy alone, so numba is never loaded.
                used = slice(0, self._rows)
                query, rows, distance = _brute_force(
                    words, self._hashes[used], self._alive[used], threshold
                )
            ids = self._ids[rows]
        if len(ids) > 1:
            order = np.lexsort((ids, distance, query))
            query, ids, distance = query[order], ids[order], distance[order]
        return RangeHits(query, ids, distance)

    @property
    def _sealed_end(self) -> int:
        return self._segments[-1].end if self._segments else 0

    def _live_rows(self, ids: Ids) -> npt.NDArray[np.int64]:
        """Rows holding the live hash of each of `ids` that has one (ids must be unique)."""
        found: list[npt.NDArray[np.int64]] = []
        for segment in self._segments:
            keys = self._sorted_ids[segment.start : segment.start + segment.count]
            at = np.searchsorted(keys, ids)
            inside = at < len(keys)
            at = at[inside]
            at = at[keys[at] == ids[inside]]
            found.append(self._sorted_rows[segment.start + at].astype(np.int64))
        buffered = np.isin(self._ids[self._sealed_end : self._rows], ids)
        found.append(self._sealed_end + np.flatnonzero(buffered))
        rows = np.concatenate(found)
        return rows[self._alive[rows]]

    def _kill(self, rows: npt.NDArray[np.int64]) -> None:
        self._alive[rows] = False
        self._live -= len(rows)

    def _append(self, ids: Ids, words: Words) -> None:
        start, end = self._rows, self._rows + len(ids)
        self._reserve(end)
        self._hashes[start:end] = words
        self._ids[start:end] = ids
        self._alive[start:end] = True
        self._rows = end
        self._live += len(ids)

    def _reserve(self, rows: int) -> None:
        """Room for `rows` rows: grows by half again, or to exactly `rows` for a bulk add."""
        capacity = len(self._ids)
        if rows <= capacity:
            return
        if rows >= 2**32:
            raise InputError("a PdqRangeIndex holds at most 2**32 - 1 hashes")
        self._resize(rows if rows > capacity * 3 // 2 else capacity * 3 // 2)

    def _resize(self, capacity: int) -> None:
        used, sealed = self._rows, self._sealed_end

        hashes = np.empty((capacity, 4), dtype=np.uint64)
        hashes[:used] = self._hashes[:used]
        ids = np.empty(capacity, dtype=np.int64)
        ids[:used] = self._ids[:used]
        alive = np.zeros(capacity, dtype=np.bool_)
        alive[:used] = self._alive[:used]
        tables = np.empty((TABLES, capacity), dtype=np.uint32)
        tables[:, :sealed] = self._tables[:, :sealed]
        partners = np.empty((TABLES, capacity), dtype=np.uint16)
        partners[:, :sealed] = self._partners[:, :sealed]
        sorted_ids = np.empty(capacity, dtype=np.int64)
        sorted_ids[:sealed] = self._sorted_ids[:sealed]
        sorted_rows = np.empty(capacity, dtype=np.uint32)
        sorted_rows[:sealed] = self._sorted_rows[:sealed]
        self._hashes, self._ids, self._alive = hashes, ids, alive
        self._tables, self._partners = tables, partners
        self._sorted_ids, self._sorted_rows = sorted_ids, sorted_rows

    def _seal(self) -> None:
        """Turn the buffered rows into a segment, then merge segments of similar size."""
        self._segments.append(self._build_segment(self._sealed_end, self._rows))
        while len(self._segments) >= 2:
            previous, last = self._segments[-2], self._segments[-1]
            if (last.end - last.start) * MERGE_RATIO < previous.end - previous.start:
                break
            self._segments[-2:] = [self._build_segment(previous.start, last.end)]
        self._pack()

    def _compact_if_sparse(self) -> None:
        """Compact once removed or replaced rows outnumber half the live ones (amortised:
        each compaction follows at least n/2 removals since the last)."""
        dead = self._rows - self._live
        if dead > self._buffer_rows and dead > self._live // 2:
            self._compact()

    def _compact(self) -> None:
        """Drop removed rows and rebuild: one segment, and the buffer's rows stay buffered."""
        buffered = self._rows - self._sealed_end
        rows = np.flatnonzero(self._alive[: self._rows])
        live = len(rows)
        self._hashes[:live] = self._hashes[rows]
        self._ids[:live] = self._ids[rows]
        self._alive[:live] = True
        self._alive[live : self._rows] = False
        self._rows = live
        self._segments = []
        sealed = max(0, live - min(buffered, live))
        if sealed:
            self._segments = [self._build_segment(0, sealed)]
        self._pack()
        if len(self._ids) > 2 * max(live, self._buffer_rows):
            self._resize(max(live, self._buffer_rows))

    def _build_segment(self, start: int, end: int) -> _Segment:
        rows = start + np.flatnonzero(self._alive[start:end])
        count = len(rows)
        # About four rows per bucket in small segments, so their offsets stay small.
        bits = int(min(KEY_BITS, max(4, int(count).bit_length() - 2)))
        span = (1 << bits) + 1
        offsets = np.empty(TABLES * span, dtype=np.uint32)
        for table in range(TABLES):
            _kernels().build_table(
                self._hashes,
                rows,
                table,
                bits,
                self._tables[table, start : start + count],
                self._partners[table, start : start + count],
                offsets[table * span : (table + 1) * span],
            )
        keys = self._ids[rows]
        order = np.argsort(keys, kind="stable")
        self._sorted_ids[start : start + count] = keys[order]
        self._sorted_rows[start : start + count] = rows[order]
        return _Segment(start, end, count, bits, offsets)

    def _pack(self) -> None:
        """Gather the segments' offsets into one array for the kernel; each segment keeps a
        view of its part, so the offsets exist once."""
        if not self._segments:
            self._packed = _NO_SEGMENTS
            return
        table = np.zeros((len(self._segments), 4), dtype=np.int64)
        at = 0
        for i, segment in enumerate(self._segments):
            table[i] = (segment.start, segment.count, segment.bits, at)
            at += len(segment.offsets)
        offsets = np.concatenate([segment.offsets for segment in self._segments])
        self._segments = [
            dataclasses.replace(segment, offsets=offsets[first : first + len(segment.offsets)])
            for segment, first in zip(self._segments, table[:, 3].tolist(), strict=True)
        ]
        self._packed = (table, offsets)


@functools.cache
def _kernels() -> ModuleType:
    """The numba kernels, imported on first use: importing numba takes about half a second
    and the first compilation on a machine about ten (then cached on disk)."""
    from takedown.matching import mih_kernels

    return mih_kernels


def _brute_force(
    queries: Words, hashes: Words, alive: npt.NDArray[np.bool_], threshold: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """(query, row, distance) of every live row within `threshold`, in numpy."""
    found: list[tuple[npt.NDArray[np.int64], ...]] = []
    step = max(1, _BRUTE_CELLS // max(1, len(hashes)))
    for start in range(0, len(queries), step):
        block = queries[start : start + step]
        distances = np.bitwise_count(block[:, None, :] ^ hashes[None, :, :]).sum(
            axis=2, dtype=np.int32
        )
        query, row = np.nonzero((distances <= threshold) & alive[None, :])
        found.append((start + query, row, distances[query, row]))
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.int32)
    return (
        np.concatenate([f[0] for f in found]).astype(np.int64),
        np.concatenate([f[1] for f in found]).astype(np.int64),
        np.concatenate([f[2] for f in found]).astype(np.int32),
    )


@functools.cache
def _plan(threshold: int) -> tuple[npt.NDArray[np.int64], bool]:
    """The pair radii for `threshold`, and whether comparing every hash is cheaper."""
    radius = _pair_radius(threshold)
    _, within = _masks()
    probes = int(within[radius[radius >= 0] // 2].sum()) * 2
    return radius, probes > MAX_PROBES


def _pair_radius(threshold: int) -> npt.NDArray[np.int64]:
    """Radius of each of the 8 key pairs such that sum(radius + 1) = threshold + 1: a hash
    within `threshold` then has at least one pair within its radius (pigeonhole)."""
    base, extra = divmod(threshold + 1, _PAIRS)
    radius = np.full(_PAIRS, base - 1, dtype=np.int64)
    radius[:extra] += 1
    return radius


@functools.cache
def _masks() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every 16-bit flip mask sorted by popcount, and how many have popcount <= k, k=0..256."""
    counts = np.bitwise_count(np.arange(1 << KEY_BITS, dtype=np.uint16))
    masks = np.argsort(counts, kind="stable").astype(np.int64)
    within = np.cumsum(np.bincount(counts, minlength=PDQ_BITS + 1)).astype(np.int64)
    return masks, within


def _ids(ids: npt.ArrayLike) -> Ids:
    array = np.asarray(ids)
    if array.ndim != 1:
        raise InputError(f"ids must be a 1-dimensional sequence, got shape {array.shape}")
    if not len(array):
        return np.empty(0, dtype=np.int64)
    if array.dtype.kind == "u" and int(array.max()) > np.iinfo(np.int64).max:
        raise InputError("ids must fit in int64")
    if array.dtype.kind not in "iu":
        raise InputError(f"ids must be integers, got {array.dtype}")
    return array.astype(np.int64, copy=False)


def hash_words(hashes: Queries) -> Words:
    """PDQ hashes (hex strings, or an (n, 4) uint64 array) as a C-ordered (n, 4) uint64 array
    of big-endian words; raises InputError on anything else."""
    if isinstance(hashes, np.ndarray):
        if hashes.dtype != np.uint64 or hashes.ndim != 2 or hashes.shape[1] != 4:
            raise InputError(
                f"hash arrays must be (n, 4) uint64, got {hashes.shape} {hashes.dtype}"
            )
        return np.ascontiguousarray(hashes)
    if isinstance(hashes, str):
        raise InputError("expected a sequence of PDQ hashes, got one string")
    return pdq_words(list(hashes))
