"""Live-ness of signals and the feed events that record every change of it.

A signal is live in a list iff it is usable, not quarantined (or confirmed), and held by at
least one active media item of an active case of that list. `listing` holds the live pairs;
`sync` recomputes the rule for the signals a change touched and writes exactly one `add` or
`remove` event per pair whose live-ness changed. It must run inside `transactions.write`,
which serialises writers, so `seq` = max + 1 is gap-free and commits in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa

from takedown.registry.models import LISTS
from takedown.store.schema import case, feed_event, listing, media, media_signal, quarantine, signal

__all__ = ["CHUNK", "chunks", "insert_rows", "sync"]

CHUNK = 500
"""Ids per IN (...) clause: well under every database's parameter limit."""

T = TypeVar("T")

_HELD_OUT = ("quarantined", "confirmed")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_rows(
    connection: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert plain rows (no RETURNING) into `table` in the caller's transaction, without
    SQLAlchemy's per-row statement building: PostgreSQL with COPY (one round trip instead of
    one INSERT per row), SQLite with the driver's executemany. `date` values must be given as
    such; driver errors are raised as SQLAlchemy's (e.g. `sa.exc.IntegrityError`)."""
    if not rows:
        return
    names = ", ".join(f'"{name}"' for name in columns)
    if connection.dialect.name == "postgresql":
        statement = f'COPY "{table.name}" ({names}) FROM STDIN'
        dbapi = connection.connection.driver_connection
        assert dbapi is not None
        try:
            with dbapi.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except connection.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(
                statement, None, exc, connection.dialect.loaded_dbapi.Error
            ) from exc
        return
    marks = ", ".join("?" for _ in columns)
    days = [i for i, value in enumerate(rows[0]) if isinstance(value, date)]
    if days:  # stored as SQLAlchemy's Date does on SQLite: ISO text
        rows = [tuple(v.isoformat() if i in days else v for i, v in enumerate(row)) for row in rows]
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608 (our names)
    connection.exec_driver_sql(statement, rows)


def sync(
    connection: sa.Connection,
    signal_ids: Iterable[int],
    day: date,
    fresh: Mapping[int, tuple[str, str, int]] | None = None,
    fresh_live: Iterable[tuple[str, int]] = (),
) -> int:
    """Bring `listing` in line with the live-ness rule for `signal_ids`, appending one feed
    event per change. Returns the number of events written.

    `fresh` maps signals inserted in this very transaction to their (type, value, quality):
    such a signal has no `listing` row and cannot be quarantined yet, so the caller knows its
    live pairs (`fresh_live`: (list, signal id) for each active case of that list holding it,
    if it is usable) and the rule is not queried for it."""
    fresh = fresh or {}
    ids = sorted(set(signal_ids) - fresh.keys())
    adds: list[tuple[str, int]] = list(set(fresh_live))
    removes: list[tuple[str, int]] = []
    for part in chunks(ids):
        wanted = set(_should_be_live(connection, part))
        current = {
            (row.list, row.signal_id)
            for row in connection.execute(
                sa.select(listing.c.list, listing.c.signal_id).where(listing.c.signal_id.in_(part))
            )
        }
        adds.extend(wanted - current)
        removes.extend(current - wanted)
    if not adds and not removes:
        return 0
    adds.sort(key=_order)
    removes.sort(key=_order)
    if adds:
        insert_rows(connection, listing, ("list", "signal_id"), adds)
    for name in {name for name, _ in removes}:
        gone = [sid for list_name, sid in removes if list_name == name]
        for part in chunks(gone):
            connection.execute(
                listing.delete().where(listing.c.list == name, listing.c.signal_id.in_(part))
            )
    return _append(
        connection,
        [("remove", *pair) for pair in removes] + [("add", *pair) for pair in adds],
        day,
        fresh,
    )


def _order(pair: tuple[str, int]) -> tuple[int, int]:
    """Events of one change come list by list (minor, adult), each in signal order."""
    return LISTS.index(pair[0]), pair[1]


def _should_be_live(connection: sa.Connection, ids: Sequence[int]) -> Iterator[tuple[str, int]]:
    query = (
        sa.select(case.c.age_group, media_signal.c.signal_id)
        .distinct()
        .select_from(
            media_signal.join(media, media.c.id == media_signal.c.media_id)
            .join(case, case.c.id == media.c.case_id)
            .join(signal, signal.c.id == media_signal.c.signal_id)
            .outerjoin(quarantine, quarantine.c.signal_id == signal.c.id)
        )
        .where(
            media_signal.c.signal_id.in_(ids),
            media.c.status == "active",
            case.c.status == "active",
            signal.c.usable.is_(True),
            sa.or_(quarantine.c.state.is_(None), quarantine.c.state.not_in(_HELD_OUT)),
        )
    )
    for row in connection.execute(query):
        yield row.age_group, row.signal_id


def _append(
    connection: sa.Connection,
    changes: list[tuple[str, str, int]],
    day: date,
    known: Mapping[int, tuple[str, str, int]],
) -> int:
    """Append events for (op, list, signal id) changes, in the given order; `known` holds the
    (type, value, quality) of some of the signals already."""
    details: dict[int, tuple[str, str, int]] = dict(known)
    ids = sorted({sid for _, _, sid in changes} - known.keys())
    for part in chunks(ids):
        for row in connection.execute(
            sa.select(signal.c.id, signal.c.type, signal.c.value, signal.c.quality).where(
                signal.c.id.in_(part)
            )
        ):
            details[row.id] = (row.type, row.value, row.quality)
    last = connection.execute(sa.select(sa.func.coalesce(sa.func.max(feed_event.c.seq), 0)))
    seq = int(last.scalar_one())
    rows: list[tuple[Any, ...]] = []
    for op, name, sid in changes:
        seq += 1
        rows.append((seq, op, name, *details[sid], day))
    insert_rows(
        connection,
        feed_event,
        ("seq", "op", "list", "type", "value", "quality", "created_day"),
        rows,
    )
    return len(rows)
