"""`takedown platform index-content`: the platform's stored media hashed into the local store."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from takedown.hashing.fingerprint import query_fingerprint
from takedown.hashing.video import parse_vpdq
from takedown.platform.content import IndexOutcome, content_ref, index_files, media_files
from takedown.platform.store import open_store
from takedown.platform.tables import content, content_signal
from tests.conftest import PHOTOS_DEV, VIDEO_REFERENCE
from tests.platform.conftest import takedown_command

PHOTOS = ("100075.jpg", "100080.jpg", "100098.jpg")
VIDEO = "chair-19-sd-bar.mp4"


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """A platform's media folder: three photos, a video, a broken file and a text file."""
    folder = tmp_path / "media"
    (folder / "2024").mkdir(parents=True)
    for name in PHOTOS:
        shutil.copy(PHOTOS_DEV / name, folder / "2024" / name)
    shutil.copy(VIDEO_REFERENCE / VIDEO, folder / VIDEO)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a JPEG")
    (folder / "notes.txt").write_text("not media: skipped by the walk")
    return folder


@pytest.fixture
def store(agent_store: str) -> Iterator[sa.Engine]:
    engine = open_store(None, agent_store)
    yield engine
    engine.dispose()


def stored(engine: sa.Engine) -> dict[str, tuple[int, str, str, list[tuple[str, str, str, int]]]]:
    """ref -> (id, kind, sha256, sorted (type, variant, value, quality) rows)."""
    out = {}
    with engine.connect() as connection:
        for row in connection.execute(sa.select(content)):
            hashes = connection.execute(
                sa.select(
                    content_signal.c.type,
                    content_signal.c.variant,
                    content_signal.c.value,
                    content_signal.c.quality,
                ).where(content_signal.c.content_id == row.id)
            ).all()
            out[row.ref] = (row.id, row.kind, row.sha256, sorted(tuple(h) for h in hashes))
    return out


def expected_rows(path: Path) -> list[tuple[str, str, str, int]]:
    """What index-content must store for a file: the platform's query set and the MD5."""
    fp = query_fingerprint(path)
    rows = [("md5", "file", fp.md5, 100)]
    if fp.kind == "image":
        rows += [(s.type, s.variant, s.value, s.quality) for s in fp.signals]
    else:
        rows += [("pdq", "frame", f.hex, f.quality) for f in map(parse_vpdq, fp.vpdq)]
    return sorted(rows)


def test_the_walk_takes_media_files_only(media: Path) -> None:
    found = [p.relative_to(media).as_posix() for p in media_files([media])]
    assert found == ["2024/100075.jpg", "2024/100080.jpg", "2024/100098.jpg", "broken.jpg", VIDEO]


def test_photos_and_videos_are_stored_with_the_platform_query_set(
    store: sa.Engine, media: Path
) -> None:
    heard: list[IndexOutcome] = []
    files = list(media_files([media]))
    report = index_files(store, files, workers=2, on_file=heard.append)
    assert (report.indexed, report.unchanged, report.total) == (4, 0, 5)
    (failed,) = report.failed
    assert failed.ref == content_ref(media / "broken.jpg")
    assert "not an image or video" in (failed.error or "")
    assert [o.ref for o in heard] == [content_ref(f) for f in files]  # in input order
    rows = stored(store)
    assert set(rows) == {content_ref(f) for f in files if f.name != "broken.jpg"}
    for path in files:
        if path.name == "broken.jpg":
            continue
        _, kind, sha256, hashes = rows[content_ref(path)]
        assert kind == ("video" if path.suffix == ".mp4" else "image")
        assert sha256 == query_fingerprint(path).sha256
        assert hashes == expected_rows(path)
    video_rows = rows[content_ref(media / VIDEO)][3]
    assert sum(1 for r in video_rows if r[1] == "frame") >= 10


def test_indexing_again_skips_unchanged_files_and_replaces_changed_ones(
    store: sa.Engine, media: Path
) -> None:
    files = [p for p in media_files([media]) if p.name != "broken.jpg"]
    index_files(store, files)
    before = stored(store)
    again = index_files(store, files)
    assert (again.indexed, again.unchanged, again.failed) == (0, 4, [])
    assert stored(store) == before
    # The platform replaced one photo's file with another picture.
    changed = media / "2024" / PHOTOS[0]
    shutil.copy(PHOTOS_DEV / "101085.jpg", changed)
    with store.begin() as connection:
        connection.execute(content.update().values(backfilled_seq=7))
    third = index_files(store, files)
    assert (third.indexed, third.unchanged) == (1, 3)
    after = stored(store)
    old_id, _, old_sha, _ = before[content_ref(changed)]
    new_id, _, new_sha, hashes = after[content_ref(changed)]
    assert new_id > old_id  # a new row: backfill sees it as fresh
    assert new_sha != old_sha
    assert hashes == expected_rows(changed)
    with store.connect() as connection:
        marks = dict(connection.execute(sa.select(content.c.ref, content.c.backfilled_seq)).all())
        orphans = connection.execute(
            sa.select(sa.func.count()).where(content_signal.c.content_id == old_id)
        ).scalar()
    assert marks.pop(content_ref(changed)) is None
    assert set(marks.values()) == {7}
    assert orphans == 0


def test_a_file_named_twice_is_indexed_once(store: sa.Engine, media: Path) -> None:
    photo = media / "2024" / PHOTOS[1]
    report = index_files(store, [photo, media / "2024" / ".." / "2024" / PHOTOS[1]])
    assert (report.indexed, report.total) == (1, 1)


def test_the_command_reports_bad_files_and_indexes_the_rest(media: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = subprocess.run(
        takedown_command("platform", "index-content", str(media), "--state", str(state)),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stderr.decode()
    assert result.stdout.decode().strip() == "indexed 4, unchanged 0, failed 1 (of 5 files)"
    stderr = result.stderr.decode()
    assert f"{content_ref(media / 'broken.jpg')}: not an image or video" in stderr
    assert "Traceback" not in stderr
    engine = open_store(state, None)
    assert len(stored(engine)) == 4
    engine.dispose()
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = subprocess.run(
        takedown_command("platform", "index-content", str(empty), "--state", str(state)),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert nothing.returncode == 2
    assert "no photos or videos found" in nothing.stderr.decode()
