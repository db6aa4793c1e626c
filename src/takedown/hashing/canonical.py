"""The canonical pixel rule: how a decoded image is reduced before PDQ, identically everywhere.

Python and the browser must feed PDQ the same pixels, so the reduction is pinned down here
and in docs/canonical-pixels.md: JPEGs are decoded with libjpeg's DCT scaling (1/2, 1/4, 1/8)
and everything else is averaged over integer k x k blocks, in both cases only as far as the
short side stays at or above `CANONICAL_MIN_SIDE`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["CANONICAL_MIN_SIDE", "JPEG_SCALES", "box_factor", "jpeg_scale", "reduce_rgb"]

CANONICAL_MIN_SIDE = 256
"""A reduction never takes the short side below this many pixels."""

JPEG_SCALES = (8, 4, 2, 1)
"""The DCT scalings libjpeg offers that we use, largest first."""


def jpeg_scale(width: int, height: int) -> int:
    """The largest libjpeg reduction 1/s that keeps the short side >= CANONICAL_MIN_SIDE."""
    short = min(width, height)
    return next(s for s in JPEG_SCALES if short // s >= CANONICAL_MIN_SIDE or s == 1)


def box_factor(width: int, height: int) -> int:
    """The integer block size k for non-JPEG images (1 means no reduction)."""
    return max(1, min(width, height) // CANONICAL_MIN_SIDE)


def reduce_rgb(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Average k x k blocks (k = box_factor), dropping the last partial row/column of blocks.

    Integer arithmetic with round-half-up, so a JavaScript port gives the same bytes.
    """
    height, width = pixels.shape[:2]
    k = box_factor(width, height)
    if k == 1:
        return pixels
    rows, cols = height // k, width // k
    blocks = pixels[: rows * k, : cols * k].reshape(rows, k, cols, k, 3)
    sums = blocks.sum(axis=(1, 3), dtype=np.uint32)
    area = k * k
    reduced: npt.NDArray[np.uint8] = ((sums + area // 2) // area).astype(np.uint8)
    return reduced
