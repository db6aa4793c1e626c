"""The canonical pixel rule: how a decoded image is reduced before PDQ, identically everywhere.

Python and the browser must feed PDQ the same pixels, so the rule is pinned down here and in
docs/canonical-pixels.md. JPEGs are decoded with libjpeg's DCT scaling (1/2, 1/4, 1/8);
everything else is averaged over integer k x k blocks; both stop before the short side falls
below `CANONICAL_MIN_SIDE`. PDQ then runs with the sampling geometry of the full-resolution
image (`pdq.pdq_from_canonical`), which keeps it within a few bits of PDQ on every pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from takedown.errors import DecodeError
from takedown.hashing import decode

__all__ = [
    "CANONICAL_MIN_SIDE",
    "JPEG_SCALES",
    "CanonicalImage",
    "ImageLevels",
    "box_factor",
    "canonical_from_rgb",
    "canonical_image",
    "image_levels",
    "jpeg_scale",
    "level_pixels",
    "reduce_rgb",
]

CANONICAL_MIN_SIDE = 256
"""A reduction never takes the short side below this many pixels."""

JPEG_SCALES = (8, 4, 2, 1)
"""The DCT scalings libjpeg offers that we use, largest first."""

_SWAPS_AXES = frozenset({5, 6, 7, 8})
"""EXIF orientations that turn the image a quarter (transpose, rotations by 90 and 270)."""


@dataclass(frozen=True, slots=True)
class CanonicalImage:
    """Reduced pixels plus the full-resolution size they stand for.

    Reduced pixel (r, c) covers full pixels [r*factor, (r+1)*factor) x [c*factor, (c+1)*factor);
    the last row and column of blocks also cover whatever remains of the full image.
    """

    pixels: npt.NDArray[np.uint8]
    full_height: int
    full_width: int
    factor: int


def jpeg_scale(width: int, height: int) -> int:
    """The largest libjpeg reduction 1/s that keeps the short side >= CANONICAL_MIN_SIDE."""
    short = min(width, height)
    return next(s for s in JPEG_SCALES if short // s >= CANONICAL_MIN_SIDE or s == 1)


def box_factor(width: int, height: int) -> int:
    """The integer block size k for non-JPEG images (1 means no reduction)."""
    return max(1, min(width, height) // CANONICAL_MIN_SIDE)


def reduce_rgb(pixels: npt.NDArray[np.uint8], k: int) -> npt.NDArray[np.uint8]:
    """Average k x k blocks, dropping the last partial row and column of blocks.

    Integer arithmetic with round-half-up, so a JavaScript port gives the same bytes.
    """
    if k == 1:
        return pixels
    height, width = pixels.shape[:2]
    rows, cols = height // k, width // k
    blocks = pixels[: rows * k, : cols * k].reshape(rows, k, cols, k, 3)
    sums = blocks.sum(axis=(1, 3), dtype=np.uint32)
    area = k * k
    reduced: npt.NDArray[np.uint8] = ((sums + area // 2) // area).astype(np.uint8)
    return reduced


def canonical_from_rgb(pixels: npt.NDArray[np.uint8]) -> CanonicalImage:
    """The canonical form of already-decoded pixels (video frames, non-JPEG images)."""
    height, width = pixels.shape[:2]
    k = box_factor(width, height)
    return CanonicalImage(reduce_rgb(pixels, k), height, width, k)


@dataclass(frozen=True, slots=True)
class ImageLevels:
    """One decoded image file: its canonical image, and the full-resolution pixels its other
    levels are averaged from (None for a JPEG).

    A JPEG level is a fresh decode at libjpeg's DCT scale, which is cheap. Every other format
    (PNG, WebP, HEIC, GIF, TIFF, ...) can only be decoded whole, so its full pixels are kept
    while the photo's signals are computed: one decode per photo instead of one per level.
    """

    path: Path
    canonical: CanonicalImage
    full_pixels: npt.NDArray[np.uint8] | None

    def level(self, factor: int) -> npt.NDArray[np.uint8]:
        """The same pixels as `level_pixels(self.path, factor)`, decoding nothing for a non-JPEG."""
        if factor == self.canonical.factor:
            return self.canonical.pixels
        if self.full_pixels is None:
            return level_pixels(self.path, factor)
        return reduce_rgb(self.full_pixels, factor)


def image_levels(path: Path) -> ImageLevels:
    """Decode an image file once by the canonical rule, keeping a non-JPEG's full pixels."""
    with decode.open_image(path) as image:
        if image.format != "JPEG":
            full = decode.to_rgb(image, path=path)
            return ImageLevels(path, canonical_from_rgb(full), full)
        return ImageLevels(path, _jpeg_canonical(image, path), None)


def canonical_image(path: Path) -> CanonicalImage:
    """Decode an image file by the canonical rule (see the module docstring)."""
    return image_levels(path).canonical


def _jpeg_canonical(image: Image.Image, path: Path) -> CanonicalImage:
    width, height = image.size
    scale = jpeg_scale(width, height)
    if scale > 1:
        # Pillow picks libjpeg's scale as min(width // w, height // h); asking for the
        # floor sizes makes that exactly `scale`. libjpeg then rounds the output up.
        image.draft("RGB", (width // scale, height // scale))
        _check_draft(image, width, height, scale, path)
    orientation = decode.exif_orientation(image)
    pixels = decode.to_rgb(image, path=path)
    if orientation in _SWAPS_AXES:
        width, height = height, width
    return CanonicalImage(pixels, height, width, scale)


def level_pixels(path: Path, factor: int) -> npt.NDArray[np.uint8]:
    """The image averaged over factor x factor blocks of full-resolution pixels (a power of
    two), oriented. JPEGs use libjpeg's DCT scaling up to 1/8, then block means."""
    with decode.open_image(path) as image:
        if image.format != "JPEG":
            return reduce_rgb(decode.to_rgb(image, path=path), factor)
        width, height = image.size
        scale = min(factor, JPEG_SCALES[0])
        if scale > 1:
            image.draft("RGB", (width // scale, height // scale))
            _check_draft(image, width, height, scale, path)
        pixels = decode.to_rgb(image, path=path)
    return reduce_rgb(pixels, factor // scale)


def _check_draft(image: Image.Image, width: int, height: int, scale: int, path: Path) -> None:
    expected = (-(-width // scale), -(-height // scale))
    if image.size != expected:
        raise DecodeError(
            f"libjpeg reduced the image to {image.size}, expected {expected}.", path=path
        )
