"""Real `takedown serve` processes for the tests that need one over TCP (browser, platform
agent, durability, the server's own start-up): started the way an operator starts it, waited
for until `/healthz` answers, and stopped with every worker process it made."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

HOST = "127.0.0.1"


def takedown_command(*args: str) -> list[str]:
    """The `takedown` CLI of this checkout, run with the test's own interpreter."""
    return [sys.executable, "-m", "takedown.cli", *args]


def free_port(host: str = HOST) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without any `TAKEDOWN_*` variable, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env.update(variables)
    return env


@dataclass(frozen=True)
class Served:
    """One `takedown serve` process (the leader of its own process group)."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def stderr_text(self) -> str:
        return self.stderr.read_text(errors="replace")


def start_serve(
    cwd: Path,
    env: dict[str, str],
    *,
    host: str = HOST,
    url_host: str = HOST,
    name: str = "serve",
    timeout_s: float = 60,
) -> Served:
    """`takedown serve --host HOST --port <free>` in `cwd`, its output in `cwd/NAME.out` and
    `NAME.err`; returns once `/healthz` answers 200 (fails the test if the process exits
    first or does not answer within `timeout_s`)."""
    port = free_port()
    stdout, stderr = cwd / f"{name}.out", cwd / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            takedown_command("serve", "--host", host, "--port", str(port)),
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: the server and its workers
        )
    served = Served(f"http://{url_host}:{port}", port, process, stdout, stderr)
    try:
        _wait_until_up(served, timeout_s)
    except BaseException:
        stop(process)
        raise
    return served


def _wait_until_up(served: Served, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"takedown serve exited early:\n{served.stderr_text()[-4000:]}")
        with suppress(httpx.TransportError):
            if httpx.get(f"{served.url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    pytest.fail(f"takedown serve did not answer within {timeout_s:.0f} s:\n{served.stderr_text()}")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(process: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    """SIGTERM, as an operator stops it; SIGKILL to the whole group if it does not stop in
    `timeout_s` or leaves a worker behind."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if group_alive(process.pid):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
