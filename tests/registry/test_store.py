"""The store: migrations build exactly the schema the code uses, durably configured, with no
room for anything that could identify a reporter."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from takedown.errors import ConfigError
from takedown.registry.service import Registry
from takedown.store import migrate, transactions
from takedown.store.bulk import BulkInsert, sql_date
from takedown.store.engine import create_engine
from takedown.store.schema import audit, feed_event, listing, media_signal, metadata
from tests.registry import factories as f
from tests.registry.backends import fast_settings

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
                for name in (
                    "journal_mode",
                    "synchronous",
                    "foreign_keys",
                    "busy_timeout",
                    "cache_spill",
                    "mmap_size",
                )
            }
    finally:
        engine.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "cache_spill": 20_000,
        "mmap_size": 1 << 30,
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


def _migrate_to(url: str, revision: str) -> None:
    """Up or down to `revision`, as `migrate.upgrade` runs migrations (one write transaction)."""
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    engine = create_engine(url)
    try:
        with transactions.write(engine) as connection:
            config.attributes["connection"] = connection
            current = MigrationContext.configure(connection).get_current_revision()
            if revision == "head" or int(revision) > int(current or 0):
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
    finally:
        engine.dispose()


def _feed_state(url: str) -> tuple[list[tuple[object, ...]], set[tuple[object, ...]], int]:
    """Every event as (seq, op, list, type, value, quality), the live (list, type, value)
    pairs, and the number of media-signal links, read with SQL that works on both layouts."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("feed_event")}
            if "value" in columns:  # revision 0002: events carry copies of the signal
                events = connection.exec_driver_sql(
                    "SELECT seq, op, list, type, value, quality FROM feed_event ORDER BY seq"
                ).all()
            else:
                events = connection.exec_driver_sql(
                    "SELECT e.seq, e.op, e.list, s.type, s.value, s.quality FROM feed_event e "
                    "JOIN signal s ON s.id = e.signal_id ORDER BY e.seq"
                ).all()
            live = connection.exec_driver_sql(
                "SELECT l.list, s.type, s.value FROM listing l JOIN signal s ON s.id = l.signal_id"
            ).all()
            links = connection.exec_driver_sql("SELECT COUNT(*) FROM media_signal").scalar_one()
    finally:
        engine.dispose()
    return [tuple(row) for row in events], {tuple(row) for row in live}, int(links)


def test_the_lean_feed_migration_keeps_every_event_listing_and_link(
    db_url: str, tmp_path: Path
) -> None:
    rng = random.Random(3)
    registry = Registry.from_settings(fast_settings(db_url, tmp_path / "data"))
    try:
        kept = registry.create_case("adult", "en", [f.image(rng, count=3)])
        gone = registry.create_case("minor", "en", [f.image(rng, count=2), f.video(rng, [])])
        registry.withdraw_case(gone.case_number, gone.pin)
        reader, _ = registry.add_platform("reader", ["minor", "adult"])
        expected = [
            (e.seq, e.op, e.list, e.type, e.value, e.quality)
            for e in registry.feed(reader, 0, 100).events
        ]
    finally:
        registry.close()
    assert len(expected) == 3 + 3 + 3  # adds of both cases, removes of the withdrawn one
    state = _feed_state(db_url)
    assert state[0] == expected

    _migrate_to(db_url, "0002")
    assert _feed_state(db_url) == state

    _migrate_to(db_url, "head")
    assert _feed_state(db_url) == state
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            days = connection.exec_driver_sql("SELECT first_seq FROM feed_day").scalars().all()
    finally:
        engine.dispose()
    assert days == [1]  # every event so far was written today
    registry = Registry.from_settings(fast_settings(db_url, tmp_path / "data"))
    try:
        assert registry.case_status(kept.case_number, kept.pin).status == "active"
        registry.withdraw_case(kept.case_number, kept.pin)
        assert [e.op for e in registry.feed(reader, len(expected), 100).events] == ["remove"] * 3
    finally:
        registry.close()


def test_an_sqlite_writer_waits_for_another_process_holding_the_write_lock(
    tmp_path: Path,
) -> None:
    database = tmp_path / "takedown.db"
    url = f"sqlite:///{database}"
    migrate.upgrade(url)
    hold = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(0.6)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, f"{database}.write-lock"], stdout=subprocess.PIPE, text=True
    )
    engine = create_engine(url)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        started = time.monotonic()
        with transactions.write(engine) as connection:
            waited = time.monotonic() - started
            connection.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()
        holder.wait(timeout=10)
    assert waited > 0.3


def test_a_registry_on_sqlite_checkpoints_its_log_in_the_background(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'takedown.db'}"
    migrate.upgrade(url)
    database = tmp_path / "takedown.db"
    before = database.stat().st_size
    registry = Registry.from_settings(fast_settings(url, tmp_path))
    try:
        with registry.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        rng = random.Random(4)
        for _ in range(20):
            registry.create_case("adult", "en", [f.image(rng, count=8)])
        checkpointer = registry._checkpointer
        assert checkpointer is not None
        done = checkpointer.checkpoints
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints < done + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        # The writers only appended to the log; the thread copied it into the file.
        assert database.stat().st_size > before
    finally:
        registry.close()
    assert not checkpointer._thread.is_alive()


def test_one_checkpointer_per_sqlite_file_whatever_the_number_of_registries(
    tmp_path: Path,
) -> None:
    # Two registries on one file (as two server processes have): only one thread checkpoints;
    # when its registry closes, the other one's takes over.
    url = f"sqlite:///{tmp_path / 'takedown.db'}"
    migrate.upgrade(url)
    first = Registry.from_settings(fast_settings(url, tmp_path))
    second = Registry.from_settings(fast_settings(url, tmp_path))
    try:
        one, two = first._checkpointer, second._checkpointer
        assert one is not None
        assert two is not None

        def wait_for(condition: Callable[[], bool]) -> None:
            deadline = time.monotonic() + 10
            while not condition() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert condition()

        wait_for(lambda: one.checkpoints + two.checkpoints > 0)
        assert one.active != two.active
        active, idle = (one, two) if one.active else (two, one)
        time.sleep(0.5)
        assert idle.checkpoints == 0
        assert not idle.active
        (first if active is one else second).close()
        wait_for(lambda: idle.checkpoints > 0)
        assert idle.active
    finally:
        first.close()
        second.close()


def test_bulk_rows_by_id_land_as_the_same_rows_as_plain_rows(db_url: str) -> None:
    # `add_ids` and `add_grouped` (SQLite: JSON arrays expanded by `json_each`; PostgreSQL:
    # COPY) write exactly the rows `add` would, numbering included.
    engine = create_engine(db_url)
    try:
        with transactions.write(engine) as connection:
            day = sql_date(connection, date(2026, 11, 21))
            rows = BulkInsert()
            rows.add_ids(listing, "signal_id", [5, 3, 9], {"list": "minor"})
            rows.add_ids(listing, "signal_id", [], {"list": "adult"})
            rows.add_ids(
                feed_event,
                "signal_id",
                [5, 3, 9],
                {"op": "add", "list": "minor", "created_day": day},
                numbered=("seq", 41),
            )
            rows.add_ids(
                feed_event,
                "signal_id",
                [7],
                {"op": "remove", "list": "adult", "created_day": day},
                numbered=("seq", 44),
            )
            rows.add_grouped(
                media_signal, "media_id", "signal_id", [(2, [9, 5]), (1, [3]), (4, [])]
            )
            rows.add(media_signal, ("media_id", "signal_id"), [(8, 8)])
            # Constants are written as they are, whatever characters they hold.
            odd = {"day": day, "actor": "tab\there", "action": "back\\slash\\N", "object": "a\nb\r"}
            rows.add_ids(audit, "id", [1, 2], odd)
            rows.flush(connection)
        with transactions.read(engine) as connection:
            listed = connection.execute(sa.select(listing).order_by(listing.c.signal_id)).all()
            events = connection.execute(sa.select(feed_event).order_by(feed_event.c.seq)).all()
            links = connection.execute(
                sa.select(media_signal).order_by(media_signal.c.media_id, media_signal.c.signal_id)
            ).all()
            audited = connection.execute(sa.select(audit).order_by(audit.c.id)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in listed] == [(3, "minor"), (5, "minor"), (9, "minor")]
    today = date(2026, 11, 21)
    assert [tuple(row) for row in events] == [
        (41, "add", "minor", 5, today),
        (42, "add", "minor", 3, today),
        (43, "add", "minor", 9, today),
        (44, "remove", "adult", 7, today),
    ]
    assert [tuple(row) for row in links] == [(1, 3), (2, 5), (2, 9), (8, 8)]
    assert [tuple(row) for row in audited] == [
        (1, today, "tab\there", "back\\slash\\N", "a\nb\r"),
        (2, today, "tab\there", "back\\slash\\N", "a\nb\r"),
    ]
