"""The in-browser hasher gives the same fingerprints as `takedown hash --json`, bit for bit.

Every image of pdq-reference, 30 photos of photos-dev (every tenth, in name order), files we
make in every PNG flavour plus GIF, BMP, AVIF and WebP, and 3 videos of video-reference are
hashed by the real hash worker in headless Chromium and compared with
`takedown.hashing.fingerprint_file` in this process. Images must be identical (every signal,
quality and variant, md5, sha256); video frames may differ by at most 2 bits (the issue's
allowance for the browser's decoder), and the number of exact frames is printed.
Formats the browser cannot decode identically must come back as exact_only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from takedown.hashing.fingerprint import fingerprint_file
from takedown.hashing.pdq import hamming
from tests.browser.conftest import LiveServer
from tests.browser.hasher_page import (
    IMAGE_SUFFIXES,
    PDQ_REFERENCE,
    PHOTOS_DEV,
    VIDEO_REFERENCE,
    hash_in_worker,
)

NOT_REPRODUCIBLE = {".heic": "format_not_reproducible", ".tif": "format_not_reproducible"}
"""Image formats the browser hasher cannot decode exactly as Pillow does (Chromium has no
HEIC or TIFF decoder): the page must report exact_only with this reason."""

VIDEOS = ("doorknob-hd-no-bar.mp4", "pattern-sd-grey-bar.mp4", "test-padded-dimensions.mp4")
"""1280x720 Main, 480x720 portrait Main with a grey bar, 1080x1080 High profile."""

MAX_FRAME_BITS = 2


def reference_images() -> list[Path]:
    return sorted(
        p for p in PDQ_REFERENCE.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def photos_sample() -> list[Path]:
    photos = sorted(PHOTOS_DEV.glob("*.jpg"))
    return photos[::10][:30]


@pytest.fixture(scope="module")
def worker_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US")
    yield context.new_page()
    context.close()


def python_item(path: Path) -> dict[str, Any]:
    return fingerprint_file(path).to_json()


def assert_identical(paths: list[Path], messages: list[dict[str, Any]]) -> None:
    assert len(messages) == len(paths)
    different = []
    for path, message in zip(paths, messages, strict=True):
        assert message["error"] is None, f"{path}: {message['error']}"
        got = message["result"]
        want = python_item(path)
        # Same keys in the same order, same signals in the same order.
        if json.dumps(got) != json.dumps(want):
            different.append((path.name, got, want))
    print(f"\nbit-identical: {len(paths) - len(different)}/{len(paths)}")
    assert not different, "\n".join(
        f"{name}:\n  browser {json.dumps(got)[:400]}\n  python  {json.dumps(want)[:400]}"
        for name, got, want in different
    )


def test_every_pdq_reference_image_is_bit_identical(
    worker_page: Page, live_server: LiveServer
) -> None:
    paths = reference_images()
    assert len(paths) >= 45
    decodable = [p for p in paths if p.suffix.lower() not in NOT_REPRODUCIBLE]
    messages = hash_in_worker(worker_page, live_server, decodable)
    assert_identical(decodable, messages)
    # Formats listed in NOT_REPRODUCIBLE would be reported exact_only (none is in the set now).
    assert [p for p in paths if p.suffix.lower() in NOT_REPRODUCIBLE] == []


def test_thirty_photos_dev_photos_are_bit_identical(
    worker_page: Page, live_server: LiveServer
) -> None:
    paths = photos_sample()
    assert len(paths) == 30
    assert_identical(paths, hash_in_worker(worker_page, live_server, paths))


def _make_images(folder: Path) -> tuple[list[Path], dict[Path, str]]:
    """Files in formats and modes the reference set lacks: identical ones, and the files that
    must come back exact_only with the reason they must carry."""
    base = np.asarray(Image.open(PHOTOS_DEV / "100075.jpg").convert("RGB"))
    rng = np.random.default_rng(7)
    height, width = base.shape[:2]
    photo = Image.fromarray(base)
    alpha = rng.integers(0, 256, (height, width), dtype=np.uint8)
    same: dict[str, Callable[[Path], None]] = {
        "interlaced.png": lambda p: photo.save(p, interlace=1),
        "alpha.png": lambda p: Image.fromarray(np.dstack([base, alpha]), "RGBA").save(p),
        "palette-trns.png": lambda p: photo.convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=16
        ).save(p, transparency=3),
        "palette-4bit.png": lambda p: photo.convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=16
        ).save(p, bits=4),
        "grey-trns.png": lambda p: Image.fromarray(base[..., 1]).save(p, transparency=100),
        "rgb-trns.png": lambda p: photo.save(p, transparency=(10, 20, 30)),
        "grey-alpha.png": lambda p: Image.fromarray(base[..., 1]).convert("LA").save(p),
        "grey16.png": lambda p: Image.fromarray(
            base[..., 0].astype(np.uint16) * 257 + rng.integers(0, 200, (height, width), np.uint16)
        ).save(p),
        "first-frame.gif": lambda p: photo.convert("P", palette=Image.Palette.ADAPTIVE).save(
            p, save_all=True, append_images=[Image.fromarray(base[::-1].copy()).convert("P")]
        ),
        "plain.bmp": lambda p: photo.save(p),
        "lossy.webp": lambda p: photo.save(p, quality=80),
        "opaque-lossless.webp": lambda p: photo.save(p, lossless=True),
        "photo.avif": lambda p: photo.save(p, quality=70),
        "exif-rotated.png": lambda p: photo.save(p, exif=_orientation_exif(6)),
        "restart-markers.jpg": lambda p: photo.save(p, quality=90, restart_marker_blocks=7),
        "progressive-restart.jpg": lambda p: photo.resize((1283, 857)).save(
            p, quality=90, progressive=True, restart_marker_rows=1
        ),
        "grey.jpg": lambda p: photo.convert("L").save(p, quality=85),
        "subsampled-422.jpg": lambda p: photo.resize((1283, 857)).save(
            p, quality=85, subsampling=1
        ),
    }
    exact_only = {
        "photo.heic": "format_not_reproducible",
        "photo.tif": "format_not_reproducible",
        "semi-transparent.webp": "semi_transparent",
    }
    import pillow_heif

    pillow_heif.register_heif_opener()
    paths = []
    for name, save in same.items():
        path = folder / name
        save(path)
        paths.append(path)
    photo.save(folder / "photo.heic")
    photo.save(folder / "photo.tif")
    Image.fromarray(np.dstack([base, alpha]), "RGBA").save(
        folder / "semi-transparent.webp", lossless=True
    )
    return paths, {folder / name: reason for name, reason in exact_only.items()}


def _orientation_exif(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


def test_other_formats_are_identical_or_reported_exact_only(
    worker_page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    same, exact_only = _make_images(tmp_path)
    # The list of formats the hasher cannot reproduce is what the page reports.
    assert {p.suffix for p, why in exact_only.items() if why == "format_not_reproducible"} == set(
        NOT_REPRODUCIBLE
    )
    messages = hash_in_worker(worker_page, live_server, [*same, *exact_only])
    assert_identical(same, messages[: len(same)])
    for (path, reason), message in zip(exact_only.items(), messages[len(same) :], strict=True):
        want = python_item(path)
        got = message["result"]
        assert message["error"] is None, f"{path.name}: {message['error']}"
        assert want["signals"], f"Python hashes {path.name}; the page must say it cannot"
        assert got == {
            "kind": "image",
            "md5": want["md5"],
            "sha256": want["sha256"],
            "signals": [],
            "exact_only": True,
            "reason": reason,
        }


def test_three_videos_frames_within_two_bits(worker_page: Page, live_server: LiveServer) -> None:
    paths = [VIDEO_REFERENCE / name for name in VIDEOS]
    messages = hash_in_worker(worker_page, live_server, paths)
    exact = total = 0
    for path, message in zip(paths, messages, strict=True):
        assert message["error"] is None, f"{path.name}: {message['error']}"
        got = message["result"]
        want = python_item(path)
        assert got.keys() == want.keys()
        assert (got["kind"], got["md5"], got["sha256"], got["signals"]) == (
            "video",
            want["md5"],
            want["sha256"],
            [],
        )
        assert len(got["vpdq"]) == len(want["vpdq"]) > 0, path.name
        distances = []
        for mine, theirs in zip(got["vpdq"], want["vpdq"], strict=True):
            hex_a, quality_a, time_a = mine.split(",")
            hex_b, quality_b, time_b = theirs.split(",")
            assert time_a == time_b
            distance = hamming(hex_a, hex_b)
            assert distance <= MAX_FRAME_BITS, f"{path.name} at {time_a} s: {distance} bits"
            if distance == 0:
                assert quality_a == quality_b
            distances.append(distance)
        same = sum(d == 0 for d in distances)
        print(f"\n{path.name}: {same}/{len(distances)} frames exact, max {max(distances)} bits")
        exact += same
        total += len(distances)
    print(f"video frames exact: {exact}/{total} (all within {MAX_FRAME_BITS} bits)")
