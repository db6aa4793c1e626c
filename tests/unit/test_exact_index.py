"""ExactIndex finds the ids holding a digest, through adds, replacements and removes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from takedown.errors import InputError
from takedown.matching.index import ExactIndex

MD5 = ["0" * 32, "f" * 32, "0123456789abcdef" * 2]


def test_equal_digests_are_found_under_every_id_that_holds_them() -> None:
    index = ExactIndex("md5")
    index.add([3, 1, 2], [MD5[0], MD5[1], MD5[0]])
    assert index.search([MD5[0], MD5[1], MD5[2]]) == [[2, 3], [1], []]
    assert len(index) == 3


def test_a_removed_id_stops_matching_and_can_be_added_again() -> None:
    index = ExactIndex("md5")
    index.add([1, 2], [MD5[0], MD5[0]])
    index.remove([1, 99])
    assert index.search([MD5[0]]) == [[2]]
    index.remove([2])
    assert index.search([MD5[0]]) == [[]]
    assert len(index) == 0
    index.add([1], [MD5[0]])
    assert index.search([MD5[0]]) == [[1]]


def test_re_adding_an_id_replaces_its_digest() -> None:
    index = ExactIndex("sha256")
    index.add([1], ["a" * 64])
    index.add(np.array([1], dtype=np.int64), ["b" * 64])
    assert index.search(["a" * 64, "b" * 64]) == [[], [1]]
    index.add([4, 4], ["c" * 64, "d" * 64])
    assert index.search(["c" * 64, "d" * 64]) == [[], [4]]
    assert 4 in index
    assert 2 not in index


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.lists(st.tuples(st.integers(0, 9), st.sampled_from(MD5)), max_size=6),
        ),
        max_size=10,
    )
)
def test_searches_agree_with_a_dict_after_any_history(
    steps: list[tuple[bool, list[tuple[int, str]]]],
) -> None:
    index = ExactIndex("md5")
    model: dict[int, str] = {}
    for adding, pairs in steps:
        if adding:
            index.add([i for i, _ in pairs], [h for _, h in pairs])
            model.update(pairs)
        else:
            index.remove([i for i, _ in pairs])
            for i, _ in pairs:
                model.pop(i, None)
        assert index.search(MD5) == [sorted(i for i, h in model.items() if h == d) for d in MD5]
        assert len(index) == len(model)


@pytest.mark.parametrize(
    ("ids", "hexes", "message"),
    [
        ([1], ["F" * 32], "32 lowercase hex"),
        ([1], ["0" * 64], "32 lowercase hex"),
        ([1, 2], [MD5[0]], "2 ids for 1 digests"),
        ([True], [MD5[0]], "integers"),
        (["1"], [MD5[0]], "integers"),
        ([1], MD5[0], "one string"),
    ],
)
def test_bad_input_is_an_input_error(ids: list[object], hexes: object, message: str) -> None:
    index = ExactIndex("md5")
    with pytest.raises(InputError, match=message):
        index.add(ids, hexes)  # type: ignore[arg-type]
    assert len(index) == 0
    with pytest.raises(InputError, match="32 lowercase hex"):
        index.search([None])  # type: ignore[list-item]


def test_only_md5_and_sha256_are_known() -> None:
    with pytest.raises(ValueError, match="md5"):
        ExactIndex("sha1")  # type: ignore[arg-type]
