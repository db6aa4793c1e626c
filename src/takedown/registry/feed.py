"""Live-ness of signals and the feed events that record every change of it.

A signal is live in a list iff it is usable, not quarantined (or confirmed), and held by at
least one active media item of an active case of that list. `listing` holds the live pairs;
`sync` recomputes the rule for the signals a change touched and writes exactly one `add` or
`remove` event per pair whose live-ness changed. It must run inside `transactions.write`,
which serialises writers, so `seq` = max + 1 is gap-free and commits in order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa

from takedown.registry.models import LISTS
from takedown.store.bulk import BulkInsert, sql_date
from takedown.store.schema import (
    case,
    feed_day,
    feed_event,
    listing,
    media,
    media_signal,
    quarantine,
    signal,
)

__all__ = ["CHUNK", "among", "chunks", "select_in", "sync"]

CHUNK = 500
"""Ids per IN (...) clause: well under every database's parameter limit."""

T = TypeVar("T")

_HELD_OUT = ("quarantined", "confirmed")
_LAST_SEQ = sa.select(sa.func.coalesce(sa.func.max(feed_event.c.seq), 0))
"""Built once: the writer asks for it in every transaction that appends."""


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def among(column: sa.ColumnElement[str], lists: Sequence[str]) -> sa.ColumnElement[bool]:
    """`column IN lists`, written so that the planner keeps walking by seq (or signal): no
    condition at all when `lists` holds every list, an equality for one."""
    if set(LISTS) <= set(lists):
        return sa.true()
    if len(lists) == 1:
        return column == lists[0]
    return column.in_(lists)


def select_in(
    connection: sa.Connection, query: str, values: Sequence[Any], *, before: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """Rows of `query` (driver SQL whose last condition is `IN ({marks})`) for every value,
    `CHUNK` values per statement; `before` are the parameters ahead of the list. For hot
    lookups: plain driver SQL, no statement to build per call."""
    rows: list[tuple[Any, ...]] = []
    postgres = connection.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    for part in chunks(values):
        sql = query.format(marks=", ".join(mark for _ in part))
        rows.extend(tuple(row) for row in connection.exec_driver_sql(sql, (*before, *part)))
    return rows


def sync(
    connection: sa.Connection,
    signal_ids: Iterable[int],
    day: date,
    fresh: Collection[int] = (),
    fresh_live: Iterable[tuple[str, int]] = (),
    bulk: BulkInsert | None = None,
) -> int:
    """Bring `listing` in line with the live-ness rule for `signal_ids`, appending one feed
    event per change. Returns the number of events written.

    `fresh` holds signals inserted in this very transaction: such a signal has no `listing`
    row and cannot be quarantined yet, so the caller knows its live pairs (`fresh_live`:
    (list, signal id) for each active case of that list holding it, if it is usable) and the
    rule is not queried for it. With `bulk` (rows the caller is adding), the rows `sync` adds
    go there too, for the caller to flush; `bulk` is flushed first if the rule is queried.
    Without, they are written before `sync` returns."""
    adds: dict[str, set[int]] = {name: set() for name in LISTS}
    removes: dict[str, set[int]] = {name: set() for name in LISTS}
    for name, sid in fresh_live:
        adds[name].add(sid)
    ids = sorted(set(signal_ids).difference(fresh))
    if ids and bulk is not None:
        bulk.flush(connection)  # the rule reads the links and media the caller is adding
    for part in chunks(ids):
        wanted = set(_should_be_live(connection, part))
        current = set(
            select_in(
                connection,
                "SELECT list, signal_id FROM listing WHERE signal_id IN ({marks})",
                part,
            )
        )
        for name, sid in wanted - current:
            adds[name].add(sid)
        for name, sid in current - wanted:
            removes[name].add(sid)
    # Events of one change come removals first, then adds; each list by list (minor,
    # adult), in signal order.
    runs = [("remove", name, sorted(removes[name])) for name in LISTS]
    runs += [("add", name, sorted(adds[name])) for name in LISTS]
    changes = sum(len(ids) for _, _, ids in runs)
    if not changes:
        return 0
    for name, gone in removes.items():
        for part in chunks(sorted(gone)):
            connection.execute(
                listing.delete().where(listing.c.list == name, listing.c.signal_id.in_(part))
            )
    rows = bulk if bulk is not None else BulkInsert()
    for op, name, ids in runs:
        if op == "add":
            rows.add_ids(listing, "signal_id", ids, {"list": name})
    _append(connection, runs, day, rows)
    if bulk is None:
        rows.flush(connection)
    return changes


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
    connection: sa.Connection, runs: list[tuple[str, str, list[int]]], day: date, rows: BulkInsert
) -> None:
    """Events for runs of changes (op, list, signal ids), in the given order, numbered on
    from the last seq; and the day's first seq if these are the day's first events (days
    never decrease along seq: writers append in turn, each with its clock's day)."""
    first = int(connection.execute(_LAST_SEQ).scalar_one()) + 1
    when = sql_date(connection, day)
    seq = first
    for op, name, ids in runs:
        rows.add_ids(
            feed_event,
            "signal_id",
            ids,
            {"op": op, "list": name, "created_day": when},
            numbered=("seq", seq),
        )
        seq += len(ids)
    rows.add_if_absent(feed_day, ("day", "first_seq"), (when, first), key="day")
