"""`takedown serve` as a real process on a fresh directory: a whole report, feed and withdrawal
over TCP, then proof that neither the client's address nor its user agent was kept anywhere."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from takedown.registry.pow import solve
from tests.api.conftest import image
from tests.serving import clean_env, free_port, start_serve, stop, takedown_command

CLIENT_IP = "127.0.0.1"
USER_AGENT = "UA-MARKER-1234"
REFERRER = "https://referrer.example/REF-MARKER-5678"
FORWARDED_IP = "203.0.113.77"
MARKERS = (CLIENT_IP, USER_AGENT, "REF-MARKER-5678", FORWARDED_IP)


@dataclass
class Server:
    url: str
    port: int
    cwd: Path
    env: dict[str, str]
    stdout: Path
    stderr: Path
    process: subprocess.Popen[bytes]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The server started the way an operator would on a fresh machine: no TAKEDOWN_*
    variables at all, so the data goes to ./data under its working directory. It listens
    on `localhost` so that its own start-up line does not contain the client's address."""
    env = clean_env(TAKEDOWN_POW_DIFFICULTY_BITS="10")  # real proof of work, quickly solved
    served = start_serve(tmp_path, env, host="localhost", url_host=CLIENT_IP)
    try:
        yield Server(
            served.url, served.port, tmp_path, env, served.stdout, served.stderr, served.process
        )
    finally:
        stop(served.process)


def _add_platform(server: Server) -> str:
    result = subprocess.run(
        takedown_command("admin", "platform", "add", "example"),
        cwd=server.cwd,
        env=server.env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout.decode().strip()


def _pow(client: httpx.Client) -> dict[str, str]:
    challenge = client.get("/v1/challenge").json()
    assert challenge["difficulty"] == 10
    return {
        "challenge": challenge["challenge"],
        "solution": solve(challenge["challenge"], challenge["difficulty"]),
    }


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_serve_runs_the_whole_flow_and_keeps_no_client_data(server: Server) -> None:
    key = _add_platform(server)
    headers = {"User-Agent": USER_AGENT, "Referer": REFERRER, "X-Forwarded-For": FORWARDED_IP}
    media = image(signals=2)
    values = {s["value"] for s in media["signals"]}

    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        _ok(client.get("/openapi.json"))
        created = _ok(
            client.post(
                "/v1/cases",
                json={
                    "age_group": "adult",
                    "language": "en",
                    "media": [media],
                    "pow": _pow(client),
                },
            ),
            201,
        )
        number, pin = created["case_number"], created["pin"]
        status = _ok(client.post(f"/v1/cases/{number.lower()}/status", json={"pin": pin}))
        assert status["status"] == "active"
        # Wrong PINs and bad requests must not leave traces either.
        assert client.post(f"/v1/cases/{number}/status", json={"pin": "0000000000"}).is_error
        assert client.post("/v1/cases", json={"nonsense": True}).status_code == 422

        platform = {"Authorization": f"Bearer {key}"}
        added = _ok(client.get("/v1/feed", headers=platform))
        assert {(e["op"], e["value"]) for e in added["events"]} == {("add", v) for v in values}
        snapshot = client.get("/v1/feed/snapshot", headers=platform).text.splitlines()
        assert len(snapshot) == 1 + len(values)

        _ok(client.post(f"/v1/cases/{number}/withdraw", json={"pin": pin}))

        removed = _ok(client.get("/v1/feed", params={"after": added["next"]}, headers=platform))
        assert {(e["op"], e["value"]) for e in removed["events"]} == {("remove", v) for v in values}

    assert _chunked_post(server.port, size=3 * 1024 * 1024).startswith(b"HTTP/1.1 413")

    server.process.terminate()
    # uvicorn shuts down cleanly, then re-raises the signal: the exit status is SIGTERM's.
    assert server.process.wait(timeout=15) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.stderr.read_text()
    data_files = sorted((server.cwd / "data").iterdir())
    assert (server.cwd / "data" / "takedown.db") in data_files
    for path in [*data_files, server.stdout, server.stderr]:
        content = path.read_bytes()
        for marker in MARKERS:
            assert marker.encode() not in content, f"{marker} found in {path.name}"
    assert "Uvicorn running on http://localhost" in server.stderr.read_text()


def _chunked_post(port: int, size: int) -> bytes:
    """POST a chunked body of `size` bytes (no Content-Length) and return the response head."""
    with socket.create_connection((CLIENT_IP, port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/cases HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            + f"User-Agent: {USER_AGENT}\r\n\r\n".encode()
        )
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < size:
                connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
            connection.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may hang up once it has answered 413
        return connection.recv(65536)


def test_serve_refuses_unusable_settings_with_a_message(tmp_path: Path) -> None:
    result = subprocess.run(
        takedown_command("serve", "--port", str(free_port())),
        cwd=tmp_path,
        env={**os.environ, "TAKEDOWN_FEED_PAGE_MAX": "lots"},
        capture_output=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert b"TAKEDOWN_FEED_PAGE_MAX must be an integer" in result.stderr
    assert not (tmp_path / "data").exists()
