"""`takedown scan` against the synced local store (`--state` / `--db`) and against a saved
snapshot export (`--snapshot`): the same matches, each naming its list, and matches against
the store recorded as review items."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from takedown.hashing.fingerprint import PATCH, Signal, fingerprint_file
from takedown.platform.matcher import ListedSignal, SignalMatcher
from takedown.platform.store import open_store
from takedown.platform.tables import review_item
from tests.conftest import PHOTOS_DEV
from tests.integration.test_cli_scan import make_video
from tests.platform.conftest import RegistryServer, store_cli_args, takedown_command
from tests.platform.test_sync import run_sync

LISTED = PHOTOS_DEV / "100075.jpg"
OTHER_LISTED = PHOTOS_DEV / "100080.jpg"
NOT_LISTED = PHOTOS_DEV / "101085.jpg"


def scan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        takedown_command("scan", *map(str, args)), capture_output=True, text=True, timeout=300
    )


def by_path(stdout: str) -> dict[str, Any]:
    return {r["path"]: r for r in map(json.loads, stdout.splitlines())}


def reported(path: Path) -> dict[str, Any]:
    """The media item a reporter's device sends for `path` (no path: only hashes)."""
    record = fingerprint_file(path).to_json()
    record.pop("path", None)
    return record


@pytest.fixture
def uploads(tmp_path: Path) -> dict[str, Path]:
    """A copy of a listed photo, a re-encoded half-size version of it, an unlisted photo."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    copy = folder / "copy.jpg"
    shutil.copyfile(LISTED, copy)
    smaller = folder / "smaller.jpg"
    with Image.open(LISTED) as image:
        image.resize((image.width // 2, image.height // 2)).save(smaller, quality=70)
    unlisted = folder / "unlisted.jpg"
    shutil.copyfile(NOT_LISTED, unlisted)
    return {"copy": copy, "smaller": smaller, "unlisted": unlisted}


def test_scan_against_the_synced_store_names_the_list_and_records_review_items(
    registry_server: RegistryServer, agent_store: str, uploads: dict[str, Path]
) -> None:
    key = registry_server.add_platform()
    listed = reported(LISTED)
    registry_server.report([listed], age_group="minor")
    registry_server.report([reported(OTHER_LISTED)], age_group="adult")
    assert run_sync(registry_server, key, agent_store).returncode == 0

    result = scan("--json", *store_cli_args(agent_store), *uploads.values())

    assert result.returncode == 0, result.stderr
    records = by_path(result.stdout)
    assert records[str(uploads["unlisted"])] == {"path": str(uploads["unlisted"]), "matches": []}
    listed_signals = {(s["value"], s["variant"]) for s in listed["signals"]}
    for name in ("copy", "smaller"):
        matches = records[str(uploads[name])]["matches"]
        assert matches, name
        for match in matches:
            assert set(match) == {"list", "type", "value", "distance", "variant"}
            assert match["list"] == "minor"
            assert match["type"] == "pdq"
            assert (match["value"], match["variant"]) in listed_signals
            assert 0 <= match["distance"] <= 31
        assert matches == sorted(matches, key=lambda m: m["distance"])
    [best] = [m for m in records[str(uploads["copy"])]["matches"] if m["variant"] == "original"]
    assert best["distance"] == 0

    engine = open_store(None, agent_store)
    try:
        with engine.connect() as connection:
            items = connection.execute(sa.select(review_item)).all()
    finally:
        engine.dispose()
    expected = {
        (str(uploads[name].resolve()), m["list"], m["value"])
        for name in ("copy", "smaller")
        for m in records[str(uploads[name])]["matches"]
    }
    assert {(i.ref, i.list, i.value) for i in items} == expected
    assert {(i.status, i.source, i.type) for i in items} == {("pending", "scan", "pdq")}

    # Scanning again records nothing twice; --no-review records nothing at all.
    assert scan("--json", *store_cli_args(agent_store), uploads["copy"]).returncode == 0
    assert scan("--no-review", *store_cli_args(agent_store), uploads["smaller"]).returncode == 0
    engine = open_store(None, agent_store)
    try:
        with engine.connect() as connection:
            count = connection.execute(sa.select(sa.func.count()).select_from(review_item))
            assert count.scalar_one() == len(items)
    finally:
        engine.dispose()


def test_withdrawn_hashes_stop_matching_after_the_next_sync(
    registry_server: RegistryServer, tmp_path: Path, uploads: dict[str, Path]
) -> None:
    key = registry_server.add_platform()
    case = registry_server.report([reported(LISTED)])
    state = tmp_path / "state"
    store = f"sqlite:///{state / 'agent.db'}"
    assert run_sync(registry_server, key, store).returncode == 0
    assert by_path(scan("--json", "--state", state, uploads["copy"]).stdout)[str(uploads["copy"])][
        "matches"
    ]

    registry_server.withdraw(case)
    assert run_sync(registry_server, key, store).returncode == 0
    result = scan("--json", "--no-review", "--state", state, uploads["copy"])

    assert result.returncode == 0, result.stderr
    assert by_path(result.stdout)[str(uploads["copy"])]["matches"] == []


def test_scan_against_a_snapshot_export_gives_the_same_matches_as_the_store(
    registry_server: RegistryServer, tmp_path: Path, uploads: dict[str, Path]
) -> None:
    key = registry_server.add_platform()
    registry_server.report([reported(LISTED)], age_group="adult")
    state = tmp_path / "state"
    assert run_sync(registry_server, key, f"sqlite:///{state / 'agent.db'}").returncode == 0
    export = tmp_path / "snapshot.ndjson"
    with httpx.Client(base_url=registry_server.url, timeout=30) as client:
        response = client.get("/v1/feed/snapshot", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    export.write_bytes(response.content)

    from_file = scan("--json", "--snapshot", export, *uploads.values())
    from_store = scan("--json", "--no-review", "--state", state, *uploads.values())

    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout == from_store.stdout
    assert by_path(from_file.stdout)[str(uploads["copy"])]["matches"][0]["list"] == "adult"

    text = scan("--snapshot", export, uploads["copy"], uploads["unlisted"])
    first, second = text.stdout.splitlines()
    assert first.startswith(f"{uploads['copy']}\tMATCH adult:")
    assert " pdq d=0 original" in first
    assert second == f"{uploads['unlisted']}\tno match"


def test_a_video_matches_the_store_by_md5_and_by_its_frames(
    registry_server: RegistryServer, tmp_path: Path
) -> None:
    key = registry_server.add_platform()
    video = make_video(tmp_path / "listed.mp4", block=16, bit_rate=2_000_000)
    registry_server.report([reported(video)], age_group="adult")
    reencoded = make_video(tmp_path / "upload.mp4", block=16, bit_rate=400_000)
    state = tmp_path / "state"
    assert run_sync(registry_server, key, f"sqlite:///{state / 'agent.db'}").returncode == 0

    result = scan("--json", "--no-review", "--state", state, video, reencoded)

    assert result.returncode == 0, result.stderr
    records = by_path(result.stdout)
    same = records[str(video)]["matches"]
    assert {(m["type"], m["list"]) for m in same} == {("md5", "adult"), ("vpdq", "adult")}
    [md5] = [m for m in same if m["type"] == "md5"]
    assert md5["value"] == reported(video)["md5"]
    assert md5["variant"] == "file"
    [frames] = records[str(reencoded)]["matches"]
    assert frames["type"] == "vpdq"
    assert frames["variant"] == "frame"
    assert frames["value"] in {line.split(",")[0] for line in reported(video)["vpdq"]}


def test_scan_needs_exactly_one_source_and_a_completed_sync(
    tmp_path: Path, uploads: dict[str, Path]
) -> None:
    neither = scan(uploads["copy"])
    both = scan("--list", tmp_path / "l.jsonl", "--state", tmp_path, uploads["copy"])
    never_synced = scan("--state", tmp_path / "empty", uploads["copy"])

    assert neither.returncode == both.returncode == never_synced.returncode == 2
    assert "exactly one of --list FILE, --snapshot FILE, --state DIR or --db URL" in neither.stderr
    assert "(got --list and --state)" in both.stderr
    assert "no completed sync yet" in never_synced.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the snapshot is empty"),
        (b'{"list":"adult"}\n', "line 1: the first line of a snapshot must be"),
        (b'{"cursor":3}\n{"list":"adult","type":"pdq","value":"00","quality":9}\n', "line 2:"),
        (b'{"cursor":3}\n' + b"x" * 5000 + b"\n", "line 2: the line is longer than 4096"),
    ],
)
def test_a_bad_snapshot_file_is_a_usage_error_naming_the_line(
    tmp_path: Path, uploads: dict[str, Path], content: bytes, message: str
) -> None:
    export = tmp_path / "bad.ndjson"
    export.write_bytes(content)

    result = scan("--snapshot", export, uploads["copy"])

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def _signal(id_: int, value: str, variant: str, list_: str = "adult") -> ListedSignal:
    return ListedSignal(id_, list_, "pdq", value, 90, variant)


def _flip(value: str, bits: int) -> str:
    number = int(value, 16) ^ ((1 << bits) - 1)
    return f"{number:064x}"


def test_the_match_rule_holds_patches_to_patches_and_frames_pool_by_list() -> None:
    """The rule of `takedown.matching.rules`, on signals without media items."""
    rng = np.random.default_rng(3)
    values = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(4)]
    signals = [
        _signal(1, values[0], "original"),
        _signal(2, values[1], PATCH),
        _signal(3, values[2], "frame", "minor"),
        ListedSignal(4, "adult", "pdq", values[3], 40, "original"),  # too low a quality
    ]
    rows = {s.id: s for s in signals}
    matcher = SignalMatcher(lambda ids: {i: rows[i] for i in ids if i in rows})
    matcher.add(signals)

    whole = Signal("pdq", _flip(values[0], 20), 90, "original")
    patch_as_whole = Signal("pdq", values[1], 90, "original")
    patch = Signal("pdq", _flip(values[1], 10), 90, PATCH)
    low = Signal("pdq", values[3], 90, "original")
    found = matcher.match_hashes([whole, patch_as_whole, patch, low], None)

    assert [(m.value, m.distance, m.query_variant, m.listed_variant) for m in found] == [
        (values[1], 10, PATCH, PATCH),
        (values[0], 20, "original", "original"),
    ]
    # Frames: 4 of 5 usable frames near a listed frame of `minor` is 80 %: a match.
    frames = [Signal("pdq", _flip(values[2], d), 90, "frame") for d in (0, 3, 5, 8)]
    frames.append(Signal("pdq", _flip(values[0], 200), 90, "frame"))
    [video] = matcher.match_hashes([], None, frames)
    assert (video.kind, video.list, video.value, video.distance) == ("vpdq", "minor", values[2], 5)
    assert matcher.match_hashes([], None, frames[:3] + [frames[4]] * 2) == []

    # A removed signal stops matching at once, even before the index hears of it.
    del rows[1]
    assert [m.value for m in matcher.match_hashes([whole], None)] == []
