"""Interop proof: Meta's python-threatexchange, unmodified, reads the registry's lists through
the StopNCII-compatible API of a real `takedown serve` process.

Photos from the shared data are hashed by us and reported over HTTP; the `stop_ncii` exchange
(its Python API and its `threatexchange` command line) fetches them, and Meta's own PDQ hasher
and index match the photos against what it fetched. After the case is withdrawn, a fetch from
the client's checkpoint returns the hashes as `Withdrawn`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

try:
    from threatexchange.exchanges.clients.stopncii.api import (
        StopNCIIAPI,
        StopNCIICaseStatus,
        StopNCIIHashRecord,
        StopNCIISignalType,
    )
    from threatexchange.exchanges.collab_config import CollaborationConfigBase
    from threatexchange.exchanges.impl.stop_ncii_api import (
        StopNCIICheckpoint,
        StopNCIICredentials,
        StopNCIISignalExchangeAPI,
        StopNCIISignalMetadata,
    )
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal
except ImportError as missing:
    pytest.fail(
        f"python-threatexchange is needed for the interop proof and cannot be imported "
        f"({missing}); install the test extra: pip install -e '.[test]'",
        pytrace=False,
    )

from takedown.api.compat_stopncii import PREFIX
from takedown.hashing.fingerprint import fingerprint_file
from takedown.registry.pow import solve
from tests.api.conftest import video
from tests.conftest import PHOTOS_DEV

HOST = "127.0.0.1"
REPORTED = ("100075.jpg", "100080.jpg")  # photo 0 is withdrawn later, photo 1 stays
NEVER_REPORTED = "101085.jpg"

Key = tuple[str, str]
State = dict[Key, StopNCIISignalMetadata]


@dataclass
class Server:
    url: str
    cwd: Path
    env: dict[str, str]


def _takedown(*args: str) -> list[str]:
    return [sys.executable, "-m", "takedown.cli", *args]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`takedown serve` on a fresh directory, as an operator starts it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAKEDOWN_", "TX_"))}
    env.update(TAKEDOWN_POW_DIFFICULTY_BITS="8", TAKEDOWN_ARGON2_MEMORY_KIB="8192")
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _takedown("serve", "--host", HOST, "--port", str(port)),
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"takedown serve exited early:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"takedown serve did not answer within 30 s:\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(url, tmp_path, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def add_platform(server: Server, name: str) -> str:
    result = subprocess.run(
        _takedown("admin", "platform", "add", name, "--lists", "minor,adult"),
        cwd=server.cwd,
        env=server.env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout.decode().strip()


def report(server: Server, media: list[dict[str, Any]]) -> dict[str, Any]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        challenge = client.get("/v1/challenge").json()
        pow_ = {
            "challenge": challenge["challenge"],
            "solution": solve(challenge["challenge"], challenge["difficulty"]),
        }
        response = client.post(
            "/v1/cases",
            json={"age_group": "adult", "language": "en", "media": media, "pow": pow_},
        )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def withdraw(server: Server, created: dict[str, Any]) -> None:
    response = httpx.post(
        f"{server.url}/v1/cases/{created['case_number']}/withdraw",
        json={"pin": created["pin"]},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def photo(name: str) -> dict[str, Any]:
    """What a reporter's device sends for a photo: our fingerprint, hashes only."""
    return fingerprint_file(PHOTOS_DEV / name).to_json()


def listed_keys(media: dict[str, Any]) -> set[Key]:
    """The (threatexchange signal type, value) pairs a media item puts on the list."""
    if media["kind"] == "video":
        frames = {("pdq", line.split(",")[0]) for line in media["vpdq"]}
        return frames | {("video_md5", media["md5"])}
    return {("pdq", s["value"]) for s in media["signals"] if s["quality"] >= 50}


def fetch(
    exchange: StopNCIISignalExchangeAPI, checkpoint: StopNCIICheckpoint | None
) -> tuple[dict[Key, StopNCIISignalMetadata | None], StopNCIICheckpoint]:
    """One run of the exchange's fetch from `checkpoint`: its updates, and the new checkpoint."""
    updates: dict[Key, StopNCIISignalMetadata | None] = {}
    last = checkpoint
    for delta in exchange.fetch_iter([PdqSignal, VideoMD5Signal], checkpoint):
        updates.update(delta.updates)
        last = delta.checkpoint
    assert last is not None
    return updates, last


def pdq_matches(fetched: Mapping[str, object], path: Path) -> bool:
    """Meta's PDQ of the photo (its hasher, not ours) against Meta's index of `fetched`."""
    query = PdqSignal.hash_from_file(path)
    assert query, f"python-threatexchange could not hash {path}"
    index = PdqSignal.get_index_cls().build((value, value) for value in fetched)
    return bool(index.query(query))


def records(client: StopNCIIAPI, start: int, page_size: int) -> list[StopNCIIHashRecord]:
    """Every record from `start`, paging with the client's own `fetch_hashes`."""
    out: list[StopNCIIHashRecord] = []
    token = ""
    while True:
        page = client.fetch_hashes(page_size=page_size, start_timestamp=start, next_page=token)
        assert page.count == len(page.hashRecords)
        out.extend(page.hashRecords)
        token = page.nextPageToken or ""
        if not page.hasMoreRecords:
            return out


def test_the_stop_ncii_exchange_reads_our_list_and_sees_withdrawals(server: Server) -> None:
    key = add_platform(server, "hma")
    first, second, film = photo(REPORTED[0]), photo(REPORTED[1]), video(frames=3)
    gone = report(server, [first, film])
    report(server, [second])
    base_url = server.url + PREFIX
    credentials = StopNCIICredentials(
        fetch_function_key=key, subscription_key=key, base_url_override=base_url
    )
    collab = CollaborationConfigBase(
        name="takedown", api=StopNCIISignalExchangeAPI.get_name(), enabled=True
    )
    exchange = StopNCIISignalExchangeAPI.for_collab(collab, credentials)
    client = StopNCIIAPI(key, key, base_url_override=base_url)
    withdrawn_keys = listed_keys(first) | listed_keys(film)
    everything = withdrawn_keys | listed_keys(second)

    # First sync: exactly our hashes, PDQ and the video's MD5, through the exchange.
    state: dict[Key, StopNCIISignalMetadata] = {}
    updates, checkpoint = fetch(exchange, None)
    StopNCIISignalExchangeAPI.naive_fetch_merge(state, updates)
    assert set(state) == everything
    by_type = StopNCIISignalExchangeAPI.naive_convert_to_signal_type(
        [PdqSignal, VideoMD5Signal], collab, state
    )
    assert set(by_type[VideoMD5Signal]) == {film["md5"]}
    assert pdq_matches(by_type[PdqSignal], PHOTOS_DEV / REPORTED[0])
    assert pdq_matches(by_type[PdqSignal], PHOTOS_DEV / REPORTED[1])
    assert not pdq_matches(by_type[PdqSignal], PHOTOS_DEV / NEVER_REPORTED)
    # The client's own paging, in small pages: the same records, each once.
    paged = records(client, StopNCIIAPI.DEFAULT_START_TIME, page_size=7)
    assert len(paged) == len(everything)
    assert {_key(r) for r in paged} == everything
    assert {r.hashStatus for r in paged} == {StopNCIICaseStatus.Active}
    assert checkpoint.update_time == max(r.lastModtimestamp for r in paged)

    withdraw(server, gone)

    # From the checkpoint: the withdrawn hashes come back, as Withdrawn.
    later = records(client, checkpoint.update_time, page_size=800)
    status = {_key(r): r.hashStatus for r in later}
    assert {k for k, s in status.items() if s == StopNCIICaseStatus.Withdrawn} == withdrawn_keys
    assert {k for k, s in status.items() if s == StopNCIICaseStatus.Active} == listed_keys(second)
    # Dropping what StopNCII marks "should be deleted by client", Meta's index no longer
    # matches the withdrawn photo, and still matches the other.
    active = {r.hashValue for r in later if r.hashStatus == StopNCIICaseStatus.Active}
    live_pdq = {v: None for v in active if len(v) == 64}
    assert not pdq_matches(live_pdq, PHOTOS_DEV / REPORTED[0])
    assert pdq_matches(live_pdq, PHOTOS_DEV / REPORTED[1])
    # The exchange re-fetches them from its checkpoint too. But python-threatexchange (1.2.17
    # and earlier) does not turn Withdrawn records into deletions: stop_ncii_api's
    # _get_delta_mapping compares record.hashValue, not record.hashStatus, with Withdrawn.
    # docs/api.md says so; if this fails, upstream fixed it: update the docs.
    exchange_updates, _ = fetch(exchange, checkpoint)
    assert withdrawn_keys <= set(exchange_updates)
    assert all(exchange_updates[k] is not None for k in withdrawn_keys)


def _key(record: StopNCIIHashRecord) -> Key:
    kind = {StopNCIISignalType.ImagePDQ: "pdq", StopNCIISignalType.VideoMD5: "video_md5"}
    return kind[record.signalType], record.hashValue


def test_the_threatexchange_command_line_fetches_and_matches(
    server: Server, tmp_path: Path
) -> None:
    key = add_platform(server, "cli")
    first, second = photo(REPORTED[0]), photo(REPORTED[1])
    gone = report(server, [first])
    report(server, [second])
    env = {
        **server.env,
        "HOME": str(tmp_path / "home"),
        "TX_STATEDIR": str(tmp_path / "threatexchange"),
        # fetch key, subscription key, base URL: the documented way to point it elsewhere
        "TX_STOPNCII_KEYS": f"{key},{key},{server.url}{PREFIX}",
    }

    def tx(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "threatexchange", *args],
            env=env,
            capture_output=True,
            timeout=300,
        )
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout.decode()

    tx("config", "collab", "edit", "stop_ncii", "takedown", "--create")
    tx("fetch")
    fetched = {
        tuple(line.split()) for line in tx("dataset", "-P", "-S", "-c", "takedown").splitlines()
    }
    assert fetched == listed_keys(first) | listed_keys(second)
    assert "takedown" in tx("match", "photo", str(PHOTOS_DEV / REPORTED[0]))
    assert "takedown" in tx("match", "photo", str(PHOTOS_DEV / REPORTED[1]))
    assert tx("match", "photo", str(PHOTOS_DEV / NEVER_REPORTED)).strip() == ""

    withdraw(server, gone)

    tx("fetch")  # incremental, from the checkpoint the command line stored
