"""The canonical pixel rule: reduction choices, exact averaging, fidelity to full-res PDQ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

from takedown.hashing import canonical
from takedown.hashing.canonical import (
    CanonicalImage,
    box_factor,
    canonical_from_rgb,
    canonical_image,
    jpeg_scale,
    reduce_rgb,
)
from takedown.hashing.pdq import hamming, pdq_from_canonical, pdq_from_rgb
from tests.conftest import PDQ_REFERENCE, PHOTOS_DEV


@pytest.mark.parametrize(
    ("size", "scale"),
    [((4240, 2832), 8), ((1224, 816), 2), ((1600, 1004), 2), ((481, 321), 1), ((2048, 1024), 4)],
)
def test_jpeg_scale_is_the_largest_that_keeps_the_short_side_at_256(
    size: tuple[int, int], scale: int
) -> None:
    assert jpeg_scale(*size) == scale
    assert min(size) // scale >= 256 or scale == 1


def test_box_factor_keeps_the_short_side_at_or_above_256() -> None:
    assert box_factor(511, 2000) == 1
    assert box_factor(512, 2000) == 2
    assert box_factor(3000, 4000) == 11


def test_reduction_averages_blocks_with_round_half_up_and_drops_partial_blocks() -> None:
    pixels = np.zeros((5, 5, 3), dtype=np.uint8)
    pixels[:2, :2] = [[[1, 0, 255], [2, 0, 255]], [[2, 0, 255], [2, 1, 254]]]
    reduced = reduce_rgb(pixels, 2)
    assert reduced.shape == (2, 2, 3)
    # (1 + 2 + 2 + 2 + 2) // 4 = 2 ; (0 + 0 + 0 + 1 + 2) // 4 = 0 ; (1019 + 2) // 4 = 255
    assert reduced[0, 0].tolist() == [2, 0, 255]
    assert reduced[1, 1].tolist() == [0, 0, 0]


def test_small_images_are_not_reduced_and_hash_exactly_like_pdq() -> None:
    path = PHOTOS_DEV / "100075.jpg"
    image = canonical_image(path)
    assert image.factor == 1
    with Image.open(path) as im:
        full = np.asarray(im.convert("RGB"))
    assert np.array_equal(image.pixels, full)
    assert pdq_from_canonical(image) == pdq_from_rgb(full)


def test_a_jpeg_is_decoded_with_dct_scaling_and_remembers_its_full_size() -> None:
    image = canonical_image(PDQ_REFERENCE / "bridge-mods" / "aaa-orig.jpg")
    assert (image.full_height, image.full_width, image.factor) == (1004, 1600, 2)
    assert image.pixels.shape == (502, 800, 3)


def test_exif_rotation_swaps_the_full_size_with_the_pixels() -> None:
    image = canonical_image(PDQ_REFERENCE / "reg-test-input" / "exif-rotn" / "exif-rotn-6.jpg")
    assert image.factor == 8
    assert (image.full_height, image.full_width) == (4032, 3024)
    assert image.pixels.shape[:2] == (504, 378)


def test_blocks_that_do_not_tile_the_full_size_are_refused() -> None:
    bad = CanonicalImage(np.zeros((300, 300, 3), dtype=np.uint8), 500, 500, 2)
    with pytest.raises(ValueError, match="do not tile"):
        pdq_from_canonical(bad)


def full_resolution_pdq(path: Path) -> tuple[str, int]:
    with Image.open(path) as im:
        pixels = np.ascontiguousarray(np.asarray(ImageOps.exif_transpose(im).convert("RGB")))
    bits, quality = pdqhash.compute(pixels)
    return np.packbits(bits.astype(bool)).tobytes().hex(), int(quality)


@pytest.fixture(scope="module")
def large_jpegs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("large")
    out = []
    for i, source in enumerate(sorted(PHOTOS_DEV.glob("*.jpg"))[:6]):
        with Image.open(source) as im:
            factor = 3 if i % 2 else 8
            big = im.convert("RGB").resize(
                (im.width * factor, im.height * factor), Image.Resampling.LANCZOS
            )
        path = folder / f"{factor}x-{source.name}"
        big.save(path, quality=90)
        out.append(path)
    png = folder / "large.png"
    Image.open(out[0]).save(png)
    return [*out, png]


def test_canonical_pdq_stays_within_10_bits_of_full_resolution_pdq(large_jpegs: list[Path]) -> None:
    reference = [p for p in PDQ_REFERENCE.rglob("*") if p.suffix.lower() in {".jpg", ".png"}]
    checked = 0
    for path in [*reference, *large_jpegs]:
        full_hex, quality = full_resolution_pdq(path)
        if quality < 80:
            continue
        image = canonical_image(path)
        assert hamming(pdq_from_canonical(image).hex, full_hex) <= 10, path.name
        checked += 1
    assert checked >= 40
    assert any(canonical_image(p).factor > 1 for p in large_jpegs)


def test_decoded_pixels_keep_the_full_geometry_after_box_reduction() -> None:
    rng = np.random.default_rng(7)
    small = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    pixels = np.asarray(Image.fromarray(small).resize((1203, 901), Image.Resampling.BICUBIC))
    image = canonical_from_rgb(np.ascontiguousarray(pixels))
    assert image.factor == 901 // canonical.CANONICAL_MIN_SIDE
    assert pdq_from_canonical(image).distance(pdq_from_rgb(np.ascontiguousarray(pixels))) <= 10
