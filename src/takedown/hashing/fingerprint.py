"""A media item's fingerprint set: what leaves the reporter's device, and what platforms recompute.

One JSON shape, printed by `takedown hash --json` and accepted by the registry:
``{"kind", "md5", "sha256", "signals": [{"type", "value", "quality", "variant"}], "vpdq"?}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from takedown.errors import DecodeError, InputError, UnsupportedMediaError
from takedown.hashing import regions, video
from takedown.hashing.canonical import CanonicalImage, image_levels
from takedown.hashing.derotate import derotate
from takedown.hashing.exact import exact_hashes
from takedown.hashing.pdq import (
    DIHEDRAL_VARIANTS,
    pdq_dihedral_from_canonical,
    pdq_from_canonical,
    pdq_from_rgb,
)
from takedown.hashing.trim import trim_box

__all__ = [
    "IMAGE_EXTENSIONS",
    "MEDIA_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "MediaFingerprint",
    "Signal",
    "fingerprint_file",
    "query_fingerprint",
]

MediaKind = Literal["image", "video"]

IMAGE_EXTENSIONS = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".webp",
        ".gif",
        ".tif",
        ".tiff",
        ".bmp",
        ".heic",
        ".heif",
        ".avif",
    ]
)
VIDEO_EXTENSIONS = frozenset(
    [
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".3gp",
        ".mpg",
        ".mpeg",
        ".ts",
        ".wmv",
        ".flv",
        ".ogv",
    ]
)
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
"""Extensions picked up when a directory is walked (files named explicitly are always tried)."""


def media_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named as given; directories walked in sorted order, media extensions only, hidden
    files and folders skipped. The walk of `takedown hash`, `takedown scan` and the agent."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden and child.suffix.lower() in MEDIA_EXTENSIONS:
                    yield child
        else:
            yield path


@dataclass(frozen=True, slots=True)
class Signal:
    """One perceptual hash of a media item."""

    type: str
    value: str
    quality: int
    variant: str

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": self.value,
            "quality": self.quality,
            "variant": self.variant,
        }


@dataclass(frozen=True, slots=True)
class MediaFingerprint:
    kind: MediaKind
    md5: str
    sha256: str
    signals: tuple[Signal, ...] = ()
    vpdq: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "md5": self.md5,
            "sha256": self.sha256,
            "signals": [s.to_json() for s in self.signals],
        }
        if self.kind == "video":
            out["vpdq"] = list(self.vpdq)
        return out


REPORTER_PATCHES_PER_LEVEL = 18
"""Region hashes per level image on the reporter side (three levels at most)."""

QUERY_SIGNALS = 8
"""Hashes a platform computes per uploaded image: whole, trimmed (if any), then patches."""

MAX_REPORTER_SIGNALS = 64
"""The most signals one photo can carry to the registry."""

TRIMMED = "trimmed"
PATCH = "patch"
DEROTATED = "derotated"
IMAGE_VARIANTS = (*DIHEDRAL_VARIANTS, TRIMMED, PATCH)
"""Every variant name a listed image signal can carry."""
QUERY_VARIANTS = ("original", TRIMMED, DEROTATED, PATCH)
"""Variant names of the signals a platform computes for an upload."""


def image_signals(path: Path) -> tuple[Signal, ...]:
    """The reporter's set for one photo: PDQ of the canonical pixels and its 7 rotations and
    mirrors, PDQ of the picture inside plain borders (if any), and patch hashes at the
    photo's level and the two neighbouring levels (see `regions`)."""
    levels = image_levels(path)
    canon = levels.canonical
    hashes = pdq_dihedral_from_canonical(canon)
    signals = [
        Signal("pdq", hashes[name].hex, hashes[name].quality, name) for name in DIHEDRAL_VARIANTS
    ]
    signals.extend(_trimmed(canon))
    base = regions.level_factor(canon.full_width, canon.full_height)
    for factor in (base // 2, base, base * 2):
        if factor >= 1 and min(canon.full_width, canon.full_height) // factor >= _MIN_LEVEL_SIDE:
            signals.extend(_patches(levels.level(factor), REPORTER_PATCHES_PER_LEVEL))
    return _unique(signals)[:MAX_REPORTER_SIGNALS]


def query_image_signals(path: Path) -> tuple[Signal, ...]:
    """The platform's set for one upload (at most QUERY_SIGNALS): PDQ of the canonical pixels,
    of the picture inside plain borders (if any), of the picture turned back upright (if it
    was turned by a few degrees inside a filled canvas), then patch hashes at the upload's
    level. Computed in Python only, so it may use steps the browser could not reproduce."""
    levels = image_levels(path)
    canon = levels.canonical
    whole = pdq_from_canonical(canon)
    signals = [Signal("pdq", whole.hex, whole.quality, "original"), *_trimmed(canon)]
    upright = derotate(canon.pixels)
    if upright is not None:
        digest = pdq_from_rgb(upright)
        signals.append(Signal("pdq", digest.hex, digest.quality, DEROTATED))
    factor = regions.level_factor(canon.full_width, canon.full_height)
    signals.extend(_patches(levels.level(factor), QUERY_SIGNALS - len(signals)))
    return _unique(signals)


_MIN_LEVEL_SIDE = regions.PATCH_SIZE + 2 * regions.WINDOW


def _trimmed(canon: CanonicalImage) -> list[Signal]:
    box = trim_box(canon.pixels)
    if box is None:
        return []
    inner = np.ascontiguousarray(canon.pixels[box.top : box.bottom, box.left : box.right])
    digest = pdq_from_rgb(inner)
    return [Signal("pdq", digest.hex, digest.quality, TRIMMED)]


def _patches(level: npt.NDArray[np.uint8], count: int) -> list[Signal]:
    return [
        Signal("pdq", p.hash.hex, p.hash.quality, PATCH) for p in regions.patch_hashes(level, count)
    ]


def _unique(signals: list[Signal]) -> tuple[Signal, ...]:
    """Drop repeated (value, variant) pairs, keeping the first."""
    seen: set[tuple[str, str]] = set()
    out: list[Signal] = []
    for signal in signals:
        key = (signal.value, signal.variant)
        if key not in seen:
            seen.add(key)
            out.append(signal)
    return tuple(out)


def fingerprint_file(path: Path) -> MediaFingerprint:
    """Hash one photo or video. Raises an InputError subclass naming the file on bad input."""
    return _fingerprint(Path(path), image_signals)


def _fingerprint(path: Path, hash_image: Callable[[Path], tuple[Signal, ...]]) -> MediaFingerprint:
    """Exact hashes once, then the image's signals by `hash_image`, or else the video's vPDQ."""
    exact = exact_hashes(path)
    try:
        signals = hash_image(path)
    except DecodeError as image_error:
        if exact.size == 0:
            raise
        try:
            frames = video.hash_video(path)
        except UnsupportedMediaError:
            raise DecodeError(
                "not an image or video we can read (images: JPEG, PNG, WebP, GIF, TIFF, BMP, "
                "HEIC/HEIF, AVIF; videos: MP4, MOV, MKV, WebM, AVI, MPEG, FLV, WMV, Ogg).",
                path=path,
            ) from image_error
        except InputError:
            if _looks_like_image(path):
                raise image_error from None
            raise
        return MediaFingerprint("video", exact.md5, exact.sha256, (), tuple(f.vpdq for f in frames))
    return MediaFingerprint("image", exact.md5, exact.sha256, signals)


def _looks_like_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def query_fingerprint(path: Path) -> MediaFingerprint:
    """Hash one upload the platform way: exact hashes plus the query signals (or vPDQ)."""
    return _fingerprint(Path(path), query_image_signals)
