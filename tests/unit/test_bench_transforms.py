"""The robustness benchmark's transformation suite (bench/transforms.py): determinism, the
geometry each family promises (crop area, pad coverage, rot90 sizes), and RGB output."""

from __future__ import annotations

import io
import math
import random
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bench import transforms
from bench.transforms import FAMILIES, Copy, Family, make_copy

WIDTH, HEIGHT = 320, 240
SEEDS = range(40)


@pytest.fixture(scope="module")
def image() -> Image.Image:
    """A 320x240 test image: a colour gradient with a few shapes."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    pixels = np.stack(
        [xs * 255 // (WIDTH - 1), ys * 255 // (HEIGHT - 1), (xs + ys) * 255 // (WIDTH + HEIGHT)],
        axis=-1,
    ).astype(np.uint8)
    out = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(out)
    draw.ellipse((30, 40, 130, 140), fill=(250, 250, 30))
    draw.rectangle((180, 60, 290, 200), fill=(20, 20, 160))
    draw.polygon([(60, 220), (150, 160), (240, 225)], fill=(200, 30, 30))
    return out


@pytest.fixture(scope="module")
def copies(image: Image.Image) -> dict[str, Copy]:
    return {family: make_copy(image, family, 7) for family in FAMILIES}


def _decode(copy: Copy) -> Image.Image:
    with Image.open(io.BytesIO(copy.data)) as opened:
        assert opened.format == ("PNG" if copy.suffix == ".png" else "JPEG")
        opened.load()
        return opened.copy()


def _size(copy: Copy) -> tuple[int, int]:
    with Image.open(io.BytesIO(copy.data)) as opened:
        return opened.size


def test_families_table() -> None:
    assert list(FAMILIES)[:3] == ["jpeg", "downscale", "greyscale"]
    assert len(FAMILIES) == 21
    for name, family in FAMILIES.items():
        assert isinstance(family, Family)
        assert family.name == name
        assert family.description
        assert family.goal in (0.99, 0.95, 0.80, None)
    assert FAMILIES["crop30"].goal == 0.80
    assert FAMILIES["sticker15"].goal is None
    assert FAMILIES["combo"].goal is None


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_seed_same_bytes(image: Image.Image, copies: dict[str, Copy], family: str) -> None:
    again = make_copy(image.copy(), family, 7)
    assert again == copies[family]
    assert again.family == family


@pytest.mark.parametrize("family", list(FAMILIES))
def test_decodes_to_rgb(image: Image.Image, copies: dict[str, Copy], family: str) -> None:
    copy = copies[family]
    decoded = _decode(copy)
    assert decoded.mode == "RGB"
    assert min(decoded.size) >= 16
    assert copy.suffix == (".png" if family == "screenshot" else ".jpg") or family == "combo"
    assert copy.name


def test_input_is_not_modified(image: Image.Image) -> None:
    before = image.tobytes()
    for family in FAMILIES:
        make_copy(image, family, 3)
    assert image.tobytes() == before


def test_seeds_vary_parameters(image: Image.Image) -> None:
    for family in ("jpeg", "crop20", "pad", "sticker", "combo"):
        names = {make_copy(image, family, seed).name for seed in range(6)}
        assert len(names) > 1, family


@pytest.mark.parametrize("percent", [5, 10, 20, 30])
def test_crop_removes_the_area_fraction(image: Image.Image, percent: int) -> None:
    anchors = set()
    for seed in SEEDS:
        copy = make_copy(image, f"crop{percent}", seed)
        w, h = _size(copy)
        assert w <= WIDTH
        assert h <= HEIGHT
        assert abs(w * h / (WIDTH * HEIGHT) - (1 - percent / 100)) < 0.01, copy.name
        anchors.add(copy.name.split()[1].split("-")[0])
    assert anchors == {"centre", "edge", "corner", "asym"}


def test_crop_box_anchors() -> None:
    rng = random.Random(0)
    for _ in range(200):
        (left, top, right, bottom), anchor = transforms.crop_box((1000, 500), 0.19, rng)
        assert 0 <= left < right <= 1000
        assert 0 <= top < bottom <= 500
        assert math.isclose((right - left) * (bottom - top), 0.81 * 500_000, rel_tol=0.005)
        if anchor == "centre":
            assert (left, top) == (50, 25)
        elif anchor == "edge-top":
            assert (left, top, right, bottom) == (0, 95, 1000, 500)
        elif anchor == "corner-br":
            assert (right, bottom) == (1000, 500)
        elif anchor.startswith("asym"):
            assert 10 <= left <= 90
            assert 5 <= top <= 45


def test_pad_keeps_content_fraction_in_range(image: Image.Image) -> None:
    fills = set()
    for seed in range(60):
        copy = make_copy(image, "pad", seed)
        w, h = _size(copy)
        assert w >= WIDTH
        assert h >= HEIGHT
        added = 1 - WIDTH * HEIGHT / (w * h)
        assert 0.10 - 0.01 <= added <= 0.50 + 0.01, copy.name
        assert copy.name.startswith(f"pad {added:.0%} ")
        fills.update(re.findall(r"uniform|letterbox|blur-fill|paper|stripes", copy.name))
    assert fills == {"uniform", "letterbox", "blur-fill", "paper", "stripes"}


def test_pad_content_is_intact(image: Image.Image) -> None:
    rng = random.Random(5)
    for _ in range(10):
        result = transforms._pad(image, rng)
        canvas = np.asarray(result.image, dtype=np.int16)
        content = np.asarray(image, dtype=np.int16)
        found = [
            (x, y)
            for y in range(canvas.shape[0] - HEIGHT + 1)
            for x in range(canvas.shape[1] - WIDTH + 1)
            if (canvas[y, x] == content[0, 0]).all()
            and (canvas[y : y + HEIGHT, x : x + WIDTH] == content).all()
        ]
        assert found, result.name


def test_rot90_swaps_dimensions(image: Image.Image) -> None:
    seen = set()
    for seed in range(12):
        copy = make_copy(image, "rot90", seed)
        degrees = int(copy.name.split()[1].removesuffix("deg"))
        seen.add(degrees)
        expected = (WIDTH, HEIGHT) if degrees == 180 else (HEIGHT, WIDTH)
        assert _size(copy) == expected
    assert seen == {90, 180, 270}


@pytest.mark.parametrize("family", ["rot3", "rot5"])
def test_small_rotations_expand(image: Image.Image, family: str) -> None:
    copy = make_copy(image, family, 1)
    w, h = _size(copy)
    assert w > WIDTH
    assert h > HEIGHT


def test_meme_and_screenshot_geometry(image: Image.Image) -> None:
    for seed in range(6):
        w, h = _size(make_copy(image, "meme", seed))
        assert w == WIDTH
        assert 1.10 * HEIGHT - 1 <= h <= 1.50 * HEIGHT + 1
        w, h = _size(make_copy(image, "screenshot", seed))
        assert w == 1080
        assert 1920 <= h <= 2400


def test_combo_joins_two_different_families(image: Image.Image) -> None:
    for seed in range(8):
        copy = make_copy(image, "combo", seed)
        first, second = copy.name.split(" + ")
        assert first.split()[0] != second.split()[0]
        assert copy.suffix == (".png" if second.startswith("screenshot") else ".jpg")


def test_missing_fonts_fall_back(
    image: Image.Image, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(transforms, "FONT_DIR", tmp_path / "no-fonts")
    for family in ("meme", "caption", "screenshot"):
        assert _decode(make_copy(image, family, 2)).mode == "RGB"


def test_unknown_family_and_tiny_image(image: Image.Image) -> None:
    with pytest.raises(ValueError, match="unknown family"):
        make_copy(image, "sepia", 0)
    with pytest.raises(ValueError, match="smaller than"):
        make_copy(Image.new("RGB", (8, 40)), "jpeg", 0)


def test_non_rgb_input(image: Image.Image) -> None:
    assert _decode(make_copy(image.convert("RGBA"), "caption", 0)).mode == "RGB"
    assert _decode(make_copy(image.convert("L"), "sticker", 0)).mode == "RGB"
