"""Safe image decoding: one file in, one HxWx3 uint8 RGB array out, or a takedown error.

Pixels are taken as stored (no colour management), converted to RGB by `RGB_RULE`.
"""

from __future__ import annotations

import functools
import stat
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, UnidentifiedImageError

from takedown.errors import (
    DecodeError,
    FileTooLargeError,
    ImageTooLargeError,
    InputError,
    UnsupportedMediaError,
)

__all__ = [
    "IMAGE_FORMATS",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "RGB_RULE",
    "load_rgb",
    "open_image",
    "to_rgb",
]

RgbArray = npt.NDArray[np.uint8]

MAX_FILE_BYTES = 200 * 1024 * 1024
"""Image files larger than this many bytes (200 MiB) are refused before they are read."""

MAX_PIXELS = 100_000_000
"""Images with more than this many pixels (width x height) are refused before decoding.

This is the decompression-bomb guard: a few kilobytes of PNG can claim gigapixels. Pillow's
own guard (`Image.MAX_IMAGE_PIXELS`) is set to the same value on first use, and its
DecompressionBombWarning/Error are turned into `ImageTooLargeError`.
"""

IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF", "AVIF")
"""Pillow format names we open; every other format is refused without being parsed.

HEIF/HEIC comes from pillow-heif's opener (registered on first use); AVIF is Pillow's own.
A JPEG may report its format as "MPO" (multi-picture JPEG from phones and cameras).
"""

RGB_RULE = """\
How a decoded image becomes 8-bit RGB, in this order:

1. First frame only (animated GIF/WebP/PNG, multi-page TIFF).
2. 16-bit grey (I;16, I;16L, I;16B, I;16N): keep the high byte, v >> 8, then grey to RGB.
   32-bit integer grey (I): clip to 0..255. Float grey (F): NaN -> 0, clip to 0..255, then
   truncate (floor). Both are what Pillow's convert("L") does, with NaN pinned down.
   Transparency metadata on these modes is ignored.
3. Premultiplied alpha (RGBa, La): over white is exactly out = min(c + 255 - a, 255).
4. Any other alpha (LA, PA, RGBA, P with an RGBA palette, and L/RGB/P/1 with a
   "transparency" key such as a PNG tRNS chunk or a GIF transparent index): Pillow's
   convert("RGBA"), then composite over white with integer arithmetic, per channel:
   out = (c * a + 255 * (255 - a) + 127) // 255   (round to nearest; never a tie).
5. Everything else (1, L, P, RGB, RGBX, CMYK, YCbCr, LAB, HSV): Pillow's convert("RGB"),
   which uses no colour profile. Pillow already reads 16-bit RGB(A) PNGs as their high byte.
6. The EXIF orientation (1-8, as Pillow's getexif reports it; anything else or unreadable
   EXIF counts as 1) is applied last, with the same table as ImageOps.exif_transpose.
"""
"""The one rule `to_rgb` follows from any Pillow mode to RGB, exact enough to port to JS."""

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_PREMULTIPLIED_MODES = frozenset({"RGBa", "La"})
_ALPHA_MODES = frozenset({"LA", "PA", "RGBA"})
_PLAIN_MODES = frozenset({"1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"})

# What Pillow and its plugins raise on damaged data: decoders report through OSError and
# SyntaxError, header parsers leak struct/index/key/value errors, pillow-heif RuntimeError.
_DECODE_FAILURES: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    struct.error,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    RuntimeError,
    ZeroDivisionError,
    OverflowError,
)


def open_image(path: Path) -> Image.Image:
    """Open an image file lazily, after the size, format and pixel-count checks.

    The pixels are not decoded yet, so a caller may still call `.draft()` on a JPEG. Raises
    InputError (missing, unreadable or not a regular file), FileTooLargeError, DecodeError
    (empty, or not one of `IMAGE_FORMATS`, or a damaged header) or ImageTooLargeError.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise InputError("no such file; check the path.", path=path) from exc
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror}).", path=path) from exc
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise InputError(f"this is {kind}; give the path of an image file.", path=path)
    if info.st_size == 0:
        raise DecodeError("the file is empty (0 bytes).", path=path)
    if info.st_size > MAX_FILE_BYTES:
        raise FileTooLargeError(
            f"the file is {_mib(info.st_size)}; image files over {_mib(MAX_FILE_BYTES)} "
            "are refused. Export a smaller copy and try again.",
            path=path,
        )

    formats = _accepted_formats()
    with _pillow_guard(path, "cannot read the image header"):
        try:
            image: Image.Image = Image.open(path, formats=formats)
        except UnidentifiedImageError as exc:
            raise DecodeError(
                f"not a {_format_list()} image, or its header is damaged.", path=path
            ) from exc
        except PermissionError as exc:
            raise InputError(f"cannot read the file ({exc.strerror}).", path=path) from exc
    try:
        _check_pixels(image.size, path)
    except InputError:
        image.close()
        raise
    return image


def to_rgb(image: Image.Image, *, path: Path | None = None) -> RgbArray:
    """Decode `image` to a fresh, C-contiguous HxWx3 uint8 array following `RGB_RULE`.

    `path` only names the file in error messages (default: the image's own filename).
    Truncated or corrupt pixel data raises DecodeError; broken EXIF only skips orientation.
    """
    where = path
    filename = getattr(image, "filename", None)
    if where is None and isinstance(filename, str) and filename:
        where = Path(filename)
    _accepted_formats()
    _check_pixels(image.size, where)
    with _pillow_guard(where, "cannot decode the image; the file is damaged or incomplete"):
        if getattr(image, "is_animated", False) and image.tell() != 0:
            image.seek(0)
        image.load()
        # A GIF frame may extend the canvas beyond the size its header declared.
        _check_pixels(image.size, where)
        pixels = _pixels_to_rgb(image, where)
        orientation = exif_orientation(image)
    return np.ascontiguousarray(_orient(pixels, orientation))


def load_rgb(path: Path) -> RgbArray:
    """`open_image` then `to_rgb`: the RGB pixels of an image file, per `RGB_RULE`."""
    with open_image(path) as image:
        return to_rgb(image, path=path)


@functools.cache
def _accepted_formats() -> tuple[str, ...]:
    """Register the plugins we need, once, on first use (importing pillow-heif is slow)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    Image.init()
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    # Image.open raises KeyError for a format name no plugin registered (a Pillow build
    # without AVIF), so only pass the ones that exist.
    return tuple(name for name in IMAGE_FORMATS if name in Image.OPEN)


@contextmanager
def _pillow_guard(path: Path | None, doing: str) -> Iterator[None]:
    """Turn every Pillow failure inside the block into a takedown error naming the file."""
    # catch_warnings is process-global; if another thread races it, a DecompressionBomb
    # warning may escape, but `_check_pixels` still refuses the image.
    with warnings.catch_warnings():
        # Pillow reports recoverable metadata damage (corrupt EXIF, odd MPO) as UserWarning.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLargeError(_too_many_pixels_message(None), path=path) from exc
        except _DECODE_FAILURES as exc:
            raise DecodeError(f"{doing} ({exc}).", path=path) from exc


def _check_pixels(size: tuple[int, int], path: Path | None) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise DecodeError(f"the image has no pixels ({width} x {height}).", path=path)
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(_too_many_pixels_message(size), path=path)


def _too_many_pixels_message(size: tuple[int, int] | None) -> str:
    what = (
        f"the image has more than {MAX_PIXELS:,} pixels"
        if size is None
        else f"the image is {size[0]} x {size[1]} pixels, more than {MAX_PIXELS:,}"
    )
    return (
        f"{what}; images that large are refused as possible decompression bombs. "
        "Export a smaller copy and try again."
    )


def _pixels_to_rgb(image: Image.Image, path: Path | None) -> RgbArray:
    """Steps 2-5 of `RGB_RULE` on a loaded image."""
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        wide = np.asarray(image).astype(np.uint16)
        return _grey_to_rgb((wide >> 8).astype(np.uint8))
    if mode == "I":
        return _grey_to_rgb(np.clip(np.asarray(image), 0, 255).astype(np.uint8))
    if mode == "F":
        floats = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0)
        return _grey_to_rgb(np.clip(floats, 0.0, 255.0).astype(np.uint8))
    if mode in _PREMULTIPLIED_MODES:
        bands = np.asarray(image).astype(np.int16)
        premultiplied, coverage = bands[..., :-1], bands[..., -1:]
        flat = np.minimum(premultiplied + (255 - coverage), 255).astype(np.uint8)
        return flat if mode == "RGBa" else _grey_to_rgb(flat[..., 0])
    if mode in _ALPHA_MODES or (mode in _PLAIN_MODES and image.has_transparency_data):
        rgba = np.asarray(image.convert("RGBA")).astype(np.uint32)
        colour, alpha = rgba[..., :3], rgba[..., 3:]
        over_white = (colour * alpha + 255 * (255 - alpha) + 127) // 255
        return over_white.astype(np.uint8)
    if mode in _PLAIN_MODES:
        return np.array(image if mode == "RGB" else image.convert("RGB"), dtype=np.uint8)
    raise UnsupportedMediaError(
        f"pixel mode {mode!r} is not supported; convert the image to RGB and try again.",
        path=path,
    )


def _grey_to_rgb(grey: npt.NDArray[np.uint8]) -> RgbArray:
    return np.repeat(grey[..., np.newaxis], 3, axis=2)


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation 1-8, or 1 when it is missing, out of range or unreadable."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except _DECODE_FAILURES:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orient(pixels: RgbArray, orientation: int) -> RgbArray:
    """Apply an EXIF orientation; the same table as ImageOps.exif_transpose."""
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(pixels, k=-1)
    if orientation == 7:
        return pixels[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:
        return np.rot90(pixels, k=1)
    return pixels


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _format_list() -> str:
    names = ["HEIC/HEIF" if name == "HEIF" else name for name in IMAGE_FORMATS]
    return ", ".join(names[:-1]) + " or " + names[-1]
