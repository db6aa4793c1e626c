"""Undo a small rotation: find a picture turned by a few degrees inside a filled canvas.

Rotating a photo by a few degrees (to straighten it, or to disguise it) leaves it inside a
larger canvas whose four corners are triangles of one fill colour. PDQ of that canvas is far
from PDQ of the photo; PDQ of the photo turned back is close. This runs on the platform side
only (queries are computed in Python, never in the browser), so it can use Pillow's rotation.

Detection: the four corner pixels share one colour. For each candidate angle (both ways, in
steps of 0.05 degrees) the picture's outline in the canvas is known, so on every row we know
how far the fill must reach from the left and from the right. The answer is the largest angle
for which the fill reaches that far on nearly every row: smaller angles ask for less fill
than there is, larger ones for fill where the picture is. A photo whose own edges happen to
match the fill colour only makes the fill look longer on some rows, which the share allows.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = ["MAX_DEGREES", "MIN_DEGREES", "derotate", "rotation_angle"]

MIN_DEGREES = 0.75
MAX_DEGREES = 12.0
"""Rotations outside this range are not looked for."""

ANGLE_STEPS = 240
"""Angles tried on each side: MAX_DEGREES / ANGLE_STEPS apart (0.05 degrees)."""

CONSISTENT_SHARE = 0.97
"""Share of rows on which the fill must reach the predicted edge of the picture."""

EDGE_SLACK = 3.0
"""Pixels by which the fill may stop short of the predicted edge (rounding, JPEG ringing)."""

MAX_MEDIAN_OVERSHOOT = 2.0
"""Pixels by which the fill may run past the predicted edge on the median row (on the side
where it runs least)."""

FILL_TOLERANCE = 28
"""Largest per-channel difference from the corner colour that still counts as fill."""


def _fill_runs(fill_mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int64], ...]:
    """Per row: how many pixels from the left and from the right are fill."""
    width = fill_mask.shape[1]
    not_fill = ~fill_mask
    any_content = not_fill.any(axis=1)
    left = np.where(any_content, np.argmax(not_fill, axis=1), width)
    right = np.where(any_content, np.argmax(not_fill[:, ::-1], axis=1), width)
    return left.astype(np.int64), right.astype(np.int64)


def _inner_size(width: int, height: int, angle: float) -> tuple[float, float]:
    """The size of the picture that, turned by `angle` degrees, fills a width x height canvas."""
    t = math.radians(abs(angle))
    cos, sin = math.cos(t), math.sin(t)
    denominator = cos * cos - sin * sin
    return (width * cos - height * sin) / denominator, (height * cos - width * sin) / denominator


def _predicted_edges(
    width: int, height: int, angle: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per row (at its centre): where the turned picture starts and ends, in canvas pixels
    (NaN where the row misses the picture)."""
    inner_w, inner_h = _inner_size(width, height, angle)
    t = math.radians(angle)
    cos, sin = math.cos(t), math.sin(t)
    corners = [(-inner_w / 2, -inner_h / 2), (inner_w / 2, -inner_h / 2)]
    corners += [(inner_w / 2, inner_h / 2), (-inner_w / 2, inner_h / 2)]
    # A counter-clockwise turn as seen on screen (y grows downwards).
    turned = [(x * cos + y * sin + width / 2, -x * sin + y * cos + height / 2) for x, y in corners]
    y = np.arange(height) + 0.5
    lo = np.full(height, np.inf)
    hi = np.full(height, -np.inf)
    for (x0, y0), (x1, y1) in zip(turned, turned[1:] + turned[:1], strict=True):
        if y0 == y1:
            continue
        inside = (y >= min(y0, y1)) & (y <= max(y0, y1))
        x = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        lo = np.where(inside, np.minimum(lo, x), lo)
        hi = np.where(inside, np.maximum(hi, x), hi)
    missing = ~np.isfinite(lo)
    lo[missing] = np.nan
    hi[missing] = np.nan
    return lo, hi


def _consistent(
    left: npt.NDArray[np.int64], right: npt.NDArray[np.int64], width: int, angle: float
) -> bool:
    """Whether the fill reaches the picture's predicted edges on nearly every row."""
    height = len(left)
    lo, hi = _predicted_edges(width, height, angle)
    rows = np.isfinite(lo)
    expect_left = lo[rows] - EDGE_SLACK
    expect_right = width - hi[rows] - EDGE_SLACK
    if not rows.any():
        return False
    ok = (left[rows] >= expect_left) & (right[rows] >= expect_right)
    if ok.mean() < CONSISTENT_SHARE:
        return False
    # ... and on most rows the picture starts where predicted: a frame or a blank canvas has
    # fill far beyond the edge of any turned picture.
    # (One side may be of the fill's colour, such as a white sky on a white fill.)
    overshoot = np.minimum(left[rows] - lo[rows], right[rows] - (width - hi[rows]))
    return bool(np.median(overshoot) <= MAX_MEDIAN_OVERSHOOT)


_STEP = MAX_DEGREES / ANGLE_STEPS
_COARSE = 10


def _largest_consistent(
    left: npt.NDArray[np.int64], right: npt.NDArray[np.int64], width: int, sign: int
) -> int:
    """The largest step k (angle k * _STEP) whose corner triangles are all fill, or 0.

    Smaller angles' triangles lie inside the true ones, larger ones cut into the picture, so
    a coarse pass from the top finds the bracket and a fine pass finds the step within it."""
    coarse = next(
        (
            k
            for k in range(ANGLE_STEPS, 0, -_COARSE)
            if _consistent(left, right, width, sign * k * _STEP)
        ),
        0,
    )
    top = min(ANGLE_STEPS, coarse + _COARSE - 1)
    return next(
        (k for k in range(top, coarse, -1) if _consistent(left, right, width, sign * k * _STEP)),
        coarse,
    )


def _misfit(
    left: npt.NDArray[np.int64], right: npt.NDArray[np.int64], width: int, angle: float
) -> float:
    """Mean distance, in pixels (capped at 10 per row), between where the fill stops and
    where the picture's predicted edges are."""
    lo, hi = _predicted_edges(width, len(left), angle)
    rows = np.isfinite(lo)
    off = np.abs(left[rows] - lo[rows]) + np.abs(right[rows] - (width - hi[rows]))
    return float(np.minimum(off, 10.0).mean())


def _best_fit(
    left: npt.NDArray[np.int64], right: npt.NDArray[np.int64], width: int, sign: int, top: int
) -> int:
    """The step, at most `top` and at most a degree below it, whose predicted edges fit the
    fill best: the largest consistent angle leans high by the slack it allows."""
    low = max(1, top - round(1.0 / _STEP))
    return min(
        range(low, top + 1), key=lambda k: (_misfit(left, right, width, sign * k * _STEP), -k)
    )


def rotation_angle(pixels: npt.NDArray[np.uint8]) -> float | None:
    """The counter-clockwise angle in degrees by which the picture inside was turned (as
    Pillow's `Image.rotate` turns it), or None when the canvas does not look turned."""
    height, width = pixels.shape[:2]
    if min(height, width) < 32:
        return None
    img = pixels.astype(np.int16)
    corners = [img[0, 0], img[0, -1], img[-1, 0], img[-1, -1]]
    fill = corners[0]
    if any(np.abs(c - fill).max() > FILL_TOLERANCE for c in corners):
        return None
    left, right = _fill_runs(np.abs(img - fill).max(axis=2) <= FILL_TOLERANCE)
    best: float | None = None
    for sign in (1, -1):
        step = _largest_consistent(left, right, width, sign)
        if step and (best is None or step * _STEP > abs(best)):
            best = sign * _best_fit(left, right, width, sign, step) * _STEP
    if best is None or abs(best) < MIN_DEGREES:
        return None
    return best


def derotate(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8] | None:
    """The picture inside a rotated canvas, turned back upright and cut out, or None."""
    angle = rotation_angle(pixels)
    if angle is None:
        return None
    height, width = pixels.shape[:2]
    inner_w, inner_h = _inner_size(width, height, angle)
    if inner_w < 16 or inner_h < 16:
        return None
    turned = Image.fromarray(pixels).rotate(-angle, resample=Image.Resampling.BICUBIC, expand=True)
    cx, cy = turned.width / 2, turned.height / 2
    box = (
        round(cx - inner_w / 2),
        round(cy - inner_h / 2),
        round(cx + inner_w / 2),
        round(cy + inner_h / 2),
    )
    out: npt.NDArray[np.uint8] = np.asarray(turned.crop(box))
    return out
