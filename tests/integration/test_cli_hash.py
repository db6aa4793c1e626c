"""`takedown hash` end to end, as a separate process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from takedown.hashing.pdq import DIHEDRAL_VARIANTS
from tests.conftest import PDQ_REFERENCE, VIDEO_REFERENCE

BRIDGE = PDQ_REFERENCE / "bridge-mods" / "aaa-orig.jpg"
VIDEO = VIDEO_REFERENCE / "chair-20-sd-bar.mp4"


def takedown(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "takedown.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def test_an_image_prints_one_json_line_with_exact_hashes_dihedral_variants_and_patches() -> None:
    result = takedown("hash", "--json", BRIDGE)
    assert result.returncode == 0, result.stderr
    [record] = lines(result.stdout)
    assert record["path"] == str(BRIDGE)
    assert record["kind"] == "image"
    assert record["md5"] == "d35c785545392755e7e4164457657269"
    assert len(record["sha256"]) == 64
    variants = [s["variant"] for s in record["signals"]]
    assert variants[:8] == list(DIHEDRAL_VARIANTS)
    assert set(variants[8:]) <= {"trimmed", "patch"}
    assert variants.count("patch") >= 18
    assert len(variants) <= 64
    assert {s["type"] for s in record["signals"]} == {"pdq"}
    assert all(s["quality"] == 100 for s in record["signals"][:8])
    assert all(s["quality"] >= 50 and len(s["value"]) == 64 for s in record["signals"])
    assert "vpdq" not in record


def test_a_video_adds_vpdq_strings_one_per_second() -> None:
    result = takedown("hash", "--json", VIDEO)
    assert result.returncode == 0, result.stderr
    [record] = lines(result.stdout)
    assert record["kind"] == "video"
    frames = record["vpdq"]
    assert len(frames) >= 20
    value, quality, seconds = frames[1].split(",")
    assert len(value) == 64
    assert 0 <= int(quality) <= 100
    assert seconds == "1.000"


def test_a_bad_file_is_reported_and_the_others_still_hashed(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(BRIDGE.read_bytes()[:5000])
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    result = takedown("hash", "--json", bad, BRIDGE, text, tmp_path / "missing.png")
    assert result.returncode == 1
    records = lines(result.stdout)
    assert [r["path"] for r in records] == [
        str(bad),
        str(BRIDGE),
        str(text),
        str(tmp_path / "missing.png"),
    ]
    assert [("error" in r) for r in records] == [True, False, True, True]
    assert records[0]["code"] == "decode_failed"
    assert records[3]["code"] == "invalid_input"
    assert "Traceback" not in result.stderr
    assert "3 of 4 files could not be hashed" in result.stderr


def test_directories_are_walked_for_media_files(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(BRIDGE, tmp_path / "a" / "one.jpg")
    Image.open(BRIDGE).save(tmp_path / "a" / "b" / "two.png")
    (tmp_path / "a" / "readme.md").write_text("skip me")
    (tmp_path / "a" / ".hidden.jpg").write_bytes(b"skip me too")
    result = takedown("hash", "--json", tmp_path)
    assert result.returncode == 0, result.stderr
    paths = [Path(r["path"]).name for r in lines(result.stdout)]
    assert paths == ["two.png", "one.jpg"]  # sorted walk: a/b/two.png before a/one.jpg


def test_plain_output_is_one_readable_line_per_file() -> None:
    result = takedown("hash", BRIDGE)
    assert result.returncode == 0
    assert result.stdout.startswith(f"{BRIDGE}\timage\tsha256 ")
    assert "quality 100" in result.stdout


def test_no_media_found_is_a_usage_error(tmp_path: Path) -> None:
    result = takedown("hash", tmp_path)
    assert result.returncode == 2
    assert "no photos or videos" in result.stderr
