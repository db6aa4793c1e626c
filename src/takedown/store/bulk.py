"""Many rows into several tables at once, inside the caller's transaction.

A batch of new cases inserts a few hundred rows into each of six tables. `BulkInsert` collects
them and sends them at `flush`, without SQLAlchemy building a statement per row:

- SQLite: one `executemany` per table (in-process: no round trips to save);
- PostgreSQL: one `COPY ... FROM STDIN` per table (psycopg writes the rows in C; an
  `INSERT ... SELECT FROM unnest(arrays)` would save round trips but costs more CPU on both
  sides, and CPU is what a case costs most).

Days must be given as `sql_date` makes them. A refused row (e.g. a taken unique value) raises
SQLAlchemy's exception for it (`sa.exc.IntegrityError`) from `flush`, as `execute` would.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

__all__ = ["BulkInsert", "sql_date"]


def sql_date(connection: sa.Connection, day: date) -> date | str:
    """A day as bulk rows carry it: a `date` for PostgreSQL, ISO text for SQLite (the form
    SQLAlchemy's Date uses there)."""
    return day.isoformat() if connection.dialect.name == "sqlite" else day


class BulkInsert:
    """Rows to insert, table by table in the order added, when `flush` is called."""

    def __init__(self) -> None:
        self._parts: list[tuple[sa.Table, tuple[str, ...], Sequence[tuple[Any, ...]], str]] = []

    def add(self, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert `rows` (tuples in the order of `columns`) into `table`."""
        if rows:
            self._parts.append((table, tuple(columns), rows, ""))

    def add_if_absent(
        self, table: sa.Table, columns: Sequence[str], row: tuple[Any, ...], key: str
    ) -> None:
        """Insert one row unless a row with the same `key` (a unique column) exists."""
        self._parts.append((table, tuple(columns), [row], key))

    def flush(self, connection: sa.Connection) -> None:
        """Send everything collected so far, in order; the collection is then empty."""
        parts, self._parts = self._parts, []
        if not parts:
            return
        if connection.dialect.name == "postgresql":
            _flush_postgresql(connection, parts)
            return
        _flush_sqlite(connection, parts)


def _flush_sqlite(
    connection: sa.Connection,
    parts: Sequence[tuple[sa.Table, tuple[str, ...], Sequence[tuple[Any, ...]], str]],
) -> None:
    """One `executemany` per table: a statement compiled once, stepped per row (cheaper than
    multi-row `VALUES` lists, which SQLite compiles row by row)."""
    for table, columns, rows, key in parts:
        names = ", ".join(f'"{name}"' for name in columns)
        marks = ", ".join("?" for _ in columns)
        conflict = f' ON CONFLICT ("{key}") DO NOTHING' if key else ""
        # Table and column names come from our schema, never from input.
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks}){conflict}'  # noqa: S608
        connection.exec_driver_sql(sql, list(rows))


def _flush_postgresql(
    connection: sa.Connection,
    parts: Sequence[tuple[sa.Table, tuple[str, ...], Sequence[tuple[Any, ...]], str]],
) -> None:
    dbapi = connection.connection.driver_connection
    assert dbapi is not None
    errors = connection.dialect.loaded_dbapi.Error
    for table, columns, rows, key in parts:
        names = ", ".join(f'"{name}"' for name in columns)
        try:
            if key:  # one row: an ordinary statement
                marks = ", ".join("%s" for _ in columns)
                sql = (
                    f'INSERT INTO "{table.name}" ({names}) VALUES ({marks}) '  # noqa: S608
                    f'ON CONFLICT ("{key}") DO NOTHING'
                )
                with dbapi.cursor() as cursor:
                    for row in rows:
                        cursor.execute(sql, row)
                continue
            sql = f'COPY "{table.name}" ({names}) FROM STDIN'
            with dbapi.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except errors as exc:
            raise sa.exc.DBAPIError.instance(sql, None, exc, errors) from exc
