"""`takedown platform index-content` + `sync` + `backfill` against a real `takedown serve`:
photos reported after the platform indexed its media are found by backfill, with the
local engine and with Ray (the real command, which starts its own local Ray)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from takedown.hashing.fingerprint import fingerprint_file
from takedown.platform.content import content_ref
from takedown.platform.store import open_store
from takedown.platform.tables import review_item
from tests.conftest import PHOTOS_DEV
from tests.platform.conftest import RegistryServer, takedown_command

PHOTOS = ("100075.jpg", "100080.jpg", "100098.jpg", "101085.jpg", "101087.jpg")


def run(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> str:
    result = subprocess.run(
        takedown_command("platform", *args),
        capture_output=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    assert result.returncode == 0, (args, result.stdout.decode(), result.stderr.decode())
    return result.stdout.decode()


def backfill(state: Path, *options: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(
        run("backfill", "--state", str(state), "--json", *options, timeout=600)
    )
    return report


def photo(name: str) -> dict[str, Any]:
    """What the reporter's device sends: our fingerprint of the photo."""
    return fingerprint_file(PHOTOS_DEV / name).to_json()


def items(state: Path) -> set[tuple[str, str]]:
    """(ref, source) of every review item."""
    engine = open_store(state, None)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(review_item.c.ref, review_item.c.source)).all()
    engine.dispose()
    return {(r.ref, r.source) for r in rows}


def test_backfill_finds_stored_photos_reported_later_with_both_engines(
    registry_server: RegistryServer, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    for name in PHOTOS:
        shutil.copy(PHOTOS_DEV / name, media / name)
    state = tmp_path / "agent"
    key = registry_server.add_platform()
    env = {**os.environ, "TAKEDOWN_PLATFORM_KEY": key}

    def sync() -> None:
        run("sync", "--server", registry_server.url, "--state", str(state), env=env)

    assert "indexed 5," in run("index-content", str(media), "--state", str(state))

    # Photo 0 is reported: backfill (local engine) finds the stored copy.
    registry_server.report([photo(PHOTOS[0])])
    sync()
    first = backfill(state, "--engine", "local", "--workers", "2")
    assert first["fresh_content"] == 5  # the first backfill: everything against everything
    assert first["recorded"] >= 1
    assert items(state) == {(content_ref(media / PHOTOS[0]), "backfill")}

    # Photo 1 is reported, photo 2 reported and withdrawn before the platform syncs again.
    registry_server.report([photo(PHOTOS[1])])
    gone = registry_server.report([photo(PHOTOS[2])])
    registry_server.withdraw(gone)
    sync()
    second = backfill(state, "--engine", "ray", "--workers", "2")
    assert second["engine"] == "ray"
    assert second["fresh_content"] == 0
    assert second["watermark_after"] > first["watermark_after"] == second["watermark_before"]
    assert items(state) == {
        (content_ref(media / PHOTOS[0]), "backfill"),
        (content_ref(media / PHOTOS[1]), "backfill"),
    }

    # Nothing new: nothing to do, nothing recorded twice.
    third = backfill(state, "--engine", "ray", "--workers", "2")
    assert (third["new_signals"], third["matches"], third["recorded"]) == (0, 0, 0)


def test_the_ray_engine_without_ray_installed_says_how_to_get_it(tmp_path: Path) -> None:
    # A `ray` package that cannot be imported, first on the path: as if Ray were missing.
    fake = tmp_path / "site" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    result = subprocess.run(
        takedown_command("platform", "backfill", "--state", str(tmp_path / "s"), "--engine", "ray"),
        capture_output=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "--engine ray needs Ray, which is not installed" in stderr
    assert "pip install 'takedown[ray]'" in stderr
    assert "Traceback" not in stderr


def test_ray_address_without_the_ray_engine_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        takedown_command(
            "platform", "backfill", "--state", str(tmp_path / "s"), "--ray-address", "auto"
        ),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "--ray-address is for --engine ray" in result.stderr.decode()
