"""Interop proof: our python-threatexchange extension, registered with Meta's unmodified
`threatexchange` command line, fetches a real `takedown serve`'s list over `/v1/feed` and
drops a withdrawn case's hashes on the next fetch, so they stop matching.

threatexchange is a test dependency (the `test` extra); nothing is installed at run time.
Everything the command line keeps (extensions, collaborations, fetched state, the key file)
lives in a temporary HOME and state directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from takedown.hashing.fingerprint import fingerprint_file
from tests.conftest import PHOTOS_DEV
from tests.platform.conftest import (  # noqa: F401 (fixtures used by name)
    RegistryServer,
    registry_factory,
    registry_server,
)

try:
    import threatexchange  # noqa: F401
except ImportError as missing:
    pytest.fail(
        f"python-threatexchange is needed for the interop proof and cannot be imported "
        f"({missing}); install the test extra: pip install -e '.[test]'",
        pytrace=False,
    )

EXTENSION = "takedown.platform.txextension"
WITHDRAWN, KEPT, MINOR = "100075.jpg", "100080.jpg", "100098.jpg"
NEVER_REPORTED = "101085.jpg"


def photo(name: str) -> dict[str, Any]:
    """What a reporter's device sends for a photo: our fingerprint, hashes only."""
    return fingerprint_file(PHOTOS_DEV / name).to_json()


def listed(media: dict[str, Any]) -> set[tuple[str, str]]:
    """(threatexchange signal type, value) of the hashes a photo puts on the list."""
    return {("pdq", s["value"]) for s in media["signals"] if s["quality"] >= 50}


class Tx:
    """The `threatexchange` command line with its own HOME and state directory."""

    def __init__(self, root: Path, key: str) -> None:
        home = root / "home"
        home.mkdir()
        key_file = home / ".tx_takedown_key"
        key_file.write_text(key + "\n")
        key_file.chmod(0o400)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TX_", "TAKEDOWN_"))},
            "HOME": str(home),
            "TX_STATEDIR": str(root / "threatexchange"),
        }

    def __call__(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "threatexchange", *args],
            env=self.env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, (args, result.stdout.decode(), result.stderr.decode())
        return result.stdout.decode()

    def dataset(self, collab: str) -> set[tuple[str, str]]:
        out = self("dataset", "-P", "-S", "-c", collab)
        return {(kind, value) for kind, value in (line.split() for line in out.splitlines())}

    def matches_photo(self, name: str) -> str:
        return self("match", "photo", str(PHOTOS_DEV / name)).strip()

    def matches_hash(self, value: str) -> str:
        return self("match", "--only-signal", "pdq", "-H", "photo", "--", value).strip()


def test_the_threatexchange_cli_fetches_our_feed_through_the_extension(
    registry_server: RegistryServer,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> None:
    key = registry_server.add_platform(lists="minor,adult")
    withdrawn, kept, minor = photo(WITHDRAWN), photo(KEPT), photo(MINOR)
    case = registry_server.report([withdrawn])
    registry_server.report([kept])
    registry_server.report([minor], age_group="minor")
    tx = Tx(tmp_path, key)

    added = tx("config", "extensions", "add", EXTENSION)
    assert "takedown - TakedownSignalExchangeAPI" in added
    assert EXTENSION in tx("config", "extensions", "list")
    for name, list_ in (("registry-adult", "adult"), ("registry-minor", "minor")):
        tx(
            "config", "collab", "edit", "takedown", name, "--create",
            "--server", registry_server.url, "--list", list_,
        )  # fmt: skip
    tx("fetch")

    # One collaboration per list, each with exactly that list's hashes.
    assert tx.dataset("registry-adult") == listed(withdrawn) | listed(kept)
    assert tx.dataset("registry-minor") == listed(minor)
    # Meta's own PDQ of the photo, and the listed hash itself, match through Meta's index.
    assert "registry-adult" in tx.matches_photo(WITHDRAWN)
    assert "registry-minor" in tx.matches_photo(MINOR)
    assert tx.matches_photo(NEVER_REPORTED) == ""
    original = next(s["value"] for s in withdrawn["signals"] if s["variant"] == "original")
    found = tx.matches_hash(original)
    assert "registry-adult" in found
    assert "adult quality=" in found  # our metadata, as the command line prints it

    registry_server.withdraw(case)
    tx("fetch")  # from the saved cursor: the `remove` events delete the hashes

    assert tx.dataset("registry-adult") == listed(kept)
    assert tx.matches_hash(original) == ""
    assert tx.matches_photo(WITHDRAWN) == ""
    assert "registry-adult" in tx.matches_photo(KEPT)
    assert tx.dataset("registry-minor") == listed(minor)


def test_without_a_key_the_command_line_says_where_to_put_it(
    registry_server: RegistryServer,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> None:
    tx = Tx(tmp_path, "placeholder")
    (Path(tx.env["HOME"]) / ".tx_takedown_key").unlink()
    tx("config", "extensions", "add", EXTENSION)
    tx(
        "config", "collab", "edit", "takedown", "registry", "--create",
        "--server", registry_server.url, "--list", "adult",
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "threatexchange", "fetch"],
        env=tx.env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    stderr = result.stderr.decode()
    assert "TX_TAKEDOWN_KEY" in stderr
    assert "~/.tx_takedown_key" in stderr


# --- the exchange's fetch, against an in-process fake registry --------------------------------


class FakeRegistry:
    """`/v1/feed/snapshot` and `/v1/feed` from fixed data, as an httpx transport."""

    def __init__(self, snapshot: list[dict[str, Any]], cursor: int, events: list[Any]) -> None:
        self.snapshot = snapshot
        self.cursor = cursor
        self.events = events
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        assert request.headers["Authorization"] == "Bearer tdk_testkey123"
        if request.url.path == "/v1/feed/snapshot":
            lines = [json.dumps({"cursor": self.cursor})]
            lines += [json.dumps(line) for line in self.snapshot]
            return httpx.Response(200, content=("\n".join(lines) + "\n").encode())
        after = int(request.url.params["after"])
        limit = int(request.url.params["limit"])
        later = [e for e in self.events if not isinstance(e, dict) or e.get("seq", 0) > after]
        page = later[:limit]
        seqs = [e["seq"] for e in page if isinstance(e, dict) and "seq" in e]
        body = {"events": page, "next": max([after, *seqs]), "has_more": len(later) > limit}
        return httpx.Response(200, json=body)


def exchange(fake: FakeRegistry, list_: str = "adult") -> Any:
    from takedown.platform.feed_client import FeedClient
    from takedown.platform.txextension import TakedownCollabConfig, TakedownSignalExchangeAPI

    collab = TakedownCollabConfig(name="r", server="http://registry.test", list=list_)
    client = FeedClient(
        "http://registry.test", "tdk_testkey123", transport=httpx.MockTransport(fake)
    )
    return TakedownSignalExchangeAPI(collab, client)


def hexes(n: int, start: int = 0) -> list[str]:
    return [f"{i:064x}" for i in range(start, start + n)]


def test_a_first_fetch_reads_the_snapshot_in_deltas_that_cannot_be_resumed_halfway() -> None:
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    from takedown.platform.txextension import PAGE_SIZE

    snapshot = [
        {"list": "adult", "type": "pdq", "value": v, "quality": 90, "variant": "original"}
        for v in hexes(2 * PAGE_SIZE + 5)
    ]
    snapshot.append({"list": "minor", "type": "pdq", "value": "f" * 64, "quality": 90})
    snapshot.append({"list": "adult", "type": "md5", "value": "a" * 32, "quality": 100})
    fake = FakeRegistry(snapshot, cursor=40, events=[])
    deltas = list(exchange(fake).fetch_iter([PdqSignal, VideoMD5Signal], None))
    assert [len(d.updates) for d in deltas] == [PAGE_SIZE, PAGE_SIZE, 6, 0]
    assert [d.checkpoint.is_stale() for d in deltas] == [True, True, False, False]
    assert {d.checkpoint.cursor for d in deltas} == {40}
    merged: dict[Any, Any] = {}
    for delta in deltas:
        merged.update(delta.updates)
    assert ("video_md5", "a" * 32) in merged
    assert ("pdq", "f" * 64) not in merged  # another list
    assert fake.requests == ["/v1/feed/snapshot", "/v1/feed"]


def test_feed_events_become_updates_and_removals_become_deletions() -> None:
    from threatexchange.signal_type.pdq.signal import PdqSignal

    from takedown.platform.txextension import TakedownCheckpoint

    a, b, c = hexes(3, 100)
    events: list[Any] = [
        {"seq": 11, "op": "add", "list": "adult", "type": "pdq", "value": a, "quality": 70},
        {"seq": 12, "op": "add", "list": "adult", "type": "pdq", "value": b, "quality": 80},
        {"seq": 13, "op": "bogus", "list": "adult", "type": "pdq", "value": c},  # skipped
        {"seq": 14, "op": "remove", "list": "adult", "type": "pdq", "value": a},
        {"seq": 15, "op": "add", "list": "minor", "type": "pdq", "value": c, "quality": 90},
        {
            "seq": 16,
            "op": "add",
            "list": "adult",
            "type": "md5",
            "value": "b" * 32,
            "quality": 100,
        },  # an unsupported type here: skipped
    ]
    fake = FakeRegistry([], cursor=0, events=events)
    deltas = list(exchange(fake).fetch_iter([PdqSignal], TakedownCheckpoint(10)))
    assert len(deltas) == 1
    updates = deltas[0].updates
    assert updates[("pdq", a)] is None  # added, then withdrawn
    assert str(updates[("pdq", b)]) == "adult quality=80 variant=original"
    assert set(updates) == {("pdq", a), ("pdq", b)}  # no other list, no unsupported type
    assert deltas[0].checkpoint.cursor == 16
    assert not deltas[0].checkpoint.is_stale()
    assert fake.requests == ["/v1/feed"]
