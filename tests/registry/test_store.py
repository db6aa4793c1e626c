"""The store: migrations build exactly the schema the code uses, durably configured, with no
room for anything that could identify a reporter."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from takedown.errors import ConfigError
from takedown.store import migrate
from takedown.store.engine import create_engine
from takedown.store.schema import metadata

IDENTIFYING = ("ip", "addr", "agent", "referer", "referrer", "user", "email", "phone", "name")


def test_the_migration_creates_exactly_the_tables_the_code_uses(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
            tables = set(sa.inspect(connection).get_table_names())
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
    assert differences == []
    assert tables == {*metadata.tables, "alembic_version"}


def test_upgrading_twice_changes_nothing(db_url: str) -> None:
    assert migrate.upgrade(db_url) == migrate.head_revision()
    assert migrate.upgrade(db_url) == migrate.head_revision()


def test_no_table_or_column_could_hold_an_ip_address_or_user_agent() -> None:
    offending = [
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if any(word in column.name.lower() for word in IDENTIFYING)
        and f"{table.name}.{column.name}" != "platform.name"  # the platform's own name
    ]
    assert offending == []
    assert not any(word in name for name in metadata.tables for word in IDENTIFYING)
    times = [
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, sa.DateTime)
    ]
    assert times == ["case.locked_until"]  # the only time of day: when a PIN lock ends


def test_sqlite_runs_in_wal_mode_with_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'dir' / 'takedown.db'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 5000,
    }


def test_an_unmigrated_database_is_refused_with_a_hint(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(ConfigError, match="takedown db upgrade"):
            migrate.check_current(engine)
    finally:
        engine.dispose()


def test_an_unreachable_database_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot migrate"):
        migrate.upgrade("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
