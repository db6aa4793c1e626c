"""Shared fixtures for the platform agent's tests.

`registry_server`: a real `takedown serve` subprocess on a free port with its own data
directory (SQLite), with helpers to add a platform key (through the admin CLI, as an operator
would), to report and withdraw cases (with a real, quickly solved proof of work) and to read
the feed; `registry_factory` starts more of them, or with other settings.
`agent_store`: an empty local store URL for the agent, on SQLite and on PostgreSQL in turn.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from takedown.registry.pow import solve
from tests.registry.backends import BACKENDS, empty_database
from tests.serving import clean_env, start_serve, stop
from tests.serving import free_port as free_port
from tests.serving import takedown_command as takedown_command

POW_BITS = 4
"""A real proof of work, solved in microseconds."""

_GENEROUS = "100000"
REGISTRY_ENV = {
    "TAKEDOWN_POW_DIFFICULTY_BITS": str(POW_BITS),
    # Cheap PIN hashing: these tests are about the platform side, not argon2.
    "TAKEDOWN_ARGON2_TIME_COST": "1",
    "TAKEDOWN_ARGON2_MEMORY_KIB": "8192",
    "TAKEDOWN_ARGON2_PARALLELISM": "1",
    **{
        f"TAKEDOWN_RATE_{name}_{unit}": _GENEROUS
        for name in ("CREATE", "CASE", "FEED", "MATCH")
        for unit in ("PER_S", "BURST")
    },
}

_VARIANTS = ("original", "rot90", "rot180", "rot270", "flip_h", "flip_v", "transpose")


def random_image(signals: int = 3, quality: int = 90) -> dict[str, Any]:
    """A made-up photo fingerprint (as `takedown hash --json` prints it, without `path`)."""
    return {
        "kind": "image",
        "md5": secrets.token_hex(16),
        "sha256": secrets.token_hex(32),
        "signals": [
            {
                "type": "pdq",
                "value": secrets.token_hex(32),
                "quality": quality,
                "variant": _VARIANTS[i % len(_VARIANTS)],
            }
            for i in range(signals)
        ],
    }


@dataclass
class Case:
    """A case reported to the registry: what was sent and what came back."""

    number: str
    pin: str
    media_ids: list[str]
    age_group: str
    media: list[dict[str, Any]]

    @property
    def signals(self) -> set[tuple[str, str, str]]:
        """(list, type, value) of every hash the feed carries for this case: its photos' PDQ
        signals, its videos' frames and its videos' MD5s."""
        out: set[tuple[str, str, str]] = set()
        for item in self.media:
            out.update((self.age_group, "pdq", s["value"]) for s in item.get("signals", []))
            if item["kind"] == "video":
                out.update((self.age_group, "pdq", f.split(",")[0]) for f in item["vpdq"])
                out.add((self.age_group, "md5", item["md5"]))
        return out


@dataclass
class RegistryServer:
    """A running `takedown serve` with its own data directory."""

    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    stderr_path: Path
    cases: list[Case] = field(default_factory=list)

    def admin(self, *args: str) -> str:
        """`takedown admin ARGS` on this server's database; its stdout, stripped."""
        result = subprocess.run(
            takedown_command("admin", *args),
            cwd=self.data_dir.parent,
            env=self.env,
            capture_output=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode().strip()

    def add_platform(self, name: str | None = None, lists: str = "minor,adult") -> str:
        """Add a platform through the admin CLI; its API key."""
        return self.admin("platform", "add", name or f"p{secrets.token_hex(4)}", "--lists", lists)

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **options)

    def report(self, media: list[dict[str, Any]] | None = None, age_group: str = "adult") -> Case:
        """Report a case (default: one random photo with 3 PDQ signals), proof of work solved."""
        media = media if media is not None else [random_image()]
        with self.client() as client:
            challenge = client.get("/v1/challenge").json()
            proof = {
                "challenge": challenge["challenge"],
                "solution": solve(challenge["challenge"], challenge["difficulty"]),
            }
            body = {"age_group": age_group, "language": "en", "media": media, "pow": proof}
            response = client.post("/v1/cases", json=body)
        assert response.status_code == 201, response.text
        answer = response.json()
        case = Case(answer["case_number"], answer["pin"], answer["media_ids"], age_group, media)
        self.cases.append(case)
        return case

    def withdraw(self, case: Case, media_id: str | None = None) -> None:
        """Withdraw the whole case, or one of its media items."""
        path = f"/v1/cases/{case.number}/withdraw"
        if media_id is not None:
            path = f"/v1/cases/{case.number}/media/{media_id}/withdraw"
        with self.client() as client:
            response = client.post(path, json={"pin": case.pin})
        assert response.status_code == 200, response.text

    def feed(self, key: str) -> list[dict[str, Any]]:
        """Every feed event the key may read, straight from the registry."""
        events: list[dict[str, Any]] = []
        after = 0
        with self.client(headers={"Authorization": f"Bearer {key}"}) as client:
            while True:
                response = client.get("/v1/feed", params={"after": after, "limit": 10_000})
                assert response.status_code == 200, response.text
                page = response.json()
                events.extend(page["events"])
                after = page["next"]
                if not page["has_more"]:
                    return events

    def live(self, key: str) -> set[tuple[str, str, str]]:
        """(list, type, value) of every signal live in the key's lists now, from the feed."""
        live: set[tuple[str, str, str]] = set()
        for event in self.feed(key):
            row = (event["list"], event["type"], event["value"])
            if event["op"] == "add":
                live.add(row)
            else:
                live.discard(row)
        return live

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


class RegistryFactory:
    """Starts `takedown serve` processes, each on its own data directory; all are stopped at
    the end of the test."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self, **env: str) -> RegistryServer:
        """A running registry; `env` adds or overrides `TAKEDOWN_*` variables (e.g.
        `TAKEDOWN_FEED_PAGE_MAX="50"`)."""
        root = self._root / f"registry{len(self._processes)}"
        root.mkdir(parents=True)
        full = clean_env(**REGISTRY_ENV, TAKEDOWN_DATA_DIR=str(root / "data"))
        full.update(env)
        served = start_serve(root, full)
        self._processes.append(served.process)
        return RegistryServer(served.url, root / "data", full, served.process, served.stderr)

    def stop_all(self) -> None:
        for process in self._processes:
            stop(process)


@pytest.fixture
def registry_factory(tmp_path: Path) -> Iterator[RegistryFactory]:
    """Start registries with particular settings: `registry_factory.start(TAKEDOWN_X="1")`."""
    factory = RegistryFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def registry_server(registry_factory: RegistryFactory) -> RegistryServer:
    """A real `takedown serve` on a free port, SQLite under `tmp_path/registry0/data`, cheap
    proof of work and PIN hashing, generous rate limits; stopped at the end of the test."""
    return registry_factory.start()


@pytest.fixture(params=BACKENDS)
def agent_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL for the agent's local store: an SQLite file under `tmp_path`,
    then a fresh PostgreSQL schema (dropped afterwards)."""
    with empty_database(request.param, tmp_path / "agent" / "agent.db", prefix="agent") as url:
        yield url


def store_cli_args(store: str) -> list[str]:
    """`--state DIR` for an SQLite store URL (the usual way), else `--db URL`."""
    parsed = make_url(store)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return ["--state", str(Path(parsed.database).parent)]
    return ["--db", store]
