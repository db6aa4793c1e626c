"""`takedown platform sync` against a real `takedown serve`: the snapshot, then the feed;
withdrawals leave the local store; the store's own rules (one registry, schema version).
Every test runs on an SQLite and on a PostgreSQL local store."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from takedown.errors import ConfigError
from takedown.platform.store import open_store
from takedown.platform.tables import SCHEMA_VERSION, agent_meta, sync_state
from takedown.platform.tables import signal as signal_table
from tests.platform.conftest import (
    RegistryFactory,
    RegistryServer,
    free_port,
    random_image,
    store_cli_args,
    takedown_command,
)

Row = tuple[str, str, str, int, str]


def run_sync(
    registry: RegistryServer, key: str | None, store: str, *extra: str, env_key: str | None = None
) -> subprocess.CompletedProcess[str]:
    args = ["platform", "sync", "--server", registry.url, *store_cli_args(store), *extra]
    if key is not None:
        args += ["--key", key]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    if env_key is not None:
        env["TAKEDOWN_PLATFORM_KEY"] = env_key
    return subprocess.run(
        takedown_command(*args), capture_output=True, text=True, timeout=300, env=env
    )


def store_rows(store: str) -> set[Row]:
    engine = open_store(None, store)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    signal_table.c.list,
                    signal_table.c.type,
                    signal_table.c.value,
                    signal_table.c.quality,
                    signal_table.c.variant,
                )
            ).all()
    finally:
        engine.dispose()
    return {(r.list, r.type, r.value, r.quality, r.variant) for r in rows}


def store_state(store: str) -> Any:
    engine = open_store(None, store)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.select(sync_state)).one()
    finally:
        engine.dispose()


def expected_rows(registry: RegistryServer, key: str) -> set[Row]:
    """What the registry's feed says is live, with the variant rule of the agent (a feed
    without `variant` means `original` for PDQ, `file` for MD5)."""
    live: dict[tuple[str, str, str], Row] = {}
    for event in registry.feed(key):
        row_key = (event["list"], event["type"], event["value"])
        if event["op"] == "add":
            default = "original" if event["type"] == "pdq" else "file"
            variant = event.get("variant") or default
            live[row_key] = (*row_key, event["quality"], variant)
        else:
            live.pop(row_key, None)
    return set(live.values())


def test_a_first_sync_takes_the_snapshot_and_later_ones_follow_the_feed(
    registry_server: RegistryServer, agent_store: str
) -> None:
    key = registry_server.add_platform()
    first = [registry_server.report() for _ in range(3)]
    registry_server.report([random_image(2)], age_group="minor")

    result = run_sync(registry_server, key, agent_store)

    assert result.returncode == 0, result.stderr
    assert "snapshot of 11 signals" in result.stderr
    assert store_rows(agent_store) == expected_rows(registry_server, key)
    assert {(r[0], r[1], r[2]) for r in store_rows(agent_store)} == registry_server.live(key)
    state = store_state(agent_store)
    assert state.snapshot_done is True
    assert state.server == registry_server.url
    assert state.cursor == max(e["seq"] for e in registry_server.feed(key))

    later = registry_server.report([random_image(4)])
    registry_server.withdraw(first[0])
    result = run_sync(registry_server, None, agent_store, env_key=key)

    assert result.returncode == 0, result.stderr
    assert "snapshot" not in result.stderr
    assert "4 added, 3 removed by the feed" in result.stderr
    rows = store_rows(agent_store)
    assert rows == expected_rows(registry_server, key)
    values = {r[2] for r in rows}
    assert {v for _, _, v in later.signals} <= values
    assert not {v for _, _, v in first[0].signals} & values
    assert store_state(agent_store).cursor == max(e["seq"] for e in registry_server.feed(key))


def test_a_withdrawn_photo_leaves_the_local_store_and_its_case_mate_stays(
    registry_server: RegistryServer, agent_store: str
) -> None:
    key = registry_server.add_platform()
    case = registry_server.report([random_image(3), random_image(3)])
    assert run_sync(registry_server, key, agent_store).returncode == 0
    gone, kept = case.media

    registry_server.withdraw(case, case.media_ids[0])
    result = run_sync(registry_server, key, agent_store)

    assert result.returncode == 0, result.stderr
    values = {r[2] for r in store_rows(agent_store)}
    assert values == {s["value"] for s in kept["signals"]}
    assert not values & {s["value"] for s in gone["signals"]}


def test_a_platform_sees_only_its_lists(registry_server: RegistryServer, agent_store: str) -> None:
    key = registry_server.add_platform(lists="adult")
    registry_server.report(age_group="adult")
    registry_server.report(age_group="minor")

    assert run_sync(registry_server, key, agent_store).returncode == 0

    assert {r[0] for r in store_rows(agent_store)} == {"adult"}
    assert len(store_rows(agent_store)) == 3


def test_a_refused_key_stops_the_sync_with_a_clear_message(
    registry_server: RegistryServer, agent_store: str
) -> None:
    result = run_sync(registry_server, "tdk_not-a-real-key-0000", agent_store)

    assert result.returncode == 1
    assert "the registry refused the API key" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_key_the_sync_says_where_to_put_one(
    registry_server: RegistryServer, tmp_path: Path
) -> None:
    result = run_sync(registry_server, None, f"sqlite:///{tmp_path / 'a' / 'agent.db'}")

    assert result.returncode == 2
    assert "--key KEY or the TAKEDOWN_PLATFORM_KEY variable" in result.stderr


def test_an_unreachable_registry_is_retried_then_reported(tmp_path: Path) -> None:
    # A port nobody listens on: connection refused, retried with back-off, then an error.
    args = [
        "platform",
        "sync",
        "--server",
        f"http://127.0.0.1:{free_port()}",
        "--key",
        "tdk_whatever-0000",
        "--state",
        str(tmp_path / "agent"),
    ]
    result = subprocess.run(
        takedown_command(*args, "--attempts", "2"), capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 1
    assert "cannot reach the registry" in result.stderr
    assert "trying again in" in result.stderr
    assert "still fails after 2 tries" in result.stderr


def test_one_store_follows_one_registry(
    registry_server: RegistryServer, agent_store: str, registry_factory: RegistryFactory
) -> None:
    key = registry_server.add_platform()
    registry_server.report()
    assert run_sync(registry_server, key, agent_store).returncode == 0
    other = registry_factory.start()
    other_key = other.add_platform()

    result = run_sync(other, other_key, agent_store)

    assert result.returncode == 2
    assert f"holds the lists of {registry_server.url}" in result.stderr


def test_watch_keeps_syncing_until_interrupted(
    registry_server: RegistryServer, agent_store: str
) -> None:
    key = registry_server.add_platform()
    registry_server.report()
    args = ["platform", "sync", "--server", registry_server.url, *store_cli_args(agent_store)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env["TAKEDOWN_PLATFORM_KEY"] = key
    process = subprocess.Popen(
        takedown_command(*args, "--watch", "--interval", "1"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: len(store_rows(agent_store)) == 3)
        later = registry_server.report([random_image(5)])
        _wait_for(
            lambda: {v for _, _, v in later.signals} <= {r[2] for r in store_rows(agent_store)}
        )
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "sync stopped" in stderr
    assert store_rows(agent_store) == expected_rows(registry_server, key)


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_the_store_records_its_schema_version_and_refuses_a_newer_one(agent_store: str) -> None:
    engine = open_store(None, agent_store)
    try:
        with engine.begin() as connection:
            version = connection.execute(
                sa.select(agent_meta.c.value).where(agent_meta.c.key == "schema_version")
            ).scalar_one()
            assert version == str(SCHEMA_VERSION)
            connection.execute(
                agent_meta.update()
                .where(agent_meta.c.key == "schema_version")
                .values(value=str(SCHEMA_VERSION + 1))
            )
    finally:
        engine.dispose()

    with pytest.raises(ConfigError, match="newer than this release of takedown understands"):
        open_store(None, agent_store)


def test_an_sqlite_store_is_durable_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "state", None)
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert (tmp_path / "state" / "agent.db").is_file()
    assert {"signal", "sync_state", "bad_event", "review_item", "agent_meta"} <= tables


def test_store_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="either --state DIR or --db URL"):
        open_store(tmp_path, "sqlite:///x.db")
    with pytest.raises(ConfigError, match="--state DIR"):
        open_store(None, None)
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        open_store(None, "mysql://localhost/x")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        open_store(tmp_path / "file", None)
