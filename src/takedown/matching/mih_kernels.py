"""The compiled loops of the PDQ range index (numba): bucket builds, probes, verification.

Why hand-written rather than faiss: faiss's IndexBinaryMultiHash (what python-threatexchange
and HMA use) keeps one `unordered_map<key, vector<id>>` per substring and gathers every
candidate into an `unordered_set` before verifying it, so each candidate costs a hash-set
insert plus a pointer chase; it also cannot remove an entry. Here buckets are flat CSR arrays
(one counting sort per substring), candidates are verified in place with a hardware popcount
(no set: a hit is reported only by the first substring that can see it, which makes every hit
unique), deletions are a tombstone read, and a whole batch of queries runs in one call with
the GIL released.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt
from numba import types
from numba.extending import intrinsic

from takedown.matching.mih import KEY_BITS, TABLES

__all__ = ["build_table", "search"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(function: _F) -> _F:
    """Compile `function` on first call, cache the machine code on disk, release the GIL."""
    return cast(_F, numba.njit(cache=True, nogil=True)(function))


@intrinsic
def _ctpop(typingctx: Any, value: Any) -> Any:
    """LLVM's ctpop: one POPCNT instruction on x86-64 with popcnt (every CPU since 2008)."""
    signature = types.uint64(types.uint64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return signature, codegen


_hardware_popcount = cast(Callable[[np.uint64], int], _ctpop)


@_jit
def _popcount(value: np.uint64) -> int:
    return _hardware_popcount(value)


@_jit
def _key(word: np.uint64, table: int) -> int:
    """Table `table`'s 16-bit key of the hash word holding it (big-endian bit order)."""
    shift = np.uint64(48 - KEY_BITS * (table % 4))
    return int((word >> shift) & np.uint64(0xFFFF))


@_jit
def build_table(
    hashes: npt.NDArray[np.uint64],
    rows: npt.NDArray[np.int64],
    table: int,
    bucket_bits: int,
    out_rows: npt.NDArray[np.uint32],
    out_partners: npt.NDArray[np.uint16],
    out_offsets: npt.NDArray[np.uint32],
) -> None:
    """Counting-sort `rows` by their key in `table`, cut to its top `bucket_bits` bits.

    Writes the sorted rows to `out_rows` and each row's partner key (the other key of its
    pair, table ^ 1) to `out_partners` (both len(rows)), and the CSR bucket starts to
    `out_offsets` (2**bucket_bits + 1): bucket b holds out_rows[offsets[b]:offsets[b+1]].
    """
    word = table // 4
    drop = KEY_BITS - bucket_bits
    buckets = 1 << bucket_bits
    counts = np.zeros(buckets + 1, dtype=np.int64)
    for i in range(len(rows)):
        counts[(_key(hashes[rows[i], word], table) >> drop) + 1] += 1
    for b in range(buckets):
        counts[b + 1] += counts[b]
    for b in range(buckets + 1):
        out_offsets[b] = counts[b]
    for i in range(len(rows)):
        row = rows[i]
        b = _key(hashes[row, word], table) >> drop
        out_rows[counts[b]] = row
        out_partners[counts[b]] = _key(hashes[row, word], table ^ 1)
        counts[b] += 1


@_jit
def _distance(hashes: npt.NDArray[np.uint64], row: int, q: npt.NDArray[np.uint64]) -> int:
    return (
        _popcount(hashes[row, 0] ^ q[0])
        + _popcount(hashes[row, 1] ^ q[1])
        + _popcount(hashes[row, 2] ^ q[2])
        + _popcount(hashes[row, 3] ^ q[3])
    )


@_jit
def _found_by(
    hashes: npt.NDArray[np.uint64],
    row: int,
    q: npt.NDArray[np.uint64],
    table: int,
    pair_radius: npt.NDArray[np.int64],
) -> bool:
    """Whether probing `table` finds `row`: its key within half the pair radius, and the
    pair (this key and its partner) within the pair radius."""
    limit = pair_radius[table // 2]
    if limit < 0:
        return False
    word = table // 4
    diff = hashes[row, word] ^ q[word]
    own = _popcount(np.uint64(_key(diff, table)))
    return bool(own <= limit // 2 and own + _popcount(np.uint64(_key(diff, table ^ 1))) <= limit)


@_jit
def search(
    queries: npt.NDArray[np.uint64],
    hashes: npt.NDArray[np.uint64],
    alive: npt.NDArray[np.bool_],
    tables: npt.NDArray[np.uint32],
    partners: npt.NDArray[np.uint16],
    offsets: npt.NDArray[np.uint32],
    segments: npt.NDArray[np.int64],
    brute_start: int,
    brute_end: int,
    radius: int,
    pair_radius: npt.NDArray[np.int64],
    masks: npt.NDArray[np.int64],
    masks_within: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Every live row within `radius` of each query, each (query, row) pair exactly once.

    The 16 keys form 8 pairs (keys 2k and 2k+1, 32 bits). If sum(pair_radius + 1) >
    radius, every row within `radius` has a pair within its pair_radius (pigeonhole), and
    in that pair a key within pair_radius // 2: so probing every table at that radius,
    and keeping rows whose pair is within pair_radius (checked on the partner keys stored
    beside the rows, without touching the hash), finds them all. A row is reported only by
    the first table that finds it. Pairs with a negative radius are skipped. Per query and
    segment, each step's loads are independent of each other, so their cache misses overlap:
    all bucket bounds, then the partner filter over every bucket, then the survivors' rows,
    then their hashes. (Survivor arrays are sized before the filter loop: growing them
    inside it would put reference counting in the hottest loop.)

    `segments` rows are (first column in `tables`, rows indexed, bucket bits, start in
    `offsets`); a segment's table t occupies tables[t, first:first + count] and its bucket
    starts offsets[start + t * (2**bits + 1):][: 2**bits + 1]. Rows brute_start..brute_end
    are compared one by one. `masks` lists all 16-bit flips by popcount; masks_within[k] is
    how many have popcount <= k.
    """
    capacity = 1024
    out_query = np.empty(capacity, dtype=np.int64)
    out_row = np.empty(capacity, dtype=np.int64)
    out_distance = np.empty(capacity, dtype=np.int32)
    found = 0
    probes = 0
    for table in range(TABLES):
        if pair_radius[table // 2] >= 0:
            probes += masks_within[pair_radius[table // 2] // 2]
    probe_lo = np.empty(probes, dtype=np.int64)
    probe_hi = np.empty(probes, dtype=np.int64)
    probe_key = np.empty(probes, dtype=np.int64)
    probe_rest = np.empty(probes, dtype=np.int64)
    probe_table = np.empty(probes, dtype=np.int64)
    touched = np.uint64(0)
    kept_column = np.empty(1024, dtype=np.int64)
    kept_probe = np.empty(1024, dtype=np.int64)
    kept_row = np.empty(1024, dtype=np.int64)
    for qi in range(queries.shape[0]):
        q = queries[qi]
        for s in range(segments.shape[0]):
            first = segments[s, 0]
            bits = segments[s, 2]
            span = (1 << bits) + 1
            drop = KEY_BITS - bits
            # Phase 1: every bucket's bounds, and a first touch of its partner keys. The
            # loads are independent, so their cache misses overlap instead of queueing.
            p = 0
            for table in range(TABLES):
                limit = pair_radius[table // 2]
                if limit < 0:
                    continue
                key = _key(q[table // 4], table)
                base = segments[s, 3] + table * span
                for m in range(masks_within[limit // 2]):
                    mask = masks[m]
                    probe = key ^ mask
                    bucket = probe >> drop
                    lo = offsets[base + bucket]
                    hi = offsets[base + bucket + 1]
                    probe_lo[p] = first + lo
                    probe_hi[p] = first + hi
                    probe_key[p] = probe
                    probe_rest[p] = limit - _popcount(np.uint64(mask))
                    probe_table[p] = table
                    p += 1
            entries = 0
            for k in range(p):
                if probe_lo[k] < probe_hi[k]:
                    touched ^= np.uint64(partners[probe_table[k], probe_lo[k]])
                    entries += probe_hi[k] - probe_lo[k]
            if entries > len(kept_column):
                kept_column = np.empty(2 * entries, dtype=np.int64)
                kept_probe = np.empty(2 * entries, dtype=np.int64)
                kept_row = np.empty(2 * entries, dtype=np.int64)
            # Phase 2: the partner filter, in bucket order, collecting survivors.
            kept = 0
            for k in range(p):
                table = probe_table[k]
                partner = np.uint64(_key(q[table // 4], table ^ 1))
                rest = probe_rest[k]
                for column in range(probe_lo[k], probe_hi[k]):
                    if _popcount(np.uint64(partners[table, column]) ^ partner) > rest:
                        continue
                    kept_column[kept] = column
                    kept_probe[kept] = k
                    kept += 1
            # Phase 3: their rows, then their hashes (independent loads again), then the
            # full distances.
            for i in range(kept):
                kept_row[i] = tables[probe_table[kept_probe[i]], kept_column[i]]
            for i in range(kept):
                touched ^= hashes[kept_row[i], 0]
            for i in range(kept):
                k = kept_probe[i]
                table = probe_table[k]
                word = table // 4
                row = kept_row[i]
                if drop and _key(hashes[row, word], table) != probe_key[k]:
                    continue  # shares a coarse bucket; another mask finds it
                d = _distance(hashes, row, q)
                if d > radius or not alive[row]:
                    continue
                if _reported_earlier(hashes, row, q, table, pair_radius):
                    continue
                if found == capacity:
                    capacity *= 2
                    out_query = _grow(out_query, capacity)
                    out_row = _grow(out_row, capacity)
                    out_distance = _grow(out_distance, capacity)
                out_query[found] = qi
                out_row[found] = row
                out_distance[found] = d
                found += 1
        for row in range(brute_start, brute_end):
            d = _distance(hashes, row, q)
            if d > radius or not alive[row]:
                continue
            if found == capacity:
                capacity *= 2
                out_query = _grow(out_query, capacity)
                out_row = _grow(out_row, capacity)
                out_distance = _grow(out_distance, capacity)
            out_query[found] = qi
            out_row[found] = row
            out_distance[found] = d
            found += 1
    # Partner keys are 16-bit, so this never holds; it only keeps the compiler from dropping
    # the first-touch loads above as unused.
    if touched == np.uint64(1) << np.uint64(63):
        found = 0
    return out_query[:found].copy(), out_row[:found].copy(), out_distance[:found].copy()


@_jit
def _reported_earlier(
    hashes: npt.NDArray[np.uint64],
    row: int,
    q: npt.NDArray[np.uint64],
    table: int,
    pair_radius: npt.NDArray[np.int64],
) -> bool:
    for earlier in range(table):  # noqa: SIM110 (numba compiles loops, not generators)
        if _found_by(hashes, row, q, earlier, pair_radius):
            return True
    return False


@_jit
def _grow(values: npt.NDArray[Any], capacity: int) -> npt.NDArray[Any]:
    grown = np.empty(capacity, dtype=values.dtype)
    grown[: len(values)] = values
    return grown
