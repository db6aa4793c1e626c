"""Meta's PDQ arithmetic replayed step by step in float32, for inputs at a numerical tie.

The matrix form in `pdq` is exact to ~1e-12, while Meta's C++ rounds every running sum to
float32. The two can only disagree when a DCT coefficient sits at the median or a gradient
sits at a quantisation step; there we replay Meta's order of operations exactly. It is
slower (a Python loop per image column), so `pdq` calls it only when a tie is detected.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_F32 = np.float32
F32Array = npt.NDArray[np.float32]


def _box_along_axis1(a: F32Array, window: int) -> F32Array:
    """Meta's `box1DFloat` applied to every row of `a`, as running float32 sums."""
    n = a.shape[1]
    half = (window + 2) // 2
    src = np.ascontiguousarray(a.T)
    out = np.empty_like(src)
    total = np.zeros(src.shape[1], dtype=_F32)
    right = left = dst = 0
    count = 0
    for _ in range(half - 1):
        total += src[right]
        count += 1
        right += 1
    for _ in range(window - half + 1):
        total += src[right]
        count += 1
        out[dst] = total / _F32(count)
        right += 1
        dst += 1
    for _ in range(n - window):
        total += src[right]
        total -= src[left]
        out[dst] = total / _F32(count)
        left += 1
        right += 1
        dst += 1
    for _ in range(half - 1):
        total -= src[left]
        count -= 1
        out[dst] = total / _F32(count)
        left += 1
        dst += 1
    return np.ascontiguousarray(out.T)


def grid64_exact(luma: F32Array) -> F32Array:
    """Meta's Jarosz tent filter (two box passes per axis) and 64x64 centre sampling."""
    rows, cols = luma.shape
    if rows == 64 and cols == 64:
        return luma.copy()
    along_rows = (cols + 127) // 128
    along_cols = (rows + 127) // 128
    buf = luma.copy()
    for _ in range(2):
        buf = _box_along_axis1(buf, along_rows)
        buf = _box_along_axis1(buf.T, along_cols).T
    ri = ((np.arange(64) + 0.5) * rows / 64).astype(np.int64)
    ci = ((np.arange(64) + 0.5) * cols / 64).astype(np.int64)
    return np.ascontiguousarray(buf[np.ix_(ri, ci)])


def dct16_exact(grid: F32Array, dct: F32Array) -> F32Array:
    """Meta's `dct64To16`: D A D^T with float32 products summed in index order."""
    partial = np.zeros((16, 64), dtype=_F32)
    for k in range(64):
        partial += dct[:, k : k + 1] * grid[k : k + 1, :]
    block = np.zeros((16, 16), dtype=_F32)
    for k in range(64):
        block += partial[:, k : k + 1] * dct[None, :, k]
    return block
