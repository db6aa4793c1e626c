"""Fixtures: every registry test runs once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from takedown.registry.service import Registry
from takedown.registry.settings import Settings
from takedown.store.engine import create_engine
from tests.registry.backends import (
    BACKENDS,
    FakeClock,
    database_url,
    fast_settings,
    wait_for_cleanup,
)


@pytest.fixture(scope="session", autouse=True)
def _drop_test_schemas() -> Iterator[None]:
    yield
    wait_for_cleanup()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_url(backend, tmp_path) as url:
        yield url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return fast_settings(db_url, tmp_path / "data")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(settings: Settings, clock: FakeClock) -> Iterator[Registry]:
    engine = create_engine(settings.database_url)
    registry = Registry(engine, settings, clock=clock)
    yield registry
    registry.close()
