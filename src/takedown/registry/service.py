"""The registry's use cases: one `Registry` method per thing a reporter, a platform or the
operator can do. Each validates its input, runs in one transaction and returns after commit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from takedown.errors import AuthError, ConflictError, LockedError, NotFoundError
from takedown.registry import casewriter, feed, secrets, stopncii, validation
from takedown.registry.casewriter import GroupCommit, NewCase
from takedown.registry.lockout import lock_seconds
from takedown.registry.matcher import ListMatcher
from takedown.registry.models import (
    LISTS,
    VERDICTS,
    CaseStatus,
    CreatedCase,
    FeedbackIn,
    FeedEvent,
    FeedPage,
    Match,
    MediaIn,
    MediaStatus,
    Platform,
    QuarantinedSignal,
    SignalIn,
)
from takedown.registry.settings import Settings
from takedown.store import migrate, transactions
from takedown.store.checkpoint import Checkpointer
from takedown.store.engine import create_engine, sqlite_path
from takedown.store.schema import (
    api_key as api_key_table,
)
from takedown.store.schema import (
    audit,
    case,
    feed_event,
    feedback,
    listing,
    media,
    media_signal,
    platform,
    quarantine,
    signal,
)

__all__ = [
    "CaseStatus",
    "CreatedCase",
    "FeedEvent",
    "FeedPage",
    "FeedbackIn",
    "Match",
    "MediaIn",
    "MediaStatus",
    "Platform",
    "QuarantinedSignal",
    "Registry",
    "SignalIn",
    "open_migrated",
]

CASE_AUTH_MESSAGE = "unknown case number or wrong PIN; check both and try again"
KEY_AUTH_MESSAGE = "missing, unknown or revoked API key"
OPERATOR = "operator"
_SNAPSHOT_BATCH = 1000


@contextmanager
def open_migrated(settings: Settings) -> Iterator[Registry]:
    """A registry on `settings.database_url`, closed at the end of the block. ConfigError if
    the database cannot be opened or is not at the newest schema revision (the operator's
    commands refuse to run on a database `takedown db upgrade` has not prepared)."""
    registry = Registry.from_settings(settings)
    try:
        migrate.check_current(registry.engine)
        yield registry
    finally:
        registry.close()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Registry:
    """The registry over one database. Thread-safe: share one instance per process."""

    def __init__(
        self,
        engine: sa.Engine,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._pins = secrets.PinHasher(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._matcher = ListMatcher(engine)
        self._new_cases = GroupCommit(engine, self._today)
        self._checkpointer: Checkpointer | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Registry:
        """A registry on `settings.database_url` (SQLite: the file is created with its
        directory, and its log is checkpointed by a thread of this registry rather than by
        the writers, see `store.checkpoint`). Does not migrate: run `store.migrate.upgrade`
        first."""
        path = sqlite_path(settings.database_url)
        if path is None:
            return cls(create_engine(settings.database_url), settings)
        registry = cls(create_engine(settings.database_url, checkpoints=False), settings)
        registry._checkpointer = Checkpointer(path)
        return registry

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    def close(self) -> None:
        """Release the database connections (after a last checkpoint, on SQLite)."""
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        self._engine.dispose()

    def _today(self) -> date:
        return self._clock().astimezone(UTC).date()

    # ---- reporters -------------------------------------------------------------------------

    def create_case(self, age_group: str, language: str, media: Sequence[MediaIn]) -> CreatedCase:
        """A new case with its media; the PIN is returned here and never again. Everything but
        the SQL (checks, PIN hash, random ids) happens before the write transaction, which
        `GroupCommit` may share with other new cases; it returns after that commit."""
        group = validation.age_group(age_group)
        lang = validation.language(language)
        items = validation.media_items(media, self._settings)
        pin = secrets.new_pin()
        new = NewCase(
            number=secrets.new_case_number(),
            pin_hash=self._pins.hash(pin),
            age_group=group,
            language=lang,
            day=self._today(),
            items=items,
            media_ids=secrets.new_media_ids(len(items)),
        )
        self._new_cases.write(new)
        return CreatedCase(secrets.display_case_number(new.number), pin, tuple(new.media_ids))

    def case_status(self, case_number: str, pin: str) -> CaseStatus:
        """The case and, per media item, what platforms reported."""
        case_id = self._authorise(case_number, pin)
        with transactions.read(self._engine, snapshot=True) as connection:
            row = connection.execute(sa.select(case).where(case.c.id == case_id)).one()
            items = connection.execute(
                sa.select(media.c.id, media.c.public_id, media.c.kind, media.c.status)
                .where(media.c.case_id == case_id)
                .order_by(media.c.id)
            ).all()
            seen, removed = _feedback_by_media(connection, [item.id for item in items])
        statuses = []
        for item in items:
            seen_by, removed_by = len(seen.get(item.id, ())), len(removed.get(item.id, ()))
            state: Literal["pending", "seen", "removed", "withdrawn"]
            if row.status == "withdrawn" or item.status == "withdrawn":
                state = "withdrawn"
            elif removed_by:
                state = "removed"
            elif seen_by:
                state = "seen"
            else:
                state = "pending"
            statuses.append(MediaStatus(item.public_id, item.kind, state, seen_by, removed_by))
        return CaseStatus(
            secrets.display_case_number(row.number),
            row.age_group,
            row.status,
            row.created_day,
            tuple(statuses),
        )

    def add_media(self, case_number: str, pin: str, media: Sequence[MediaIn]) -> tuple[str, ...]:
        """More media for an active case; returns their media ids."""
        items = validation.media_items(media, self._settings)
        case_id = self._authorise(case_number, pin)
        day = self._today()
        with transactions.write(self._engine) as connection:
            status, age_group = connection.execute(
                sa.select(case.c.status, case.c.age_group).where(case.c.id == case_id)
            ).one()
            if status != "active":
                raise ConflictError("this case was withdrawn; start a new case to report again")
            public_ids = [secrets.new_media_id() for _ in items]
            public_ids = casewriter.fresh_media_ids(connection, public_ids)
            casewriter.add_media(connection, case_id, age_group, items, public_ids, day)
            connection.execute(case.update().where(case.c.id == case_id).values(updated_day=day))
        return tuple(public_ids)

    def withdraw_case(self, case_number: str, pin: str) -> None:
        """Withdraw the whole case: its signals leave the feed unless another case holds them."""
        case_id = self._authorise(case_number, pin)
        day = self._today()
        with transactions.write(self._engine) as connection:
            status = connection.execute(
                sa.select(case.c.status).where(case.c.id == case_id)
            ).scalar_one()
            if status == "withdrawn":
                return
            connection.execute(
                case.update()
                .where(case.c.id == case_id)
                .values(status="withdrawn", updated_day=day)
            )
            connection.execute(
                media.update().where(media.c.case_id == case_id).values(status="withdrawn")
            )
            ids = connection.execute(
                sa.select(media_signal.c.signal_id)
                .join(media, media.c.id == media_signal.c.media_id)
                .where(media.c.case_id == case_id)
            ).scalars()
            feed.sync(connection, list(ids), day)

    def withdraw_media(self, case_number: str, pin: str, media_id: str) -> None:
        """Withdraw one media item of the case."""
        public_id = validation.media_id(media_id)
        case_id = self._authorise(case_number, pin)
        day = self._today()
        with transactions.write(self._engine) as connection:
            row = connection.execute(
                sa.select(media.c.id, media.c.status).where(
                    media.c.public_id == public_id, media.c.case_id == case_id
                )
            ).one_or_none()
            if row is None:
                raise NotFoundError("media_id: no such media item in this case")
            if row.status == "withdrawn":
                return
            connection.execute(
                media.update().where(media.c.id == row.id).values(status="withdrawn")
            )
            connection.execute(case.update().where(case.c.id == case_id).values(updated_day=day))
            ids = connection.execute(
                sa.select(media_signal.c.signal_id).where(media_signal.c.media_id == row.id)
            ).scalars()
            feed.sync(connection, list(ids), day)

    def _authorise(self, case_number: str, pin: str) -> int:
        """The case id, or AuthError (the same for an unknown case and a wrong PIN), or
        LockedError while the case is locked (the wrong PIN that sets a lock is still an
        AuthError; the attempts after it are LockedError). Wrong PINs are counted in their own
        committed transaction; the slow PIN check runs outside any transaction."""
        number = validation.case_number(case_number)
        given = validation.pin(pin)
        with transactions.read(self._engine) as connection:
            row = connection.execute(
                sa.select(
                    case.c.id, case.c.pin_hash, case.c.failed_pin_count, case.c.locked_until
                ).where(case.c.number == number)
            ).one_or_none()
        now = self._clock().astimezone(UTC)
        if row is not None:
            _raise_if_locked(row.locked_until, now)
        correct = self._pins.verify(None if row is None else row.pin_hash, given)
        if row is None:
            raise AuthError(CASE_AUTH_MESSAGE)
        if correct:
            if row.failed_pin_count or row.locked_until is not None:
                with transactions.write(self._engine) as connection:
                    connection.execute(
                        case.update()
                        .where(case.c.id == row.id)
                        .values(failed_pin_count=0, locked_until=None)
                    )
            return int(row.id)
        with transactions.write(self._engine) as connection:
            current = connection.execute(
                sa.select(case.c.failed_pin_count, case.c.locked_until).where(case.c.id == row.id)
            ).one()
            locked = _locked_for(current.locked_until, now)  # by a concurrent wrong PIN
            if not locked:
                failures = current.failed_pin_count + 1
                seconds = lock_seconds(failures, self._settings)
                until = None if seconds is None else now + timedelta(seconds=seconds)
                connection.execute(
                    case.update()
                    .where(case.c.id == row.id)
                    .values(failed_pin_count=failures, locked_until=until)
                )
        if locked:
            raise LockedError(_locked_message(locked), retry_after=locked)
        raise AuthError(CASE_AUTH_MESSAGE)

    # ---- platforms and keys ----------------------------------------------------------------

    def add_platform(
        self, name: str, lists: Sequence[str], contact: str | None = None
    ) -> tuple[Platform, str]:
        """A new platform reading `lists`; returns it and its first API key (shown once)."""
        clean_name = validation.platform_name(name)
        clean_lists = validation.lists(lists)
        clean_contact = validation.contact(contact)
        key = secrets.new_api_key()
        day = self._today()
        with transactions.write(self._engine) as connection:
            exists = connection.execute(
                sa.select(platform.c.id).where(platform.c.name == clean_name)
            ).first()
            if exists is not None:
                raise ConflictError(f"a platform named {clean_name!r} exists already")
            platform_id = connection.execute(
                platform.insert()
                .values(
                    name=clean_name,
                    contact=clean_contact,
                    lists=",".join(clean_lists),
                    status="active",
                    created_day=day,
                )
                .returning(platform.c.id)
            ).scalar_one()
            _insert_key(connection, platform_id, key, day)
            _audit(connection, day, OPERATOR, "platform.add", clean_name)
        return Platform(platform_id, clean_name, clean_lists, "active"), key

    def rotate_key(self, name: str) -> str:
        """A new key for the platform; its older keys stay valid until
        `revoke(name, keep_latest=True)`."""
        clean_name = validation.platform_name(name)
        key = secrets.new_api_key()
        day = self._today()
        with transactions.write(self._engine) as connection:
            row = _platform_row(connection, clean_name)
            if row.status != "active":
                raise ConflictError(f"platform {clean_name!r} is revoked; add a new platform")
            _insert_key(connection, row.id, key, day)
            _audit(connection, day, OPERATOR, "key.rotate", clean_name)
        return key

    def revoke(self, name: str, *, keep_latest: bool = False) -> None:
        """Revoke every key but the newest (`keep_latest`), or the platform and all its keys."""
        clean_name = validation.platform_name(name)
        day = self._today()
        with transactions.write(self._engine) as connection:
            row = _platform_row(connection, clean_name)
            keys = api_key_table.update().where(
                api_key_table.c.platform_id == row.id, api_key_table.c.status == "active"
            )
            if keep_latest:
                newest = connection.execute(
                    sa.select(sa.func.max(api_key_table.c.id)).where(
                        api_key_table.c.platform_id == row.id, api_key_table.c.status == "active"
                    )
                ).scalar_one()
                if newest is None:
                    raise ConflictError(f"platform {clean_name!r} has no active key to keep")
                connection.execute(
                    keys.where(api_key_table.c.id != newest).values(status="revoked")
                )
                _audit(connection, day, OPERATOR, "key.revoke_old", clean_name)
            else:
                connection.execute(keys.values(status="revoked"))
                connection.execute(
                    platform.update().where(platform.c.id == row.id).values(status="revoked")
                )
                _audit(connection, day, OPERATOR, "platform.revoke", clean_name)

    def platforms(self) -> tuple[Platform, ...]:
        """Every platform, revoked ones included, by name."""
        with transactions.read(self._engine) as connection:
            rows = connection.execute(sa.select(platform).order_by(platform.c.name)).all()
        return tuple(_platform(row) for row in rows)

    def authenticate(self, api_key: str) -> Platform:
        """The active platform holding this active key; AuthError otherwise."""
        presented = secrets.hash_api_key(api_key) if isinstance(api_key, str) else None
        if presented is None:
            raise AuthError(KEY_AUTH_MESSAGE)
        with transactions.read(self._engine) as connection:
            rows = connection.execute(
                sa.select(
                    api_key_table.c.key_hash,
                    api_key_table.c.status.label("key_status"),
                    platform.c.id,
                    platform.c.name,
                    platform.c.lists,
                    platform.c.status,
                )
                .join(platform, platform.c.id == api_key_table.c.platform_id)
                .where(api_key_table.c.lookup == secrets.key_lookup(presented))
            ).all()
        for row in rows:
            if (
                secrets.keys_equal(row.key_hash, presented)
                and row.key_status == "active"
                and row.status == "active"
            ):
                return _platform(row)
        raise AuthError(KEY_AUTH_MESSAGE)

    def feed(self, platform: Platform, after: int, limit: int) -> FeedPage:
        """Events of the platform's lists with seq > `after`, oldest first, at most `limit`."""
        start, size = validation.feed_window(after, limit, self._settings)
        if not platform.lists:
            return FeedPage((), start, False)
        query = (
            sa.select(
                feed_event.c.seq,
                feed_event.c.op,
                feed_event.c.list,
                signal.c.type,
                signal.c.value,
                signal.c.quality,
                signal.c.variant,
            )
            .join(signal, signal.c.id == feed_event.c.signal_id)
            .where(feed.among(feed_event.c.list, platform.lists), feed_event.c.seq > start)
            .order_by(feed_event.c.seq)
            .limit(size + 1)
        )
        with transactions.read(self._engine) as connection:
            rows = connection.execute(query).all()
        events = tuple(map(FeedEvent._make, rows[:size]))
        return FeedPage(events, events[-1].seq if events else start, len(rows) > size)

    def snapshot(self, platform: Platform) -> tuple[int, Generator[FeedEvent, None, None]]:
        """Every live signal of the platform's lists as `add` events (seq = the cursor), and
        the cursor: `feed(after=cursor)` continues with exactly the changes made since. Both
        come from one database snapshot; the iterator holds a connection until it is exhausted,
        closed or garbage-collected."""
        connection = transactions.open_snapshot(self._engine)
        try:
            cursor = int(
                connection.execute(
                    sa.select(sa.func.coalesce(sa.func.max(feed_event.c.seq), 0))
                ).scalar_one()
            )
            stream = _stream_live(connection, tuple(platform.lists), cursor)
            next(stream)  # started, so that closing or collecting it releases the connection
        except BaseException:
            connection.close()
            raise
        return cursor, stream

    def hash_records(
        self, platform: Platform, since: date, after: int, limit: int
    ) -> stopncii.HashRecordPage:
        """Each hash of the platform's lists once, in the state of its latest change, for
        changes on day `since` or later with seq > `after`; at most `limit` (1 to the feed
        page maximum). For the StopNCII-compatible API: see `registry.stopncii`."""
        start, size = validation.feed_window(after, limit, self._settings)
        with transactions.read(self._engine, snapshot=True) as connection:
            return stopncii.records_since(connection, platform.lists, since, start, size)

    def submit_feedback(self, platform: Platform, items: Sequence[FeedbackIn]) -> int:
        """Record verdicts (all or none); returns how many. Drives quarantine."""
        clean = validation.feedback_items(items, self._settings)
        day = self._today()
        lists = tuple(platform.lists)
        with transactions.write(self._engine) as connection:
            rows = []
            disputed: set[int] = set()
            for i, item in enumerate(clean):
                if item.media_id is not None:
                    target = _listed_media(connection, item.media_id, lists)
                    if target is None:
                        raise NotFoundError(f"items[{i}]: no such media item in your lists")
                    rows.append(_feedback_row(platform, None, target, item.verdict, day))
                else:
                    assert item.type is not None
                    assert item.value is not None
                    sid = _listed_signal(connection, item.type, item.value, lists)
                    if sid is None:
                        raise NotFoundError(f"items[{i}]: no such signal in your lists")
                    rows.append(_feedback_row(platform, sid, None, item.verdict, day))
                    if item.verdict == "not_blocked":
                        disputed.add(sid)
            connection.execute(feedback.insert(), rows)
            _audit(connection, day, platform.name, "feedback", f"verdicts: {len(rows)}")
            for sid in sorted(disputed):
                self._maybe_quarantine(connection, sid, platform.name, day)
        return len(clean)

    def _maybe_quarantine(
        self, connection: sa.Connection, signal_id: int, actor: str, day: date
    ) -> None:
        state = connection.execute(
            sa.select(quarantine.c.state, quarantine.c.restored_after_feedback).where(
                quarantine.c.signal_id == signal_id
            )
        ).one_or_none()
        if state is not None and state.state in ("quarantined", "confirmed"):
            return
        since = None if state is None else state.restored_after_feedback
        if _not_blocked_by(connection, signal_id, since) < self._settings.quarantine_platforms:
            return
        if state is None:
            connection.execute(
                quarantine.insert().values(signal_id=signal_id, state="quarantined", day=day)
            )
        else:
            connection.execute(
                quarantine.update()
                .where(quarantine.c.signal_id == signal_id)
                .values(state="quarantined", day=day)
            )
        _audit(connection, day, actor, "quarantine", _signal_name(connection, signal_id))
        feed.sync(connection, [signal_id], day)

    def match(self, platform: Platform, signals: Sequence[SignalIn]) -> tuple[Match, ...]:
        """Live signals of the platform's lists that the query signals match: PDQ within the
        rules' threshold for the (query variant, listed variant) pair, md5 by equality."""
        queries = validation.query_signals(signals, self._settings)
        return self._matcher.match(tuple(platform.lists), queries)

    # ---- operator --------------------------------------------------------------------------

    def quarantined(self) -> tuple[QuarantinedSignal, ...]:
        """Signals held out of the feed: awaiting review first, then confirmed ones."""
        with transactions.read(self._engine, snapshot=True) as connection:
            rows = connection.execute(
                sa.select(
                    signal.c.id,
                    signal.c.type,
                    signal.c.value,
                    signal.c.quality,
                    signal.c.variant,
                    quarantine.c.state,
                    quarantine.c.day,
                    quarantine.c.restored_after_feedback,
                )
                .join(signal, signal.c.id == quarantine.c.signal_id)
                .where(quarantine.c.state.in_(("quarantined", "confirmed")))
            ).all()
            out = [
                QuarantinedSignal(
                    row.type,
                    row.value,
                    row.quality,
                    row.variant,
                    row.state,
                    row.day,
                    _not_blocked_by(connection, row.id, row.restored_after_feedback),
                )
                for row in rows
            ]
        out.sort(key=lambda q: (q.state != "quarantined", q.day, q.type, q.value))
        return tuple(out)

    def restore(self, type: str, value: str) -> None:
        """Put a quarantined signal back (an `add` event where it is live again). Only new
        `not_blocked` verdicts can quarantine it again."""
        key = validation.signal_key(type, value)
        day = self._today()
        with transactions.write(self._engine) as connection:
            signal_id = self._held(connection, key, allow_confirmed=False)
            mark = connection.execute(sa.select(sa.func.max(feedback.c.id))).scalar_one()
            connection.execute(
                quarantine.update()
                .where(quarantine.c.signal_id == signal_id)
                .values(state="restored", day=day, restored_after_feedback=mark or 0)
            )
            _audit(connection, day, OPERATOR, "quarantine.restore", f"{key[0]}:{key[1]}")
            feed.sync(connection, [signal_id], day)

    def confirm(self, type: str, value: str) -> None:
        """Keep a quarantined signal out of the feed for good."""
        key = validation.signal_key(type, value)
        day = self._today()
        with transactions.write(self._engine) as connection:
            signal_id = self._held(connection, key, allow_confirmed=True)
            connection.execute(
                quarantine.update()
                .where(quarantine.c.signal_id == signal_id)
                .values(state="confirmed", day=day)
            )
            _audit(connection, day, OPERATOR, "quarantine.confirm", f"{key[0]}:{key[1]}")

    @staticmethod
    def _held(connection: sa.Connection, key: tuple[str, str], *, allow_confirmed: bool) -> int:
        row = connection.execute(
            sa.select(signal.c.id, quarantine.c.state)
            .join(quarantine, quarantine.c.signal_id == signal.c.id)
            .where(signal.c.type == key[0], signal.c.value == key[1])
        ).one_or_none()
        if row is None or row.state == "restored":
            raise NotFoundError(f"no quarantined signal {key[0]}:{key[1]}")
        if row.state == "confirmed" and not allow_confirmed:
            raise ConflictError(
                f"signal {key[0]}:{key[1]} was confirmed as disputed; it stays out of the feed"
            )
        return int(row.id)

    def transparency(self) -> dict[str, Any]:
        """Aggregate counts only (nothing per case): for the public transparency report."""
        with transactions.read(self._engine, snapshot=True) as connection:
            cases = _counts(
                connection,
                sa.select(case.c.age_group, sa.func.count())
                .where(case.c.status == "active")
                .group_by(case.c.age_group),
                LISTS,
            )
            media_counts = _counts(
                connection,
                sa.select(media.c.kind, sa.func.count())
                .join(case, case.c.id == media.c.case_id)
                .where(media.c.status == "active", case.c.status == "active")
                .group_by(media.c.kind),
                ("image", "video"),
            )
            live = _counts(
                connection,
                sa.select(listing.c.list, sa.func.count()).group_by(listing.c.list),
                LISTS,
            )
            platforms = connection.execute(
                sa.select(sa.func.count()).where(platform.c.status == "active")
            ).scalar_one()
            latest = (
                sa.select(sa.func.max(feedback.c.id).label("id"))
                .group_by(feedback.c.platform_id, feedback.c.signal_id, feedback.c.media_id)
                .subquery()
            )
            verdicts = _counts(
                connection,
                sa.select(feedback.c.verdict, sa.func.count())
                .join(latest, latest.c.id == feedback.c.id)
                .group_by(feedback.c.verdict),
                VERDICTS,
            )
            held = _counts(
                connection,
                sa.select(quarantine.c.state, sa.func.count()).group_by(quarantine.c.state),
                ("quarantined", "confirmed", "restored"),
            )
        return {
            "active_cases": cases,
            "active_media": media_counts,
            "live_signals": live,
            "active_platforms": int(platforms),
            "feedback": verdicts,
            "quarantine": held,
        }


# ---- helpers (all run inside the caller's transaction) ----------------------------------------


def _feedback_by_media(
    connection: sa.Connection, media_ids: Sequence[int]
) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Per media id: platforms with any feedback on it (or its signals), and platforms whose
    latest verdict on it (or one of its signals) is `blocked`."""
    latest: dict[tuple[int, int, str, int], tuple[int, str]] = {}
    if not media_ids:
        return {}, {}
    on_signals = (
        sa.select(
            media_signal.c.media_id,
            feedback.c.platform_id,
            feedback.c.signal_id.label("target"),
            sa.literal("s").label("kind"),
            feedback.c.id,
            feedback.c.verdict,
        )
        .join(feedback, feedback.c.signal_id == media_signal.c.signal_id)
        .where(media_signal.c.media_id.in_(media_ids))
    )
    on_media = sa.select(
        feedback.c.media_id,
        feedback.c.platform_id,
        feedback.c.media_id.label("target"),
        sa.literal("m").label("kind"),
        feedback.c.id,
        feedback.c.verdict,
    ).where(feedback.c.media_id.in_(media_ids))
    for query in (on_signals, on_media):
        for row in connection.execute(query):
            key = (row[0], row.platform_id, row.kind, row.target)
            if key not in latest or latest[key][0] < row.id:
                latest[key] = (row.id, row.verdict)
    seen: dict[int, set[int]] = {}
    removed: dict[int, set[int]] = {}
    for (media_id, platform_id, _kind, _target), (_id, verdict) in latest.items():
        seen.setdefault(media_id, set()).add(platform_id)
        if verdict == "blocked":
            removed.setdefault(media_id, set()).add(platform_id)
    return seen, removed


def _not_blocked_by(connection: sa.Connection, signal_id: int, since: int | None) -> int:
    """Active platforms whose latest verdict on the signal is `not_blocked` (given after
    feedback id `since`, when set)."""
    rows = connection.execute(
        sa.select(feedback.c.platform_id, feedback.c.id, feedback.c.verdict)
        .join(platform, platform.c.id == feedback.c.platform_id)
        .where(feedback.c.signal_id == signal_id, platform.c.status == "active")
        .order_by(feedback.c.id)
    ).all()
    latest = {row.platform_id: (row.id, row.verdict) for row in rows}
    return sum(
        1
        for feedback_id, verdict in latest.values()
        if verdict == "not_blocked" and (since is None or feedback_id > since)
    )


def _listed_signal(
    connection: sa.Connection, type_: str, value: str, lists: Sequence[str]
) -> int | None:
    """The signal's id if a case of one of `lists` ever held it (else None: platforms learn
    nothing about other lists)."""
    held = (
        sa.select(media_signal.c.signal_id)
        .join(media, media.c.id == media_signal.c.media_id)
        .join(case, case.c.id == media.c.case_id)
        .where(media_signal.c.signal_id == signal.c.id, case.c.age_group.in_(lists))
        .exists()
    )
    found = connection.execute(
        sa.select(signal.c.id).where(signal.c.type == type_, signal.c.value == value, held)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def _listed_media(connection: sa.Connection, public_id: str, lists: Sequence[str]) -> int | None:
    found = connection.execute(
        sa.select(media.c.id)
        .join(case, case.c.id == media.c.case_id)
        .where(media.c.public_id == public_id, case.c.age_group.in_(lists))
    ).scalar_one_or_none()
    return None if found is None else int(found)


def _feedback_row(
    who: Platform, signal_id: int | None, media_id: int | None, verdict: str, day: date
) -> dict[str, Any]:
    return {
        "platform_id": who.id,
        "signal_id": signal_id,
        "media_id": media_id,
        "verdict": verdict,
        "day": day,
    }


def _signal_name(connection: sa.Connection, signal_id: int) -> str:
    row = connection.execute(
        sa.select(signal.c.type, signal.c.value).where(signal.c.id == signal_id)
    ).one()
    return f"{row.type}:{row.value}"


def _platform_row(connection: sa.Connection, name: str) -> sa.Row[Any]:
    row = connection.execute(sa.select(platform).where(platform.c.name == name)).one_or_none()
    if row is None:
        raise NotFoundError(f"no platform named {name!r}")
    return row


def _platform(row: Any) -> Platform:
    lists = tuple(name for name in row.lists.split(",") if name)
    return Platform(int(row.id), row.name, lists, row.status)


def _insert_key(connection: sa.Connection, platform_id: int, key: str, day: date) -> None:
    key_hash = secrets.hash_api_key(key)
    assert key_hash is not None
    connection.execute(
        api_key_table.insert().values(
            platform_id=platform_id,
            lookup=secrets.key_lookup(key_hash),
            key_hash=key_hash,
            status="active",
            created_day=day,
        )
    )


def _audit(connection: sa.Connection, day: date, actor: str, action: str, obj: str) -> None:
    connection.execute(audit.insert().values(day=day, actor=actor, action=action, object=obj))


def _stream_live(
    connection: sa.Connection, lists: tuple[str, ...], cursor: int
) -> Generator[FeedEvent, None, None]:
    """Yields once before the first event (the caller primes it), then the live signals."""
    try:
        yield FeedEvent(cursor, "add", "", "", "", 0, "")
        if not lists:
            return
        query = (
            sa.select(
                listing.c.list, signal.c.type, signal.c.value, signal.c.quality, signal.c.variant
            )
            .join(signal, signal.c.id == listing.c.signal_id)
            .where(feed.among(listing.c.list, lists))
            .order_by(listing.c.signal_id, listing.c.list)
        )
        result = connection.execution_options(yield_per=_SNAPSHOT_BATCH).execute(query)
        for list_, type_, value, quality, variant in result:
            yield FeedEvent(cursor, "add", list_, type_, value, quality, variant)
    finally:
        connection.close()


def _counts(
    connection: sa.Connection, query: sa.Select[Any], keys: Sequence[str]
) -> dict[str, int]:
    counts = dict.fromkeys(keys, 0)
    for key, count in connection.execute(query):
        counts[key] = int(count)
    return counts


def _locked_for(locked_until: datetime | None, now: datetime) -> int:
    """Seconds left on a lock (0: not locked)."""
    if locked_until is None:
        return 0
    if locked_until.tzinfo is None:  # SQLite keeps no time zone; we store UTC
        locked_until = locked_until.replace(tzinfo=UTC)
    left = (locked_until - now).total_seconds()
    return max(0, math.ceil(left))


def _raise_if_locked(locked_until: datetime | None, now: datetime) -> None:
    seconds = _locked_for(locked_until, now)
    if seconds:
        raise LockedError(_locked_message(seconds), retry_after=seconds)


def _locked_message(seconds: int) -> str:
    return (
        f"too many wrong PINs: this case is locked for {seconds} s; try again after that "
        "with the PIN you were given"
    )
