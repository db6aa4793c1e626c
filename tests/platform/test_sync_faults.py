"""The sync against a fake registry that misbehaves: malformed events and snapshot lines are
quarantined and the sync goes on past them; failing, busy and refusing servers; a snapshot
stream that breaks off. The fake talks to the real client through httpx.MockTransport, and
one test drives the real command against the fake served over TCP."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI, Request, Response

from takedown.errors import AuthError, ConfigError, ForbiddenError, RemoteError
from takedown.platform.feed_client import FeedClient, RetryPolicy, check_key, normalise_server
from takedown.platform.store import open_store
from takedown.platform.sync import Quarantined, SyncProgress, sync
from takedown.platform.tables import bad_event, sync_state
from tests.platform.conftest import free_port, store_cli_args, takedown_command
from tests.platform.test_sync import store_rows

SERVER = "http://registry.test"
KEY = "tdk_fake-key-for-tests"


def pdq() -> str:
    return secrets.token_hex(32)


def add(seq: int, value: str, **fields: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "op": "add",
        "list": "adult",
        "type": "pdq",
        "value": value,
        "quality": 90,
        "variant": "original",
        **fields,
    }


class FakeRegistry:
    """Serves a fixed snapshot and feed; `faults` can replace any answer."""

    def __init__(self, snapshot: list[bytes], events: list[Any], page: int = 3) -> None:
        self.snapshot = snapshot
        self.events = events
        self.page = page
        self.requests: list[httpx.Request] = []
        self.faults: list[Callable[[httpx.Request], httpx.Response | None]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for fault in list(self.faults):
            answer = fault(request)
            if answer is not None:
                return answer
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return httpx.Response(401, json={"error": {"code": "unauthorized", "message": "no"}})
        if request.url.path == "/v1/feed/snapshot":
            return httpx.Response(200, content=b"".join(line + b"\n" for line in self.snapshot))
        after = int(request.url.params["after"])
        limit = min(int(request.url.params["limit"]), self.page)
        later = [e for e in self._ordered() if e[0] > after]
        chunk = later[:limit]
        next_ = chunk[-1][0] if chunk else after
        body = {"events": [e for _, e in chunk], "next": next_, "has_more": len(later) > limit}
        return httpx.Response(200, json=body)

    def _ordered(self) -> list[tuple[int, Any]]:
        # An event without a usable seq pages as if it had the seq of the one before it.
        out = []
        key = 0
        for event in self.events:
            seq = event.get("seq") if isinstance(event, dict) else None
            key = seq if type(seq) is int else key
            out.append((key, event))
        return out

    def client(self, sleeps: list[float] | None = None, attempts: int = 4) -> FeedClient:
        return FeedClient(
            SERVER,
            KEY,
            transport=httpx.MockTransport(self.handler),
            retry=RetryPolicy(attempts=attempts),
            sleep=(sleeps.append if sleeps is not None else lambda _: None),
        )


@pytest.fixture
def engine(agent_store: str) -> Iterator[sa.Engine]:
    engine = open_store(None, agent_store)
    try:
        yield engine
    finally:
        engine.dispose()


def _bad_rows(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(bad_event).order_by(bad_event.c.id)))


def test_malformed_events_are_quarantined_and_the_sync_goes_past_them(
    engine: sa.Engine, agent_store: str
) -> None:
    good = [pdq() for _ in range(6)]
    md5 = secrets.token_hex(16)
    snapshot = [
        b'{"cursor":10}',
        json.dumps({"list": "adult", "type": "pdq", "value": good[0], "quality": 80}).encode(),
        b"{not json",
        json.dumps({"list": "teens", "type": "pdq", "value": pdq(), "quality": 80}).encode(),
        json.dumps({"list": "adult", "type": "pdq", "value": good[1], "quality": 70}).encode(),
        b'{"list":"adult","type":"pdq","value":"' + b"f" * 9000 + b'","quality":1}',
        json.dumps({"list": "minor", "type": "md5", "value": md5, "quality": 100}).encode(),
    ]
    events: list[Any] = [
        add(11, good[2]),
        add(12, pdq().upper()),  # hex must be lowercase
        add(13, good[3], quality=101),
        add(14, good[3], quality=True),  # a boolean is not a quality
        add(15, good[3]),
        {"seq": 16, "op": "replace", "list": "adult", "type": "pdq", "value": good[4]},
        add(16, good[4]),  # the same seq again: not strictly increasing
        ["an", "array"],
        add(17, pdq(), type="sha1"),
        add(18, good[5], variant="x" * 40),
        {**add(19, good[4]), "variant": None},  # no variant: a PDQ's is `original`
        # A removal needs only list, type and value: a withdrawal is never held back.
        {"seq": 20, "op": "remove", "list": "adult", "type": "pdq", "value": good[0]},
        {**add(21, pdq()), "value": pdq()[:63]},
    ]
    fake = FakeRegistry(snapshot, events, page=50)
    quarantined: list[Quarantined] = []
    progress: list[SyncProgress] = []

    with fake.client() as client:
        report = sync(
            engine, client, on_quarantined=quarantined.append, on_progress=progress.append
        )

    assert report.cursor == 21
    assert report.bad == len(quarantined) == 12
    assert store_rows(agent_store) == {
        ("adult", "pdq", good[1], 70, "original"),
        ("minor", "md5", md5, 100, "file"),
        ("adult", "pdq", good[2], 90, "original"),
        ("adult", "pdq", good[3], 90, "original"),
        ("adult", "pdq", good[4], 90, "original"),
    }
    rows = _bad_rows(engine)
    assert [r.seq for r in rows] == [None, None, None, 12, 13, 14, 16, 16, None, 17, 18, 21]
    errors = [r.error for r in rows]
    assert errors[0] == "the line is not JSON"
    assert "list must be one of adult, minor" in errors[1]
    assert errors[2] == "the line is not JSON"  # cut at 4096 bytes, never buffered whole
    assert len(rows[2].raw) <= 4096
    assert "value of a pdq must be 64 lowercase hex characters" in errors[3]
    assert "quality must be an integer 0-100, got 101" in errors[4]
    assert "got true" in errors[5]
    assert "op must be 'add' or 'remove'" in errors[6]
    assert "not above the previous one" in errors[7]
    assert "must be a JSON object" in errors[8]
    assert {r.server for r in rows} == {SERVER}
    assert all(r.raw for r in rows)

    # A second run starts after the cursor: nothing is quarantined twice.
    with fake.client() as client:
        again = sync(engine, client)
    assert again.bad == 0
    assert len(_bad_rows(engine)) == 12


def test_a_broken_snapshot_stream_is_started_again(engine: sa.Engine, agent_store: str) -> None:
    values = [pdq() for _ in range(30)]
    lines = [b'{"cursor":5}'] + [
        json.dumps({"list": "adult", "type": "pdq", "value": v, "quality": 90}).encode()
        for v in values
    ]
    fake = FakeRegistry(lines, [add(6, values[0], op="remove")])
    broken = {"left": 2}

    def break_stream(request: httpx.Request) -> httpx.Response | None:
        if request.url.path != "/v1/feed/snapshot" or not broken["left"]:
            return None
        broken["left"] -= 1
        return httpx.Response(200, stream=_BreakingStream(b"\n".join(lines[:12]) + b"\n"))

    fake.faults.append(break_stream)
    progress: list[int] = []
    sleeps: list[float] = []

    with fake.client(sleeps) as client:
        report = sync(
            engine,
            client,
            snapshot_batch=4,
            on_progress=lambda p: progress.append(p.snapshots_started),
        )

    assert max(progress) == 3
    assert len(sleeps) == 2
    assert report.snapshot
    assert report.snapshot_signals == 30
    assert {r[2] for r in store_rows(agent_store)} == set(values[1:])


class _BreakingStream(httpx.SyncByteStream):
    """Some bytes, then the connection drops."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self._data
        raise httpx.ReadError("connection reset by peer")


def test_busy_and_failing_servers_are_retried_honouring_retry_after(engine: sa.Engine) -> None:
    fake = FakeRegistry([b'{"cursor":0}'], [add(1, pdq()), add(2, pdq())], page=1)
    script = iter(
        [
            httpx.Response(503, headers={"Retry-After": "7"}, text="maintenance"),
            httpx.Response(429, headers={"Retry-After": "3"}, json={"error": {"message": "slow"}}),
            None,  # the snapshot
            httpx.Response(502),
            None,  # page 1
        ]
    )
    fake.faults.append(lambda request: next(script, None))

    def timeout_once(request: httpx.Request) -> httpx.Response | None:
        if request.url.params.get("after") == "1" and not timed_out:
            timed_out.append(True)
            raise httpx.ReadTimeout("timed out", request=request)
        return None

    timed_out: list[bool] = []
    fake.faults.append(timeout_once)
    sleeps: list[float] = []

    with fake.client(sleeps) as client:
        report = sync(engine, client, page_size=1)

    assert report.cursor == 2
    assert report.added == 2
    assert len(sleeps) == 4
    assert sleeps[0] >= 7  # Retry-After honoured
    assert sleeps[1] >= 3
    assert all(0 < s <= 60 for s in sleeps[2:])


def test_a_server_that_keeps_failing_ends_the_sync_with_a_clear_error(engine: sa.Engine) -> None:
    fake = FakeRegistry([b'{"cursor":0}'], [])
    fake.faults.append(lambda request: httpx.Response(500, json={"error": {"message": "boom"}}))
    sleeps: list[float] = []

    with fake.client(sleeps, attempts=3) as client, pytest.raises(RemoteError) as raised:
        sync(engine, client)

    assert "still fails after 3 tries" in str(raised.value)
    assert "answered 500 (boom)" in str(raised.value)
    assert len(fake.requests) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(("status", "error"), [(401, AuthError), (403, ForbiddenError)])
def test_a_refused_key_stops_at_once(
    engine: sa.Engine, status: int, error: type[Exception]
) -> None:
    fake = FakeRegistry([b'{"cursor":0}'], [])
    fake.faults.append(lambda request: httpx.Response(status, json={"error": {"message": "no"}}))

    with fake.client() as client, pytest.raises(error):
        sync(engine, client)

    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"events": [], "next": "7", "has_more": False}, "'next' is not a cursor"),
        ({"events": {}, "next": 0, "has_more": False}, "no 'events' list"),
        ({"events": [], "next": 0, "has_more": True}, "not moving forward"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_a_feed_page_outside_the_format_stops_the_sync(
    engine: sa.Engine, body: Any, message: str
) -> None:
    fake = FakeRegistry([b'{"cursor":0}'], [])
    fake.faults.append(
        lambda request: httpx.Response(200, json=body) if request.url.path == "/v1/feed" else None
    )

    with fake.client() as client, pytest.raises(RemoteError, match=message):
        sync(engine, client)


def test_a_snapshot_without_its_cursor_line_stops_the_sync(engine: sa.Engine) -> None:
    fake = FakeRegistry([b'{"list":"adult"}'], [])

    with fake.client() as client, pytest.raises(RemoteError, match="first line must be"):
        sync(engine, client)
    with engine.connect() as connection:
        assert connection.execute(sa.select(sync_state.c.snapshot_done)).scalar_one() is False


def test_a_registry_without_variants_still_syncs(engine: sa.Engine, agent_store: str) -> None:
    """An older registry sends no `variant`: PDQ counts as `original`, MD5 as `file`."""
    value, md5 = pdq(), secrets.token_hex(16)
    snapshot = [b'{"cursor":0}']
    events = [
        {"seq": 1, "op": "add", "list": "adult", "type": "pdq", "value": value, "quality": 60},
        {"seq": 2, "op": "add", "list": "adult", "type": "md5", "value": md5, "quality": 100},
    ]
    with FakeRegistry(snapshot, events).client() as client:
        sync(engine, client)

    assert store_rows(agent_store) == {
        ("adult", "pdq", value, 60, "original"),
        ("adult", "md5", md5, 100, "file"),
    }


def _fake_app(fake: FakeRegistry) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/feed/snapshot")
    @app.get("/v1/feed")
    def relay(request: Request) -> Response:
        answer = fake.handler(httpx.Request("GET", str(request.url), headers=dict(request.headers)))
        return Response(answer.content, status_code=answer.status_code)

    return app


def test_the_command_reports_quarantined_events_and_carries_on(agent_store: str) -> None:
    value = pdq()
    fake = FakeRegistry(
        [b'{"cursor":0}'], [add(1, "zz" * 32), add(2, value), add(3, pdq(), quality=-1)]
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(_fake_app(fake), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        args = ["platform", "sync", "--server", f"http://127.0.0.1:{port}", "--key", KEY]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
        result = subprocess.run(
            takedown_command(*args, *store_cli_args(agent_store)),
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=30)

    assert result.returncode == 0, result.stderr
    assert "quarantined a malformed event seq 1: value of a pdq must be 64 lowercase hex" in (
        result.stderr
    )
    assert "quarantined a malformed event seq 3: quality must be an integer 0-100" in (
        result.stderr
    )
    assert "2 malformed events quarantined" in result.stderr
    assert {r[2] for r in store_rows(agent_store)} == {value}


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        (" https://registry.example/base/ ", "https://registry.example/base"),
    ],
)
def test_server_urls_are_normalised(server: str, expected: str) -> None:
    assert normalise_server(server) == expected


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("ftp://registry.example", "http:// or https://"),
        ("registry.example", "http:// or https://"),
        ("https://user:secret@registry.example", "must not carry a user or password"),
        ("https://registry.example/?after=3", "without a query"),
    ],
)
def test_bad_server_urls_are_refused(server: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        normalise_server(server)


@pytest.mark.parametrize("key", ["", "short", "has space in it", "tdk_é_not_ascii"])
def test_bad_keys_are_refused_before_any_request(key: str) -> None:
    with pytest.raises(ConfigError):
        check_key(key)
