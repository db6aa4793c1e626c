"""`takedown serve` killed with SIGKILL while 8 clients report cases, then restarted on the same
database: every case answered 2xx is there with all its hashes, no case is there in part, and
the feed has no gap. Once on SQLite (a file) and once on PostgreSQL (a fresh schema)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from takedown.hashing.fingerprint import IMAGE_VARIANTS
from takedown.store.engine import create_engine
from takedown.store.schema import case, media, media_signal
from tests.registry.backends import BACKENDS, empty_database
from tests.serving import clean_env, group_alive, start_serve, stop, takedown_command

CLIENTS = 8
LOAD_SECONDS = 1.5
SIGNALS_PER_MEDIA = 8
GENEROUS = "100000"

SERVER_ENV = {
    "TAKEDOWN_POW_DIFFICULTY_BITS": "0",
    # Cheap PIN hashing: the test is about commits, not argon2.
    "TAKEDOWN_ARGON2_TIME_COST": "1",
    "TAKEDOWN_ARGON2_MEMORY_KIB": "8192",
    "TAKEDOWN_ARGON2_PARALLELISM": "1",
    **{
        f"TAKEDOWN_RATE_{name}_{unit}": GENEROUS
        for name in ("CREATE", "CASE", "FEED", "MATCH")
        for unit in ("PER_S", "BURST")
    },
}


@dataclass
class Submission:
    """One `POST /v1/cases` as sent, and its answer if one came."""

    age_group: str
    media: list[dict[str, Any]]
    status_code: int | None = None
    answer: dict[str, Any] | None = None

    @property
    def signals(self) -> set[tuple[str, str]]:
        """(list, value) of every PDQ hash sent: what the feed must hold for a stored case."""
        return {(self.age_group, s["value"]) for m in self.media for s in m["signals"]}

    @property
    def md5s(self) -> frozenset[str]:
        return frozenset(m["md5"] for m in self.media)


@dataclass
class Server:
    """`takedown serve` processes on one database; all are stopped at the end of the test."""

    tmp_path: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> tuple[str, subprocess.Popen[bytes]]:
        served = start_serve(self.tmp_path, self.env, name=f"server{len(self.processes)}")
        self.processes.append(served.process)
        return served.url, served.process

    def admin(self, *args: str) -> str:
        result = subprocess.run(
            takedown_command("admin", *args),
            cwd=self.tmp_path,
            env=self.env,
            capture_output=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode().strip()

    def crash(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL to the server and every worker process it started, at once."""
        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while group_alive(process.pid):
            assert time.monotonic() < deadline, "server processes survived SIGKILL"
            time.sleep(0.01)

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database the server migrates itself: an SQLite file, or a new PostgreSQL schema
    (reached through `search_path`, with the server's ordinary durable commits)."""
    path = tmp_path / "data" / "takedown.db"
    with empty_database(request.param, path, prefix="durability") as url:
        yield url


@pytest.fixture
def server(database: str, tmp_path: Path) -> Iterator[Server]:
    env = clean_env(
        **SERVER_ENV, TAKEDOWN_DATA_DIR=str(tmp_path / "data"), TAKEDOWN_DATABASE_URL=database
    )
    servers = Server(tmp_path, env)
    try:
        yield servers
    finally:
        servers.stop_all()


def _new_submission() -> Submission:
    media = [
        {
            "kind": "image",
            "md5": secrets.token_hex(16),
            "sha256": secrets.token_hex(32),
            "signals": [
                {"type": "pdq", "value": secrets.token_hex(32), "quality": 90, "variant": variant}
                for variant in IMAGE_VARIANTS[:SIGNALS_PER_MEDIA]
            ],
        }
        for _ in range(2 + secrets.randbelow(2))
    ]
    return Submission(age_group=secrets.choice(("minor", "adult")), media=media)


def _report_until_gone(url: str, stop: threading.Event, sent: list[Submission]) -> None:
    """Report cases back to back until told to stop or the server disappears. A submission is
    recorded before it is sent, so one without an answer may or may not have been stored."""
    with httpx.Client(base_url=url, timeout=30) as client:
        try:
            challenge = client.get("/v1/challenge").json()["challenge"]
        except httpx.TransportError:
            return
        proof = {"challenge": challenge, "solution": "0"}  # difficulty 0: any solution counts
        while not stop.is_set():
            submission = _new_submission()
            sent.append(submission)
            body = {
                "age_group": submission.age_group,
                "language": "en",
                "media": submission.media,
                "pow": proof,
            }
            try:
                response = client.post("/v1/cases", json=body)
            except httpx.TransportError:
                return
            submission.status_code = response.status_code
            if response.is_success:
                submission.answer = response.json()


def _read_feed(client: httpx.Client, key: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        response = client.get(
            "/v1/feed",
            params={"after": after, "limit": 10_000},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["events"])
        after = page["next"]
        if not page["has_more"]:
            return events


def _stored_cases(database: str) -> dict[str, dict[str, int]]:
    """Per stored case number: its media items' MD5s and how many hashes each links to."""
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(case.c.number, media.c.md5, sa.func.count(media_signal.c.signal_id))
                .join(media, media.c.case_id == case.c.id)
                .outerjoin(media_signal, media_signal.c.media_id == media.c.id)
                .group_by(case.c.number, media.c.id, media.c.md5)
            ).all()
    finally:
        engine.dispose()
    stored: dict[str, dict[str, int]] = {}
    for number, md5, links in rows:
        stored.setdefault(number, {})[md5] = int(links)
    return stored


def test_cases_answered_before_a_sigkill_are_whole_after_restart_and_the_feed_has_no_gap(
    server: Server, database: str
) -> None:
    url, process = server.start()
    key = server.admin("platform", "add", "durability")

    stop = threading.Event()
    sent: list[list[Submission]] = [[] for _ in range(CLIENTS)]
    clients = [
        threading.Thread(target=_report_until_gone, args=(url, stop, sent[i]), daemon=True)
        for i in range(CLIENTS)
    ]
    for thread in clients:
        thread.start()
    time.sleep(LOAD_SECONDS)
    server.crash(process)
    stop.set()
    for thread in clients:
        thread.join(timeout=30)
        assert not thread.is_alive()

    submissions = [s for per_client in sent for s in per_client]
    answered = [s for s in submissions if s.status_code is not None]
    acknowledged = [s for s in answered if s.answer is not None]
    unanswered = [s for s in submissions if s.status_code is None]
    assert [s.status_code for s in answered] == [201] * len(answered)
    assert len(acknowledged) >= CLIENTS, "too few cases were reported before the kill"
    assert unanswered, "the kill did not land while requests were in flight"

    url, _process = server.start()
    with httpx.Client(base_url=url, timeout=30) as client:
        events = _read_feed(client, key)

        # The feed: seq 1..N without a gap, only additions, each hash added once.
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert {e["op"] for e in events} <= {"add"}
        listed = {(e["list"], e["value"]) for e in events}
        assert len(listed) == len(events)

        # Every acknowledged case is listed whole; an unanswered one is listed whole or not at all.
        for submission in acknowledged:
            assert submission.signals <= listed
        stored_unanswered = [s for s in unanswered if s.signals & listed]
        for submission in stored_unanswered:
            assert submission.signals <= listed, "a case without an answer is listed in part"
        expected = set().union(*(s.signals for s in [*acknowledged, *stored_unanswered]))
        assert listed == expected

        # Every acknowledged case opens with its PIN and shows all its media.
        def check_status(submission: Submission) -> None:
            assert submission.answer is not None
            number = submission.answer["case_number"]
            response = client.post(
                f"/v1/cases/{number}/status", json={"pin": submission.answer["pin"]}
            )
            assert response.status_code == 200, response.text
            status = response.json()
            assert (status["case_number"], status["status"]) == (number, "active")
            assert status["age_group"] == submission.age_group
            assert [m["media_id"] for m in status["media"]] == submission.answer["media_ids"]
            assert len(status["media"]) == len(submission.media)
            assert {(m["kind"], m["status"]) for m in status["media"]} == {("image", "pending")}

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(check_status, acknowledged))

    # In the database itself: each stored case is exactly one submission, with every media
    # item and every hash link; the acknowledged ones under the number they were given.
    by_md5s = {s.md5s: s for s in submissions}
    stored = _stored_cases(database)
    matched = set()
    for number, links in stored.items():
        source = by_md5s.get(frozenset(links))
        assert source is not None, f"case {number} holds media of no single submission"
        assert set(links.values()) == {SIGNALS_PER_MEDIA}
        matched.add(id(source))
        if source.answer is not None:
            assert source.answer["case_number"].replace("-", "") == number
    assert len(stored) == len(acknowledged) + len(stored_unanswered)
    assert {id(s) for s in acknowledged} <= matched
    assert _orphans(database) == {"media_signal": 0, "listing": 0, "feed_event": 0}


def _orphans(database: str) -> dict[str, int]:
    """Rows that name a media item or signal that is not there (these tables reference them
    without foreign key constraints; the writer alone keeps them whole)."""
    queries = {
        "media_signal": (
            "SELECT COUNT(*) FROM media_signal l LEFT JOIN media m ON m.id = l.media_id "
            "LEFT JOIN signal s ON s.id = l.signal_id WHERE m.id IS NULL OR s.id IS NULL"
        ),
        "listing": (
            "SELECT COUNT(*) FROM listing l LEFT JOIN signal s ON s.id = l.signal_id "
            "WHERE s.id IS NULL"
        ),
        "feed_event": (
            "SELECT COUNT(*) FROM feed_event e LEFT JOIN signal s ON s.id = e.signal_id "
            "WHERE s.id IS NULL"
        ),
    }
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            return {
                table: int(connection.exec_driver_sql(sql).scalar_one())
                for table, sql in queries.items()
            }
    finally:
        engine.dispose()
