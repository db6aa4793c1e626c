"""Hash records for the StopNCII-compatible API: each hash of a platform's lists once, in the
state of its latest feed event, in the order of that event's `seq`.

A record is derived from the feed alone: it stands at the platform's latest event on the hash
(whose day dates it), and it is live while the hash is listed in any of the platform's lists.
A hash that changes again moves to a later seq, so paging forward by seq loses nothing.
Records carry days, not times: the feed keeps day precision like everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from takedown.registry.feed import among
from takedown.store.schema import feed_day, feed_event, listing, signal

__all__ = ["HashRecord", "HashRecordPage", "records_since"]


@dataclass(frozen=True)
class HashRecord:
    seq: int
    """The platform's latest feed event on the hash."""
    day: date
    """The day of that event."""
    type: str
    value: str
    live: bool
    """Listed now in at least one of the platform's lists."""


@dataclass(frozen=True)
class HashRecordPage:
    records: tuple[HashRecord, ...]
    has_more: bool


def records_since(
    connection: sa.Connection, lists: Sequence[str], since: date, after: int, limit: int
) -> HashRecordPage:
    """Records whose latest change in `lists` was on day `since` or later and has a seq above
    `after`, in seq order, at most `limit`. Run it in one snapshot, so that `live` and the
    latest events come from the same state.

    Events are appended in commit order under the feed lock with the writer's day, so days
    never decrease along seq: "on `since` or later" is "from the first event of that day on".
    Reading by seq alone keeps each page one index range scan."""
    if not lists:
        return HashRecordPage((), False)
    first = connection.execute(
        sa.select(sa.func.min(feed_day.c.first_seq)).where(feed_day.c.day >= since)
    ).scalar_one_or_none()
    if first is None:
        return HashRecordPage((), False)
    event = feed_event.alias("event")
    later = feed_event.alias("later")
    superseded = (
        sa.select(later.c.seq)
        .where(
            later.c.signal_id == event.c.signal_id,
            later.c.seq > event.c.seq,
            among(later.c.list, lists),
        )
        .exists()
    )
    listed = (
        sa.select(listing.c.signal_id)
        .where(listing.c.signal_id == event.c.signal_id, among(listing.c.list, lists))
        .exists()
    )
    query = (
        sa.select(event.c.seq, event.c.created_day, signal.c.type, signal.c.value, listed)
        .join(signal, signal.c.id == event.c.signal_id)
        .where(event.c.seq > max(after, first - 1), among(event.c.list, lists), ~superseded)
        .order_by(event.c.seq)
        .limit(limit + 1)
    )
    rows = connection.execute(query).all()
    records = tuple(
        HashRecord(int(row[0]), row[1], row[2], row[3], bool(row[4])) for row in rows[:limit]
    )
    return HashRecordPage(records, len(rows) > limit)
