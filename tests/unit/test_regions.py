"""Region hashes (hashing/regions.py): level factors, integer luma, Harris corners that move
with the picture and stay exact in 53 bits, and patch hashes that survive a crop."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from takedown.hashing import regions
from takedown.hashing.pdq import pdq_from_rgb
from takedown.hashing.regions import (
    LEVEL_MIN_SIDE,
    MIN_PATCH_QUALITY,
    PATCH_SIZE,
    SUPPRESSION_RADIUS,
    Corner,
    corners,
    harris_response,
    integer_luma,
    level_factor,
    patch_hashes,
)
from tests.conftest import PHOTOS_DEV

Pixels = npt.NDArray[np.uint8]

PHOTOS = sorted(PHOTOS_DEV.glob("*.jpg"))
SAMPLE = PHOTOS[::30]  # 10 photos spread over the set


@cache
def _photo(path: Path) -> Pixels:
    with Image.open(path) as image:
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    pixels.setflags(write=False)
    return pixels


def _grey(plane: npt.NDArray[np.integer]) -> Pixels:
    return np.ascontiguousarray(np.repeat(plane.astype(np.uint8)[..., None], 3, axis=2))


def _chebyshev(a: Corner, b: Corner) -> int:
    return max(abs(a.row - b.row), abs(a.col - b.col))


def test_the_photos_are_there() -> None:
    assert len(PHOTOS) == 300
    assert len(SAMPLE) == 10


@pytest.mark.parametrize(
    ("width", "height", "factor"),
    [(481, 321, 1), (1024, 600, 2), (600, 1024, 2), (4032, 3024, 8), (100, 50, 1), (512, 512, 2)],
)
def test_the_level_factor_of_common_sizes(width: int, height: int, factor: int) -> None:
    assert level_factor(width, height) == factor


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 100_000), st.integers(1, 100_000))
def test_the_level_factor_is_the_largest_power_of_two_keeping_the_short_side(
    width: int, height: int
) -> None:
    p = level_factor(width, height)
    short = min(width, height)
    assert p >= 1
    assert p & (p - 1) == 0
    if short >= LEVEL_MIN_SIDE:
        assert short // p >= LEVEL_MIN_SIDE > short // (2 * p)
    else:
        assert p == 1


def test_integer_luma_is_the_documented_integer_formula() -> None:
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    luma = integer_luma(pixels)
    assert luma.dtype == np.int64
    assert luma.shape == (37, 53)
    for row in range(37):
        for col in range(53):
            r, g, b = (int(v) for v in pixels[row, col])
            assert luma[row, col] == (77 * r + 150 * g + 29 * b + 128) >> 8
    extremes = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]]], dtype=np.uint8)
    assert integer_luma(extremes).tolist() == [[0, 255, 77, 29]]


@pytest.mark.parametrize("path", SAMPLE[::2], ids=lambda p: p.name)
@pytest.mark.parametrize("margin", [0, PATCH_SIZE // 2])
def test_corners_move_with_the_picture_under_an_integer_crop(path: Path, margin: int) -> None:
    pixels = _photo(path)
    height, width = pixels.shape[:2]
    rng = np.random.default_rng(len(path.name) * 100 + margin)
    dy, dx = (int(v) for v in rng.integers(3, 50, size=2))
    crop_h = height - dy - int(rng.integers(0, 40))
    crop_w = width - dx - int(rng.integers(0, 40))
    crop = np.ascontiguousarray(pixels[dy : dy + crop_h, dx : dx + crop_w])
    # A corner's suppression window must lie inside the crop's response, which starts `offset`
    # pixels in; the margin filter must keep it on both sides.
    offset = harris_response(crop[:40, :40])[1]
    guard = max(SUPPRESSION_RADIUS + offset, margin)

    def well_inside(row: int, col: int) -> bool:
        return bool(guard <= row < crop_h - guard and guard <= col < crop_w - guard)

    moved = {
        (c.row - dy, c.col - dx, c.response)
        for c in corners(pixels, margin)
        if well_inside(c.row - dy, c.col - dx)
    }
    found = [(c.row, c.col, c.response) for c in corners(crop, margin)]
    assert moved, "no corner well inside the crop: the check would be empty"
    assert moved <= set(found)
    assert {c for c in found if well_inside(c[0], c[1])} == moved


@pytest.mark.parametrize("period", [1, 2, 3, 4, 5, 7, 8, 16, 24])
def test_the_harris_response_stays_exact_in_53_bits_on_checkerboards(period: int) -> None:
    rows, cols = np.mgrid[0:160, 0:160]
    board = _grey((rows // period + cols // period) % 2 * 255)
    response, offset = harris_response(board)
    assert response.dtype == np.int64
    assert response.shape == (160 - 2 * offset, 160 - 2 * offset)
    assert int(np.abs(response).max()) < 2**53


def test_the_harris_response_stays_exact_in_53_bits_on_black_and_white_noise() -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        noise = _grey(rng.integers(0, 2, (150, 170)) * 255)
        response, _ = harris_response(noise)
        assert int(np.abs(response).max()) < 2**53
    colour = rng.integers(0, 2, (150, 170, 3)).astype(np.uint8) * 255
    assert int(np.abs(harris_response(colour)[0]).max()) < 2**53


def test_flat_images_and_straight_ramps_have_no_corners() -> None:
    for value in (0, 77, 255):
        assert corners(np.full((120, 140, 3), value, dtype=np.uint8), 0) == []
    ramp = _grey(np.tile(np.arange(200), (120, 1)))
    assert corners(ramp, 0) == []
    step = _grey(np.where(np.arange(200) < 100, 20, 230)[None, :].repeat(120, axis=0))
    assert corners(step, 0) == []


def test_images_too_small_for_the_window_or_margin_have_no_corners() -> None:
    rng = np.random.default_rng(5)
    small = rng.integers(0, 256, (2 * (regions.WINDOW + 8) - 1, 100, 3), dtype=np.uint8)
    assert corners(small, 0) == []
    medium = rng.integers(0, 256, (90, 300, 3), dtype=np.uint8)
    assert corners(medium, 46) == []
    assert corners(medium, 0) != []


@pytest.mark.parametrize("path", SAMPLE, ids=lambda p: p.name)
def test_corners_are_strongest_first_and_suppress_their_neighbours(path: Path) -> None:
    pixels = _photo(path)
    found = corners(pixels, 0)
    assert len(found) >= 3
    keys = [(-c.response, c.row, c.col) for c in found]
    assert keys == sorted(keys)
    assert all(c.response > 0 for c in found)
    for i, a in enumerate(found):
        for b in found[i + 1 :]:
            assert _chebyshev(a, b) > SUPPRESSION_RADIUS, (a, b)


def _repeated_glyphs() -> Pixels:
    image = Image.new("RGB", (480, 160), (255, 255, 255))
    ImageDraw.Draw(image).text(
        (10, 50), "MMMMMMMMMMMM", fill=(0, 0, 0), font=ImageFont.load_default(size=40)
    )
    return np.ascontiguousarray(np.asarray(image))


def test_equal_responses_are_ordered_by_row_then_column() -> None:
    found = corners(_repeated_glyphs(), 0)
    ties = [c for c in found if c.response == found[0].response]
    assert len(ties) >= 2
    assert ties == sorted(ties, key=lambda c: (c.row, c.col))
    keys = [(-c.response, c.row, c.col) for c in found]
    assert keys == sorted(keys)


def test_identical_glyphs_do_not_each_claim_a_corner() -> None:
    found = corners(_repeated_glyphs(), 0)
    for i, a in enumerate(found):
        for b in found[i + 1 :]:
            assert _chebyshev(a, b) > SUPPRESSION_RADIUS, (a, b)


@pytest.mark.parametrize("path", SAMPLE[:4], ids=lambda p: p.name)
def test_patches_are_the_pdq_of_the_square_around_good_corners(path: Path) -> None:
    pixels = _photo(path)
    patches = patch_hashes(pixels, 18)
    assert patches
    half = PATCH_SIZE // 2

    def block(corner: Corner) -> Pixels:
        top, left = corner.row - half, corner.col - half
        out = np.ascontiguousarray(pixels[top : top + PATCH_SIZE, left : left + PATCH_SIZE])
        assert out.shape == (PATCH_SIZE, PATCH_SIZE, 3)
        return out

    # Strongest corners first; a corner before the last patch is skipped only for low quality.
    candidates = corners(pixels, half)
    last = candidates.index(patches[-1].corner)
    kept = [
        c for c in candidates[: last + 1] if pdq_from_rgb(block(c)).quality >= MIN_PATCH_QUALITY
    ]
    assert [p.corner for p in patches] == kept
    for patch in patches:
        assert patch.hash.quality >= MIN_PATCH_QUALITY
        assert patch.hash == pdq_from_rgb(block(patch.corner))


@pytest.mark.parametrize("path", SAMPLE[:2], ids=lambda p: p.name)
def test_the_count_is_respected_and_fewer_patches_are_a_prefix(path: Path) -> None:
    pixels = _photo(path)
    every = patch_hashes(pixels, 1000)
    assert len(every) >= 3
    assert patch_hashes(pixels, 0) == []
    for count in (1, 2, len(every) - 1, len(every), len(every) + 5):
        assert patch_hashes(pixels, count) == every[:count]


def test_corners_whose_patches_are_nearly_flat_give_no_patch() -> None:
    # A faint square on a flat ground: Harris finds its corners, but the patches around them
    # have PDQ quality far below MIN_PATCH_QUALITY.
    canvas = np.full((300, 300, 3), 128, dtype=np.uint8)
    canvas[100:200, 100:200] = 131
    assert len(corners(canvas, PATCH_SIZE // 2)) == 4
    assert patch_hashes(canvas, 10) == []


def test_a_pixel_exact_crop_keeps_at_least_one_identical_patch() -> None:
    rng = np.random.default_rng(11)
    matched = []
    for path in SAMPLE:
        pixels = _photo(path)
        height, width = pixels.shape[:2]
        keep_h, keep_w = height * 4 // 5, width * 4 // 5  # 20 % of each side cut away
        top = int(rng.integers(0, height - keep_h + 1))
        left = int(rng.integers(0, width - keep_w + 1))
        crop = np.ascontiguousarray(pixels[top : top + keep_h, left : left + keep_w])
        listed = {p.hash.hex for p in patch_hashes(pixels, 18)}
        queried = {p.hash.hex for p in patch_hashes(crop, 8)}
        matched.append(bool(listed & queried))
    assert sum(matched) >= 9, matched
