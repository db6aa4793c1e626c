"""Border trimming: find the picture inside a meme frame, a letterbox, a pad or a screenshot.

A line (row or column) is *plain* when nearly all its pixels are within `TOLERANCE` of the
line's median colour: the flat bars of a meme around its caption, letterbox bars, uniform
pads, the bars and comment lines of a screenshot. The picture is the longest run of rows that
are not plain, then, within it, the longest run of such columns. Text and icons in a
bar are left out because the bar's own margins are plain.

Trimming also cuts natural flat areas (an overcast sky, a white wall), so it is only ever an
*extra* variant, computed the same way on both sides: the reporter lists the trimmed picture
as well as the whole one, the platform queries both. Integer arithmetic throughout, so the
browser finds the same rectangle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["MIN_KEPT", "TOLERANCE", "Box", "trim_box"]

TOLERANCE = 12
"""Largest per-channel difference from the line's median for a pixel to count as plain."""

PLAIN_SHARE_PERMILLE = 980
"""A line is plain when at least this many pixels per thousand are within TOLERANCE."""

MIN_KEPT_PERMILLE = 250
MIN_KEPT = MIN_KEPT_PERMILLE / 1000
"""A trim that would keep less than this share of either dimension is not made."""

MIN_CUT_PERMILLE = 20
"""Cuts thinner than this share of the dimension are ignored (JPEG ringing at the edges)."""


@dataclass(frozen=True, slots=True)
class Box:
    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


def _plain_rows(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Which rows are plain. The median is the lower median per channel (integer)."""
    width = pixels.shape[1]
    ordered = np.sort(pixels, axis=1)
    median = ordered[:, (width - 1) // 2, :].astype(np.int16)
    diff = np.abs(pixels.astype(np.int16) - median[:, None, :]).max(axis=2)
    close = (diff <= TOLERANCE).sum(axis=1)
    plain: npt.NDArray[np.bool_] = close * 1000 >= PLAIN_SHARE_PERMILLE * width
    return plain


def _cuts(plain: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """(first kept, one past last kept) along one axis: the longest run of lines that are not
    plain (the first such run on a tie). Cuts thinner than MIN_CUT_PERMILLE are not made."""
    n = len(plain)
    best_start, best_end, run_start = 0, 0, 0
    for i in range(n + 1):
        if i == n or plain[i]:
            if i - run_start > best_end - best_start:
                best_start, best_end = run_start, i
            run_start = i + 1
    minimum = n * MIN_CUT_PERMILLE // 1000
    if best_start < minimum:
        best_start = 0
    if n - best_end < minimum:
        best_end = n
    return best_start, best_end


def trim_box(pixels: npt.NDArray[np.uint8]) -> Box | None:
    """The picture's rectangle inside plain borders, or None when nothing is trimmed (or the
    trim would keep too little)."""
    height, width = pixels.shape[:2]
    top, bottom = _cuts(_plain_rows(pixels))
    if bottom - top < max(1, height * MIN_KEPT_PERMILLE // 1000):
        return None
    inner = pixels[top:bottom]
    left, right = _cuts(_plain_rows(np.ascontiguousarray(inner.transpose(1, 0, 2))))
    if right - left < max(1, width * MIN_KEPT_PERMILLE // 1000):
        return None
    if (top, left, bottom, right) == (0, 0, height, width):
        return None
    return Box(top, left, bottom, right)
