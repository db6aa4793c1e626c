"""Writing new cases: the SQL of a case and its media, and group commit.

Everything slow or fallible that does not need the write lock (validation, the argon2 PIN hash,
case number and media ids) is done by the caller before a `NewCase` reaches this module; here
only SQL runs, in as few statements as possible: one bulk statement per table for a whole batch
of cases (COPY on PostgreSQL, executemany on SQLite), with ids allocated by the writer.

`GroupCommit` writes the cases that are waiting at the same moment in one write transaction:
the first waiting request leads and writes the whole queue (with the cases that joined it
while the leader waited for the write lock), syncs the feed once for all of them, commits,
and only then wakes each request with its result. On PostgreSQL only the feed's part of that
transaction waits for the other writers (`transactions.serialise`): the cases' own rows are
inserted before, in parallel with the other server processes' writers. A request is answered
only after the commit that contains its case, exactly as with one transaction per case; feed
seqs stay gap-free because the feed is written by one writer at a time, which commits before
the next one starts. If the batch fails, each case is written again in a transaction of its
own, so that one bad case cannot refuse the others; a case refused because its random case
number or a media id is taken (unique constraints; about one chance in 10^8 per case with a
million cases stored), or because another writer inserted one of its new hashes first, is
retried with fresh numbers.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from takedown.registry import feed, secrets
from takedown.registry.validation import CleanMedia
from takedown.store import transactions
from takedown.store.bulk import BulkInsert, sql_date
from takedown.store.schema import case, media, media_signal, signal

__all__ = [
    "MAX_BATCH",
    "GroupCommit",
    "NewCase",
    "add_media",
    "allocate_ids",
    "fresh_media_ids",
    "write_cases",
]

MAX_BATCH = 64
"""Cases written in one transaction at most."""
ATTEMPTS = 3
"""Tries of a case written alone whose case number or a media id turned out to be taken."""


@dataclass(slots=True)
class NewCase:
    """A validated case, ready to insert. `number` and `media_ids` are fresh random values;
    in the rare event that one is taken, the writer replaces it and tries again."""

    number: str
    pin_hash: str
    age_group: str
    language: str
    day: date
    items: tuple[CleanMedia, ...]
    media_ids: list[str] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class _Waiting:
    new: NewCase
    wake: threading.Event = field(default_factory=threading.Event)
    finished: bool = False
    lead: bool = False
    error: BaseException | None = None


class GroupCommit:
    """Group commit of new cases for one process (thread-safe). `write` returns after the
    commit that holds the case, or raises what writing that case raised."""

    def __init__(self, engine: sa.Engine, today: Callable[[], date]) -> None:
        self._engine = engine
        self._today = today
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._leading = False

    def write(self, new: NewCase) -> None:
        me = _Waiting(new)
        with self._lock:
            self._queue.append(me)
            lead = not self._leading
            self._leading = True
        if not lead:
            me.wake.wait()
        if not me.finished:  # we lead: write the queue (with our own case first)
            with self._lock:
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
            try:
                self._write_batch(batch, top_up=True)
            finally:
                for waiting in batch:
                    waiting.finished = True
                with self._lock:
                    if self._queue:
                        self._queue[0].lead = True
                        self._queue[0].wake.set()
                    else:
                        self._leading = False
                for waiting in batch:
                    if waiting is not me:
                        waiting.wake.set()
        if me.error is not None:
            raise me.error

    def _write_batch(self, batch: list[_Waiting], *, top_up: bool = False) -> None:
        """Write `batch` in one transaction; with `top_up`, the cases queued once the
        transaction has begun (on SQLite, after waiting for the write lock while another
        process or use case held it) join the batch, up to MAX_BATCH: they would only have
        waited for the next transaction, and a transaction costs about as much again as the
        rows of two or three cases (statements, round trips, the commit's sync)."""
        try:
            with transactions.write(self._engine, serialised=False) as connection:
                if top_up:
                    with self._lock:
                        room = MAX_BATCH - len(batch)
                        batch.extend(self._queue[:room])
                        del self._queue[:room]
                write_cases(connection, [w.new for w in batch], self._today())
        except Exception as exc:
            if len(batch) > 1:
                # Write each case alone, so that the others are not refused because of one.
                for waiting in batch:
                    self._write_batch([waiting])
            else:
                batch[0].error = exc
                self._retry_alone(batch[0], exc)

    def _retry_alone(self, waiting: _Waiting, error: Exception) -> None:
        """A case refused alone by a unique constraint: its random number or a media id is
        taken, or (PostgreSQL) another writer inserted one of its signals after it looked them
        up; draw new numbers and try again, which looks the signals up again."""
        new = waiting.new
        for _ in range(ATTEMPTS - 1):
            if not isinstance(error, sa.exc.IntegrityError):
                return
            new.number = secrets.new_case_number()
            new.media_ids = [secrets.new_media_id() for _ in new.media_ids]
            try:
                # Not serialised here: `write_cases` takes the writers' lock itself, once
                # the case's own rows are in.
                with transactions.write(self._engine, serialised=False) as connection:
                    write_cases(connection, [new], self._today())
            except Exception as exc:
                waiting.error = error = exc
            else:
                waiting.error = None
                return


def write_cases(connection: sa.Connection, cases: Sequence[NewCase], day: date) -> None:
    """Insert `cases` and sync the feed once for all of them, inside the caller's transaction
    (`transactions.write`, serialised or not); raises if any row is refused (then the caller
    rolls the whole batch back).

    The rows of the cases (case, media, signal, media_signal) go in first, one bulk statement
    per table, then `transactions.serialise` waits for the other writers and the feed is
    synced. On PostgreSQL the first part thus runs in parallel with other writers (its rows
    are new, under fresh keys), and only the feed's rows and the commit are serialised."""
    items = [item for new in cases for item in new.items]
    rows = BulkInsert()
    found, new_signals = _lookup_signals(connection, items)
    case_ids, media_id_list, signal_ids = allocate_ids(
        connection,
        [(case.c.id, len(cases)), (media.c.id, len(items)), (signal.c.id, len(new_signals))],
    )
    ids, created = _add_signals(connection, rows, found, new_signals, signal_ids)
    media_ids = iter(media_id_list)
    case_rows = []
    media_rows = []
    links: list[tuple[int, list[int]]] = []
    fresh_live: set[tuple[str, int]] = set()
    for new, case_id in zip(cases, case_ids, strict=True):
        when = sql_date(connection, new.day)
        case_rows.append(
            (
                case_id,
                new.number,
                new.pin_hash,
                new.age_group,
                new.language,
                "active",
                when,
                when,
                0,
            )
        )
        for item, public_id in zip(new.items, new.media_ids, strict=True):
            media_id = next(media_ids)
            media_rows.append(_media_row(media_id, public_id, case_id, item, when))
            held = [ids[(s.type, s.value)] for s in item.signals]
            links.append((media_id, held))
            # A signal inserted above is live exactly where a written case holds it (if
            # usable): it has no listing row and no quarantine yet, so its rule needs no
            # query.
            fresh_live.update(
                (new.age_group, signal_id) for signal_id in held if created.get(signal_id, False)
            )
    rows.add(case, _CASE_COLUMNS, case_rows)
    _add_media_rows(rows, media_rows)
    rows.add_grouped(media_signal, "media_id", "signal_id", links)
    rows.flush(connection)
    transactions.serialise(connection)
    linked = (sid for _, held in links for sid in held)
    feed.sync(connection, linked, day, created.keys(), fresh_live)


_CASE_COLUMNS = (
    "id",
    "number",
    "pin_hash",
    "age_group",
    "language",
    "status",
    "created_day",
    "updated_day",
    "failed_pin_count",
)
_MEDIA_COLUMNS = ("id", "public_id", "case_id", "kind", "md5", "sha256", "status", "created_day")


def _media_row(
    media_id: int, public_id: str, case_id: int, item: CleanMedia, day: date | str
) -> tuple[Any, ...]:
    vpdq = json.dumps(list(item.vpdq)) if item.kind == "video" else None
    return (media_id, public_id, case_id, item.kind, item.md5, item.sha256, "active", day, vpdq)


def _add_media_rows(rows: BulkInsert, media_rows: Sequence[tuple[Any, ...]]) -> None:
    """Media rows as `_media_row` makes them; the last column is JSON text (or NULL)."""
    rows.add(media, _MEDIA_COLUMNS, [row[:-1] for row in media_rows if row[-1] is None])
    rows.add(media, (*_MEDIA_COLUMNS, "vpdq"), [row for row in media_rows if row[-1] is not None])


def allocate_ids(
    connection: sa.Connection, wanted: Sequence[tuple[sa.Column[int], int]]
) -> list[list[int]]:
    """Fresh ids for integer primary keys (of `case`, `media`, `signal`): for each (column,
    count), `count` ids, all in one statement. PostgreSQL draws them from each column's
    sequence (`nextval`, safe while other writers draw too: the ids are unique, not always
    contiguous); SQLite, which has no sequences, continues after the largest id, which only
    the one writer SQLite allows at a time can do (rows are never deleted)."""
    asked = [(i, column, count) for i, (column, count) in enumerate(wanted) if count > 0]
    out: list[list[int]] = [[] for _ in wanted]
    if not asked:
        return out
    if connection.dialect.name == "postgresql":
        params: dict[str, Any] = {}
        drawn = []
        for i, column, count in asked:
            params.update({f"t{i}": f'"{column.table.name}"', f"c{i}": column.name, f"n{i}": count})
            # The sequence is looked up once, then drawn from `count` times.
            drawn.append(
                f"(SELECT array_agg(nextval(q.s)) FROM (SELECT pg_get_serial_sequence("  # noqa: S608
                f"%(t{i})s, %(c{i})s)::regclass AS s) AS q, generate_series(1, %(n{i})s))"
            )
        # Only placeholders and their numbers are formatted in; the names are parameters.
        sql = f"SELECT {', '.join(drawn)}"
        for (i, _, _), values in zip(
            asked, connection.exec_driver_sql(sql, params).one(), strict=True
        ):
            out[i] = sorted(int(value) for value in values)
        return out
    maxima = _maxima(tuple(column for _, column, _ in asked))
    starts = [int(last) + 1 for last in connection.execute(maxima).one()]
    for (i, _, count), start in zip(asked, starts, strict=True):
        out[i] = list(range(start, start + count))
    return out


@functools.cache
def _maxima(columns: tuple[sa.Column[int], ...]) -> sa.Select[Any]:
    """`SELECT max(a), max(b), ...` (0 for an empty table), built once per set of columns."""
    return sa.select(
        *(
            sa.select(sa.func.coalesce(sa.func.max(column), 0)).scalar_subquery()
            for column in columns
        )
    )


def fresh_media_ids(connection: sa.Connection, public_ids: list[str]) -> list[str]:
    """`public_ids` with any that is taken (or repeated) replaced by a fresh one."""
    out = list(public_ids)
    while True:
        taken: set[str] = set()
        for part in feed.chunks(sorted(set(out))):
            taken.update(
                connection.execute(
                    sa.select(media.c.public_id).where(media.c.public_id.in_(part))
                ).scalars()
            )
        seen: set[str] = set()
        clash = False
        for i, value in enumerate(out):
            if value in taken or value in seen:
                out[i] = secrets.new_media_id()
                clash = True
            seen.add(out[i])
        if not clash:
            return out


def add_media(
    connection: sa.Connection,
    case_id: int,
    age_group: str,
    items: Sequence[CleanMedia],
    public_ids: Sequence[str],
    day: date,
) -> None:
    """Insert media items of an existing case (with ids not taken: `fresh_media_ids`) and
    their links, and sync the feed for their signals."""
    rows = BulkInsert()
    found, new_signals = _lookup_signals(connection, items)
    media_ids, signal_ids = allocate_ids(
        connection, [(media.c.id, len(items)), (signal.c.id, len(new_signals))]
    )
    ids, created = _add_signals(connection, rows, found, new_signals, signal_ids)
    media_rows = []
    links: list[tuple[int, list[int]]] = []
    when = sql_date(connection, day)
    for media_id, public_id, item in zip(media_ids, public_ids, items, strict=True):
        media_rows.append(_media_row(media_id, public_id, case_id, item, when))
        links.append((media_id, [ids[(s.type, s.value)] for s in item.signals]))
    _add_media_rows(rows, media_rows)
    rows.add_grouped(media_signal, "media_id", "signal_id", links)
    signal_ids = [sid for _, held in links for sid in held]
    fresh_live = {(age_group, sid) for sid in signal_ids if created.get(sid, False)}
    feed.sync(connection, signal_ids, day, created.keys(), fresh_live, rows)
    rows.flush(connection)


_NewSignals = dict[tuple[str, str], tuple[int, str, bool]]
"""(type, value) -> (quality, variant, usable) of signals to insert."""


def _lookup_signals(
    connection: sa.Connection, items: Iterable[CleanMedia]
) -> tuple[dict[tuple[str, str], int], _NewSignals]:
    """Ids of the signals of `items` that exist, and the others to insert (with the first
    submission's quality and variant: a hash seen again keeps its first ones). On PostgreSQL
    this may run before the writers' lock: should another writer insert one of the same
    signals between this lookup and our insert, the insert waits for its commit and then
    fails on the unique (type, value), and `GroupCommit` writes the cases again, which looks
    them up again."""
    wanted: _NewSignals = {}
    for item in items:
        for s in item.signals:
            wanted.setdefault((s.type, s.value), (s.quality, s.variant, s.usable))
    found: dict[tuple[str, str], int] = {}
    if connection.dialect.name != "postgresql":
        return found, wanted  # SQLite: the insert finds the existing ones (`_add_signals`)
    for type_ in ("pdq", "md5"):
        values = sorted(v for t, v in wanted if t == type_)
        if values:
            # One statement whatever the number of values (an array), so psycopg and the
            # server parse and plan it once, not once per distinct IN (...) length. One
            # lookup per value in the unique index, as the LATERAL ... LIMIT 1 spells out:
            # with `value = ANY(...)` the planner, before the table's first ANALYZE, guesses
            # that most rows match and reads them all. The values (hex digits only) travel
            # as one comma-separated text, which psycopg sends as is: adapting a list of
            # strings into an array costs the writer more than the look-up costs the server.
            for signal_id, value in connection.exec_driver_sql(
                "SELECT s.id, s.value FROM unnest(string_to_array(%(values)s, ',')) AS v(value) "
                "CROSS JOIN LATERAL (SELECT id, value FROM signal "
                "WHERE type = %(type)s AND value = v.value LIMIT 1) AS s",
                {"type": type_, "values": ",".join(values)},
            ):
                found[(type_, value)] = signal_id
    return found, {key: details for key, details in wanted.items() if key not in found}


def _add_signals(
    connection: sa.Connection,
    rows: BulkInsert,
    found: dict[tuple[str, str], int],
    new: _NewSignals,
    new_ids: Sequence[int],
) -> tuple[dict[tuple[str, str], int], dict[int, bool]]:
    """Rows for the new signals under `new_ids`; the ids of all signals, and whether each new
    one is usable.

    PostgreSQL: `new` holds only signals the lookup did not find; their rows go to `rows`.
    SQLite: `new` holds every signal (no lookup ran); they are inserted here and now, skipping
    those that exist (`ON CONFLICT DO NOTHING`: the unique index is searched once, by the
    insert), and the few that existed are then looked up by value. In a batch of new reports
    this saves a search of the (type, value) index per hash, on a random page each."""
    ids = dict(found)
    created: dict[int, bool] = {}
    signal_rows: list[tuple[Any, ...]] = []
    for signal_id, (key, (quality, variant, usable)) in zip(new_ids, new.items(), strict=True):
        ids[key] = signal_id
        created[signal_id] = usable
        signal_rows.append((signal_id, key[0], key[1], quality, usable, variant))
    if connection.dialect.name == "postgresql" or not signal_rows:
        rows.add(signal, _SIGNAL_COLUMNS, signal_rows)
        return ids, created
    connection.exec_driver_sql(
        "INSERT INTO signal (id, type, value, quality, usable, variant) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        signal_rows,
    )
    # Rows of the ids just allocated, compared by value: a row skipped as a duplicate left
    # its id unused (nothing else inserts meanwhile: the write lock is held).
    stored: dict[int, str] = {
        signal_id: value
        for signal_id, value in connection.exec_driver_sql(
            "SELECT id, value FROM signal WHERE id BETWEEN ? AND ?", (new_ids[0], new_ids[-1])
        )
    }
    existing = [row for row in signal_rows if stored.get(row[0]) != row[2]]
    for type_ in ("pdq", "md5"):
        values = [value for _, kind, value, *_ in existing if kind == type_]
        for signal_id, value in feed.select_in(
            connection,
            "SELECT id, value FROM signal WHERE type = ? AND value IN ({marks})",
            values,
            before=(type_,),
        ):
            created.pop(ids[(type_, value)], None)
            ids[(type_, value)] = signal_id
    return ids, created


_SIGNAL_COLUMNS = ("id", "type", "value", "quality", "usable", "variant")
