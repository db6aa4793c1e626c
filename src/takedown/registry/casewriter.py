"""Writing new cases: the SQL of a case and its media, and group commit.

Everything slow or fallible that does not need the write lock (validation, the argon2 PIN hash,
case number and media ids) is done by the caller before a `NewCase` reaches this module; here
only SQL runs, in as few statements as possible (signals, media and links in bulk).

`GroupCommit` writes the cases that are waiting at the same moment in one serialised write
transaction: the first waiting request leads and writes the whole queue (each case in its own
SAVEPOINT, so one failing case fails alone), syncs the feed once for all of them, commits, and
only then wakes each request with its result. A request is answered only after the commit that
contains its case, exactly as with one transaction per case; feed seqs stay gap-free because the
batch is one ordinary write transaction (`store.transactions.write`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from takedown.registry import feed, secrets
from takedown.registry.validation import CleanMedia
from takedown.store import transactions
from takedown.store.schema import case, media, media_signal, signal

__all__ = [
    "MAX_BATCH",
    "GroupCommit",
    "NewCase",
    "fresh_media_ids",
    "insert_media",
    "signal_ids",
    "write_cases",
]

MAX_BATCH = 64
"""Cases written in one transaction at most."""


@dataclass(slots=True)
class NewCase:
    """A validated case, ready to insert. `number` and `media_ids` are fresh random values;
    in the rare event that one is taken, the writer replaces it before inserting."""

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
                self._write_batch(batch)
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

    def _write_batch(self, batch: Sequence[_Waiting]) -> None:
        try:
            with transactions.write(self._engine) as connection:
                errors = write_cases(connection, [w.new for w in batch], self._today())
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            # Something outside the cases' savepoints failed: write each case alone, so that
            # the others are not refused because of one.
            for waiting in batch:
                self._write_batch([waiting])
            return
        for waiting, error in zip(batch, errors, strict=True):
            waiting.error = error


def write_cases(
    connection: sa.Connection, cases: Sequence[NewCase], day: date
) -> list[BaseException | None]:
    """Insert `cases` (one SAVEPOINT each) and sync the feed once for all of them; per case
    None or the exception that refused it. Runs inside the caller's write transaction."""
    _make_unique(connection, cases)
    ids, created = _signal_ids(connection, [item for new in cases for item in new.items])
    touched: set[int] = set()
    fresh_live: set[tuple[str, int]] = set()
    errors: list[BaseException | None] = []
    for new in cases:
        try:
            with connection.begin_nested():
                case_id = connection.execute(
                    case.insert().returning(case.c.id),
                    {
                        "number": new.number,
                        "pin_hash": new.pin_hash,
                        "age_group": new.age_group,
                        "language": new.language,
                        "status": "active",
                        "created_day": new.day,
                        "updated_day": new.day,
                        "failed_pin_count": 0,
                    },
                ).scalar_one()
                links = insert_media(connection, case_id, new.items, new.media_ids, ids, new.day)
        except sa.exc.SQLAlchemyError as exc:
            errors.append(exc)
            continue
        touched.update(links)
        for signal_id in links:
            if signal_id in created and created[signal_id][3]:
                fresh_live.add((new.age_group, signal_id))
        errors.append(None)
    # Signals inserted above are live exactly where a written case holds them (if usable):
    # they have no listing row and no quarantine yet, so their rule needs no query.
    fresh = {sid: (type_, value, quality) for sid, (type_, value, quality, _) in created.items()}
    feed.sync(connection, touched, day, fresh, fresh_live)
    return errors


def _make_unique(connection: sa.Connection, cases: Sequence[NewCase]) -> None:
    """Replace any case number or media id that is taken (in the database or in the batch)."""
    numbers = _fresh(connection, case.c.number, [new.number for new in cases])
    public_ids = _fresh(connection, media.c.public_id, [m for new in cases for m in new.media_ids])
    start = 0
    for new, number in zip(cases, numbers, strict=True):
        new.number = number
        count = len(new.media_ids)
        new.media_ids = public_ids[start : start + count]
        start += count


def fresh_media_ids(connection: sa.Connection, public_ids: list[str]) -> list[str]:
    """`public_ids` with any that is taken (or repeated) replaced by a fresh one."""
    return _fresh(connection, media.c.public_id, public_ids)


def _fresh(connection: sa.Connection, column: sa.Column[str], values: list[str]) -> list[str]:
    make = secrets.new_case_number if column is case.c.number else secrets.new_media_id
    out = list(values)
    while True:
        taken = _taken(connection, column, out)
        seen: set[str] = set()
        clash = False
        for i, value in enumerate(out):
            if value in taken or value in seen:
                out[i] = make()
                clash = True
            seen.add(out[i])
        if not clash:
            return out


def _taken(connection: sa.Connection, column: sa.Column[str], values: Sequence[str]) -> set[str]:
    taken: set[str] = set()
    if connection.dialect.name == "postgresql" and values:
        # One statement whatever the number of values (see `_signal_ids`).
        name, table = column.name, column.table.name  # from our schema, never from input
        query = f'SELECT "{name}" FROM "{table}" WHERE "{name}" = ANY(%(values)s)'  # noqa: S608
        rows = connection.exec_driver_sql(query, {"values": sorted(set(values))})
        taken.update(rows.scalars())
        return taken
    for part in feed.chunks(sorted(set(values))):
        taken.update(connection.execute(sa.select(column).where(column.in_(part))).scalars())
    return taken


def insert_media(
    connection: sa.Connection,
    case_id: int,
    items: Sequence[CleanMedia],
    public_ids: Sequence[str],
    ids: dict[tuple[str, str], int],
    day: date,
) -> list[int]:
    """Insert the media items of a case and their links to signals (in bulk); returns the
    linked signal ids."""
    rows = [
        {
            "public_id": public_id,
            "case_id": case_id,
            "kind": item.kind,
            "md5": item.md5,
            "sha256": item.sha256,
            "status": "active",
            "created_day": day,
            "vpdq": list(item.vpdq) if item.kind == "video" else None,
        }
        for item, public_id in zip(items, public_ids, strict=True)
    ]
    media_ids: Iterable[int]
    if connection.dialect.name == "postgresql":
        # One statement with one array per column; RETURNING carries public_id (unique) to
        # put the ids back in the order of `items`.
        by_public_id: dict[str, int] = {}
        if rows:
            columns = {key: [row[key] for row in rows] for key in rows[0] if key != "vpdq"}
            columns["vpdq"] = [None if r["vpdq"] is None else json.dumps(r["vpdq"]) for r in rows]
            inserted = connection.exec_driver_sql(
                "INSERT INTO media (public_id, case_id, kind, md5, sha256, status, created_day, "
                "vpdq) SELECT * FROM unnest(%(public_id)s::varchar[], %(case_id)s::integer[], "
                "%(kind)s::varchar[], %(md5)s::varchar[], %(sha256)s::varchar[], "
                "%(status)s::varchar[], %(created_day)s::date[], %(vpdq)s::text[]::json[]) "
                "RETURNING public_id, id",
                columns,
            )
            by_public_id = {public_id: media_id for public_id, media_id in inserted}
        media_ids = [by_public_id[public_id] for public_id in public_ids]
    else:
        media_ids = connection.execute(
            media.insert().returning(media.c.id, sort_by_parameter_order=True), rows
        ).scalars()
    links: list[tuple[int, int]] = []
    linked: list[int] = []
    for media_id, item in zip(media_ids, items, strict=True):
        for s in item.signals:
            signal_id = ids[(s.type, s.value)]
            links.append((media_id, signal_id))
            linked.append(signal_id)
    feed.insert_rows(connection, media_signal, ("media_id", "signal_id"), links)
    return linked


def signal_ids(
    connection: sa.Connection, items: Iterable[CleanMedia]
) -> dict[tuple[str, str], int]:
    """Ids of every signal of `items`, inserting the new ones (the first submission's quality
    and variant are kept for a hash seen again). Runs under the write lock, so nothing can
    insert a signal between the lookup and the insert."""
    return _signal_ids(connection, items)[0]


def _signal_ids(
    connection: sa.Connection, items: Iterable[CleanMedia]
) -> tuple[dict[tuple[str, str], int], dict[int, tuple[str, str, int, bool]]]:
    """`signal_ids`, and (type, value, quality, usable) of the signals it inserted, by id."""
    wanted: dict[tuple[str, str], tuple[int, str, bool]] = {}
    for item in items:
        for s in item.signals:
            wanted.setdefault((s.type, s.value), (s.quality, s.variant, s.usable))
    found: dict[tuple[str, str], int] = {}
    postgres = connection.dialect.name == "postgresql"
    for type_ in ("pdq", "md5"):
        values = sorted(v for t, v in wanted if t == type_)
        if postgres and values:
            # One statement whatever the number of values (an array), so psycopg and the
            # server parse and plan it once, not once per distinct IN (...) length.
            rows = connection.exec_driver_sql(
                "SELECT id, value FROM signal WHERE type = %(type)s AND value = ANY(%(values)s)",
                {"type": type_, "values": values},
            )
            for signal_id, value in rows:
                found[(type_, value)] = signal_id
            continue
        for part in feed.chunks(values):
            for row in connection.execute(
                sa.select(signal.c.id, signal.c.value).where(
                    signal.c.type == type_, signal.c.value.in_(part)
                )
            ):
                found[(type_, row.value)] = row.id
    new = [
        {"type": t, "value": v, "quality": q, "usable": u, "variant": variant}
        for (t, v), (q, variant, u) in wanted.items()
        if (t, v) not in found
    ]
    created: dict[int, tuple[str, str, int, bool]] = {}
    if new and postgres:
        # One statement with one array per column: no per-row SQL to build and parse.
        inserted = connection.exec_driver_sql(
            "INSERT INTO signal (type, value, quality, usable, variant) "
            "SELECT * FROM unnest(%(type)s::varchar[], %(value)s::varchar[], "
            "%(quality)s::integer[], %(usable)s::boolean[], %(variant)s::varchar[]) "
            "RETURNING id, type, value",
            {key: [row[key] for row in new] for key in new[0]},
        ).all()
    elif new:
        inserted = connection.execute(
            signal.insert().returning(signal.c.id, signal.c.type, signal.c.value), new
        ).all()
    else:
        inserted = []
    for signal_id, type_, value in inserted:
        found[(type_, value)] = signal_id
        quality, _variant, usable = wanted[(type_, value)]
        created[signal_id] = (type_, value, quality, usable)
    return found, created
