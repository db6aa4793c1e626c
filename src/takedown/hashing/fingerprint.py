"""A media item's fingerprint set: what leaves the reporter's device, and what platforms recompute.

One JSON shape, printed by `takedown hash --json` and accepted by the registry:
``{"kind", "md5", "sha256", "signals": [{"type", "value", "quality", "variant"}], "vpdq"?}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from takedown.errors import DecodeError, InputError, UnsupportedMediaError
from takedown.hashing import video
from takedown.hashing.canonical import canonical_image
from takedown.hashing.exact import exact_hashes
from takedown.hashing.pdq import DIHEDRAL_VARIANTS, pdq_dihedral_from_canonical

__all__ = [
    "IMAGE_EXTENSIONS",
    "MEDIA_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "MediaFingerprint",
    "Signal",
    "fingerprint_file",
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


def image_signals(path: Path) -> tuple[Signal, ...]:
    """PDQ of the canonical pixels and its 7 rotations and mirrors."""
    hashes = pdq_dihedral_from_canonical(canonical_image(path))
    return tuple(
        Signal("pdq", hashes[name].hex, hashes[name].quality, name) for name in DIHEDRAL_VARIANTS
    )


def fingerprint_file(path: Path) -> MediaFingerprint:
    """Hash one photo or video. Raises an InputError subclass naming the file on bad input."""
    path = Path(path)
    exact = exact_hashes(path)
    try:
        signals = image_signals(path)
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
