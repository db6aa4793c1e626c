"""Undoing a small rotation (hashing/derotate.py): a photo turned by a few degrees inside a
filled canvas is found, its angle read to a few tenths, and turned back to nearly its PDQ;
photos that were not turned are left alone, and odd inputs give None."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from takedown.hashing.derotate import MIN_DEGREES, derotate, rotation_angle
from takedown.hashing.pdq import pdq_from_rgb
from tests.conftest import PHOTOS_DEV

Pixels = npt.NDArray[np.uint8]
Colour = tuple[int, int, int]

PHOTOS = sorted(PHOTOS_DEV.glob("*.jpg"))
TURNED = PHOTOS[::30]  # 10 photos
JPEG_TURNED = PHOTOS[::60]  # 5 photos
QUIET = PHOTOS[::10]  # 30 photos
ANGLES = (3.0, -3.0, 5.0, -5.0, 8.0, -8.0)
BLACK: Colour = (0, 0, 0)
WHITE: Colour = (255, 255, 255)


@cache
def _photo(path: Path) -> Pixels:
    with Image.open(path) as image:
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    pixels.setflags(write=False)
    return pixels


def _turn(pixels: Pixels, angle: float, fill: Colour) -> Pixels:
    turned = Image.fromarray(pixels).rotate(
        angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill
    )
    return np.ascontiguousarray(np.asarray(turned))


def _jpeg(pixels: Pixels, quality: int) -> Pixels:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return np.ascontiguousarray(np.asarray(image.convert("RGB")))


def _pad(pixels: Pixels, top: int, bottom: int, left: int, right: int, colour: Colour) -> Pixels:
    height, width = pixels.shape[:2]
    canvas = np.empty((height + top + bottom, width + left + right, 3), dtype=np.uint8)
    canvas[:] = colour
    canvas[top : top + height, left : left + width] = pixels
    return canvas


def test_the_photos_are_there() -> None:
    assert len(PHOTOS) == 300
    assert (len(TURNED), len(JPEG_TURNED), len(QUIET)) == (10, 5, 30)


@pytest.mark.parametrize("path", TURNED, ids=lambda p: p.name)
def test_a_turned_photo_is_found_and_turned_back(path: Path) -> None:
    photo = _photo(path)
    original = pdq_from_rgb(photo)
    index = TURNED.index(path)
    for k, angle in enumerate(ANGLES):
        fill = BLACK if (index + k) % 2 else WHITE
        canvas = _turn(photo, angle, fill)
        found = rotation_angle(canvas)
        assert found is not None, (angle, fill)
        assert abs(found - angle) <= 0.3, (angle, fill, found)
        if (index + k // 2) % 2:
            continue  # turning back is slower: every angle and fill is covered over the photos
        upright = derotate(canvas)
        assert upright is not None
        assert abs(upright.shape[0] - photo.shape[0]) <= 4, (angle, fill, upright.shape)
        assert abs(upright.shape[1] - photo.shape[1]) <= 4, (angle, fill, upright.shape)
        assert pdq_from_rgb(upright).distance(original) <= 31, (angle, fill)


@pytest.mark.parametrize("path", JPEG_TURNED, ids=lambda p: p.name)
def test_a_turned_photo_is_found_after_a_jpeg_round_trip(path: Path) -> None:
    photo = _photo(path)
    index = JPEG_TURNED.index(path)
    for k, angle in enumerate(ANGLES):
        fill = WHITE if (index + k) % 2 else BLACK
        found = rotation_angle(_jpeg(_turn(photo, angle, fill), 85))
        assert found is not None, (angle, fill)
        assert abs(found - angle) <= 0.4, (angle, fill, found)


def test_an_eight_degree_turn_on_white_survives_jpeg() -> None:
    photo = _photo(PHOTOS_DEV / "12003.jpg")
    found = rotation_angle(_jpeg(_turn(photo, 8.0, WHITE), 85))
    assert found is not None
    assert abs(found - 8.0) <= 0.4


def test_photos_that_were_not_turned_give_none() -> None:
    found = {path.name: rotation_angle(_photo(path)) for path in QUIET}
    assert {name: angle for name, angle in found.items() if angle is not None} == {}
    assert all(derotate(_photo(path)) is None for path in QUIET[::3])


def test_a_bar_on_one_side_is_not_taken_for_a_turn() -> None:
    colours = (BLACK, WHITE, (90, 140, 30))
    found = {}
    for index, path in enumerate(QUIET):
        side = 60 * (index % 2), 60 * (1 - index % 2)
        canvas = _pad(_photo(path), 0, 0, *side, colours[index % 3])
        angle = rotation_angle(canvas)
        if angle is not None:
            found[path.name] = angle
    assert found == {}


def _blank() -> Pixels:
    return np.full((200, 300, 3), 255, dtype=np.uint8)


def _framed_all_round() -> Pixels:
    return _pad(_photo(PHOTOS_DEV / "100075.jpg"), 20, 20, 20, 20, WHITE)


def _pillarboxed_portrait() -> Pixels:
    return _pad(_photo(PHOTOS_DEV / "15004.jpg"), 0, 0, 40, 40, WHITE)


def _dark_photo_with_black_bar() -> Pixels:
    return _pad(_photo(PHOTOS_DEV / "59078.jpg"), 40, 0, 0, 0, BLACK)


def _half_a_degree() -> Pixels:
    return _turn(_photo(PHOTOS_DEV / "100075.jpg"), 0.5, BLACK)


def _dark_photo_turned_a_tenth() -> Pixels:
    return _turn(_photo(PHOTOS_DEV / "45096.jpg"), 0.1, BLACK)


@pytest.mark.parametrize(
    "canvas",
    [
        pytest.param(_blank, id="blank"),
        pytest.param(_framed_all_round, id="20px-frame"),
        pytest.param(_pillarboxed_portrait, id="pillarbox"),
        pytest.param(_dark_photo_with_black_bar, id="dark-top-bar"),
        pytest.param(_dark_photo_turned_a_tenth, id="dark-turned-0.1"),
        pytest.param(_half_a_degree, id="turned-0.5"),
    ],
)
def test_canvases_not_turned_by_min_degrees_give_none(canvas: Callable[[], Pixels]) -> None:
    assert rotation_angle(canvas()) is None


def test_a_quarter_degree_turn_on_white_gives_none() -> None:
    assert MIN_DEGREES == 0.75
    found = {}
    for index, path in enumerate(QUIET):
        angle = 0.25 if index % 2 else -0.25
        angle_found = rotation_angle(_turn(_photo(path), angle, WHITE))
        if angle_found is not None:
            found[path.name] = angle_found
    assert found == {}


@pytest.mark.parametrize(
    "shape",
    [(16, 16, 3), (1, 400, 3), (400, 1, 3), (31, 400, 3), (0, 0, 3), (2, 2, 3)],
    ids=str,
)
def test_tiny_inputs_give_none(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    for pixels in (
        np.zeros(shape, dtype=np.uint8),
        np.full(shape, 255, dtype=np.uint8),
        rng.integers(0, 256, shape, dtype=np.uint8),
    ):
        assert rotation_angle(pixels) is None
        assert derotate(pixels) is None


def test_noise_and_a_canvas_with_unlike_corners_give_none() -> None:
    rng = np.random.default_rng(8)
    noise = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert rotation_angle(noise) is None
    assert derotate(noise) is None
    turned = _turn(_photo(TURNED[0]), 5.0, BLACK).copy()
    turned[-1, -1] = WHITE  # one corner no longer shares the fill colour
    assert rotation_angle(turned) is None
