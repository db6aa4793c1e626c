"""Border trimming (hashing/trim.py): the picture inside a uniform frame, a meme's caption bars
or a letterbox comes out exactly; JPEG and frames leave what is trimmed inside unchanged."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from takedown.hashing.trim import MIN_KEPT, MIN_KEPT_PERMILLE, Box, trim_box
from tests.conftest import PHOTOS_DEV

Pixels = npt.NDArray[np.uint8]
Colour = tuple[int, int, int]

PHOTOS = sorted(PHOTOS_DEV.glob("*.jpg"))
SAMPLE = PHOTOS[::15]  # 20 photos spread over the set
FRAMED = PHOTOS[::50][:5]
"""Photos for exact boxes (used without their outer 4 px: several photos-dev photos carry a
1-4 px plain strip at an edge, which a frame rightly merges into the cut)."""

JPEG_SLACK = 2
"""Pixels a JPEG round trip may move an edge: ringing and 4:2:0 chroma blocks carry the
picture's colours a pixel or two into a frame (off by 2 in about a fifth of saturated frames)."""

WHITE: Colour = (255, 255, 255)
BLACK: Colour = (0, 0, 0)


@cache
def _photo(path: Path) -> Pixels:
    with Image.open(path) as image:
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    pixels.setflags(write=False)
    return pixels


@cache
def _inner(path: Path) -> Pixels:
    pixels = np.ascontiguousarray(_photo(path)[4:-4, 4:-4])
    pixels.setflags(write=False)
    return pixels


@cache
def _box(path: Path) -> Box | None:
    return trim_box(_photo(path))


def _jpeg(pixels: Pixels, quality: int) -> Pixels:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return np.ascontiguousarray(np.asarray(image.convert("RGB")))


def _frame(picture: Pixels, top: int, bottom: int, left: int, right: int, colour: Colour) -> Pixels:
    height, width = picture.shape[:2]
    canvas = np.empty((height + top + bottom, width + left + right, 3), dtype=np.uint8)
    canvas[:] = colour
    canvas[top : top + height, left : left + width] = picture
    return canvas


def _texture(seed: int, height: int, width: int) -> Pixels:
    """A synthetic picture with no plain line: a colour ramp under strong noise."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    ramp = np.stack([rows * 3, cols * 2, rows + cols], axis=-1) % 256
    noise = rng.integers(-60, 61, (height, width, 3))
    return np.asarray(np.clip(ramp + noise, 0, 255), dtype=np.uint8)


def _within(a: Box | None, b: Box | None, tolerance: int) -> bool:
    if a is None or b is None:
        return a is b
    pairs = zip((a.top, a.left, a.bottom, a.right), (b.top, b.left, b.bottom, b.right), strict=True)
    return all(abs(x - y) <= tolerance for x, y in pairs)


def test_the_photos_are_there() -> None:
    assert len(PHOTOS) == 300
    assert len(SAMPLE) == 20


frames = st.tuples(
    *(st.floats(0.10, 0.40) for _ in range(4)),
    st.lists(st.booleans(), min_size=4, max_size=4).filter(any),
    st.tuples(*(st.integers(0, 255) for _ in range(3))),
)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(60, 140), st.integers(60, 140), frames)
def test_a_uniform_frame_on_random_sides_is_cut_exactly(
    seed: int,
    height: int,
    width: int,
    frame: tuple[float, float, float, float, list[bool], Colour],
) -> None:
    *shares, sides, colour = frame
    picture = _texture(seed, height, width)
    scale = (height, height, width, width)
    top, bottom, left, right = (
        int(share * side) if on else 0 for share, side, on in zip(shares, scale, sides, strict=True)
    )
    framed = _frame(picture, top, bottom, left, right, colour)
    assert trim_box(picture) is None
    assert trim_box(framed) == Box(top, left, top + height, left + width)


FRAME_COLOURS: list[Colour] = [BLACK, WHITE, (128, 128, 128), (200, 40, 90), (20, 60, 30)]


@pytest.mark.parametrize(
    ("path", "colour"),
    list(zip(FRAMED, FRAME_COLOURS, strict=True)),
    ids=[f"{p.name}-{c}" for p, c in zip(FRAMED, FRAME_COLOURS, strict=True)],
)
def test_a_photo_in_a_uniform_frame_is_cut_exactly(path: Path, colour: Colour) -> None:
    picture = _inner(path)
    height, width = picture.shape[:2]
    assert trim_box(picture) is None
    rng = np.random.default_rng(sum(colour) + height)
    sides = rng.integers(0, 2, 4)
    sides[rng.integers(0, 4)] = 1
    shares = rng.uniform(0.10, 0.40, 4)
    top, bottom, left, right = (
        int(on) * int(share * side)
        for on, share, side in zip(sides, shares, (height, height, width, width), strict=True)
    )
    framed = _frame(picture, top, bottom, left, right, colour)
    expected = Box(top, left, top + height, left + width)
    assert trim_box(framed) == expected, (top, bottom, left, right)
    assert _within(trim_box(_jpeg(framed, 90)), expected, JPEG_SLACK)


def _caption_bar(width: int, height: int, text: str) -> Pixels:
    bar = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(bar)
    font = ImageFont.load_default(size=height // 2)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x, y = (width - (right - left)) // 2 - left, (height - (bottom - top)) // 2 - top
    draw.text((x, y), text, fill=BLACK, font=font)
    pixels = np.asarray(bar)
    assert (pixels < 128).any(axis=2).sum() > 0.02 * width * height  # there is text
    return pixels


@pytest.mark.parametrize("path", FRAMED[:2], ids=lambda p: p.name)
def test_a_meme_gives_the_photo_between_its_caption_bars(path: Path) -> None:
    picture = _inner(path)
    height, width = picture.shape[:2]
    above = _caption_bar(width, height // 4, "WHEN THE PHOTO")
    below = _caption_bar(width, height // 5, "IS STILL YOURS")
    meme = np.ascontiguousarray(np.concatenate([above, picture, below]))
    expected = Box(above.shape[0], 0, above.shape[0] + height, width)
    assert trim_box(meme) == expected
    assert _within(trim_box(_jpeg(meme, 90)), expected, JPEG_SLACK)


def test_the_default_font_meme_text_is_left_out_too() -> None:
    picture = _inner(FRAMED[0])
    height, width = picture.shape[:2]
    bar = Image.new("RGB", (width, 60), WHITE)
    ImageDraw.Draw(bar).text((20, 25), "top text, small and plain", fill=BLACK)
    bar_pixels = np.asarray(bar)
    assert (bar_pixels < 128).any()
    meme = np.ascontiguousarray(np.concatenate([bar_pixels, picture, bar_pixels[::-1]]))
    assert trim_box(meme) == Box(60, 0, 60 + height, width)


@pytest.mark.parametrize("path", FRAMED[2:4], ids=lambda p: p.name)
def test_letterbox_and_pillarbox_bars_are_cut(path: Path) -> None:
    picture = _inner(path)
    height, width = picture.shape[:2]
    bars = height * 3 // 10
    letterbox = _frame(picture, bars, bars, 0, 0, BLACK)
    assert trim_box(letterbox) == Box(bars, 0, bars + height, width)
    assert _within(trim_box(_jpeg(letterbox, 85)), Box(bars, 0, bars + height, width), JPEG_SLACK)
    side = width // 4
    pillarbox = _frame(picture, 0, 0, side, side, BLACK)
    assert trim_box(pillarbox) == Box(0, side, height, side + width)


def test_a_photo_without_border_gives_the_same_answer_after_jpeg() -> None:
    stable = [_within(_box(path), trim_box(_jpeg(_photo(path), 90)), 2) for path in SAMPLE]
    assert sum(stable) >= 18, [p.name for p, ok in zip(SAMPLE, stable, strict=True) if not ok]
    # Most photos have no plain border at all: the check above is mostly None against None.
    assert sum(_box(path) is None for path in SAMPLE) >= 14


def test_a_frame_does_not_change_what_is_trimmed_inside() -> None:
    rng = np.random.default_rng(20)
    same = []
    for path in SAMPLE:
        picture = _photo(path)
        height, width = picture.shape[:2]
        sides = rng.integers(0, 2, 4)
        sides[rng.integers(0, 4)] = 1
        top, bottom, left, right = (
            int(on) * int(share * side)
            for on, share, side in zip(
                sides, rng.uniform(0.10, 0.25, 4), (height, height, width, width), strict=True
            )
        )
        colour = (int(rng.integers(0, 256)), int(rng.integers(0, 256)), int(rng.integers(0, 256)))
        box = trim_box(_frame(picture, top, bottom, left, right, colour))
        assert box is not None
        inside = Box(box.top - top, box.left - left, box.bottom - top, box.right - left)
        same.append((None if inside == Box(0, 0, height, width) else inside) == _box(path))
    assert sum(same) >= 18, [p.name for p, ok in zip(SAMPLE, same, strict=True) if not ok]


@pytest.mark.parametrize("transpose", [False, True])
def test_a_trim_keeping_less_than_min_kept_is_not_made(transpose: bool) -> None:
    side = 400
    least = side * MIN_KEPT_PERMILLE // 1000
    assert least == int(side * MIN_KEPT)

    def strip(rows: int) -> Pixels:
        canvas = np.full((side, side, 3), 200, dtype=np.uint8)
        canvas[150 : 150 + rows, 40:360] = _texture(rows, rows, 320)
        return np.ascontiguousarray(canvas.transpose(1, 0, 2) if transpose else canvas)

    def box(top: int, bottom: int) -> Box:
        return Box(40, top, 360, bottom) if transpose else Box(top, 40, bottom, 360)

    assert trim_box(strip(20)) is None
    assert trim_box(strip(least - 1)) is None
    assert trim_box(strip(least)) == box(150, 150 + least)
    assert trim_box(strip(least + 30)) == box(150, 150 + least + 30)


def test_a_narrow_picture_in_a_wide_frame_is_not_trimmed() -> None:
    canvas = np.full((300, 800, 3), 30, dtype=np.uint8)
    canvas[20:280, 300:490] = _texture(1, 260, 190)  # 190 / 800 < MIN_KEPT of the width
    assert trim_box(canvas) is None
    canvas[20:280, 300:500] = _texture(2, 260, 200)  # exactly MIN_KEPT
    assert trim_box(canvas) == Box(20, 300, 280, 500)


@pytest.mark.parametrize(
    "shape", [(1, 1, 3), (1, 200, 3), (200, 1, 3), (2, 2, 3), (300, 200, 3)], ids=str
)
def test_tiny_and_one_colour_images_give_none(shape: tuple[int, int, int]) -> None:
    for value in (0, 128, 255):
        assert trim_box(np.full(shape, value, dtype=np.uint8)) is None
