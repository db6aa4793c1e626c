"""Region hashes: PDQ of square patches centred on the image's strongest corners.

A crop, a sticker or a textured frame changes a whole-image PDQ beyond recognition, but the
parts of the picture that survive look the same, pixel for pixel, at the same pixel scale.
So both sides pick patches by the content itself: corners found by a Harris detector on
integer luma, strongest first, and the PDQ of the patch around each corner. A corner that
survives in the copy gives the same patch, hence nearly the same hash.

Why written here rather than taken from OpenCV: the browser must pick exactly the same
patches, so every step is integer arithmetic with one documented tie rule (response, then
row, then column), which a JavaScript port reproduces bit for bit; OpenCV's ORB/SIFT have
neither a browser port with identical output nor a tie rule we control.

Scale: patches are taken from *level images*, the full-resolution pixels averaged over
p x p blocks with p a power of two. The platform hashes an upload at its own level (the
largest p keeping the short side >= `LEVEL_MIN_SIDE`); the reporter hashes the original at
that level and at the neighbouring ones (p / 2 and 2p), so a copy that is cropped or padded
to between half and twice the original's size still meets a level of the same pixel scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from takedown.hashing.pdq import PdqHash, pdq_from_rgb

__all__ = [
    "LEVEL_MIN_SIDE",
    "PATCH_SIZE",
    "Corner",
    "Patch",
    "corners",
    "integer_luma",
    "level_factor",
    "patch_hashes",
]

LEVEL_MIN_SIDE = 256
"""A level image's short side is at least this (unless the image itself is smaller)."""

PATCH_SIZE = 96
"""Side of a patch in level pixels: 19-38 % of a level image's short side."""

SUPPRESSION_RADIUS = PATCH_SIZE // 2
"""A corner must be the strongest within this many pixels (Chebyshev) to be kept. Half a
patch: text and stickers, full of strong corners, then claim few of an upload's patches, and
the patches of one photo overlap less (fewer signals for the same coverage)."""

WINDOW = 7
"""Side of the box over which the gradient products are summed."""

SMOOTHING_PASSES = 2
"""Passes of the [1 4 6 4 1] binomial filter over the luma before gradients."""

MIN_PATCH_QUALITY = 50
"""Patches whose PDQ quality is lower are dropped (flat sky, walls, blown highlights)."""

_I64 = np.int64
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Corner:
    row: int
    col: int
    response: int


@dataclass(frozen=True, slots=True)
class Patch:
    corner: Corner
    hash: PdqHash


def level_factor(width: int, height: int) -> int:
    """The largest power of two p with min(width, height) // p >= LEVEL_MIN_SIDE (at least 1)."""
    short = min(width, height)
    p = 1
    while short // (2 * p) >= LEVEL_MIN_SIDE:
        p *= 2
    return p


def integer_luma(pixels: npt.NDArray[np.uint8]) -> IntArray:
    """(77 R + 150 G + 29 B + 128) >> 8: integer luma, identical in JavaScript."""
    rgb = pixels.astype(_I64)
    luma: IntArray = (77 * rgb[..., 0] + 150 * rgb[..., 1] + 29 * rgb[..., 2] + 128) >> 8
    return luma


def _binomial(a: IntArray, axis: int) -> IntArray:
    """[1 4 6 4 1] over the valid part of one axis (the output is 4 shorter)."""
    m = np.moveaxis(a, axis, 0)
    out = m[:-4] + 4 * m[1:-3] + 6 * m[2:-2] + 4 * m[3:-1] + m[4:]
    return np.moveaxis(out, 0, axis)


def _box_sum(a: IntArray, k: int) -> IntArray:
    """Sum over every k x k window (valid part only), by an integral image."""
    c = np.zeros((a.shape[0] + 1, a.shape[1] + 1), dtype=_I64)
    np.cumsum(np.cumsum(a, axis=0), axis=1, out=c[1:, 1:])
    out: IntArray = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return out


def _window_max(a: IntArray, radius: int) -> IntArray:
    """Maximum over the (2 radius + 1)^2 window around each element (outside counts as -inf)."""
    floor = np.iinfo(_I64).min
    side = 2 * radius + 1
    rows = np.pad(a, ((radius, radius), (0, 0)), constant_values=floor)
    m = sliding_window_view(rows, side, axis=0).max(axis=-1)
    cols = np.pad(m, ((0, 0), (radius, radius)), constant_values=floor)
    out: IntArray = sliding_window_view(cols, side, axis=1).max(axis=-1)
    return out


def harris_response(pixels: npt.NDArray[np.uint8]) -> tuple[IntArray, int]:
    """Integer Harris response (k = 1/16) and the offset of its (0, 0) in the image.

    Each smoothing pass multiplies by 16 per axis; gradients are rescaled by an exact shift so
    every product fits comfortably in 53 bits (a JavaScript number holds it exactly).
    """
    g = integer_luma(pixels)
    offset = 0
    for _ in range(SMOOTHING_PASSES):
        g = _binomial(_binomial(g, 0), 1)
        offset += 2
    shift = 8 * SMOOTHING_PASSES - 4  # gradients in units of 1/16 grey level
    gx = (g[1:-1, 2:] - g[1:-1, :-2]) >> shift
    gy = (g[2:, 1:-1] - g[:-2, 1:-1]) >> shift
    offset += 1
    ixx = _box_sum(gx * gx, WINDOW)
    iyy = _box_sum(gy * gy, WINDOW)
    ixy = _box_sum(gx * gy, WINDOW)
    offset += WINDOW // 2
    # Scaled down before the products so det and trace^2 stay below 2^53.
    ixx, iyy, ixy = ixx >> 8, iyy >> 8, ixy >> 8
    response: IntArray = 16 * (ixx * iyy - ixy * ixy) - (ixx + iyy) * (ixx + iyy)
    return response, offset


def corners(pixels: npt.NDArray[np.uint8], margin: int) -> list[Corner]:
    """Every local maximum of the Harris response at least `margin` pixels inside the image,
    strongest first (ties: smaller row, then smaller column)."""
    height, width = pixels.shape[:2]
    if min(height, width) < 2 * margin or min(height, width) < 2 * (WINDOW + 8):
        return []
    response, offset = harris_response(pixels)
    peaks = (response == _window_max(response, SUPPRESSION_RADIUS)) & (response > 0)
    rows, cols = np.nonzero(peaks)
    values = response[rows, cols]
    rows = rows + offset
    cols = cols + offset
    inside = (
        (rows >= margin) & (cols >= margin) & (rows + margin <= height) & (cols + margin <= width)
    )
    rows, cols, values = rows[inside], cols[inside], values[inside]
    order = np.lexsort((cols, rows, -values))
    kept: list[Corner] = []
    ties: dict[int, list[Corner]] = {}
    for i in order:
        corner = Corner(int(rows[i]), int(cols[i]), int(values[i]))
        # Equal maxima within the radius (repeated glyphs, flat plateaus) keep only the first
        # in (row, column) order, so a line of text still claims few corners.
        same = ties.setdefault(corner.response, [])
        if any(
            abs(c.row - corner.row) <= SUPPRESSION_RADIUS
            and abs(c.col - corner.col) <= SUPPRESSION_RADIUS
            for c in same
        ):
            continue
        same.append(corner)
        kept.append(corner)
    return kept


def patch_hashes(pixels: npt.NDArray[np.uint8], count: int) -> list[Patch]:
    """PDQ of the PATCH_SIZE square around each of the strongest corners, skipping patches of
    low quality, until `count` patches are found."""
    half = PATCH_SIZE // 2
    out: list[Patch] = []
    for corner in corners(pixels, half):
        if len(out) == count:
            break
        top, left = corner.row - half, corner.col - half
        block = np.ascontiguousarray(pixels[top : top + PATCH_SIZE, left : left + PATCH_SIZE])
        digest = pdq_from_rgb(block)
        if digest.quality >= MIN_PATCH_QUALITY:
            out.append(Patch(corner, digest))
    return out
