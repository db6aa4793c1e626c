"""A sync killed with SIGKILL anywhere (between two commits, inside a transaction, mid-snapshot,
mid-feed) and run again ends with exactly the store a fresh sync makes: nothing missing,
nothing twice. On SQLite and PostgreSQL local stores."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.platform.conftest import RegistryServer, random_image, store_cli_args, takedown_command
from tests.platform.test_sync import expected_rows, run_sync, store_rows, store_state

# Runs the real sync in a child process that SIGKILLs itself at a chosen point: after the
# N-th commit of a stage, or inside the N-th transaction of a stage, just before its commit.
_KILLER = """
import os, signal, sys
from takedown.platform import sync as module
from takedown.platform.feed_client import FeedClient
from takedown.platform.store import open_store

server, key, store, stage, where, n = sys.argv[1:7]
n = int(n)
seen = {"snapshot": 0, "feed": 0}
current = {"stage": None}

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def on_progress(state):
    current["stage"] = state.stage
    # Progress is reported after each commit (and once when a stage starts).
    if where == "after_commit" and state.stage == stage:
        seen[stage] += 1
        if seen[stage] > n:
            die()

real_quarantine = module._quarantine
def quarantine(connection, server_, bad):
    real_quarantine(connection, server_, bad)
    # Called inside every page / snapshot batch transaction, before its commit.
    if where == "in_transaction" and current["stage"] == stage:
        seen[stage] += 1
        if seen[stage] >= n:
            die()
module._quarantine = quarantine

engine = open_store(None, store)
with FeedClient(server, key) as client:
    module.sync(engine, client, page_size=7, snapshot_batch=50, on_progress=on_progress)
print("finished")
"""


def _killed_sync(
    registry: RegistryServer, key: str, store: str, stage: str, where: str, n: int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _KILLER, registry.url, key, store, stage, where, str(n)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _many_signals(registry: RegistryServer, cases: int, media: int) -> None:
    for _ in range(cases):
        registry.report([random_image(8) for _ in range(media)])


@pytest.mark.parametrize("where", ["after_commit", "in_transaction"])
def test_a_sync_killed_mid_snapshot_starts_the_snapshot_again_and_ends_complete(
    registry_server: RegistryServer, agent_store: str, tmp_path: Path, where: str
) -> None:
    key = registry_server.add_platform()
    _many_signals(registry_server, cases=3, media=10)  # 240 signals: 5 batches of 50

    killed = _killed_sync(registry_server, key, agent_store, "snapshot", where, 2)

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    partial = store_state(agent_store)
    assert partial.snapshot_done is False
    assert 0 < len(store_rows(agent_store)) < 240  # the kill landed halfway

    # Meanwhile the lists change; the re-run takes a new snapshot and follows the feed.
    registry_server.withdraw(registry_server.cases[0])
    registry_server.report([random_image(3)])
    result = run_sync(registry_server, key, agent_store)

    assert result.returncode == 0, result.stderr
    fresh = f"sqlite:///{tmp_path / 'fresh' / 'agent.db'}"
    assert run_sync(registry_server, key, fresh).returncode == 0
    assert store_rows(agent_store) == store_rows(fresh) == expected_rows(registry_server, key)
    assert len(store_rows(agent_store)) == 160 + 3
    assert store_state(agent_store).snapshot_done is True


@pytest.mark.parametrize("where", ["after_commit", "in_transaction"])
def test_a_sync_killed_mid_feed_resumes_from_its_cursor_without_gap_or_duplicate(
    registry_server: RegistryServer, agent_store: str, tmp_path: Path, where: str
) -> None:
    key = registry_server.add_platform()
    registry_server.report()
    assert run_sync(registry_server, key, agent_store).returncode == 0
    # 10 cases of 2 photos x 8 signals, some withdrawn: adds and removes over many 7-event pages.
    _many_signals(registry_server, cases=10, media=2)
    for case in registry_server.cases[1:4]:
        registry_server.withdraw(case)
    before = store_state(agent_store).cursor

    killed = _killed_sync(registry_server, key, agent_store, "feed", where, 4)

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    cursor = store_state(agent_store).cursor
    assert before < cursor < max(e["seq"] for e in registry_server.feed(key))
    # Exactly the events up to the saved cursor are applied: the store is a prefix state.
    assert store_rows(agent_store) == _rows_up_to(registry_server, key, cursor)

    result = run_sync(registry_server, key, agent_store)

    assert result.returncode == 0, result.stderr
    fresh = f"sqlite:///{tmp_path / 'fresh' / 'agent.db'}"
    assert run_sync(registry_server, key, fresh).returncode == 0
    assert store_rows(agent_store) == store_rows(fresh) == expected_rows(registry_server, key)


def test_a_sync_killed_at_random_moments_and_rerun_ends_exact(
    registry_server: RegistryServer, agent_store: str, tmp_path: Path
) -> None:
    """The real command, SIGKILLed after random delays while it works through a snapshot and
    a feed of many small pages, run again each time until it finishes."""
    key = registry_server.add_platform()
    _many_signals(registry_server, cases=4, media=25)  # 800 signals in the snapshot
    # The delays are fractions of how long a whole first sync takes on this machine (into a
    # store of its own), so that the kills land while the command works, however fast it is.
    began = time.monotonic()
    timing = f"sqlite:///{tmp_path / 'timing' / 'agent.db'}"
    assert run_sync(registry_server, key, timing, "--page-size", "3").returncode == 0
    whole = time.monotonic() - began
    rng = random.Random(6)
    args = ["platform", "sync", "--server", registry_server.url, *store_cli_args(agent_store)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env["TAKEDOWN_PLATFORM_KEY"] = key

    kills = 0
    for round_ in range(8):
        if round_ == 3:
            # Changes after the snapshot: the feed part has work to do.
            _many_signals(registry_server, cases=3, media=5)
            registry_server.withdraw(registry_server.cases[1])
        process = subprocess.Popen(
            takedown_command(*args, "--page-size", "3"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if round_ < 6:  # the last rounds run to the end
            time.sleep(rng.uniform(0.2, 0.9) * whole)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                continue
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    assert kills >= 1
    fresh = f"sqlite:///{tmp_path / 'fresh' / 'agent.db'}"
    assert run_sync(registry_server, key, fresh).returncode == 0
    assert store_rows(agent_store) == store_rows(fresh) == expected_rows(registry_server, key)


def _rows_up_to(
    registry: RegistryServer, key: str, cursor: int
) -> set[tuple[str, str, str, int, str]]:
    live: dict[tuple[str, str, str], tuple[str, str, str, int, str]] = {}
    for event in registry.feed(key):
        if event["seq"] > cursor:
            break
        row_key = (event["list"], event["type"], event["value"])
        if event["op"] == "add":
            variant = event.get("variant") or ("original" if event["type"] == "pdq" else "file")
            live[row_key] = (*row_key, event["quality"], variant)
        else:
            live.pop(row_key, None)
    return set(live.values())
