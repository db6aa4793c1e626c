"""VideoIndex: a query video matches a listed one when >= 80 % of its usable frames match."""

from __future__ import annotations

import random

import pytest

from takedown.errors import InputError
from takedown.matching.index import VideoIndex, VideoMatch


def as_hex(value: int) -> str:
    return f"{value:064x}"


def flip(value: int, count: int, rng: random.Random) -> int:
    for bit in rng.sample(range(256), count):
        value ^= 1 << bit
    return value


@pytest.fixture
def rng() -> random.Random:
    return random.Random(11)


def test_a_video_matches_when_80_percent_of_usable_frames_are_near(rng: random.Random) -> None:
    listed = [rng.getrandbits(256) for _ in range(10)]
    index = VideoIndex()
    index.add(7, [as_hex(v) for v in listed], [100] * 10)
    index.add(8, [as_hex(rng.getrandbits(256)) for _ in range(10)], [100] * 10)
    # 8 of 10 frames near a listed frame (distances 0..7), 2 unrelated.
    query = [flip(listed[i], i, rng) for i in range(8)] + [rng.getrandbits(256)] * 2
    found = index.search([as_hex(q) for q in query], [90] * 10)
    assert found == [VideoMatch(video=7, matched_frames=8, usable_frames=10, distance=4)]
    # 7 of 10: not enough.
    query[7] = rng.getrandbits(256)
    assert index.search([as_hex(q) for q in query], [90] * 10) == []


def test_low_quality_frames_do_not_count_on_either_side(rng: random.Random) -> None:
    listed = [rng.getrandbits(256) for _ in range(5)]
    index = VideoIndex()
    index.add(1, [as_hex(v) for v in listed], [100, 100, 100, 100, 49])
    assert index.frames == 4
    query = [as_hex(v) for v in listed] + [as_hex(rng.getrandbits(256))] * 3
    # Query frames 5-7 are unrelated but of low quality: 4 of 5 usable frames match.
    found = index.search(query, [100, 100, 100, 100, 100, 10, 0, 49])
    assert found == [VideoMatch(1, 4, 5, 0)]
    assert index.search(query[:4], [0, 0, 0, 0]) == []


def test_the_threshold_is_per_frame_and_inclusive(rng: random.Random) -> None:
    listed = rng.getrandbits(256)
    index = VideoIndex()
    index.add(3, [as_hex(listed)], [100])
    at_31 = as_hex(flip(listed, 31, rng))
    assert index.search([at_31], [100]) == [VideoMatch(3, 1, 1, 31)]
    assert index.search([at_31], [100], threshold=30) == []


def test_removed_and_replaced_videos_stop_matching(rng: random.Random) -> None:
    frames = [as_hex(rng.getrandbits(256)) for _ in range(4)]
    other = [as_hex(rng.getrandbits(256)) for _ in range(4)]
    index = VideoIndex()
    index.add(1, frames, [80] * 4)
    index.add(2, frames + frames, [80] * 8)
    assert [m.video for m in index.search(frames, [80] * 4)] == [1, 2]
    assert index.frames == 8  # video 2's repeated frames are stored once
    index.remove([1, 5])
    assert [m.video for m in index.search(frames, [80] * 4)] == [2]
    index.add(2, other, [80] * 4)
    assert index.search(frames, [80] * 4) == []
    assert [m.video for m in index.search(other, [80] * 4)] == [2]
    assert len(index) == 1
    assert 2 in index
    assert 1 not in index


def test_matches_are_ordered_by_distance_then_video(rng: random.Random) -> None:
    base = rng.getrandbits(256)
    index = VideoIndex()
    index.add(9, [as_hex(flip(base, 3, rng))], [100])
    index.add(4, [as_hex(flip(base, 3, rng))], [100])
    index.add(6, [as_hex(base)], [100])
    found = index.search([as_hex(base)], [100])
    assert [(m.video, m.distance) for m in found] == [(6, 0), (4, 3), (9, 3)]


@pytest.mark.parametrize(
    ("qualities", "message"),
    [
        ([100], "got 1 qualities for 2 frames"),
        ([100, 100, 100], "got 3 qualities for 2 frames"),
        ([100, 101], "integers 0-100"),
        ([-1, 50], "integers 0-100"),
        ([50.0, 50.0], "integers 0-100"),
    ],
)
def test_bad_qualities_are_an_input_error(qualities: list[int], message: str) -> None:
    index = VideoIndex()
    with pytest.raises(InputError, match=message):
        index.add(1, ["ab" * 32, "cd" * 32], qualities)
    with pytest.raises(InputError, match=message):
        index.search(["ab" * 32, "cd" * 32], qualities)
    assert len(index) == 0


@pytest.mark.parametrize("video", [True, "1", 1.0])
def test_a_video_id_must_be_an_integer(video: object) -> None:
    with pytest.raises(InputError, match="video id"):
        VideoIndex().add(video, ["ab" * 32], [100])  # type: ignore[arg-type]
