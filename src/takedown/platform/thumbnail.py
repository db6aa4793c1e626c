"""Previews for the reviewer page: a platform's photo or video as a small, re-encoded JPEG.

Re-encoding means the browser only ever receives a JPEG we made, never the file's own bytes
(which could be anything, e.g. HTML or SVG with a script).
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from PIL import Image

from takedown.errors import DecodeError, InputError, UnsupportedMediaError
from takedown.hashing.decode import MAX_PIXELS, open_image, to_rgb
from takedown.hashing.fingerprint import VIDEO_EXTENSIONS

__all__ = ["PREVIEW_SIZE", "media_path", "preview_jpeg"]

PREVIEW_SIZE = 640
"""Longest side of a preview, in pixels."""
_MAX_VIDEO_PACKETS = 2000
"""Packets read looking for a first decodable frame before giving up."""


def media_path(ref: str, media_root: Path | None) -> Path | None:
    """The file a review item's ref names on this machine, or None if it names none.

    With `media_root`, a ref is a path relative to it (or absolute inside it); a ref that
    leads outside the root (`..`, symbolic links) names nothing."""
    if not ref or "\x00" in ref:
        return None
    if media_root is None:
        candidate = Path(ref)
    else:
        root = media_root.resolve()
        candidate = (root / ref).resolve()
        if not candidate.is_relative_to(root):
            return None
    try:
        return candidate if candidate.is_file() else None
    except OSError:
        return None


def preview_jpeg(path: Path) -> bytes:
    """A JPEG of the image (or of a video's first frame) at most PREVIEW_SIZE on a side.
    Raises InputError (or a subclass) when the file cannot be previewed."""
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        image = _first_frame(path)
    else:
        try:
            with open_image(path) as opened:
                # JPEGs decode at a reduced scale: a preview needs no full-size pixels.
                opened.draft("RGB", (PREVIEW_SIZE * 2, PREVIEW_SIZE * 2))
                image = Image.fromarray(to_rgb(opened, path=path))
        except (DecodeError, UnsupportedMediaError):
            image = _first_frame(path)
    image.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=80)
    return out.getvalue()


def _first_frame(path: Path) -> Image.Image:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UnsupportedMediaError("no picture to preview", path=path)
            stream = container.streams.video[0]
            for number, packet in enumerate(container.demux(stream)):
                if number >= _MAX_VIDEO_PACKETS:
                    break
                for frame in packet.decode():
                    if frame.width * frame.height > MAX_PIXELS:
                        raise UnsupportedMediaError("the video frame is too large", path=path)
                    pixels = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
                    return Image.fromarray(pixels)
    except av.error.FFmpegError as exc:
        raise DecodeError(f"cannot decode a preview ({type(exc).__name__})", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", path=path) from None
    raise DecodeError("no decodable frame to preview", path=path)
