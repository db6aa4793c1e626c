"""One decode per photo: a non-JPEG's levels are block means of pixels decoded once, bit for bit
what decoding it again per level gives; a JPEG still gets a DCT-scaled decode per level."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from takedown.hashing import decode, fingerprint, regions
from takedown.hashing.canonical import (
    CanonicalImage,
    canonical_image,
    image_levels,
    level_pixels,
)
from takedown.hashing.fingerprint import Signal, image_signals, query_image_signals
from tests.conftest import PHOTOS_DEV

SignalsOf = Callable[[Path], tuple[Signal, ...]]


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One photos-dev photo upscaled 4x (1924 x 1284), as PNG, WebP and JPEG."""
    folder = tmp_path_factory.mktemp("levels")
    with Image.open(PHOTOS_DEV / "100075.jpg") as im:
        big = im.convert("RGB").resize((im.width * 4, im.height * 4), Image.Resampling.LANCZOS)
    paths = {"png": folder / "big.png", "webp": folder / "big.webp", "jpeg": folder / "big.jpg"}
    big.save(paths["png"])
    big.save(paths["webp"], quality=90)
    big.save(paths["jpeg"], quality=90)
    return paths


def patch_levels(canon: CanonicalImage) -> list[int]:
    """The factors `image_signals` takes patches at (the rule in fingerprint.py)."""
    short = min(canon.full_width, canon.full_height)
    base = regions.level_factor(canon.full_width, canon.full_height)
    min_side = regions.PATCH_SIZE + 2 * regions.WINDOW
    return [f for f in (base // 2, base, base * 2) if f >= 1 and short // f >= min_side]


class PerLevelDecode:
    """The old path: `canonical_image`, then `level_pixels` (a fresh decode) for every level
    whose factor is not the canonical one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.canonical = canonical_image(path)

    def level(self, factor: int) -> npt.NDArray[np.uint8]:
        if factor == self.canonical.factor:
            return self.canonical.pixels
        return level_pixels(self.path, factor)


@pytest.mark.parametrize("kind", ["png", "webp", "jpeg"])
def test_the_photo_has_at_least_two_levels_besides_the_canonical_one(
    photos: dict[str, Path], kind: str
) -> None:
    canon = canonical_image(photos[kind])
    others = [f for f in patch_levels(canon) if f != canon.factor]
    assert len(others) >= (3 if kind != "jpeg" else 2)


@pytest.mark.parametrize("kind", ["png", "webp", "jpeg"])
def test_levels_from_one_decode_equal_a_fresh_decode_per_level(
    photos: dict[str, Path], kind: str
) -> None:
    path = photos[kind]
    levels = image_levels(path)
    expected = canonical_image(path)
    assert np.array_equal(levels.canonical.pixels, expected.pixels)
    assert (levels.canonical.full_height, levels.canonical.full_width) == (
        expected.full_height,
        expected.full_width,
    )
    assert levels.canonical.factor == expected.factor
    for factor in (1, 2, 4, 8, 16):
        assert np.array_equal(levels.level(factor), level_pixels(path, factor)), factor


@pytest.mark.parametrize("kind", ["png", "webp", "jpeg"])
@pytest.mark.parametrize("signals_of", [image_signals, query_image_signals])
def test_signals_are_those_of_decoding_once_per_level(
    photos: dict[str, Path], kind: str, signals_of: SignalsOf, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = photos[kind]
    actual = signals_of(path)
    monkeypatch.setattr(fingerprint, "image_levels", PerLevelDecode)
    expected = signals_of(path)
    assert actual == expected
    assert sum(s.variant == fingerprint.PATCH for s in actual) >= 4


class CountingToRgb:
    """Stands in for `decode.to_rgb`, counting the full decodes it does."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = decode.to_rgb

    def __call__(self, image: Image.Image, *, path: Path | None = None) -> npt.NDArray[np.uint8]:
        self.calls += 1
        return self.real(image, path=path)


@pytest.mark.parametrize("kind", ["png", "webp"])
@pytest.mark.parametrize("signals_of", [image_signals, query_image_signals])
def test_a_non_jpeg_is_decoded_once_per_call(
    photos: dict[str, Path], kind: str, signals_of: SignalsOf, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = CountingToRgb()
    monkeypatch.setattr(decode, "to_rgb", counter)
    signals_of(photos[kind])
    assert counter.calls == 1


@pytest.mark.parametrize(("signals_of", "decodes"), [(image_signals, 3), (query_image_signals, 1)])
def test_a_jpeg_is_decoded_at_the_dct_scale_of_each_level(
    photos: dict[str, Path], signals_of: SignalsOf, decodes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Canonical scale 1/4 is the query level; the reporter also decodes at 1/2 and 1/8.
    counter = CountingToRgb()
    monkeypatch.setattr(decode, "to_rgb", counter)
    signals_of(photos["jpeg"])
    assert counter.calls == decodes
