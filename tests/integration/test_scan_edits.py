"""Edited copies of listed photos found by `takedown scan`: the fingerprint set end to end.

The list is made by `takedown hash --json` (the reporter's set); the copies are made by the
robustness benchmark's transforms and scanned the platform's way. Each edit must match its
own original, through the kind of signal that is meant to catch it, and nothing else.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bench.transforms import make_copy
from tests.conftest import PHOTOS_DEV

LISTED = sorted(PHOTOS_DEV.glob("*.jpg"))[10:14]
UNLISTED = sorted(PHOTOS_DEV.glob("*.jpg"))[20:23]

# family -> variants of the listed signal that may carry the match
EDITS: dict[str, set[str]] = {
    "crop20": {"patch"},
    "crop30": {"patch"},
    "meme": {"trimmed", "original", "patch"},
    "pad": {"trimmed", "original", "patch"},
    "sticker": {"original", "patch"},
    "caption": {"original", "patch"},
    "mirror": {"flip_h"},
    "rot90": {"rot90", "rot180", "rot270"},
    "rot5": {"original"},
    "screenshot": {"original", "trimmed"},
}


def takedown(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "takedown.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def scan(listing: Path, *paths: Path) -> dict[str, list[dict[str, Any]]]:
    result = takedown("scan", "--list", listing, "--json", *paths)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return {r["path"]: r["matches"] for r in records}


@pytest.fixture(scope="module")
def listing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = takedown("hash", "--json", *LISTED)
    assert result.returncode == 0, result.stderr
    path = tmp_path_factory.mktemp("list") / "list.jsonl"
    path.write_text(result.stdout)
    return path


def _copy(source: Path, family: str, seed: int, folder: Path) -> Path:
    with Image.open(source) as opened:
        copy = make_copy(opened.convert("RGB"), family, seed)
    path = folder / f"{source.stem}-{family}{copy.suffix}"
    path.write_bytes(copy.data)
    return path


def test_each_edit_matches_its_own_original_only(listing: Path, tmp_path: Path) -> None:
    copies: dict[Path, tuple[Path, str]] = {}
    for index, source in enumerate(LISTED):
        for family in EDITS:
            copies[_copy(source, family, index, tmp_path)] = (source, family)
    found = scan(listing, *copies)

    for path, (source, family) in copies.items():
        matches = found[str(path)]
        assert [m["path"] for m in matches] == [str(source)], (family, matches)
        [match] = matches
        assert match["type"] == "pdq"
        assert match["variant"] in EDITS[family], (family, match)
        assert 0 <= match["distance"] <= 31


def test_edits_of_unlisted_photos_match_nothing(listing: Path, tmp_path: Path) -> None:
    copies = [
        _copy(source, family, index, tmp_path)
        for index, source in enumerate(UNLISTED)
        for family in EDITS
    ]
    found = scan(listing, *UNLISTED, *copies)
    assert all(matches == [] for matches in found.values()), found


def test_a_crop_of_a_camera_sized_original_meets_a_neighbouring_level(tmp_path: Path) -> None:
    """A 1600x1066 original is listed at level 4 (and 2 and 8); a 16 % crop of it (short side
    960) is hashed at level 2 by the platform. Only the reporter's finer level can catch it."""
    with Image.open(LISTED[0]) as opened:
        big = opened.convert("RGB").resize((1600, 1066), Image.Resampling.LANCZOS)
    original = tmp_path / "camera.jpg"
    big.save(original, quality=95)
    cropped = big.crop((100, 80, 1600, 1040))
    copy = tmp_path / "cropped.jpg"
    buffer = io.BytesIO()
    cropped.save(buffer, "JPEG", quality=90)
    copy.write_bytes(buffer.getvalue())
    result = takedown("hash", "--json", original)
    assert result.returncode == 0, result.stderr
    listing = tmp_path / "list.jsonl"
    listing.write_text(result.stdout)

    [match] = scan(listing, copy)[str(copy)]

    assert match["variant"] == "patch"
    assert match["distance"] <= 31
