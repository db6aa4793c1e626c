"""`takedown platform serve`: POST /match with a file or with hashes against the synced local
store, its input checks, its token, and an index that follows the store's syncs."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from takedown.platform.service import ServiceSettings, create_service
from takedown.platform.store import open_store
from takedown.platform.tables import review_item
from tests.platform.conftest import Case, RegistryServer, free_port, takedown_command
from tests.platform.test_scan_state import LISTED, NOT_LISTED, OTHER_LISTED, reported
from tests.platform.test_sync import run_sync

TOKEN = "a-service-token-0123456789"


@dataclass
class Synced:
    registry: RegistryServer
    key: str
    state: Path
    case: Case
    listed: dict[str, Any]

    @property
    def store(self) -> str:
        return f"sqlite:///{self.state / 'agent.db'}"

    def sync(self) -> None:
        result = run_sync(self.registry, self.key, self.store)
        assert result.returncode == 0, result.stderr

    def original(self) -> str:
        [value] = [s["value"] for s in self.listed["signals"] if s["variant"] == "original"]
        return str(value)


@pytest.fixture
def synced(registry_server: RegistryServer, tmp_path: Path) -> Synced:
    key = registry_server.add_platform()
    listed = reported(LISTED)
    case = registry_server.report([listed], age_group="adult")
    out = Synced(registry_server, key, tmp_path / "state", case, listed)
    out.sync()
    return out


@contextmanager
def service(state: Path, **settings: Any) -> Iterator[TestClient]:
    engine = open_store(state, None)
    app = create_service(engine, ServiceSettings(**{"refresh_seconds": 0.2, **settings}))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
    finally:
        engine.dispose()


def upload(client: TestClient, path: Path, **options: Any) -> httpx.Response:
    with path.open("rb") as handle:
        response: httpx.Response = client.post(
            "/match", files={"file": (path.name, handle, "image/jpeg")}, **options
        )
    return response


def flipped(value: str, bits: int) -> str:
    return f"{int(value, 16) ^ ((1 << bits) - 1):064x}"


def test_a_file_is_matched_and_an_unlisted_one_is_not(synced: Synced) -> None:
    with service(synced.state) as client:
        listed = upload(client, LISTED)
        unlisted = upload(client, NOT_LISTED)

    assert listed.status_code == 200, listed.text
    matches = listed.json()["matches"]
    assert matches[0] == {
        "list": "adult",
        "type": "pdq",
        "value": synced.original(),
        "distance": 0,
        "variant": "original",
    }
    listed_values = {s["value"] for s in synced.listed["signals"]}
    assert {m["value"] for m in matches} <= listed_values
    assert unlisted.status_code == 200
    assert unlisted.json() == {"matches": []}


def test_hashes_are_matched_by_the_same_rule(synced: Synced) -> None:
    near = flipped(synced.original(), 3)
    with service(synced.state) as client:
        found = client.post(
            "/match", json={"signals": [{"type": "pdq", "value": near, "quality": 90}]}
        )
        too_far = client.post(
            "/match", json={"signals": [{"type": "pdq", "value": flipped(near, 40)}]}
        )
        low_quality = client.post(
            "/match", json={"signals": [{"type": "pdq", "value": near, "quality": 20}]}
        )
        patch_query = client.post(
            "/match",
            json={"signals": [{"type": "pdq", "value": near, "quality": 90, "variant": "patch"}]},
        )

    assert found.status_code == 200, found.text
    assert found.json()["matches"] == [
        {
            "list": "adult",
            "type": "pdq",
            "value": synced.original(),
            "distance": 3,
            "variant": "original",
        }
    ]
    assert too_far.json() == low_quality.json() == patch_query.json() == {"matches": []}


def test_a_ref_turns_matches_into_review_items(synced: Synced) -> None:
    with service(synced.state) as client:
        response = upload(client, LISTED, params={"ref": "media-42"})
        bad_ref = upload(client, LISTED, params={"ref": "two words"})

    assert response.status_code == 200, response.text
    assert bad_ref.status_code == 422
    engine = open_store(synced.state, None)
    try:
        with engine.connect() as connection:
            items = connection.execute(sa.select(review_item)).all()
    finally:
        engine.dispose()
    assert {(i.ref, i.source, i.value) for i in items} == {
        ("media-42", "upload", m["value"]) for m in response.json()["matches"]
    }


@pytest.mark.parametrize(
    ("request_", "status", "code", "message"),
    [
        (
            lambda c: c.post("/match", files={"file": ("x.jpg", b"not an image at all")}),
            422,
            "decode_failed",
            "not an image or video",
        ),
        (
            lambda c: c.post("/match", files={"other": ("x.jpg", b"data")}),
            422,
            "invalid_input",
            "no 'file' part",
        ),
        (
            lambda c: c.post("/match", files={"file": ("x.jpg", b"")}),
            422,
            "invalid_input",
            "the uploaded file is empty",
        ),
        (
            lambda c: c.post(
                "/match", content=b'{"signals": [', headers={"Content-Type": "application/json"}
            ),
            422,
            "invalid_input",
            "body: Invalid JSON",
        ),
        (
            lambda c: c.post(
                "/match", json={"signals": [{"type": "pdq", "value": "ab" * 32, "quality": "90"}]}
            ),
            422,
            "invalid_input",
            "body.signals[0].quality",
        ),
        (
            lambda c: c.post("/match", json={"signals": [], "extra": 1}),
            422,
            "invalid_input",
            "body.extra",
        ),
        (
            lambda c: c.post("/match", json={"signals": [{"type": "pdq", "value": "ab" * 16}]}),
            422,
            "invalid_input",
            "a pdq is 64 lowercase hex characters",
        ),
        (
            lambda c: c.post("/match", json={"vpdq": ["zz,1,2"]}),
            422,
            "invalid_input",
            "body.vpdq[0]",
        ),
        (
            lambda c: c.post(
                "/match", content=b"raw bytes", headers={"Content-Type": "image/jpeg"}
            ),
            422,
            "invalid_input",
            "multipart/form-data",
        ),
        (
            lambda c: c.post("/match", files={"file": ("big.bin", b"x" * 5000)}),
            413,
            "file_too_large",
            "over the limit of 4,096 bytes",
        ),
        (
            lambda c: c.post(
                "/match",
                content=iter([b"--b\r\n"] + [b"y" * 1024] * 8),
                headers={"Content-Type": "multipart/form-data; boundary=b"},
            ),
            413,
            "file_too_large",
            "over the limit",
        ),
        (
            lambda c: c.post(
                "/match",
                content=b"{" + b" " * (1024 * 1024) + b"}",
                headers={"Content-Type": "application/json"},
            ),
            413,
            "file_too_large",
            "JSON body is at most",
        ),
    ],
    ids=[
        "not-an-image",
        "no-file-part",
        "empty-file",
        "bad-json",
        "string-quality",
        "unknown-field",
        "short-pdq",
        "bad-vpdq",
        "not-multipart",
        "oversized-declared",
        "oversized-streamed",
        "oversized-json",
    ],
)
def test_bad_requests_are_refused_with_a_clear_error(
    synced: Synced,
    request_: Callable[[TestClient], httpx.Response],
    status: int,
    code: str,
    message: str,
) -> None:
    with service(synced.state, max_upload_bytes=4096) as client:
        response = request_(client)

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert message in error["message"]


def test_the_token_guards_match_but_not_health(synced: Synced) -> None:
    body = {"signals": [{"type": "pdq", "value": synced.original()}]}
    with service(synced.state, token=TOKEN) as client:
        missing = client.post("/match", json=body)
        wrong = client.post("/match", json=body, headers={"Authorization": "Bearer nope"})
        right = client.post("/match", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        health = client.get("/healthz")

    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert right.status_code == 200
    assert len(right.json()["matches"]) == 1
    assert health.status_code == 200


def test_the_index_follows_the_store_as_it_syncs(
    registry_server: RegistryServer, tmp_path: Path
) -> None:
    key = registry_server.add_platform()
    state = tmp_path / "state"
    synced = Synced(registry_server, key, state, registry_server.report(), {})
    with service(state) as client:
        # Before the first sync the service answers 503, then it catches up by itself.
        before = upload(client, LISTED)
        assert before.status_code == 503
        assert "no completed sync yet" in before.json()["error"]["message"]
        synced.sync()
        assert upload(client, LISTED).json() == {"matches": []}

        case = registry_server.report([reported(LISTED)])
        synced.sync()
        _until(lambda: upload(client, LISTED).json()["matches"] != [])
        assert client.get("/healthz").json()["ready"] is True

        registry_server.withdraw(case)
        synced.sync()
        # A removed signal stops matching at once: candidates are checked against the store.
        assert upload(client, LISTED).json() == {"matches": []}

        registry_server.report([reported(OTHER_LISTED)])
        synced.sync()
        _until(lambda: upload(client, OTHER_LISTED).json()["matches"] != [])


def _until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_serve_command_answers_over_http(synced: Synced) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env["TAKEDOWN_MATCH_TOKEN"] = TOKEN
    process = subprocess.Popen(
        takedown_command("platform", "serve", "--state", str(synced.state), "--port", str(port)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _up(url, process), timeout=60)
        with LISTED.open("rb") as handle:
            response = httpx.post(
                f"{url}/match",
                files={"file": ("upload.jpg", handle)},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=60,
            )
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["matches"][0]["value"] == synced.original()
    assert "127.0.0.1" not in stderr.replace(f"http://127.0.0.1:{port}", "")


def _up(url: str, process: subprocess.Popen[str]) -> bool:
    assert process.poll() is None, process.stderr.read() if process.stderr else ""
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
