"""PdqIndex finds exactly what a pure-Python scan over every listed hash finds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from takedown.errors import InputError
from takedown.hashing.fingerprint import Signal
from takedown.matching import rules
from takedown.matching.pdq_index import PdqIndex, pdq_words

Entries = list[tuple[int, Signal]]


def reference(
    entries: Entries, queries: list[str], radius: int, min_quality: int = rules.MIN_QUALITY
) -> list[list[tuple[int, int, int]]]:
    out = []
    for query in queries:
        hits = []
        for position, (item, signal) in enumerate(entries):
            if signal.type != "pdq" or signal.quality < min_quality:
                continue
            distance = (int(query, 16) ^ int(signal.value, 16)).bit_count()
            if distance <= radius:
                hits.append((item, position, distance))
        out.append(sorted(hits, key=lambda hit: (hit[2], hit[1])))
    return out


def as_hex(value: int) -> str:
    return f"{value:064x}"


def near(value: int, bits: list[int]) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


hashes = st.integers(min_value=0, max_value=(1 << 256) - 1)


@st.composite
def index_cases(draw: st.DrawFn) -> tuple[Entries, list[str], int]:
    """Random listed hashes, and queries that are copies of them with a few bits flipped
    (so small radii find something) or unrelated hashes."""
    bases = draw(st.lists(hashes, min_size=0, max_size=30))
    entries: Entries = []
    for i, base in enumerate(bases):
        quality = draw(st.sampled_from([0, 49, 50, 80, 100]))
        entries.append((i // 3, Signal("pdq", as_hex(base), quality, f"v{i % 3}")))
    queries = []
    for _ in range(draw(st.integers(0, 6))):
        near_a_listed_hash = draw(st.booleans())
        if bases and near_a_listed_hash:
            flips = draw(st.lists(st.integers(0, 255), max_size=40))
            queries.append(as_hex(near(draw(st.sampled_from(bases)), flips)))
        else:
            queries.append(as_hex(draw(hashes)))
    radius = draw(st.sampled_from([0, 1, 8, 31, 32, 64, 127, 128, 129, 200, 255, 256]))
    return entries, queries, radius


@settings(max_examples=200, deadline=None)
@given(index_cases())
def test_search_equals_a_pure_python_scan(case: tuple[Entries, list[str], int]) -> None:
    entries, queries, radius = case
    index = PdqIndex.build(entries)
    assert index.search(queries, radius) == reference(entries, queries, radius)


@pytest.mark.parametrize("radius", [0, 31, 90, 128, 256])
def test_many_queries_over_many_hashes_cross_block_boundaries(radius: int) -> None:
    rng = random.Random(radius)
    values = [rng.getrandbits(256) for _ in range(1100)]
    entries = [(i, Signal("pdq", as_hex(v), 100, "original")) for i, v in enumerate(values)]
    queries = [as_hex(near(rng.choice(values), rng.sample(range(256), 20))) for _ in range(150)]
    queries += [as_hex(rng.getrandbits(256)) for _ in range(150)]
    assert PdqIndex.build(entries).search(queries, radius) == reference(entries, queries, radius)


def test_every_hash_is_within_radius_256_and_only_itself_within_0() -> None:
    entries = [(7, Signal("pdq", "00" * 32, 100, "a")), (9, Signal("pdq", "ff" * 32, 100, "b"))]
    index = PdqIndex.build(entries)
    assert index.search(["ff" * 32], 256) == [[(9, 1, 0), (7, 0, 256)]]
    assert index.search(["ff" * 32], 0) == [[(9, 1, 0)]]
    assert index.search(["ff" * 32], 255) == [[(9, 1, 0)]]


def test_low_quality_and_non_pdq_signals_are_not_indexed() -> None:
    value = "ab" * 32
    entries = [
        (0, Signal("pdq", value, rules.MIN_QUALITY - 1, "original")),
        (1, Signal("pdq", value, rules.MIN_QUALITY, "original")),
        (2, Signal("other", value, 100, "original")),
    ]
    index = PdqIndex.build(entries)
    assert len(index) == 1
    assert index.search([value], 0) == [[(1, 1, 0)]]
    assert len(PdqIndex.build(entries, min_quality=0)) == 2


def test_an_empty_index_or_no_queries_find_nothing() -> None:
    empty = PdqIndex.build([])
    assert empty.search(["ab" * 32, "cd" * 32], 256) == [[], []]
    assert PdqIndex.build([(0, Signal("pdq", "ab" * 32, 100, "x"))]).search([], 31) == []


def test_bit_order_matches_the_hex_string() -> None:
    words = pdq_words(["80" + "00" * 31, "00" * 31 + "01"])
    assert words[0].tolist() == [1 << 63, 0, 0, 0]
    assert words[1].tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize("radius", [-1, 257])
def test_a_radius_outside_0_to_256_is_refused(radius: int) -> None:
    with pytest.raises(ValueError, match="radius"):
        PdqIndex.build([]).search([], radius)


@pytest.mark.parametrize("value", ["ab" * 31, "AB" * 32, "zz" * 32, " a" * 32])
def test_a_query_that_is_not_64_lowercase_hex_is_an_input_error(value: str) -> None:
    with pytest.raises(InputError, match="64 lowercase hex"):
        PdqIndex.build([]).search([value], 31)


def test_an_index_larger_than_one_block_is_searched_to_the_end() -> None:
    rng = random.Random(5)
    values = [rng.getrandbits(256) for _ in range(265_000)]
    entries = [(i // 8, Signal("pdq", as_hex(v), 100, "original")) for i, v in enumerate(values)]
    planted = [near(values[-1], [3, 70]), values[0], values[200_000]]
    expected = [
        [(i // 8, i, d) for i, v in enumerate(values) if (d := (q ^ v).bit_count()) <= 90]
        for q in planted
    ]
    found = PdqIndex.build(entries).search([as_hex(q) for q in planted], 90)
    assert found == [sorted(hits, key=lambda hit: (hit[2], hit[1])) for hits in expected]
    assert found[0][0] == (len(values) // 8 - 1, len(values) - 1, 2)
