"""The review queue: every match becomes a review item, pending -> confirmed | rejected.

    record_match(engine, ref, match, source) -> ReviewItem | None

is what scanning, the upload endpoint and backfill call for every match (`match` has `list`,
`type`, `value`, `query_variant`, `listed_variant`, `distance`); it returns the new item, or
None when (ref, list, type, value) was recorded before. Each change enqueues the platform's
verdict on the signal in `feedback_outbox` in the same transaction (see `signal_verdict`).
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from takedown.errors import ConflictError, InputError, NotFoundError
from takedown.platform.store import write
from takedown.platform.tables import feedback_outbox, review_item, webhook_outbox

__all__ = [
    "LISTS",
    "MAX_NOTE",
    "MAX_REF",
    "SIGNAL_TYPES",
    "STATUSES",
    "Match",
    "MatchLike",
    "ReviewItem",
    "Status",
    "check_webhook_url",
    "count_items",
    "decide",
    "get_item",
    "is_recorded_ref",
    "list_items",
    "record_match",
    "record_matches",
    "signal_verdict",
    "webhook_payload",
]

Status = Literal["pending", "confirmed", "rejected"]
STATUSES: Final = ("pending", "confirmed", "rejected")
LISTS: Final = ("minor", "adult")
SIGNAL_TYPES: Final = {"pdq": 64, "md5": 32}
"""Signal types the feed carries, with the length of their lowercase hex values."""
MAX_REF: Final = 1000
MAX_NOTE: Final = 2000
MAX_REVIEWER: Final = 100
MAX_DISTANCE: Final = 256
MAX_URL: Final = 2000
_URL = re.compile(r"https?://[^\s/?#]+(/\S*)?")
_TOKEN = re.compile(r"[a-z][a-z0-9_-]{0,15}")
_HEX = re.compile(r"[0-9a-f]+")


class MatchLike(Protocol):
    """What a matcher found: one listed signal within reach of one of the media's signals."""

    @property
    def list(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def query_variant(self) -> str: ...
    @property
    def listed_variant(self) -> str: ...
    @property
    def distance(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Match:
    """A plain `MatchLike`, for callers that have no match type of their own."""

    list: str
    type: str
    value: str
    query_variant: str
    listed_variant: str
    distance: int


@dataclass(frozen=True, slots=True)
class ReviewItem:
    id: int
    ref: str
    list: str
    type: str
    value: str
    query_variant: str
    listed_variant: str
    distance: int
    status: Status
    source: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    note: str | None


def record_match(engine: sa.Engine, ref: str, match: MatchLike, source: str) -> ReviewItem | None:
    """A new pending review item for `ref` (the platform's path or media id) matching a
    listed signal, or None if that (ref, list, type, value) was recorded before (then
    nothing changes, whatever the distance or source). InputError on a malformed match."""
    return record_matches(engine, [(ref, match)], source)[0]


def record_matches(
    engine: sa.Engine, matches: Sequence[tuple[str, MatchLike]], source: str
) -> list[ReviewItem | None]:
    """`record_match` for each (ref, match), in one transaction: one commit for a batch, as
    backfill finds them, instead of one per match. Every match is checked first: InputError
    for the first malformed one, and then nothing is recorded."""
    rows = [_clean_match(ref, match, source) for ref, match in matches]
    now = _now()
    with write(engine) as connection:
        return [_record(connection, row, now) for row in rows]


def _record(connection: sa.Connection, row: dict[str, Any], now: datetime) -> ReviewItem | None:
    inserted = connection.execute(
        _insert_ignore(connection, review_item)
        .values(**row, status="pending", created_at=now)
        .returning(review_item.c.id)
    ).scalar_one_or_none()
    if inserted is None:
        return None
    others = _statuses(connection, row["type"], row["value"], exclude=inserted)
    _enqueue_verdict(connection, row["type"], row["value"], others, [*others, "pending"], now)
    return _item(connection, inserted)


def decide(
    engine: sa.Engine,
    item_id: int,
    confirmed: bool,
    reviewer: str,
    note: str | None = None,
    *,
    change: bool = False,
    webhook_url: str | None = None,
) -> ReviewItem:
    """Confirm (the media is the listed image: remove it) or reject a review item.

    A pending item is decided once. Deciding an item that is already decided is a
    ConflictError (two reviewers on one item: the second learns of the first), unless
    `change` is set: then the decision is revised, and the feedback follows it. Deciding
    again the way it was already decided changes nothing. A confirmation enqueues a webhook
    call to `webhook_url` when given. NotFoundError for an unknown id, InputError for a bad
    reviewer name or note."""
    status: Status = "confirmed" if confirmed else "rejected"
    reviewer = _reviewer(reviewer)
    note = _note(note)
    if webhook_url is not None:
        webhook_url = check_webhook_url(webhook_url)
    now = _now()
    with write(engine) as connection:
        current = _item(connection, item_id)
        if current.status == status:
            if change:
                return current
            raise _already_decided(current)
        if current.status != "pending" and not change:
            raise _already_decided(current)
        # Compare-and-set: the row changes only if nobody decided it since we read it.
        updated = connection.execute(
            review_item.update()
            .where(review_item.c.id == item_id, review_item.c.status == current.status)
            .values(status=status, decided_at=now, decided_by=reviewer, note=note)
        ).rowcount
        if updated != 1:
            raise ConflictError(
                f"review item {item_id} was decided by someone else just now; reload it"
            )
        others = _statuses(connection, current.type, current.value, exclude=item_id)
        _enqueue_verdict(
            connection,
            current.type,
            current.value,
            [*others, current.status],
            [*others, status],
            now,
        )
        item = _item(connection, item_id)
        if confirmed and webhook_url is not None:
            connection.execute(
                webhook_outbox.insert().values(
                    url=webhook_url,
                    payload=json.dumps(webhook_payload(item), separators=(",", ":")),
                    created_at=now,
                )
            )
        return item


def webhook_payload(item: ReviewItem) -> dict[str, Any]:
    """The JSON a confirmation webhook receives."""
    assert item.decided_at is not None
    return {
        "ref": item.ref,
        "list": item.list,
        "type": item.type,
        "value": item.value,
        "distance": item.distance,
        "decided_at": item.decided_at.isoformat(),
    }


def get_item(engine: sa.Engine, item_id: int) -> ReviewItem:
    """The review item with this id; NotFoundError if there is none."""
    with engine.connect() as connection:
        return _item(connection, item_id)


def list_items(
    engine: sa.Engine, status: Status | None = "pending", limit: int = 50, offset: int = 0
) -> list[ReviewItem]:
    """Review items in the order they were recorded (oldest first); all statuses if None."""
    if status is not None and status not in STATUSES:
        raise InputError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    if not 1 <= limit <= 10_000:
        raise InputError(f"limit must be 1 to 10000, not {limit}")
    if offset < 0:
        raise InputError(f"offset must be 0 or more, not {offset}")
    query = sa.select(review_item).order_by(review_item.c.id).limit(limit).offset(offset)
    if status is not None:
        query = query.where(review_item.c.status == status)
    with engine.connect() as connection:
        return [_from_row(row) for row in connection.execute(query)]


def count_items(engine: sa.Engine) -> dict[str, int]:
    """How many review items there are per status (every status present, 0 if none)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(review_item.c.status, sa.func.count()).group_by(review_item.c.status)
        ).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({str(status): int(n) for status, n in rows})
    return counts


def is_recorded_ref(engine: sa.Engine, ref: str) -> bool:
    """Whether some review item names this ref (the reviewer page serves only those)."""
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(review_item.c.id).where(review_item.c.ref == ref).limit(1)
        ).first()
    return found is not None


def signal_verdict(statuses: Iterable[str]) -> str | None:
    """The platform's verdict on one signal, from the statuses of all its review items.

    The registry keeps one verdict per platform and signal (the latest), while a platform
    may hold several copies matching the same signal. So: `blocked` if any copy was
    confirmed (a later match must not undo a removal); else `pending_review` while any
    copy waits; else `not_blocked` (every copy rejected); None with no items."""
    seen = set(statuses)
    if "confirmed" in seen:
        return "blocked"
    if "pending" in seen:
        return "pending_review"
    if "rejected" in seen:
        return "not_blocked"
    return None


# ---- helpers ----------------------------------------------------------------------------------


def _enqueue_verdict(
    connection: sa.Connection,
    type_: str,
    value: str,
    before: Sequence[str],
    after: Sequence[str],
    now: datetime,
) -> None:
    """Queue the signal's verdict if the change moved it (same transaction as the change)."""
    old, new = signal_verdict(before), signal_verdict(after)
    if new is not None and new != old:
        connection.execute(
            feedback_outbox.insert().values(type=type_, value=value, verdict=new, created_at=now)
        )


def _statuses(connection: sa.Connection, type_: str, value: str, *, exclude: int) -> list[str]:
    return [
        str(status)
        for status in connection.execute(
            sa.select(review_item.c.status).where(
                review_item.c.type == type_,
                review_item.c.value == value,
                review_item.c.id != exclude,
            )
        ).scalars()
    ]


def _insert_ignore(connection: sa.Connection, table: sa.Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING, on both backends."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def _item(connection: sa.Connection, item_id: int) -> ReviewItem:
    row = connection.execute(sa.select(review_item).where(review_item.c.id == item_id)).first()
    if row is None:
        raise NotFoundError(f"no review item {item_id}; `takedown platform review list` shows them")
    return _from_row(row)


def _from_row(row: sa.Row[Any]) -> ReviewItem:
    return ReviewItem(
        id=row.id,
        ref=row.ref,
        list=row.list,
        type=row.type,
        value=row.value,
        query_variant=row.query_variant,
        listed_variant=row.listed_variant,
        distance=row.distance,
        status=row.status,
        source=row.source,
        created_at=_utc(row.created_at),
        decided_at=None if row.decided_at is None else _utc(row.decided_at),
        decided_by=row.decided_by,
        note=row.note,
    )


def _already_decided(item: ReviewItem) -> ConflictError:
    when = item.decided_at.strftime("%Y-%m-%d %H:%M UTC") if item.decided_at else "earlier"
    return ConflictError(
        f"review item {item.id} was already {item.status} by {item.decided_by} on {when}; "
        "to revise the decision, decide again with --change"
    )


def _clean_match(ref: object, match: MatchLike, source: object) -> dict[str, Any]:
    if not isinstance(ref, str) or not ref or len(ref) > MAX_REF or "\x00" in ref:
        raise InputError(f"ref must be a non-empty string of at most {MAX_REF} characters")
    if not isinstance(source, str) or not _TOKEN.fullmatch(source):
        raise InputError(
            f"source must be a short lowercase word (scan, upload, ...), not {source!r}"
        )
    list_, type_, value = match.list, match.type, match.value
    if list_ not in LISTS:
        raise InputError(f"match.list must be one of {', '.join(LISTS)}, not {list_!r}")
    if type_ not in SIGNAL_TYPES:
        raise InputError(f"match.type must be one of {', '.join(SIGNAL_TYPES)}, not {type_!r}")
    if not isinstance(value, str) or len(value) != SIGNAL_TYPES[type_] or not _HEX.fullmatch(value):
        raise InputError(
            f"match.value: expected {SIGNAL_TYPES[type_]} lowercase hex characters for {type_}"
        )
    for name in ("query_variant", "listed_variant"):
        variant = getattr(match, name)
        if not isinstance(variant, str) or not _TOKEN.fullmatch(variant):
            raise InputError(f"match.{name} must be a variant name such as 'original'")
    try:  # numpy integers from an index are fine; floats and booleans are not
        if isinstance(match.distance, bool):
            raise TypeError
        distance = operator.index(match.distance)
    except TypeError:
        raise InputError("match.distance must be an integer") from None
    if not 0 <= distance <= MAX_DISTANCE:
        raise InputError(f"match.distance must be 0 to {MAX_DISTANCE}, not {distance}")
    return {
        "ref": ref,
        "list": list_,
        "type": type_,
        "value": value,
        "query_variant": match.query_variant,
        "listed_variant": match.listed_variant,
        "distance": distance,
        "source": source,
    }


def check_webhook_url(url: str) -> str:
    """An http(s) URL for the confirmation webhook; InputError otherwise."""
    if len(url) > MAX_URL or not _URL.fullmatch(url):
        raise InputError(f"the webhook must be an http(s) URL of at most {MAX_URL} characters")
    return url


def _reviewer(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InputError("a reviewer name is required (it is recorded with the decision)")
    name = name.strip()
    if len(name) > MAX_REVIEWER or not name.isprintable():
        raise InputError(f"the reviewer name must be printable, at most {MAX_REVIEWER} characters")
    return name


def _note(note: object) -> str | None:
    if note is None:
        return None
    if not isinstance(note, str):
        raise InputError("the note must be text")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise InputError(f"the note is over {MAX_NOTE} characters")
    return note or None


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
