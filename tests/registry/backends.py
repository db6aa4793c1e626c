"""Throw-away registry databases for tests: an SQLite file, or a fresh PostgreSQL schema.

PostgreSQL comes from `TAKEDOWN_TEST_POSTGRES_URL` (default: root on 127.0.0.1, database
`test`, trust auth). Each database is migrated for real with `store.migrate.upgrade`. When
PostgreSQL cannot be reached the test fails: a backend we did not test is not a pass.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from takedown.registry.settings import Settings
from takedown.store import migrate

BACKENDS = ("sqlite", "postgresql")
POSTGRES_URL = os.environ.get(
    "TAKEDOWN_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)


def _libpq(url: str) -> str:
    """The URL as psycopg itself takes it (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database for one test; yields its SQLAlchemy URL."""
    with empty_database(backend, tmp_path / "data" / "takedown.db", durable=False) as url:
        migrate.upgrade(url)
        yield url


@contextmanager
def empty_database(
    backend: str, sqlite_file: Path, *, prefix: str = "test", durable: bool = True
) -> Iterator[str]:
    """An empty, unmigrated database; yields its SQLAlchemy URL: the SQLite file `sqlite_file`
    (not created here), or a new PostgreSQL schema named `PREFIX_<random>`, reached through
    `search_path` and dropped afterwards. `durable=False` turns PostgreSQL's synchronous
    commit off (cheap commits for tests that need no crash safety)."""
    if backend == "sqlite":
        yield f"sqlite:///{sqlite_file.as_posix()}"
        return
    schema = f"{prefix}_{secrets.token_hex(6)}"
    unreachable = None
    try:
        with psycopg.connect(_libpq(POSTGRES_URL), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        unreachable = " ".join(str(exc).split())
    if unreachable is not None:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({unreachable}); start it or set "
            "TAKEDOWN_TEST_POSTGRES_URL. The registry tests run on both databases.",
            pytrace=False,
        )
    try:
        options = f"-csearch_path={schema}" + ("" if durable else " -csynchronous_commit=off")
        yield (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": options})
            .render_as_string(hide_password=False)
        )
    finally:
        _DROPS.submit(_drop_schema, schema)


_DROPS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-test-schema")
"""Schemas are dropped in the background (about 0.1 s each); the pool is joined at exit."""


def _drop_schema(schema: str) -> None:
    with psycopg.connect(_libpq(POSTGRES_URL), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def wait_for_cleanup() -> None:
    """Block until every test schema handed out so far is dropped."""
    _DROPS.submit(lambda: None).result()


def fast_settings(url: str, data_dir: Path) -> Settings:
    """Settings for tests: cheap argon2 (1 pass, 8 MiB), no proof-of-work."""
    return Settings(
        data_dir=data_dir,
        database_url=url,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        argon2_parallelism=1,
        pow_difficulty_bits=0,
    )


class FakeClock:
    """A clock the test moves by hand (UTC)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
