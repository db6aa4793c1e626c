"""Sync the registry's lists into the local store: the snapshot once, then the feed.

Safe to interrupt at any point, SIGKILL included, and to run again:
- each feed page's events, its quarantined events and the new cursor commit in ONE
  transaction, so a page is applied entirely or not at all and is never applied twice;
- the snapshot is applied in batches while `sync_state.snapshot_done` is false, and the last
  transaction sets the cursor and `snapshot_done` together. A run that finds an unfinished
  snapshot deletes what it left and starts the snapshot again (readers of the store wait for
  `snapshot_done`, see `sync_status`).
A malformed event is kept in `bad_event`, reported, and skipped: the cursor moves past it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from takedown.errors import ConfigError, RemoteError
from takedown.platform.events import (
    FeedEvent,
    MalformedEventError,
    SignalKey,
    parse_event,
    parse_snapshot_line,
)
from takedown.platform.feed_client import FeedClient
from takedown.platform.store import read, write
from takedown.platform.tables import bad_event, signal, sync_state

__all__ = [
    "PAGE_SIZE",
    "SNAPSHOT_BATCH",
    "Quarantined",
    "SyncProgress",
    "SyncReport",
    "SyncStatus",
    "sync",
    "sync_status",
]

PAGE_SIZE = 1000
"""Events asked for per feed page (the registry's default page)."""
SNAPSHOT_BATCH = 5000
"""Snapshot lines applied per transaction: bounds memory, and each commit is durable."""


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A malformed event or snapshot line, as kept in `bad_event`."""

    seq: int | None
    raw: str
    error: str


@dataclass
class SyncProgress:
    """Running totals of one sync run, handed to the progress callback after each commit."""

    stage: str = "starting"
    """`snapshot` or `feed`."""
    cursor: int = 0
    added: int = 0
    removed: int = 0
    bad: int = 0
    snapshot_signals: int = 0
    snapshots_started: int = 0


@dataclass(frozen=True, slots=True)
class SyncReport:
    server: str
    cursor: int
    snapshot: bool
    """A snapshot was (re)taken in this run."""
    snapshot_signals: int
    """Signals the snapshot brought (0 without a snapshot)."""
    added: int
    removed: int
    bad: int
    live: int
    """Signals in the local store after the run."""


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the store holds: whose lists, up to which cursor, and whether it is usable."""

    server: str
    cursor: int
    snapshot_done: bool
    synced_at: datetime | None
    live: int
    bad: int


@dataclass
class _Callbacks:
    progress: Callable[[SyncProgress], None] | None = None
    quarantined: Callable[[Quarantined], None] | None = None
    state: SyncProgress = field(default_factory=SyncProgress)

    def report(self) -> None:
        if self.progress is not None:
            self.progress(self.state)

    def bad(self, items: Sequence[Quarantined]) -> None:
        self.state.bad += len(items)
        if self.quarantined is not None:
            for item in items:
                self.quarantined(item)


def sync(
    engine: sa.Engine,
    client: FeedClient,
    *,
    page_size: int = PAGE_SIZE,
    snapshot_batch: int = SNAPSHOT_BATCH,
    on_progress: Callable[[SyncProgress], None] | None = None,
    on_quarantined: Callable[[Quarantined], None] | None = None,
) -> SyncReport:
    """Bring the local store up to date with the registry `client` reads: the snapshot if
    none was completed yet, then every feed page until the registry has no more.
    ConfigError if the store already syncs from another registry; the client's AuthError,
    ForbiddenError or RemoteError when the registry cannot be used."""
    if not 1 <= page_size <= 10_000:
        raise ConfigError(f"the feed page size must be 1-10000, got {page_size}")
    server = client.server
    callbacks = _Callbacks(on_progress, on_quarantined)
    state = _state(engine, server)
    took_snapshot = False
    if state is None or not state.snapshot_done:
        client.retrying(lambda: _snapshot(engine, client, snapshot_batch, callbacks))
        took_snapshot = True
    cursor = _feed(engine, client, page_size, callbacks)
    status = sync_status(engine)
    assert status is not None
    return SyncReport(
        server=server,
        cursor=cursor,
        snapshot=took_snapshot,
        snapshot_signals=callbacks.state.snapshot_signals,
        added=callbacks.state.added,
        removed=callbacks.state.removed,
        bad=callbacks.state.bad,
        live=status.live,
    )


def sync_status(engine: sa.Engine) -> SyncStatus | None:
    """The store's sync state, or None if it was never synced."""
    with read(engine) as connection:
        row = connection.execute(sa.select(sync_state)).first()
        if row is None:
            return None
        live = connection.execute(sa.select(sa.func.count()).select_from(signal)).scalar_one()
        bad = connection.execute(sa.select(sa.func.count()).select_from(bad_event)).scalar_one()
    return SyncStatus(row.server, row.cursor, row.snapshot_done, row.synced_at, live, bad)


def _state(engine: sa.Engine, server: str) -> Any:
    with read(engine) as connection:
        rows = connection.execute(sa.select(sync_state)).all()
    for row in rows:
        if row.server != server:
            raise ConfigError(
                f"this local store holds the lists of {row.server}, not {server}: give another "
                "--state or --db for a second registry"
            )
    return rows[0] if rows else None


def _snapshot(engine: sa.Engine, client: FeedClient, batch: int, callbacks: _Callbacks) -> None:
    """One whole snapshot. Raises TransientError if the stream breaks; the caller retries
    from the start (this function always starts by clearing what an earlier try left)."""
    server = client.server
    progress = callbacks.state
    progress.stage = "snapshot"
    progress.snapshots_started += 1
    progress.snapshot_signals = 0
    with write(engine) as connection:
        # Whatever an unfinished snapshot left is cleared, so a restart never mixes two.
        connection.execute(signal.delete())
        connection.execute(
            bad_event.delete().where(bad_event.c.server == server, bad_event.c.seq.is_(None))
        )
        connection.execute(sync_state.delete())
        connection.execute(sync_state.insert().values(server=server, cursor=0, snapshot_done=False))
    callbacks.report()
    with client.snapshot() as snapshot:
        progress.cursor = snapshot.cursor
        events: list[FeedEvent] = []
        bad: list[Quarantined] = []
        for line in snapshot.lines:
            try:
                events.append(parse_snapshot_line(line, snapshot.cursor))
            except MalformedEventError as exc:
                bad.append(Quarantined(None, exc.raw, exc.message))
            if len(events) + len(bad) >= batch:
                _apply_snapshot_batch(engine, server, events, bad, callbacks)
                events, bad = [], []
        _apply_snapshot_batch(engine, server, events, bad, callbacks)
    with write(engine) as connection:
        connection.execute(
            sync_state.update()
            .where(sync_state.c.server == server)
            .values(cursor=snapshot.cursor, snapshot_done=True, synced_at=_now())
        )
    callbacks.report()


def _apply_snapshot_batch(
    engine: sa.Engine,
    server: str,
    events: Sequence[FeedEvent],
    bad: Sequence[Quarantined],
    callbacks: _Callbacks,
) -> None:
    if not events and not bad:
        return
    with write(engine) as connection:
        _upsert(connection, _last_per_key(events).values())
        _quarantine(connection, server, bad)
    callbacks.state.snapshot_signals += len(events)
    callbacks.bad(bad)
    callbacks.report()


def _feed(engine: sa.Engine, client: FeedClient, page_size: int, callbacks: _Callbacks) -> int:
    server = client.server
    progress = callbacks.state
    progress.stage = "feed"
    state = _state(engine, server)
    cursor: int = state.cursor
    progress.cursor = cursor
    callbacks.report()
    while True:
        page = client.feed_page(cursor, page_size)
        if page.next < cursor or (page.has_more and page.next == cursor):
            raise RemoteError(
                f"the feed page after {cursor} says next={page.next}: the registry is not "
                "moving forward"
            )
        events: list[FeedEvent] = []
        bad: list[Quarantined] = []
        last = cursor
        for raw in page.events:
            try:
                event = parse_event(raw, last)
            except MalformedEventError as exc:
                bad.append(Quarantined(exc.seq, exc.raw, exc.message))
                if exc.seq is not None and exc.seq > last:
                    last = exc.seq
                continue
            events.append(event)
            last = event.seq
        final = _last_per_key(events)
        with write(engine) as connection:
            _upsert(connection, [e for e in final.values() if e.op == "add"])
            _delete(connection, [key for key, e in final.items() if e.op == "remove"])
            _quarantine(connection, server, bad)
            connection.execute(
                sync_state.update()
                .where(sync_state.c.server == server)
                .values(cursor=page.next, synced_at=_now())
            )
        cursor = page.next
        progress.cursor = cursor
        progress.added += sum(1 for e in events if e.op == "add")
        progress.removed += sum(1 for e in events if e.op == "remove")
        callbacks.bad(bad)
        callbacks.report()
        if not page.has_more:
            return cursor


def _last_per_key(events: Iterable[FeedEvent]) -> dict[SignalKey, FeedEvent]:
    """The last event per signal: adding and removing are idempotent assignments, so applying
    only the last one gives the same store as applying them all in order."""
    final: dict[SignalKey, FeedEvent] = {}
    for event in events:
        final.pop(event.key, None)
        final[event.key] = event
    return final


def _upsert(connection: sa.Connection, events: Iterable[FeedEvent]) -> None:
    rows = [
        {
            "list": e.list,
            "type": e.type,
            "value": e.value,
            "quality": e.quality,
            "variant": e.variant,
            "added_seq": e.seq,
        }
        for e in events
    ]
    if not rows:
        return
    insert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(signal)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=[signal.c.list, signal.c.type, signal.c.value],
            set_={
                "quality": insert.excluded.quality,
                "variant": insert.excluded.variant,
                "added_seq": insert.excluded.added_seq,
            },
        ),
        rows,
    )


def _delete(connection: sa.Connection, keys: Sequence[SignalKey]) -> None:
    if not keys:
        return
    connection.execute(
        signal.delete().where(
            signal.c.list == sa.bindparam("l"),
            signal.c.type == sa.bindparam("t"),
            signal.c.value == sa.bindparam("v"),
        ),
        [{"l": l_, "t": t, "v": v} for l_, t, v in keys],
    )


def _quarantine(connection: sa.Connection, server: str, bad: Sequence[Quarantined]) -> None:
    if not bad:
        return
    now = _now()
    connection.execute(
        bad_event.insert(),
        [
            {"server": server, "seq": b.seq, "raw": b.raw, "error": b.error, "seen_at": now}
            for b in bad
        ],
    )


def _now() -> datetime:
    return datetime.now(UTC)
