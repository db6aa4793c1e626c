"""Backfill's one batch function: which stored hashes of a block match which listed signals.

`match_batch(block, signals)` is pure (numpy in, numpy out) and imports only what matching
needs, so the local pool's workers and Ray's workers start quickly. A block is a dict of
numpy columns (INPUT_COLUMNS), one row per stored hash; the hits come back as HIT_COLUMNS.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from takedown.hashing.fingerprint import PATCH
from takedown.matching import rules
from takedown.matching.index import PdqRangeIndex
from takedown.matching.scan import VIDEO_FRAME_THRESHOLD

__all__ = [
    "FILE_VARIANT",
    "FRAME_VARIANT",
    "HIT_COLUMNS",
    "INPUT_COLUMNS",
    "KINDS",
    "KIND_MD5",
    "KIND_PDQ",
    "THRESHOLDS",
    "WORDS",
    "Batch",
    "SignalSet",
    "match_batch",
    "variant_class",
]

FRAME_VARIANT: Final = "frame"
"""Variant of a video's vPDQ frame hashes (the registry's name for listed frames too)."""
FILE_VARIANT: Final = "file"
"""Variant of the MD5 of a whole file (the registry's name for a listed video MD5)."""

KIND_PDQ: Final = 0
KIND_MD5: Final = 1
KINDS: Final = {"pdq": KIND_PDQ, "md5": KIND_MD5}

# Variant classes: what the match rule distinguishes.
CLASS_WHOLE: Final = 0
CLASS_PATCH: Final = 1
CLASS_FRAME: Final = 2
_CLASS_NAMES: Final = {CLASS_WHOLE: "original", CLASS_PATCH: PATCH, CLASS_FRAME: FRAME_VARIANT}

WORDS: Final = ("w0", "w1", "w2", "w3")
INPUT_COLUMNS: Final = ("row", "content", "kind", "variant", "vclass", "quality", *WORDS)
HIT_COLUMNS: Final = ("row", "content", "signal", "distance", "variant")
"""match_batch's output: one row per (stored hash, listed signal) pair that passes the rule."""

Batch = dict[str, npt.NDArray[Any]]
Words = npt.NDArray[np.uint64]


def _class_threshold(query_class: int, listed_class: int) -> int:
    """The match rule by variant class: `rules.pair_threshold` for photos (patches only with
    patches); a stored video's frames match only listed video frames, as in `takedown scan`."""
    if query_class == CLASS_FRAME:
        return VIDEO_FRAME_THRESHOLD if listed_class == CLASS_FRAME else rules.NEVER
    return rules.pair_threshold(_CLASS_NAMES[query_class], _CLASS_NAMES[listed_class])


THRESHOLDS: Final = np.array(
    [[_class_threshold(q, listed) for listed in _CLASS_NAMES] for q in _CLASS_NAMES],
    dtype=np.int16,
)
"""THRESHOLDS[query class, listed class]: the largest distance that matches (-1: never)."""
_RADIUS: Final = int(THRESHOLDS.max())


def variant_class(variant: str) -> int:
    if variant == FRAME_VARIANT:
        return CLASS_FRAME
    return CLASS_PATCH if variant == PATCH else CLASS_WHOLE


@dataclass(frozen=True)
class SignalSet:
    """Listed signals in the compact form the workers receive: no lists, no values as text.
    PDQ signals below `rules.MIN_QUALITY` are left out when the set is built."""

    words: Words
    """(m, 4) uint64: PDQ hashes; an MD5 fills the first two words (the rest are 0)."""
    kinds: npt.NDArray[np.int8]
    classes: npt.NDArray[np.int8]
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    """Names this set, so a worker that received it before can reuse its index."""

    def __len__(self) -> int:
        return len(self.kinds)

    def pdq_index(self) -> PdqRangeIndex:
        """The PDQ signals in a range index, under their positions in this set. Built once
        per process that uses the set (never pickled: a worker builds its own)."""
        index: PdqRangeIndex | None = self.__dict__.get("_pdq_index")
        if index is None:
            positions = np.flatnonzero(self.kinds == KIND_PDQ)
            # buffer_rows=1: every hash goes into the tables at once (no linear scan part).
            index = PdqRangeIndex.build(positions, self.words[positions], buffer_rows=1)
            self.__dict__["_pdq_index"] = index
        return index

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_pdq_index"}


def match_batch(batch: Batch, signals: SignalSet) -> Batch:
    """Every (stored hash, listed signal) pair of this block that matches (HIT_COLUMNS).

    PDQ: both qualities at least `rules.MIN_QUALITY` and a distance within THRESHOLDS for
    the pair's variant classes; MD5: equality. `signal` is a position in `signals`; `row`,
    `content` and `variant` are copied from the block. Pure: the same block and signals
    always give the same hits, in the same order, whichever engine or process runs it."""
    kinds = batch["kind"]
    words = np.stack([batch[name] for name in WORDS], axis=1)
    query_rows: list[npt.NDArray[np.int64]] = []
    listed_rows: list[npt.NDArray[np.int64]] = []
    distances: list[npt.NDArray[np.int16]] = []

    queries = np.flatnonzero((kinds == KIND_PDQ) & (batch["quality"] >= rules.MIN_QUALITY))
    if len(queries) and np.any(signals.kinds == KIND_PDQ):
        q, li, d = _pairs_within(words[queries], signals, _RADIUS)
        q = queries[q]
        limit = THRESHOLDS[batch["vclass"][q], signals.classes[li]]
        keep = d <= limit
        query_rows.append(q[keep])
        listed_rows.append(li[keep])
        distances.append(d[keep].astype(np.int16))

    queries = np.flatnonzero(kinds == KIND_MD5)
    listed = np.flatnonzero(signals.kinds == KIND_MD5)
    if len(queries) and len(listed):
        q, li = _equal_pairs(words[queries, :2], signals.words[listed, :2])
        query_rows.append(queries[q])
        listed_rows.append(listed[li])
        distances.append(np.zeros(len(q), dtype=np.int16))

    rows = np.concatenate([np.zeros(0, np.int64), *query_rows])
    return {
        "row": batch["row"][rows].astype(np.int64),
        "content": batch["content"][rows].astype(np.int64),
        "signal": np.concatenate([np.zeros(0, np.int64), *listed_rows]),
        "distance": np.concatenate([np.zeros(0, np.int16), *distances]),
        "variant": batch["variant"][rows].astype(np.int16),
    }


def _pairs_within(
    queries: Words, signals: SignalSet, radius: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int16]]:
    """(query index, signal position, distance) of every PDQ pair within `radius`, exact,
    through the multi-index-hashing range index. Searching costs per query and building per
    hash, both small, so the larger side is indexed: the block's hashes when the new signals
    are few (the usual backfill), else the signals (built once per process, see SignalSet)."""
    positions = np.flatnonzero(signals.kinds == KIND_PDQ)
    if 2 * len(positions) < len(queries):
        block = PdqRangeIndex.build(np.arange(len(queries)), queries, buffer_rows=1)
        hits = block.search_batch(np.ascontiguousarray(signals.words[positions]), radius)
        return hits.id, positions[hits.query], hits.distance.astype(np.int16)
    hits = signals.pdq_index().search_batch(queries, radius)
    return hits.query, hits.id, hits.distance.astype(np.int16)


def _equal_pairs(
    queries: Words, listed: Words
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(query index, listed index) of every pair of equal 128-bit values."""
    candidates = np.flatnonzero(np.isin(queries[:, 0], listed[:, 0]))
    if not len(candidates):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    by_value: dict[tuple[int, int], list[int]] = defaultdict(list)
    for position, (high, low) in enumerate(listed.tolist()):
        by_value[(high, low)].append(position)
    pairs = [
        (int(q), position)
        for q in candidates
        for position in by_value.get((int(queries[q, 0]), int(queries[q, 1])), ())
    ]
    q_out = np.array([q for q, _ in pairs], dtype=np.int64)
    l_out = np.array([position for _, position in pairs], dtype=np.int64)
    return q_out, l_out
