"""The API under test: the real registry on a fresh SQLite file, in-process through TestClient."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from takedown.api import create_app
from takedown.registry.pow import ProofOfWork, solve
from takedown.registry.ratelimit import Limits, Rate
from takedown.registry.service import Registry
from takedown.registry.settings import Settings
from tests.registry.backends import BACKENDS, database_url

FAST: dict[str, Any] = {
    "argon2_time_cost": 1,
    "argon2_memory_kib": 8,
    "argon2_parallelism": 1,
    "pow_difficulty_bits": 0,
}
"""Cheap PIN hashing and no proof of work, unless a test asks for them."""

GENEROUS = Rate(per_second=10_000.0, burst=10_000)
"""Rates no test reaches unless it means to."""


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, **{**FAST, **overrides})


def generous_limits(**overrides: Rate) -> Limits:
    rates = {name: GENEROUS for name in ("create", "case", "match", "feed")}
    return Limits.from_rates({**rates, **overrides})


@dataclass
class Api:
    """A client for one app, plus the registry behind it (to add platforms, as the operator)."""

    client: TestClient
    registry: Registry
    settings: Settings
    app: FastAPI

    def pow(self) -> dict[str, str]:
        challenge = self.client.get("/v1/challenge").json()
        return {
            "challenge": challenge["challenge"],
            "solution": solve(challenge["challenge"], challenge["difficulty"]),
        }

    def report(
        self, media: list[dict[str, Any]] | None = None, age_group: str = "adult"
    ) -> dict[str, Any]:
        response = self.client.post(
            "/v1/cases",
            json={
                "age_group": age_group,
                "language": "en",
                "media": media if media is not None else [image()],
                "pow": self.pow(),
            },
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def platform(self, name: str, lists: tuple[str, ...] = ("minor", "adult")) -> str:
        _platform, key = self.registry.add_platform(name, lists)
        return key


def random_hex(digits: int) -> str:
    return secrets.token_hex(digits // 2)


def image(signals: int = 2, quality: int = 90) -> dict[str, Any]:
    """A made-up photo fingerprint with `signals` random PDQ hashes."""
    variants = ["original", "rot90", "rot180", "rot270", "flip_h", "flip_v"]
    return {
        "kind": "image",
        "md5": random_hex(32),
        "sha256": random_hex(64),
        "signals": [
            {
                "type": "pdq",
                "value": random_hex(64),
                "quality": quality,
                "variant": variants[i % len(variants)],
            }
            for i in range(signals)
        ],
    }


def video(frames: int = 3) -> dict[str, Any]:
    return {
        "kind": "video",
        "md5": random_hex(32),
        "sha256": random_hex(64),
        "signals": [],
        "vpdq": [f"{random_hex(64)},90,{i:.3f}" for i in range(frames)],
    }


@contextmanager
def running_api(
    tmp_path: Path, *, backend: str = "sqlite", limits: Limits | None = None, **overrides: Any
) -> Iterator[Api]:
    """The app on a freshly migrated database (an SQLite file under `tmp_path`, or a fresh
    PostgreSQL schema), with a TestClient."""
    with database_url(backend, tmp_path) as url:
        settings = make_settings(tmp_path / "data", database_url=url, **overrides)
        with _serving(settings, limits) as api:
            yield api


@contextmanager
def _serving(settings: Settings, limits: Limits | None) -> Iterator[Api]:
    registry = Registry.from_settings(settings)
    proof = ProofOfWork(secrets.token_bytes(32), settings.pow_difficulty_bits)
    app = create_app(settings, registry, proof_of_work=proof, limits=limits or generous_limits())
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Api(client=client, registry=registry, settings=settings, app=app)
    finally:
        registry.close()


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The API on each database backend in turn."""
    with running_api(tmp_path, backend=request.param) as api:
        yield api


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    """The API on SQLite only: for HTTP behaviour that does not depend on the database."""
    with running_api(tmp_path) as api:
        yield api
