"""`takedown scan` end to end, as a separate process: lists made by `takedown hash --json`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from tests.conftest import PHOTOS_DEV

LISTED = [PHOTOS_DEV / "100075.jpg", PHOTOS_DEV / "100080.jpg", PHOTOS_DEV / "100098.jpg"]
NOT_LISTED = PHOTOS_DEV / "101085.jpg"


def takedown(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "takedown.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def hash_records(*paths: Path) -> list[dict[str, Any]]:
    result = takedown("hash", "--json", *paths)
    assert result.returncode == 0, result.stderr
    return lines(result.stdout)


def write_list(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def listed_records() -> list[dict[str, Any]]:
    """What `takedown hash --json` prints for the LISTED photos."""
    return hash_records(*LISTED)


@pytest.fixture(scope="module")
def photo_list(
    tmp_path_factory: pytest.TempPathFactory, listed_records: list[dict[str, Any]]
) -> Path:
    return write_list(tmp_path_factory.mktemp("list") / "list.jsonl", listed_records)


def test_copies_match_re_encodings_match_by_pdq_and_others_do_not(
    photo_list: Path, listed_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    copy = tmp_path / "copy.jpg"
    shutil.copyfile(LISTED[0], copy)
    q70 = tmp_path / "q70.jpg"
    Image.open(LISTED[1]).save(q70, quality=70)
    half = tmp_path / "half.jpg"
    with Image.open(LISTED[2]) as image:
        image.resize((image.width // 2, image.height // 2)).save(half)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(LISTED[0].read_bytes()[:3000])

    result = takedown("scan", "--list", photo_list, "--json", copy, q70, half, NOT_LISTED, broken)

    assert result.returncode == 1
    assert "1 of 5 files could not be scanned" in result.stderr
    assert "Traceback" not in result.stderr
    by_path = {r["path"]: r for r in lines(result.stdout)}
    assert list(by_path) == [str(p) for p in (copy, q70, half, NOT_LISTED, broken)]
    [exact] = by_path[str(copy)]["matches"]
    assert exact == {
        "path": str(LISTED[0]),
        "type": "sha256",
        "value": listed_records[0]["sha256"],
        "distance": 0,
        "variant": None,
    }
    for query, record in ((q70, listed_records[1]), (half, listed_records[2])):
        [match] = by_path[str(query)]["matches"]
        assert match["path"] == record["path"]
        assert match["type"] == "pdq"
        assert 0 <= match["distance"] <= 31
        listed_signals = {(s["value"], s["variant"]) for s in record["signals"]}
        assert (match["value"], match["variant"]) in listed_signals
    assert by_path[str(NOT_LISTED)] == {"path": str(NOT_LISTED), "matches": []}
    assert by_path[str(broken)]["code"] == "decode_failed"
    assert set(by_path[str(broken)]) == {"path", "error", "code"}


def test_without_json_each_file_gets_one_readable_line(photo_list: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.jpg"
    shutil.copyfile(LISTED[0], copy)
    result = takedown("scan", "--list", photo_list, copy, NOT_LISTED)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{copy}\tMATCH {LISTED[0]} sha256 d=0",
        f"{NOT_LISTED}\tno match",
    ]


def test_exact_hashes_rank_sha256_over_md5_and_lists_without_paths_name_the_sha256(
    listed_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    record = listed_records[0]
    pathless = {k: v for k, v in record.items() if k != "path"}
    md5_twin = {**record, "path": "md5-twin.jpg", "sha256": "0" * 64}
    unrelated_error = {"path": "gone.jpg", "error": "no such file", "code": "invalid_input"}
    listed = write_list(tmp_path / "l.jsonl", [record, unrelated_error, pathless, md5_twin])

    result = takedown("scan", "--json", "--list", listed, LISTED[0])

    assert result.returncode == 0, result.stderr
    [scanned] = lines(result.stdout)
    exact = {"distance": 0, "variant": None}
    assert scanned["matches"] == sorted(
        [
            {"path": str(LISTED[0]), "type": "sha256", "value": record["sha256"], **exact},
            {"sha256": record["sha256"], "type": "sha256", "value": record["sha256"], **exact},
            {"path": "md5-twin.jpg", "type": "md5", "value": record["md5"], **exact},
        ],
        key=lambda m: m.get("path", m.get("sha256", "")),
    )


def test_a_malformed_list_is_a_usage_error_naming_the_line(
    listed_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    record = listed_records[0]
    bad = {**record, "md5": "not-an-md5"}
    listed = tmp_path / "bad.jsonl"
    listed.write_text(json.dumps(record) + "\n\n" + json.dumps(bad) + "\n")

    result = takedown("scan", "--list", listed, LISTED[0])

    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{listed}: line 3: md5 must be 32 lowercase hex characters" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_list_or_no_files_are_usage_errors(photo_list: Path, tmp_path: Path) -> None:
    missing = takedown("scan", "--list", tmp_path / "missing.jsonl", LISTED[0])
    assert missing.returncode == 2
    assert "cannot read the list" in missing.stderr
    no_option = takedown("scan", LISTED[0])
    assert no_option.returncode == 2
    assert "--list" in no_option.stderr
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    no_files = takedown("scan", "--list", photo_list, empty_dir)
    assert no_files.returncode == 2
    assert "no photos or videos found" in no_files.stderr


def make_video(path: Path, block: int, bit_rate: int) -> Path:
    """Ten one-second frames of random 16x16 blocks: every frame ~128 bits from the others."""
    rng = np.random.default_rng(20)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=1)
        stream.width = stream.height = 16 * block
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bit_rate
        for _ in range(10):
            cells = rng.integers(0, 256, (16, 16, 1), dtype=np.uint8)
            pixels = np.kron(cells, np.ones((block, block, 3), dtype=np.uint8))
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def with_frames_replaced(record: dict[str, Any], name: str, replaced: int) -> dict[str, Any]:
    """The record under another name and exact hashes, with its first `replaced` frame hashes
    inverted (256 bits away from the original frame, ~128 from every other)."""
    frames = []
    for i, frame in enumerate(record["vpdq"]):
        value, quality, seconds = frame.split(",")
        if i < replaced:
            value = f"{int(value, 16) ^ ((1 << 256) - 1):064x}"
        frames.append(f"{value},{quality},{seconds}")
    return {**record, "path": name, "md5": "1" * 32, "sha256": "1" * 64, "vpdq": frames}


def test_videos_match_by_vpdq_when_80_percent_of_frames_are_near(tmp_path: Path) -> None:
    original = make_video(tmp_path / "original.mp4", block=8, bit_rate=2_000_000)
    larger = make_video(tmp_path / "larger.mkv", block=12, bit_rate=800_000)
    [record] = hash_records(original)
    assert len(record["vpdq"]) == 10
    assert all(int(frame.split(",")[1]) >= 50 for frame in record["vpdq"])
    listed = write_list(
        tmp_path / "videos.jsonl",
        [
            {**record, "path": "original.mp4"},
            with_frames_replaced(record, "two-frames-off.mp4", 2),
            with_frames_replaced(record, "three-frames-off.mp4", 3),
        ],
    )

    result = takedown("scan", "--json", "--list", listed, larger, original, LISTED[0])

    assert result.returncode == 0, result.stderr
    resized, same, photo = lines(result.stdout)
    original_match, off_match = resized["matches"]
    assert original_match["path"] == "original.mp4"
    assert original_match["type"] == "vpdq"
    assert original_match["value"] == record["sha256"]
    assert 0 <= original_match["distance"] <= 31
    assert original_match["variant"] is None
    assert off_match["path"] == "two-frames-off.mp4"
    assert off_match["type"] == "vpdq"
    assert 0 <= off_match["distance"] <= 31
    assert [(m["path"], m["type"], m["distance"]) for m in same["matches"]] == [
        ("original.mp4", "sha256", 0),
        ("two-frames-off.mp4", "vpdq", 0),
    ]
    assert photo["matches"] == []
