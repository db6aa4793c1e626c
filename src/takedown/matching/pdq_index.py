"""A brute-force PDQ range index: every listed hash within a Hamming radius of each query.

Numpy XOR and popcount over all listed hashes at once, exact for any radius: the oracle the
tests hold `mih.PdqRangeIndex` (what scanning uses) to. Also `pdq_words`, hex to words.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from takedown.errors import InputError
from takedown.hashing.fingerprint import Signal
from takedown.matching import rules

__all__ = ["PDQ_BITS", "PdqIndex", "pdq_words"]

PDQ_BITS = 256

_BLOCK_CELLS = 1 << 18
"""Query-by-listed distances computed per numpy step; bounds memory at about 8 MiB."""

_LOWER_HEX = re.compile("[0-9a-f]*")

Words = npt.NDArray[np.uint64]


def pdq_words(values: Sequence[str]) -> Words:
    """PDQ hex strings as an (n, 4) uint64 array (big-endian words, so bit order is kept)."""
    joined = raw = None
    if all(type(value) is str and len(value) == 64 for value in values):
        joined = "".join(values)
        with contextlib.suppress(ValueError):
            raw = bytes.fromhex(joined)
    # fromhex also takes uppercase and whitespace: the round trip rejects both (and is
    # faster than a regular expression over the whole list).
    if raw is None or raw.hex() != joined:
        bad = next(
            v for v in values if type(v) is not str or len(v) != 64 or not _LOWER_HEX.fullmatch(v)
        )
        raise InputError(f"a PDQ hash is 64 lowercase hex characters, got {str(bad)[:80]!r}")
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(values), 4)


@dataclass(frozen=True, slots=True)
class PdqIndex:
    """Listed PDQ signals; `search` answers (item id, entry position, distance) triples."""

    values: Words
    """(n, 4) uint64: the indexed hashes."""
    items: npt.NDArray[np.int64]
    """The listed item id of each indexed hash."""
    positions: npt.NDArray[np.int64]
    """Where each indexed hash was in the `entries` given to `build`."""

    @classmethod
    def build(
        cls, entries: Sequence[tuple[int, Signal]], *, min_quality: int | None = None
    ) -> PdqIndex:
        """Index the PDQ signals of `entries` (item id, signal). Signals of another type, or
        with quality below `min_quality` (default: rules.MIN_QUALITY), are left out."""
        floor = rules.MIN_QUALITY if min_quality is None else min_quality
        kept = [
            (position, item, signal.value)
            for position, (item, signal) in enumerate(entries)
            if signal.type == "pdq" and signal.quality >= floor
        ]
        return cls(
            values=pdq_words([value for _, _, value in kept]),
            items=np.array([item for _, item, _ in kept], dtype=np.int64),
            positions=np.array([position for position, _, _ in kept], dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.items)

    def search(self, values: Sequence[str], radius: int) -> list[list[tuple[int, int, int]]]:
        """For each query hash, every (item id, entry position, distance) with distance <=
        radius, nearest first (ties by position)."""
        if not 0 <= radius <= PDQ_BITS:
            raise ValueError(f"radius must be 0-{PDQ_BITS}, got {radius}")
        queries = pdq_words(values)
        found: list[list[tuple[int, int, int]]] = [[] for _ in values]
        listed = len(self.items)
        if not listed or not len(values):
            return found
        query_step = max(1, _BLOCK_CELLS // listed)
        listed_step = min(listed, _BLOCK_CELLS)
        for q0 in range(0, len(values), query_step):
            block = queries[q0 : q0 + query_step]
            for l0 in range(0, listed, listed_step):
                distances = _distances(block, self.values[l0 : l0 + listed_step])
                rows, cols = np.nonzero(distances <= radius)
                for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
                    at = l0 + col
                    found[q0 + row].append(
                        (int(self.items[at]), int(self.positions[at]), int(distances[row, col]))
                    )
        for hits in found:
            hits.sort(key=lambda hit: (hit[2], hit[1]))
        return found


def _distances(queries: Words, listed: Words) -> npt.NDArray[np.uint16]:
    """(q, n) Hamming distances between two (q, 4) and (n, 4) word arrays."""
    bits = np.bitwise_count(queries[:, None, :] ^ listed[None, :, :])
    distances: npt.NDArray[np.uint16] = bits.sum(axis=2, dtype=np.uint16)
    return distances
