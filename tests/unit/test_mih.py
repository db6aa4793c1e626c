"""PdqRangeIndex returns exactly what a scan over every stored hash returns, through adds,
replacements, removes, segment merges and compactions."""

from __future__ import annotations

import random
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from takedown.errors import InputError
from takedown.hashing.fingerprint import Signal
from takedown.matching.mih import PdqRangeIndex
from takedown.matching.pdq_index import PdqIndex, pdq_words

Stored = dict[int, int]
Step = tuple[list[tuple[int, int]], list[int]]
"""(added (id, hash) pairs, removed ids): one of the two is empty."""


def as_hex(value: int) -> str:
    return f"{value:064x}"


def flip(value: int, bits: list[int]) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


def spread(rng: random.Random, value: int, distance: int) -> int:
    """`value` with `distance` bits flipped, spread as evenly as possible over the 16 keys:
    the hardest case for multi-index hashing (no key is much closer than the others)."""
    keys = list(range(16))
    rng.shuffle(keys)
    bits: list[int] = []
    for i in range(distance):
        key = keys[i % 16]
        taken = {b for b in bits if b // 16 == key}
        bits.append(rng.choice([key * 16 + j for j in range(16) if key * 16 + j not in taken]))
    return flip(value, bits)


def brute(stored: Stored, queries: list[int], threshold: int) -> list[list[tuple[int, int]]]:
    out = []
    for query in queries:
        hits = [(id_, (query ^ value).bit_count()) for id_, value in stored.items()]
        out.append(sorted((h for h in hits if h[1] <= threshold), key=lambda h: (h[1], h[0])))
    return out


def check(index: PdqRangeIndex, stored: Stored, queries: list[int], threshold: int) -> None:
    expected = brute(stored, queries, threshold)
    assert index.search([as_hex(q) for q in queries], threshold) == expected
    hits = index.search_batch([as_hex(q) for q in queries], threshold)
    flat = [(q, id_, d) for q, found in enumerate(expected) for id_, d in found]
    columns = (hits.query.tolist(), hits.id.tolist(), hits.distance.tolist())
    assert list(zip(*columns, strict=True)) == flat
    assert len(index) == len(stored)


hashes = st.integers(min_value=0, max_value=(1 << 256) - 1)


@st.composite
def histories(draw: st.DrawFn) -> tuple[int, list[Step], list[int], int]:
    """Interleaved adds (some replacing an id, some repeating an id in one batch) and
    removes (some of ids never stored), then queries near stored hashes or random."""
    buffer_rows = draw(st.sampled_from([1, 2, 3, 8, 64]))
    ids = st.integers(0, 40)
    known: list[int] = []
    steps: list[Step] = []
    for _ in range(draw(st.integers(0, 12))):
        if known and draw(st.integers(0, 3)) == 0:
            steps.append(([], draw(st.lists(ids, max_size=8))))
            continue
        batch = []
        for _ in range(draw(st.integers(0, 12))):
            near_known = draw(st.booleans())
            if known and near_known:
                near = draw(st.sampled_from(known))
                value = flip(near, draw(st.lists(st.integers(0, 255), max_size=40)))
            else:
                value = draw(hashes)
            known.append(value)
            batch.append((draw(ids), value))
        steps.append((batch, []))
    queries = []
    for _ in range(draw(st.integers(0, 6))):
        near_known = draw(st.booleans())
        if known and near_known:
            bits = draw(st.lists(st.integers(0, 255), max_size=40))
            queries.append(flip(draw(st.sampled_from(known)), bits))
        else:
            queries.append(draw(hashes))
    threshold = draw(st.sampled_from([0, 1, 15, 16, 30, 31, 32, 47, 48, 63, 64, 90, 256]))
    return buffer_rows, steps, queries, threshold


@settings(max_examples=300, deadline=None)
@given(histories())
def test_search_equals_brute_force_after_interleaved_adds_and_removes(
    history: tuple[int, list[Step], list[int], int],
) -> None:
    buffer_rows, steps, queries, threshold = history
    index = PdqRangeIndex(buffer_rows=buffer_rows)
    stored: Stored = {}
    for added, removed in steps:
        if added:
            index.add([i for i, _ in added], [as_hex(v) for _, v in added])
            stored.update(added)
        else:
            index.remove(removed)
            for id_ in removed:
                stored.pop(id_, None)
        check(index, stored, queries, threshold)


@pytest.mark.parametrize("buffer_rows", [1, 50, 100_000])
def test_planted_neighbours_at_every_distance_are_found_up_to_the_threshold(
    buffer_rows: int,
) -> None:
    rng = random.Random(buffer_rows)
    stored = {i: rng.getrandbits(256) for i in range(3000)}
    index = PdqRangeIndex(buffer_rows=buffer_rows)
    items = list(stored.items())
    for start in range(0, len(items), 700):
        chunk = items[start : start + 700]
        index.add([i for i, _ in chunk], [as_hex(v) for _, v in chunk])
    queries = []
    for distance in range(0, 33):
        for _ in range(4):
            base = stored[rng.randrange(len(stored))]
            queries.append(spread(rng, base, distance))
            queries.append(flip(base, rng.sample(range(256), distance)))
    for threshold in (31, 0, 12, 32):
        check(index, stored, queries, threshold)
    found = index.search([as_hex(q) for q in queries], 31)
    assert all(found[i] for i in range(len(queries)) if i < 32 * 8)


def test_a_large_segment_with_full_16_bit_buckets_matches_the_numpy_oracle() -> None:
    rng = np.random.default_rng(7)
    n = 140_000  # past 2**17 rows a segment's buckets use all 16 key bits
    words = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    # Clustered: 2,000 hashes are near-copies of 20 centres.
    centres = words[:20].copy()
    for i in range(2000):
        near = centres[i % 20].copy()
        for bit in rng.choice(256, size=int(rng.integers(0, 20)), replace=False):
            near[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
        words[20 + i] = near
    index = PdqRangeIndex.build(np.arange(n) * 3, words)
    assert [s.bits for s in index._segments] == [16]
    hexes = [bytes(w.astype(">u8").tobytes()).hex() for w in words]
    query_rng = random.Random(3)
    queries = [spread(query_rng, int(hexes[i * 97], 16), i % 33) for i in range(300)]
    queries += [query_rng.getrandbits(256) for _ in range(100)]
    oracle = PdqIndex.build([(i * 3, Signal("pdq", h, 100, "x")) for i, h in enumerate(hexes)])
    query_hex = [as_hex(q) for q in queries]
    expected = [[(item, d) for item, _, d in hits] for hits in oracle.search(query_hex, 31)]
    found = index.search(query_hex, 31)
    assert found == [sorted(hits, key=lambda h: (h[1], h[0])) for hits in expected]
    assert sum(map(len, found)) > 300


def test_an_empty_index_finds_nothing_and_no_queries_give_no_results() -> None:
    index = PdqRangeIndex()
    assert len(index) == 0
    assert index.search(["ab" * 32], 256) == [[]]
    assert index.search([], 31) == []
    hits = index.search_batch(np.empty((0, 4), dtype=np.uint64))
    assert (len(hits.query), len(hits.id), len(hits.distance)) == (0, 0, 0)
    index.remove([1, 2, 3])
    assert len(index) == 0


def test_duplicate_hashes_under_different_ids_are_all_returned() -> None:
    index = PdqRangeIndex()
    index.add([5, 3, 9], ["ab" * 32] * 3)
    assert index.search(["ab" * 32], 0) == [[(3, 0), (5, 0), (9, 0)]]


def test_an_id_added_twice_keeps_its_last_hash() -> None:
    index = PdqRangeIndex(buffer_rows=1)
    index.add([1, 1], ["00" * 32, "ff" * 32])
    assert len(index) == 1
    assert index.search(["00" * 32, "ff" * 32], 0) == [[], [(1, 0)]]
    index.add([1], ["0f" * 32])
    assert index.search(["ff" * 32, "0f" * 32], 0) == [[], [(1, 0)]]
    assert len(index) == 1


@pytest.mark.parametrize("buffer_rows", [1, 4096])
def test_a_removed_hash_stops_matching_at_once_and_can_be_added_again(buffer_rows: int) -> None:
    rng = random.Random(1)
    values = [rng.getrandbits(256) for _ in range(5000)]
    index = PdqRangeIndex.build(range(5000), [as_hex(v) for v in values], buffer_rows=buffer_rows)
    query = as_hex(flip(values[42], [1, 100, 200]))
    assert index.search([query]) == [[(42, 3)]]
    assert 42 in index
    assert np.int64(42) in index
    assert "42" not in index
    index.remove([42])
    assert index.search([query]) == [[]]
    assert 42 not in index
    assert len(index) == 4999
    index.add([42], [as_hex(values[42])])
    assert index.search([query]) == [[(42, 3)]]
    index.remove(np.array([42], dtype=np.uint64))
    assert index.search([query]) == [[]]


def test_removing_most_hashes_compacts_and_keeps_answers_exact() -> None:
    rng = random.Random(2)
    stored = {i: rng.getrandbits(256) for i in range(6000)}
    index = PdqRangeIndex.build(list(stored), [as_hex(v) for v in stored.values()], buffer_rows=64)
    before = index.nbytes
    gone = list(range(0, 6000, 3)) + list(range(1, 6000, 3))
    index.remove(gone)
    for id_ in gone:
        del stored[id_]
    assert index._rows == len(stored)  # compacted: removed rows are gone from the store
    assert index.nbytes < before
    queries = [flip(v, [0, 77]) for v in list(stored.values())[:50]] + [rng.getrandbits(256)]
    check(index, stored, queries, 31)


@pytest.mark.parametrize("threshold", [0, 64, 100, 255, 256])
def test_extreme_thresholds_are_exact(threshold: int) -> None:
    rng = random.Random(threshold)
    stored = {i: rng.getrandbits(256) for i in range(300)}
    stored[1000] = (1 << 256) - 1
    stored[1001] = 0
    index = PdqRangeIndex.build(list(stored), [as_hex(v) for v in stored.values()], buffer_rows=32)
    queries = [0, (1 << 256) - 1, flip(stored[5], list(range(0, 200, 3)))]
    check(index, stored, queries, threshold)


def test_hash_arrays_and_hex_strings_are_the_same_hashes() -> None:
    values = ["80" + "00" * 31, "00" * 31 + "01"]
    index = PdqRangeIndex.build([1, 2], pdq_words(values))
    assert index.search(values, 0) == [[(1, 0)], [(2, 0)]]
    assert index.search(pdq_words(values), 1) == [[(1, 0)], [(2, 0)]]


@pytest.mark.parametrize(
    ("ids", "hashes", "message"),
    [
        ([1, 2], ["ab" * 32], "2 ids for 1 hashes"),
        ([1.5], ["ab" * 32], "ids must be integers"),
        ([[1]], ["ab" * 32], "1-dimensional"),
        ([1], ["AB" * 32], "64 lowercase hex"),
        ([1], "ab" * 32, "one string"),
        ([1], np.zeros((1, 4), dtype=np.int64), r"\(n, 4\) uint64"),
        (np.array([2**63], dtype=np.uint64), ["ab" * 32], "int64"),
    ],
)
def test_bad_input_to_add_is_an_input_error(ids: object, hashes: object, message: str) -> None:
    index = PdqRangeIndex()
    with pytest.raises(InputError, match=message):
        index.add(ids, hashes)  # type: ignore[arg-type]
    assert len(index) == 0


@pytest.mark.parametrize("threshold", [-1, 257, 31.0, True])
def test_a_threshold_outside_0_to_256_is_an_input_error(threshold: object) -> None:
    with pytest.raises(InputError, match="threshold"):
        PdqRangeIndex().search(["ab" * 32], threshold)  # type: ignore[arg-type]


def test_concurrent_adds_removes_and_searches_leave_a_consistent_index() -> None:
    rng = random.Random(4)
    values = {i: rng.getrandbits(256) for i in range(4000)}
    index = PdqRangeIndex(buffer_rows=100)
    errors: list[BaseException] = []

    def writer(part: int) -> None:
        try:
            mine = [i for i in values if i % 4 == part]
            for start in range(0, len(mine), 50):
                chunk = mine[start : start + 50]
                index.add(chunk, [as_hex(values[i]) for i in chunk])
                index.remove(chunk[::5])
                index.search([as_hex(values[chunk[1]])], 31)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(part,)) for part in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    removed = set()
    for part in range(4):
        mine = [i for i in values if i % 4 == part]
        for start in range(0, len(mine), 50):
            removed.update(mine[start : start + 50][::5])
    stored = {i: v for i, v in values.items() if i not in removed}
    check(index, stored, [values[i] for i in range(0, 4000, 97)], 31)


def test_a_small_index_is_searched_without_loading_numba() -> None:
    """Small lists (everything still buffered) need numpy only: `takedown scan --list` with a
    short list does not pay numba's import and compilation."""
    code = (
        "import sys\n"
        "from takedown.matching.index import PdqRangeIndex\n"
        "index = PdqRangeIndex.build([1, 2], ['ab' * 32, 'cd' * 32])\n"
        "assert index.search(['ab' * 32], 31) == [[(1, 0)]]\n"
        "print('numba' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
