"""Decoding image files to RGB: every accepted format, every Pillow mode, and bad input."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pillow_heif
import pytest
from PIL import ExifTags, Image, ImageOps

from takedown.errors import (
    DecodeError,
    FileTooLargeError,
    ImageTooLargeError,
    InputError,
    TakedownError,
)
from takedown.hashing import decode
from takedown.hashing.decode import IMAGE_FORMATS, MAX_PIXELS, load_rgb, open_image, to_rgb
from tests.conftest import PDQ_REFERENCE

# Any warning that escapes decoding (Pillow's DecompressionBombWarning included) fails a test.
pytestmark = pytest.mark.filterwarnings("error")

REFERENCE = PDQ_REFERENCE
EXIF_ROTN = REFERENCE / "reg-test-input" / "exif-rotn"
MODES_DIR = REFERENCE / "misc-images" / "modes"

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
Rgb = npt.NDArray[np.uint8]


def quadrants(width: int = 64, height: int = 48) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, white bottom-right."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    half_h, half_w = height // 2, width // 2
    pixels[:half_h, :half_w] = RED
    pixels[:half_h, half_w:] = GREEN
    pixels[half_h:, :half_w] = BLUE
    pixels[half_h:, half_w:] = WHITE
    return Image.fromarray(pixels)


def quadrant_colours(pixels: Rgb) -> list[tuple[int, ...]]:
    """The mean colour at the centre of each quadrant: TL, TR, BL, BR."""
    height, width = pixels.shape[:2]
    centres = [(height // 4, width // 4), (height // 4, 3 * width // 4)]
    centres += [(3 * height // 4, width // 4), (3 * height // 4, 3 * width // 4)]
    return [
        tuple(int(v) for v in pixels[r - 2 : r + 3, c - 2 : c + 3].mean(axis=(0, 1)).round())
        for r, c in centres
    ]


def assert_close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int) -> None:
    assert all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)), (
        f"{actual} is not within {tolerance} of {expected}"
    )


def assert_rgb_array(pixels: Rgb, height: int, width: int) -> None:
    assert pixels.shape == (height, width, 3)
    assert pixels.dtype == np.uint8
    assert pixels.flags.c_contiguous
    assert pixels.flags.writeable


def exif_with_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return exif


def save(image: Image.Image, path: Path, **params: Any) -> Path:
    image.save(path, **params)
    return path


def one_pixel(mode: str, value: object) -> Rgb:
    """to_rgb of a 1x1 image of `mode` holding `value`."""
    return to_rgb(Image.new(mode, (1, 1), value))  # type: ignore[arg-type]


# --- every accepted format -------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "params", "tolerance"),
    [
        (".jpg", {"format": "JPEG", "quality": 95}, 12),
        (".png", {"format": "PNG"}, 0),
        (".webp", {"format": "WEBP", "lossless": True}, 0),
        (".webp", {"format": "WEBP", "quality": 90}, 12),
        (".gif", {"format": "GIF"}, 0),
        (".tif", {"format": "TIFF"}, 0),
        (".tif", {"format": "TIFF", "compression": "tiff_deflate"}, 0),
        (".bmp", {"format": "BMP"}, 0),
        (".heic", {"format": "HEIF", "quality": 90}, 12),
        (".avif", {"format": "AVIF", "quality": 90}, 12),
    ],
)
def test_every_accepted_format_decodes_to_the_pixels_it_was_written_with(
    tmp_path: Path, suffix: str, params: dict[str, object], tolerance: int
) -> None:
    pillow_heif.register_heif_opener()  # lets Pillow *write* HEIF for this test
    path = save(quadrants(), tmp_path / f"quadrants{suffix}", **params)

    pixels = load_rgb(path)

    assert_rgb_array(pixels, 48, 64)
    for actual, expected in zip(quadrant_colours(pixels), [RED, GREEN, BLUE, WHITE], strict=True):
        assert_close(actual, expected, tolerance)


def test_pillow_heif_is_registered_on_first_use_not_at_import(tmp_path: Path) -> None:
    pillow_heif.register_heif_opener()
    path = save(quadrants(), tmp_path / "photo.heic", format="HEIF", quality=90)
    script = (
        "import sys; from pathlib import Path\n"
        "import takedown.hashing.decode as decode\n"
        "assert 'pillow_heif' not in sys.modules, 'imported at import time'\n"
        "assert 'HEIF' not in decode.Image.OPEN\n"
        "print(decode.load_rgb(Path(sys.argv[1])).shape)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(48, 64, 3)"


def test_the_accepted_formats_are_exactly_the_eight_documented_ones() -> None:
    assert set(IMAGE_FORMATS) == {"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF", "AVIF"}


def test_a_format_pillow_knows_but_we_do_not_accept_is_refused(tmp_path: Path) -> None:
    path = save(quadrants(), tmp_path / "picture.ppm", format="PPM")
    with pytest.raises(DecodeError, match="JPEG, PNG") as info:
        load_rgb(path)
    assert "picture.ppm" in str(info.value)


@pytest.mark.parametrize(("suffix", "fmt"), [(".gif", "GIF"), (".webp", "WEBP"), (".png", "PNG")])
def test_an_animated_image_gives_its_first_frame(tmp_path: Path, suffix: str, fmt: str) -> None:
    frames = [Image.new("RGB", (32, 24), colour) for colour in (RED, GREEN, BLUE)]
    path = tmp_path / f"animated{suffix}"
    params: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(
        path, format=fmt, save_all=True, append_images=frames[1:], duration=100, **params
    )

    with open_image(path) as image:
        assert getattr(image, "n_frames", 1) == 3
        pixels = to_rgb(image)

    assert_rgb_array(pixels, 24, 32)
    assert (pixels == RED).all()


def test_the_first_frame_is_returned_even_after_the_caller_moved_to_another(
    tmp_path: Path,
) -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, GREEN, BLUE)]
    path = tmp_path / "animated.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)

    with open_image(path) as image:
        image.seek(2)
        pixels = to_rgb(image)

    assert (pixels == RED).all()


def test_a_multi_page_tiff_gives_its_first_page(tmp_path: Path) -> None:
    pages = [Image.new("RGB", (16, 16), colour) for colour in (GREEN, RED)]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])

    assert (load_rgb(path) == GREEN).all()


def test_open_image_leaves_pixels_undecoded_so_a_jpeg_can_still_be_drafted() -> None:
    with open_image(EXIF_ROTN / "exif-rotn-1.jpg") as image:
        assert image.size == (4032, 3024)
        image.draft("RGB", (4032 // 8, 3024 // 8))
        pixels = to_rgb(image)

    assert_rgb_array(pixels, 3024 // 8, 4032 // 8)


# --- EXIF orientation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "shape"),
    [(1, (3024, 4032, 3)), (3, (3024, 4032, 3)), (6, (4032, 3024, 3)), (8, (4032, 3024, 3))],
)
def test_the_reference_photos_come_out_upright_exactly_as_pillow_exif_transpose_does(
    orientation: int, shape: tuple[int, int, int]
) -> None:
    # The four files are different photographs, each stored sideways or upside down as its
    # tag says, so they are compared with Pillow's reference transpose rather than each other.
    path = EXIF_ROTN / f"exif-rotn-{orientation}.jpg"
    with Image.open(path) as image:
        assert image.getexif()[ExifTags.Base.Orientation] == orientation
        expected = np.asarray(ImageOps.exif_transpose(image.convert("RGB")))

    pixels = load_rgb(path)

    assert pixels.shape == shape
    assert np.array_equal(pixels, expected)


def test_a_jpeg_tagged_orientation_6_is_rotated_clockwise_to_display_upright(
    tmp_path: Path,
) -> None:
    path = save(quadrants(64, 48), tmp_path / "rot6.jpg", quality=95, exif=exif_with_orientation(6))

    pixels = load_rgb(path)

    # Rotating a landscape image a quarter turn clockwise: the stored bottom-left (blue)
    # becomes the top-left, and the picture is now portrait.
    assert_rgb_array(pixels, 64, 48)
    for actual, expected in zip(quadrant_colours(pixels), [BLUE, RED, WHITE, GREEN], strict=True):
        assert_close(actual, expected, 12)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_of_the_eight_orientations_matches_pillow_exif_transpose_exactly(
    tmp_path: Path, orientation: int
) -> None:
    rng = np.random.default_rng(orientation)
    noise = Image.fromarray(rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8))
    path = save(noise, tmp_path / "tagged.png", exif=exif_with_orientation(orientation))
    with Image.open(path) as image:
        expected = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))

    assert np.array_equal(load_rgb(path), expected)


def tiff_ifd(*entries: tuple[int, int, int, bytes]) -> bytes:
    """An EXIF block holding one little-endian IFD of (tag, type, count, 4-byte value)."""
    body = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        body += struct.pack("<HHI", tag, kind, count) + value
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + body + b"\x00\x00\x00\x00"


ORIENTATION = int(ExifTags.Base.Orientation)


@pytest.mark.parametrize(
    "exif",
    [
        b"Exif\x00\x00" + b"\xde\xad\xbe\xef" * 8,
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x12",
        b"Exif\x00\x00II*\x00\xff\xff\xff\x7f",
        b"Exif\x00\x00XX*\x00\x08\x00\x00\x00",
        tiff_ifd((ORIENTATION, 2, 2, b"6\x00\x00\x00")),
        tiff_ifd((ORIENTATION, 5, 1, struct.pack("<I", 100))),
        tiff_ifd((ORIENTATION, 3, 0x7FFFFFFF, struct.pack("<I", 100))),
        tiff_ifd((ORIENTATION, 99, 1, struct.pack("<HH", 6, 0))),
    ],
    ids=[
        "garbage",
        "cut-short",
        "offset-out-of-range",
        "bad-magic",
        "orientation-as-text",
        "orientation-beyond-the-file",
        "orientation-count-huge",
        "unknown-type",
    ],
)
def test_a_broken_exif_block_does_not_fail_the_decode_it_only_skips_orientation(
    tmp_path: Path, exif: bytes
) -> None:
    path = save(quadrants(), tmp_path / "broken-exif.jpg", quality=95, exif=exif)

    pixels = load_rgb(path)

    assert_rgb_array(pixels, 48, 64)
    assert_close(quadrant_colours(pixels)[0], RED, 12)


@pytest.mark.parametrize("orientation", [0, 9, 1000])
def test_an_orientation_outside_one_to_eight_is_ignored(tmp_path: Path, orientation: int) -> None:
    image = quadrants()
    path = save(image, tmp_path / "odd.png", exif=exif_with_orientation(orientation))

    assert np.array_equal(load_rgb(path), np.asarray(image))


# --- every Pillow mode -----------------------------------------------------------------


def over_white(colour: int, alpha: int) -> int:
    """The documented compositing rule, written out independently of the module."""
    return (colour * alpha + 255 * (255 - alpha) + 127) // 255


def test_half_transparent_red_over_white_is_exactly_255_127_127() -> None:
    assert one_pixel("RGBA", (255, 0, 0, 128))[0, 0].tolist() == [255, 127, 127]


@pytest.mark.parametrize("alpha", [0, 1, 64, 127, 128, 200, 254, 255])
def test_rgba_is_composited_over_white_with_round_half_up_integer_arithmetic(alpha: int) -> None:
    colour = (10, 128, 250)
    expected = [over_white(c, alpha) for c in colour]

    assert one_pixel("RGBA", (*colour, alpha))[0, 0].tolist() == expected


def test_a_fully_transparent_pixel_is_white_whatever_its_colour() -> None:
    assert one_pixel("RGBA", (12, 34, 56, 0))[0, 0].tolist() == list(WHITE)


def test_grey_with_alpha_is_composited_over_white() -> None:
    assert one_pixel("LA", (100, 128))[0, 0].tolist() == [over_white(100, 128)] * 3


def test_palette_with_alpha_is_composited_over_white() -> None:
    image = Image.new("PA", (1, 1), (3, 128))
    image.putpalette([0, 0, 0] * 3 + [255, 0, 0] + [0, 0, 0] * 252)

    assert to_rgb(image)[0, 0].tolist() == [255, 127, 127]


def test_a_palette_colour_marked_transparent_becomes_white() -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    image.putpixel((1, 0), 1)
    image.info["transparency"] = 0

    assert to_rgb(image)[0].tolist() == [list(WHITE), list(BLUE)]


def test_a_palette_without_transparency_gives_its_palette_colours() -> None:
    image = Image.new("P", (1, 1), 1)
    image.putpalette([0, 0, 0, 12, 34, 56] + [0, 0, 0] * 254)

    assert to_rgb(image)[0, 0].tolist() == [12, 34, 56]


@pytest.mark.parametrize(("mode", "value"), [("RGBa", (128, 0, 0, 128)), ("La", (64, 128))])
def test_premultiplied_alpha_over_white_adds_the_uncovered_white(
    mode: str, value: tuple[int, ...]
) -> None:
    expected = [255, 127, 127] if mode == "RGBa" else [64 + 127] * 3

    assert one_pixel(mode, value)[0, 0].tolist() == expected


@pytest.mark.parametrize(("value", "grey"), [(0, 0), (1, 255)])
def test_a_bilevel_image_is_black_and_white(value: int, grey: int) -> None:
    assert one_pixel("1", value)[0, 0].tolist() == [grey] * 3


def test_grey_is_repeated_into_all_three_channels() -> None:
    assert one_pixel("L", 77)[0, 0].tolist() == [77, 77, 77]


@pytest.mark.parametrize(
    ("cmyk", "rgb"),
    [((0, 0, 0, 0), WHITE), ((255, 0, 0, 0), (0, 255, 255)), ((0, 0, 0, 255), (0, 0, 0))],
)
def test_cmyk_uses_pillows_plain_conversion(
    cmyk: tuple[int, ...], rgb: tuple[int, int, int]
) -> None:
    assert one_pixel("CMYK", cmyk)[0, 0].tolist() == list(rgb)


@pytest.mark.parametrize(
    ("mode", "value"),
    [
        ("YCbCr", (128, 90, 200)),
        ("LAB", (60, 150, 100)),
        ("HSV", (0, 255, 255)),
        ("HSV", (170, 128, 200)),
        ("RGBX", (1, 2, 3, 4)),
    ],
)
def test_other_colour_spaces_use_pillows_rgb_conversion(mode: str, value: tuple[int, ...]) -> None:
    image = Image.new(mode, (1, 1), value)

    assert np.array_equal(to_rgb(image), np.asarray(image.convert("RGB")))


def test_hsv_pure_hue_zero_is_red() -> None:
    assert one_pixel("HSV", (0, 255, 255))[0, 0].tolist() == list(RED)


@pytest.mark.parametrize("mode", ["I;16", "I;16L", "I;16B", "I;16N"])
def test_sixteen_bit_grey_keeps_its_high_byte(mode: str) -> None:
    image = Image.new(mode, (4, 1))
    for x, value in enumerate([0xABCD, 0x00FF, 0xFFFF, 0x0100]):
        image.putpixel((x, 0), value)

    assert to_rgb(image)[0, :, 0].tolist() == [0xAB, 0x00, 0xFF, 0x01]


def test_a_sixteen_bit_png_keeps_its_high_byte(tmp_path: Path) -> None:
    ramp = np.arange(0, 65536, 256, dtype=np.uint16).reshape(16, 16) + 0x7F
    path = save(Image.fromarray(ramp), tmp_path / "deep.png")
    with Image.open(path) as image:
        assert image.mode == "I;16"

    pixels = load_rgb(path)

    assert np.array_equal(pixels[..., 0], (ramp >> 8).astype(np.uint8))
    assert np.array_equal(pixels[..., 0], pixels[..., 2])


def test_thirty_two_bit_integers_are_clipped_to_0_255() -> None:
    values = np.array([[-5, 0, 1, 200, 255, 256, 70000]], dtype=np.int32)
    image = Image.fromarray(values)
    assert image.mode == "I"

    pixels = to_rgb(image)

    assert pixels[0, :, 1].tolist() == [0, 0, 1, 200, 255, 255, 255]
    assert np.array_equal(pixels[..., 0], np.asarray(image.convert("L")))


def test_floats_are_clipped_to_0_255_and_truncated_with_nan_as_black() -> None:
    values = [-1.5, 0.9, 127.5, 254.99, 255.0, 1e9, float("inf"), float("-inf"), float("nan")]
    image = Image.fromarray(np.array([values], dtype=np.float32))
    assert image.mode == "F"

    pixels = to_rgb(image)

    assert pixels[0, :, 2].tolist() == [0, 0, 127, 254, 255, 255, 255, 0, 0]
    finite = slice(0, 6)
    assert np.array_equal(pixels[0, finite, 0], np.asarray(image.convert("L"))[0, finite])


def test_an_rgb_image_comes_back_unchanged() -> None:
    image = quadrants()

    assert np.array_equal(to_rgb(image), np.asarray(image))


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_a_png_transparency_key_is_composited_over_white(tmp_path: Path, mode: str) -> None:
    image = Image.new(mode, (2, 1), 0 if mode == "L" else (0, 0, 0))
    image.putpixel((1, 0), 40 if mode == "L" else (40, 40, 40))
    key: object = 0 if mode == "L" else (0, 0, 0)
    path = save(image, tmp_path / f"{mode}-trns.png", transparency=key)

    assert load_rgb(path)[0].tolist() == [list(WHITE), [40, 40, 40]]


@pytest.mark.parametrize(
    "mode",
    [
        "1",
        "L",
        "LA",
        "La",
        "P",
        "PA",
        "RGB",
        "RGBA",
        "RGBa",
        "RGBX",
        "CMYK",
        "YCbCr",
        "LAB",
        "HSV",
        "I",
        "I;16",
        "I;16B",
        "I;16L",
        "F",
    ],
)
def test_every_pillow_mode_converts_to_an_rgb_array_of_the_same_size(mode: str) -> None:
    image = (
        quadrants(20, 10).convert("RGBA").convert(mode)
        if mode not in {"La", "RGBa"}
        else Image.new(mode, (20, 10))
    )

    assert_rgb_array(to_rgb(image), 10, 20)


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in MODES_DIR.iterdir() if p.suffix != ".md") if MODES_DIR.is_dir() else [],
)
def test_the_reference_mode_images_all_decode_to_rgb_of_the_original_size(name: str) -> None:
    original = load_rgb(MODES_DIR / "original.jpg")

    pixels = load_rgb(MODES_DIR / name)

    assert_rgb_array(pixels, *original.shape[:2])
    assert abs(float(pixels.mean()) - float(original.mean())) < 10


# --- bad input -------------------------------------------------------------------------


def assert_refused(path: Path, error: type[TakedownError]) -> TakedownError:
    """load_rgb raises exactly `error`, naming the file, and lets no warning escape."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TakedownError) as info:
            load_rgb(path)
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert path.name in str(info.value)
    assert info.value.path == str(path)
    return info.value


def real_jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(
        buffer, "JPEG", quality=90
    )
    return buffer.getvalue()


def real_png_bytes() -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(8)
    Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def first_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking bilevel PNG header for `width` x `height`, with almost no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def flip_idat_bytes(png: bytes) -> bytes:
    start = png.index(b"IDAT") + 4 + 200
    corrupt = bytearray(png)
    for i in range(start, start + 64):
        corrupt[i] ^= 0xFF
    return bytes(corrupt)


BAD_FILES: dict[str, tuple[str, Callable[[], bytes], type[TakedownError]]] = {
    "empty file": ("empty.jpg", lambda: b"", DecodeError),
    "text named .jpg": (
        "notes.jpg",
        lambda: b"these are not the pixels you are looking for\n",
        DecodeError,
    ),
    "random bytes": ("noise.png", lambda: np.random.default_rng(1).bytes(4096), DecodeError),
    "truncated jpeg": ("half.jpg", lambda: first_half(real_jpeg_bytes()), DecodeError),
    "truncated png": ("half.png", lambda: first_half(real_png_bytes()), DecodeError),
    "corrupt png": ("flipped.png", lambda: flip_idat_bytes(real_png_bytes()), DecodeError),
    "jpeg header only": ("header.jpg", lambda: real_jpeg_bytes()[:700], DecodeError),
    "png bomb": ("bomb.png", lambda: png_claiming(50_000, 50_000), ImageTooLargeError),
    # Between our limit and twice it, Pillow only warns; that warning must become our error.
    "png a little over the limit": (
        "big.png",
        lambda: png_claiming(12_000, 10_000),
        ImageTooLargeError,
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_input_raises_the_right_takedown_error_naming_the_file(
    tmp_path: Path, case: str
) -> None:
    name, content, error = BAD_FILES[case]
    path = tmp_path / name
    path.write_bytes(content())

    assert_refused(path, error)


def test_a_nonexistent_path_is_an_input_error(tmp_path: Path) -> None:
    message = assert_refused(tmp_path / "missing.jpg", InputError)

    assert "no such file" in str(message)


def test_a_directory_is_an_input_error(tmp_path: Path) -> None:
    folder = tmp_path / "photos.jpg"
    folder.mkdir()

    assert "directory" in str(assert_refused(folder, InputError))


def test_a_file_over_the_byte_limit_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(quadrants(), tmp_path / "large.png")
    monkeypatch.setattr(decode, "MAX_FILE_BYTES", path.stat().st_size - 1)

    assert_refused(path, FileTooLargeError)


def test_a_file_at_exactly_the_byte_limit_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(quadrants(), tmp_path / "exact.png")
    monkeypatch.setattr(decode, "MAX_FILE_BYTES", path.stat().st_size)

    assert_rgb_array(load_rgb(path), 48, 64)


def test_an_image_over_the_pixel_limit_is_refused_before_its_pixels_are_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(quadrants(64, 48), tmp_path / "many-pixels.png")
    monkeypatch.setattr(decode, "MAX_PIXELS", 64 * 48 - 1)

    error = assert_refused(path, ImageTooLargeError)

    assert "64 x 48" in str(error)


def test_an_image_at_exactly_the_pixel_limit_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(quadrants(64, 48), tmp_path / "enough-pixels.png")
    monkeypatch.setattr(decode, "MAX_PIXELS", 64 * 48)

    assert_rgb_array(load_rgb(path), 48, 64)


def test_pillows_own_bomb_guard_is_set_to_our_limit(tmp_path: Path) -> None:
    load_rgb(save(quadrants(), tmp_path / "small.png"))

    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS


def test_a_decode_error_from_to_rgb_names_the_file_given_by_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "half.jpg"
    path.write_bytes(real_jpeg_bytes()[:2000])

    with open_image(path) as image, pytest.raises(DecodeError) as info:
        to_rgb(image, path=Path("/somewhere/else/shown.jpg"))

    assert "shown.jpg" in str(info.value)
    assert "truncated" in str(info.value)
