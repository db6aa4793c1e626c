"""Many rows into several tables at once, inside the caller's transaction.

A batch of new cases inserts a few hundred rows into each of six tables. `BulkInsert` collects
them and sends them at `flush`, without SQLAlchemy building a statement per row:

- SQLite: one `executemany` per table (in-process: no round trips to save); rows that differ
  in one id only (`add_ids`: a list's signals, a run of feed events, a media item's signals)
  go as one JSON array of ids expanded by SQLite itself (`json_each`), about three times
  cheaper per row than binding each row's values from Python;
- PostgreSQL: one `COPY ... FROM STDIN` per table (an `INSERT ... SELECT FROM
  unnest(arrays)` would save round trips but costs more CPU on both sides, and CPU is what a
  case costs most); rows by id are written as COPY text in one piece rather than value by
  value.

Days must be given as `sql_date` makes them. A refused row (e.g. a taken unique value) raises
SQLAlchemy's exception for it (`sa.exc.IntegrityError`) from `flush`, as `execute` would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
import sqlalchemy as sa

__all__ = ["BulkInsert", "sql_date"]


def sql_date(connection: sa.Connection, day: date) -> date | str:
    """A day as bulk rows carry it: a `date` for PostgreSQL, ISO text for SQLite (the form
    SQLAlchemy's Date uses there)."""
    return day.isoformat() if connection.dialect.name == "sqlite" else day


@dataclass(frozen=True, slots=True)
class _Rows:
    """Rows as tuples in the order of `columns`; with `key`, one row inserted unless a row
    with the same value in that unique column exists."""

    table: sa.Table
    columns: tuple[str, ...]
    rows: Sequence[tuple[Any, ...]]
    key: str = ""


@dataclass(frozen=True, slots=True)
class _Ids:
    """One row per id of `groups`: the id in `id_column`, the group's key in `group_column`
    (unless empty), `constants` in every row, and with `numbered` a column counting from
    `start` along all the rows."""

    table: sa.Table
    id_column: str
    groups: Sequence[tuple[Any, Sequence[int]]]
    group_column: str = ""
    constants: tuple[tuple[str, Any], ...] = ()
    numbered: str = ""
    start: int = 0

    @property
    def columns(self) -> tuple[str, ...]:
        group = (self.group_column,) if self.group_column else ()
        numbered = (self.numbered,) if self.numbered else ()
        return (*numbered, *group, self.id_column, *(name for name, _ in self.constants))


class BulkInsert:
    """Rows to insert, table by table in the order added, when `flush` is called."""

    def __init__(self) -> None:
        self._parts: list[_Rows | _Ids] = []

    def add(self, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert `rows` (tuples in the order of `columns`) into `table`."""
        if rows:
            self._parts.append(_Rows(table, tuple(columns), rows))

    def add_ids(
        self,
        table: sa.Table,
        id_column: str,
        ids: Sequence[int],
        constants: Mapping[str, Any],
        *,
        numbered: tuple[str, int] | None = None,
    ) -> None:
        """Insert one row per id (integers), in order: the id in `id_column`, `constants`
        (column: value) in every row; with `numbered` (column, start), that column holds
        start, start + 1, ... along the rows."""
        if ids:
            column, start = numbered or ("", 0)
            self._parts.append(
                _Ids(
                    table,
                    id_column,
                    [(None, ids)],
                    constants=tuple(constants.items()),
                    numbered=column,
                    start=start,
                )
            )

    def add_grouped(
        self,
        table: sa.Table,
        group_column: str,
        id_column: str,
        groups: Sequence[tuple[int, Sequence[int]]],
    ) -> None:
        """Insert one row (group, id) per id of each (group, ids), in order (integers)."""
        if any(ids for _, ids in groups):
            self._parts.append(_Ids(table, id_column, groups, group_column=group_column))

    def add_if_absent(
        self, table: sa.Table, columns: Sequence[str], row: tuple[Any, ...], key: str
    ) -> None:
        """Insert one row unless a row with the same `key` (a unique column) exists."""
        self._parts.append(_Rows(table, tuple(columns), [row], key))

    def flush(self, connection: sa.Connection) -> None:
        """Send everything collected so far, in order; the collection is then empty."""
        parts, self._parts = self._parts, []
        if not parts:
            return
        if connection.dialect.name == "postgresql":
            _flush_postgresql(connection, parts)
            return
        _flush_sqlite(connection, parts)


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in columns)


def _flush_sqlite(connection: sa.Connection, parts: Sequence[_Rows | _Ids]) -> None:
    """`_Rows`: one `executemany` per table (a statement compiled once, stepped per row;
    cheaper than multi-row `VALUES` lists, which SQLite compiles row by row). `_Ids`: one
    `INSERT ... SELECT ... FROM json_each(?)` over a JSON array of the ids (of groups: an
    array of [group, [ids]])."""
    # Table and column names come from our schema, never from input.
    for part in parts:
        if isinstance(part, _Rows):
            marks = ", ".join("?" for _ in part.columns)
            conflict = f' ON CONFLICT ("{part.key}") DO NOTHING' if part.key else ""
            sql = f'INSERT INTO "{part.table.name}" ({_names(part.columns)}) VALUES ({marks})'  # noqa: S608
            connection.exec_driver_sql(sql + conflict, list(part.rows))
            continue
        selected = "i.value"
        source = "json_each(?) AS i"
        if part.group_column:
            selected = "json_extract(g.value, '$[0]'), i.value"
            source = "json_each(?) AS g, json_each(g.value, '$[1]') AS i"
            payload = orjson.dumps([[group, list(ids)] for group, ids in part.groups])
        else:
            payload = orjson.dumps([signal_id for _, ids in part.groups for signal_id in ids])
        if part.numbered:  # `i.key`: the index in the array (of ungrouped ids)
            selected = f"? + i.key, {selected}"
        selected += "".join(", ?" for _ in part.constants)
        sql = (
            f'INSERT INTO "{part.table.name}" ({_names(part.columns)}) '  # noqa: S608
            f"SELECT {selected} FROM {source}"
        )
        connection.exec_driver_sql(sql, (*_ordered_params(part), payload))


def _ordered_params(part: _Ids) -> tuple[Any, ...]:
    """The parameters ahead of the JSON array, in the order their marks appear."""
    numbered = (part.start,) if part.numbered else ()
    return (*numbered, *(value for _, value in part.constants))


def _flush_postgresql(connection: sa.Connection, parts: Sequence[_Rows | _Ids]) -> None:
    dbapi = connection.connection.driver_connection
    assert dbapi is not None
    errors = connection.dialect.loaded_dbapi.Error
    for part in parts:
        names = _names(part.columns)
        table = part.table.name
        try:
            if isinstance(part, _Rows) and part.key:  # one row: an ordinary statement
                marks = ", ".join("%s" for _ in part.columns)
                sql = (
                    f'INSERT INTO "{table}" ({names}) VALUES ({marks}) '  # noqa: S608
                    f'ON CONFLICT ("{part.key}") DO NOTHING'
                )
                with dbapi.cursor() as cursor:
                    for row in part.rows:
                        cursor.execute(sql, row)
                continue
            sql = f'COPY "{table}" ({names}) FROM STDIN'
            with dbapi.cursor() as cursor, cursor.copy(sql) as copy:
                if isinstance(part, _Ids):
                    copy.write(_copy_text(part))
                    continue
                for row in part.rows:
                    copy.write_row(row)
        except errors as exc:
            raise sa.exc.DBAPIError.instance(sql, None, exc, errors) from exc


def _copy_text(part: _Ids) -> str:
    """The rows of `part` in COPY's text format, made without a call per value: ids and
    numbers as digits, the constants (text or days) escaped once."""
    tail = "".join("\t" + _copy_value(value) for _, value in part.constants) + "\n"
    lines: list[str] = []
    number = part.start
    for group, ids in part.groups:
        head = f"{int(group)}\t" if part.group_column else ""
        if part.numbered:
            lines.extend(
                f"{number + i}\t{head}{int(signal_id)}{tail}" for i, signal_id in enumerate(ids)
            )
            number += len(ids)
        else:
            lines.extend(f"{head}{int(signal_id)}{tail}" for signal_id in ids)
    return "".join(lines)


def _copy_value(value: Any) -> str:
    """One value as COPY's text format writes it (constants: text, days, integers)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = text.replace(raw, escaped)
    return text
