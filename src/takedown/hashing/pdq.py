"""PDQ, Meta's 256-bit perceptual image hash, as banded linear algebra.

Meta's C++ blurs the luma plane with four running-sum box filters and then samples a 64x64
grid. Every step up to the DCT is linear, so we fold the two box passes and the decimation
of each axis into one (64 x n) matrix and compute ``R_rows @ luma @ R_cols.T``, touching
only each matrix's non-zero band: a few multiply-adds per pixel, no pixel loop. We write it
ourselves (rather than call the `pdqhash` C++ binding) because it is several times faster
on the reduced canonical pixels, has no compiled dependency, and is simple enough to
reproduce bit-for-bit in the browser. The numeric choices that keep us bit-identical to
Meta's code are noted inline.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from takedown.hashing import pdq_exact
from takedown.hashing.canonical import CanonicalImage

__all__ = [
    "DIHEDRAL_VARIANTS",
    "MIN_HASHABLE_DIM",
    "PdqHash",
    "dihedral_blocks",
    "hamming",
    "pdq_dct_from_canonical",
    "pdq_dct_from_rgb",
    "pdq_dihedral_from_canonical",
    "pdq_dihedral_from_rgb",
    "pdq_from_canonical",
    "pdq_from_dct",
    "pdq_from_rgb",
]

MIN_HASHABLE_DIM = 5
"""Meta's rule: below 5 pixels on a side the hash is all zeros with quality 0."""

_F32 = np.float32
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PdqHash:
    """A PDQ hash: 64 lowercase hex characters (bit 255 first) and a quality 0-100."""

    hex: str
    quality: int

    def __post_init__(self) -> None:
        if len(self.hex) != 64 or any(c not in "0123456789abcdef" for c in self.hex):
            raise ValueError(f"PDQ hex must be 64 lowercase hex characters, got {self.hex!r}")
        if not 0 <= self.quality <= 100:
            raise ValueError(f"PDQ quality must be 0-100, got {self.quality}")

    def distance(self, other: PdqHash) -> int:
        return hamming(self.hex, other.hex)


def hamming(a: str, b: str) -> int:
    """Hamming distance between two equal-length hex strings."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def luma_from_rgb(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Luma as `pdqhash` computes it: 0.299 R + 0.587 G + 0.114 B in float64, then float32."""
    rgb = pixels.astype(np.float64)
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return luma.astype(_F32)


@lru_cache(maxsize=64)
def blur_decimate_matrix(n: int) -> FloatArray:
    """The (64 x n) matrix equal to Meta's two box-filter passes then 64-point sampling.

    One box pass writes, at output o, the mean of inputs [o - (w - h), o + h - 1] clipped to
    the vector, where w = ceil(n / 128) and h = (w + 2) // 2 (Meta's `box1DFloat`).
    """
    window = (n + 127) // 128
    half = (window + 2) // 2
    lead, lag = window - half, half - 1  # the window reaches `lead` back and `lag` ahead
    idx = np.arange(n)
    lo = np.maximum(idx - lead, 0)
    hi = np.minimum(idx + lag, n - 1)
    inv_count = 1.0 / (hi - lo + 1)

    # Rows of the first pass at the 64 sampled positions (targets centres, as Meta does).
    samples = ((np.arange(64) + 0.5) * n / 64).astype(np.int64)
    first = np.zeros((64, n))
    for row, o in enumerate(samples):
        first[row, lo[o] : hi[o] + 1] = inv_count[o]

    # Multiply by the second pass: input j feeds every output o with lo[o] <= j <= hi[o],
    # i.e. o in [j - lag, j + lead]; a prefix sum over o gives all j at once.
    weighted = first * inv_count
    prefix = np.concatenate([np.zeros((64, 1)), np.cumsum(weighted, axis=1)], axis=1)
    o_lo = np.maximum(idx - lag, 0)
    o_hi = np.minimum(idx + lead, n - 1)
    matrix: FloatArray = prefix[:, o_hi + 1] - prefix[:, o_lo]
    matrix.setflags(write=False)
    return matrix


@lru_cache(maxsize=1)
def _dct_matrix() -> FloatArray:
    """Meta's 16x64 DCT-II rows 1..16 (no DC row), rounded to float32 as Meta stores them."""
    i = np.arange(1, 17)[:, None]
    j = np.arange(64)[None, :]
    scale = float(_F32(np.sqrt(2.0 / 64.0)))
    matrix: FloatArray = (scale * np.cos((np.pi / 2.0 / 64.0) * i * (2 * j + 1))).astype(_F32)
    matrix = matrix.astype(np.float64)
    matrix.setflags(write=False)
    return matrix


def _gradient_steps(grid: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """|(u - v) * 100 / 255| for every pair of neighbours, in float32 as Meta computes them."""
    steps = [
        (diff * _F32(100)) / _F32(255)
        for diff in (grid[:-1, :] - grid[1:, :], grid[:, :-1] - grid[:, 1:])
    ]
    flat: npt.NDArray[np.float32] = np.abs(np.concatenate([t.reshape(-1) for t in steps]))
    return flat


def _quality_of_steps(steps: npt.NDArray[np.float32]) -> int:
    """Meta's image-domain quality: truncated gradient steps summed, divided by 90, capped."""
    return min(100, int(np.trunc(steps).astype(np.int64).sum()) // 90)


def _quality(grid: npt.NDArray[np.float32]) -> int:
    return _quality_of_steps(_gradient_steps(grid))


# How far Meta's float32 running sums can stray from the exact values, measured against the
# `pdqhash` binding: DCT coefficients by up to ~1e-5 of the largest one, gradient steps by
# ~1e-3. Closer calls than these, and near-flat blocks (where every coefficient is rounding
# noise, e.g. an image constant along one axis), are decided by replaying Meta's arithmetic.
_MEDIAN_TIE = 5e-6
_FLAT_SCALE = 8.0
_STEP_TIE = 3e-3


def _near_tie(block: FloatArray, steps: npt.NDArray[np.float32]) -> bool:
    ordered = np.sort(block.reshape(256))
    scale = float(np.abs(ordered).max())
    gap = min(ordered[128] - ordered[127], ordered[127] - ordered[126])
    if scale < _FLAT_SCALE or gap <= _MEDIAN_TIE * scale:
        return True
    near = int(((steps >= 0.5) & (np.abs(steps - np.round(steps)) < _STEP_TIE)).sum())
    if near == 0:
        return False
    total = int(np.trunc(steps).astype(np.int64).sum())
    low, high = max(0, total - near), total + near
    return min(100, low // 90) != min(100, high // 90)


def pdq_dct_from_rgb(pixels: npt.NDArray[np.uint8]) -> tuple[FloatArray, int]:
    """The 16x16 DCT block and the quality that PDQ thresholds into bits."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 array, got {pixels.dtype} {pixels.shape}")
    rows, cols = pixels.shape[:2]
    return pdq_dct_from_canonical(CanonicalImage(pixels, rows, cols, 1))


@lru_cache(maxsize=64)
def reduced_blur_decimate_matrix(full: int, reduced: int, factor: int) -> FloatArray:
    """`blur_decimate_matrix(full)` acting on an axis reduced by `factor`.

    Each reduced pixel stands for the mean of its block of full pixels, so its weight is
    the sum of the block's weights: PDQ keeps the full image's tent windows and sample
    positions instead of the coarser ones it would pick for the smaller image.
    """
    if reduced < 1 or not (reduced - 1) * factor < full < (reduced + 1) * factor:
        raise ValueError(f"{reduced} blocks of {factor} do not tile {full} pixels")
    if factor == 1:
        return blur_decimate_matrix(full)
    matrix: FloatArray = np.add.reduceat(
        blur_decimate_matrix(full), np.arange(reduced) * factor, axis=1
    )
    matrix.setflags(write=False)
    return matrix


@dataclass(frozen=True, slots=True)
class _Band:
    """A (64 x n) blur-and-sample matrix stored as its non-zero band: row k holds
    `weights[k]` at columns `starts[k] : starts[k] + span`. Each row is one tent window, so
    the band is ~2n/128 wide and applying it costs a few multiply-adds per pixel."""

    starts: npt.NDArray[np.int64]
    weights: FloatArray

    @classmethod
    def of(cls, matrix: FloatArray) -> _Band:
        n = matrix.shape[1]
        nonzero = matrix != 0.0
        first = np.argmax(nonzero, axis=1)
        last = n - 1 - np.argmax(nonzero[:, ::-1], axis=1)
        span = int((last - first).max()) + 1
        starts = np.minimum(first, n - span).astype(np.int64)
        index = starts[:, None] + np.arange(span)[None, :]
        return cls(starts, np.take_along_axis(matrix, index, axis=1))

    def index(self) -> npt.NDArray[np.int64]:
        return self.starts[:, None] + np.arange(self.weights.shape[1])[None, :]


@lru_cache(maxsize=64)
def _band(full: int, reduced: int, factor: int) -> _Band:
    return _Band.of(reduced_blur_decimate_matrix(full, reduced, factor))


def _grid64(luma: npt.NDArray[np.float32], rows: _Band, cols: _Band) -> npt.NDArray[np.float32]:
    """rows_matrix @ luma @ cols_matrix.T, touching only the bands."""
    across: FloatArray = np.einsum(
        "ks,ksw->kw", rows.weights, luma[rows.index()].astype(np.float64)
    )
    grid: FloatArray = np.einsum("js,kjs->kj", cols.weights, across[:, cols.index()])
    return grid.astype(_F32)


def pdq_dct_from_canonical(image: CanonicalImage) -> tuple[FloatArray, int]:
    """DCT block and quality of PDQ on the full image, computed from its (reduced) pixels.

    Unreduced pixels (factor 1) give Meta's PDQ exactly: near ties are replayed in float32.
    """
    if min(image.full_height, image.full_width) < MIN_HASHABLE_DIM:
        return np.zeros((16, 16)), 0
    rows, cols = image.pixels.shape[:2]
    exact = image.factor == 1
    luma = luma_from_rgb(image.pixels)
    if exact and rows == 64 and cols == 64:
        grid64 = luma  # Meta skips the blur for a 64x64 input
    else:
        # Meta keeps every intermediate in float32; we compute in float64 and round the
        # 64x64 grid to float32 so the quality metric and the DCT see what Meta's see.
        grid64 = _grid64(
            luma,
            _band(image.full_height, rows, image.factor),
            _band(image.full_width, cols, image.factor),
        )
    dct = _dct_matrix()
    block: FloatArray = dct @ grid64.astype(np.float64) @ dct.T
    steps = _gradient_steps(grid64)
    if exact and _near_tie(block, steps):
        grid64 = pdq_exact.grid64_exact(luma)
        block = pdq_exact.dct16_exact(grid64, dct.astype(_F32)).astype(np.float64)
        steps = _gradient_steps(grid64)
    return block, _quality_of_steps(steps)


def pdq_from_canonical(image: CanonicalImage) -> PdqHash:
    block, quality = pdq_dct_from_canonical(image)
    return pdq_from_dct(block, quality)


def pdq_from_dct(block: FloatArray, quality: int) -> PdqHash:
    """Threshold a 16x16 DCT block at its median, as Meta does (lower median, strict >)."""
    flat = block.reshape(256)
    median = np.partition(flat, 127)[127]
    bits = flat > median
    # Bit k is row k // 16, column k % 16; the hex prints bit 255 first.
    return PdqHash(hex=np.packbits(bits[::-1]).tobytes().hex(), quality=quality)


def pdq_from_rgb(pixels: npt.NDArray[np.uint8]) -> PdqHash:
    """PDQ of an HxWx3 uint8 RGB array; the same bits and quality as Meta's C++."""
    block, quality = pdq_dct_from_rgb(pixels)
    return pdq_from_dct(block, quality)


DIHEDRAL_VARIANTS = (
    "original",
    "rot90",
    "rot180",
    "rot270",
    "flip_h",
    "flip_v",
    "transpose",
    "transverse",
)
"""Names of the 8 symmetries of the square, as Pillow's `Image.Transpose` applies them:
rot90 is a quarter turn counter-clockwise, flip_h mirrors left-right, flip_v top-bottom,
transpose swaps the axes and transverse swaps them across the other diagonal."""


@lru_cache(maxsize=1)
def _sign_patterns() -> tuple[FloatArray, FloatArray]:
    # DCT row u+1 of a mirrored axis is (-1)^(u+1) times the original row, so mirroring an
    # axis negates the coefficients whose 0-based index along it is even.
    even = np.where(np.arange(16) % 2 == 0, -1.0, 1.0)
    ones = np.ones(16)
    return np.outer(even, ones), np.outer(ones, even)


def dihedral_blocks(block: FloatArray) -> dict[str, FloatArray]:
    """The DCT blocks of the 8 rotations and mirrors of an image, from its own block.

    Exact up to PDQ's sampling grid, which is symmetric only up to a pixel: the hashes
    equal, or come within a few bits of, those of the actually transformed pixels.
    """
    flip_rows, flip_cols = _sign_patterns()
    t = block.T
    return {
        "original": block,
        "rot90": flip_rows * t,  # counter-clockwise: transpose, then mirror top-bottom
        "rot180": flip_rows * flip_cols * block,
        "rot270": flip_cols * t,  # clockwise: transpose, then mirror left-right
        "flip_h": flip_cols * block,
        "flip_v": flip_rows * block,
        "transpose": t,
        "transverse": flip_rows * flip_cols * t,
    }


def pdq_dihedral_from_rgb(pixels: npt.NDArray[np.uint8]) -> dict[str, PdqHash]:
    """PDQ of the image and of its 7 rotations and mirrors, from one DCT (no re-decoding)."""
    block, quality = pdq_dct_from_rgb(pixels)
    return {name: pdq_from_dct(b, quality) for name, b in dihedral_blocks(block).items()}


def pdq_dihedral_from_canonical(image: CanonicalImage) -> dict[str, PdqHash]:
    """The 8 dihedral PDQ hashes of a canonical image."""
    block, quality = pdq_dct_from_canonical(image)
    return {name: pdq_from_dct(b, quality) for name, b in dihedral_blocks(block).items()}
