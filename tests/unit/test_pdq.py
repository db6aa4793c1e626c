"""Our numpy PDQ against Meta's C++ (the `pdqhash` binding), bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pdqhash
import pytest
from PIL import Image

from takedown.hashing import pdq, pdq_exact
from takedown.hashing.pdq import (
    DIHEDRAL_VARIANTS,
    PdqHash,
    hamming,
    pdq_dihedral_from_rgb,
    pdq_from_rgb,
)
from tests.conftest import PDQ_REFERENCE

REFERENCE_IMAGES = sorted(
    p for p in PDQ_REFERENCE.rglob("*") if p.suffix.lower() in {".jpg", ".png", ".webp"}
)
Pixels = npt.NDArray[np.uint8]


def meta(pixels: Pixels) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(pixels))
    return np.packbits(bits.astype(bool)).tobytes().hex(), int(quality)


def rgb(path: Path) -> Pixels:
    with Image.open(path) as image:
        return np.ascontiguousarray(np.asarray(image.convert("RGB")))


def test_the_bridge_photo_hashes_to_metas_published_value() -> None:
    result = pdq_from_rgb(rgb(PDQ_REFERENCE / "bridge-mods" / "aaa-orig.jpg"))
    assert result.hex == "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    assert result.quality == 100


def test_the_reference_set_is_all_there() -> None:
    assert len(REFERENCE_IMAGES) >= 45


@pytest.mark.parametrize("path", REFERENCE_IMAGES, ids=lambda p: p.name)
def test_every_reference_image_gives_metas_bits_and_quality(path: Path) -> None:
    pixels = rgb(path)
    ours = pdq_from_rgb(pixels)
    assert (ours.hex, ours.quality) == meta(pixels)


def random_array(rng: np.random.Generator, kind: int) -> Pixels:
    height, width = (int(v) for v in rng.integers(1, 600, size=2))
    if kind == 0:  # noise
        return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    if kind == 1:  # smooth: a tiny random image scaled up (often constant along one axis)
        small = rng.integers(0, 256, (max(1, height // 37), max(1, width // 37), 3), dtype=np.uint8)
        return np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR))
    base = rng.integers(0, 256, (1, 1, 3))  # nearly flat
    return (base + rng.integers(0, 3, (height, width, 3))).clip(0, 255).astype(np.uint8)


def test_random_arrays_of_random_sizes_agree_with_meta() -> None:
    rng = np.random.default_rng(20261121)
    distances, quality_mismatches = [], 0
    for k in range(1000):
        pixels = np.ascontiguousarray(random_array(rng, k % 3))
        ours = pdq_from_rgb(pixels)
        theirs, quality = meta(pixels)
        distances.append(hamming(ours.hex, theirs))
        quality_mismatches += ours.quality != quality
    exact = sum(d == 0 for d in distances)
    assert exact >= 990, f"only {exact}/1000 identical"
    assert max(distances) <= 2
    assert quality_mismatches <= 10


@pytest.mark.parametrize(
    ("height", "width"), [(1, 1), (4, 100), (100, 4), (5, 5), (64, 64), (64, 65)]
)
def test_tiny_and_special_sizes_follow_meta(height: int, width: int) -> None:
    pixels = np.random.default_rng(height * 1000 + width).integers(
        0, 256, (height, width, 3), dtype=np.uint8
    )
    ours = pdq_from_rgb(pixels)
    assert (ours.hex, ours.quality) == meta(pixels)
    if min(height, width) < 5:
        assert ours == PdqHash("0" * 64, 0)


@pytest.mark.parametrize("path", REFERENCE_IMAGES[::4], ids=lambda p: p.name)
def test_the_exact_float32_replay_matches_meta_on_its_own(path: Path) -> None:
    pixels = rgb(path)
    luma = pdq.luma_from_rgb(pixels)
    grid = pdq_exact.grid64_exact(luma)
    block = pdq_exact.dct16_exact(grid, pdq._dct_matrix().astype(np.float32))
    ours = pdq.pdq_from_dct(block.astype(np.float64), pdq._quality(grid))
    assert (ours.hex, ours.quality) == meta(pixels)


def test_wrong_arrays_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        pdq_from_rgb(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        pdq_from_rgb(np.zeros((10, 10, 3), dtype=np.float32))


def test_a_hash_value_checks_its_own_fields() -> None:
    with pytest.raises(ValueError, match="64 lowercase hex"):
        PdqHash("ABC", 50)
    with pytest.raises(ValueError, match="quality"):
        PdqHash("0" * 64, 101)
    assert PdqHash("f" * 64, 10).distance(PdqHash("0" * 64, 10)) == 256


# Meta's binding returns its dihedral hashes in this order; their FlipX mirrors top-bottom.
META_DIHEDRAL_ORDER = (
    "original", "rot90", "rot180", "rot270", "flip_v", "flip_h", "transpose", "transverse",
)  # fmt: skip


@pytest.mark.parametrize("path", REFERENCE_IMAGES[::3], ids=lambda p: p.name)
def test_dihedral_variants_from_the_dct_equal_metas(path: Path) -> None:
    pixels = rgb(path)
    ours = pdq_dihedral_from_rgb(pixels)
    hashes, quality = pdqhash.compute_dihedral(pixels)
    theirs = [np.packbits(h.astype(bool)).tobytes().hex() for h in hashes]
    assert [ours[name].hex for name in META_DIHEDRAL_ORDER] == theirs
    assert all(h.quality == quality for h in ours.values())


TRANSPOSE = Image.Transpose
PILLOW_OPS = {
    "rot90": TRANSPOSE.ROTATE_90,
    "rot180": TRANSPOSE.ROTATE_180,
    "rot270": TRANSPOSE.ROTATE_270,
    "flip_h": TRANSPOSE.FLIP_LEFT_RIGHT,
    "flip_v": TRANSPOSE.FLIP_TOP_BOTTOM,
    "transpose": TRANSPOSE.TRANSPOSE,
    "transverse": TRANSPOSE.TRANSVERSE,
}


@pytest.mark.parametrize("variant", list(PILLOW_OPS))
def test_each_variant_is_close_to_pdq_of_the_really_transformed_pixels(variant: str) -> None:
    with Image.open(PDQ_REFERENCE / "reg-test-input" / "dih" / "bridge-1-original.jpg") as im:
        original = im.convert("RGB")
    variants = pdq_dihedral_from_rgb(np.asarray(original))
    moved = pdq_from_rgb(np.ascontiguousarray(np.asarray(original.transpose(PILLOW_OPS[variant]))))
    assert variants[variant].distance(moved) <= 10
    others = [variants[v].distance(moved) for v in DIHEDRAL_VARIANTS if v != variant]
    assert min(others) > 60


DIH_FILES = {
    "bridge-2-rotate-90.jpg": "rot90",
    "bridge-3-rotate-180.jpg": "rot180",
    "bridge-4-rotate-270.jpg": "rot270",
    "bridge-5-flipx.jpg": "flip_v",
    "bridge-6-flipy.jpg": "flip_h",
    "bridge-7-flip-plus-1.jpg": "transpose",
    "bridge-8-flip-minus-1.jpg": "transverse",
}


@pytest.mark.parametrize(("name", "variant"), DIH_FILES.items())
def test_metas_rotated_and_mirrored_files_match_the_right_variant(name: str, variant: str) -> None:
    folder = PDQ_REFERENCE / "reg-test-input" / "dih"
    variants = pdq_dihedral_from_rgb(rgb(folder / "bridge-1-original.jpg"))
    observed = pdq_from_rgb(rgb(folder / name))
    distances = {v: h.distance(observed) for v, h in variants.items()}
    assert min(distances, key=distances.__getitem__) == variant
    assert distances[variant] <= 10
