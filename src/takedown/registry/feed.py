"""Live-ness of signals and the feed events that record every change of it.

A signal is live in a list iff it is usable, not quarantined (or confirmed), and held by at
least one active media item of an active case of that list. `listing` holds the live pairs;
`sync` recomputes the rule for the signals a change touched and writes exactly one `add` or
`remove` event per pair whose live-ness changed. It must run inside `transactions.write`,
which serialises writers, so `seq` = max + 1 is gap-free and commits in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import TypeVar

import sqlalchemy as sa

from takedown.registry.models import LISTS
from takedown.store.schema import case, feed_event, listing, media, media_signal, quarantine, signal

__all__ = ["CHUNK", "chunks", "sync"]

CHUNK = 500
"""Ids per IN (...) clause: well under every database's parameter limit."""

T = TypeVar("T")

_HELD_OUT = ("quarantined", "confirmed")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sync(connection: sa.Connection, signal_ids: Iterable[int], day: date) -> int:
    """Bring `listing` in line with the live-ness rule for `signal_ids`, appending one feed
    event per change. Returns the number of events written."""
    ids = sorted(set(signal_ids))
    adds: list[tuple[str, int]] = []
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
        connection.execute(
            listing.insert(), [{"list": name, "signal_id": sid} for name, sid in adds]
        )
    for name in {name for name, _ in removes}:
        gone = [sid for list_name, sid in removes if list_name == name]
        for part in chunks(gone):
            connection.execute(
                listing.delete().where(listing.c.list == name, listing.c.signal_id.in_(part))
            )
    return _append(
        connection, [("remove", *pair) for pair in removes] + [("add", *pair) for pair in adds], day
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


def _append(connection: sa.Connection, changes: list[tuple[str, str, int]], day: date) -> int:
    """Append events for (op, list, signal id) changes, in the given order."""
    details: dict[int, tuple[str, str, int]] = {}
    ids = sorted({sid for _, _, sid in changes})
    for part in chunks(ids):
        for row in connection.execute(
            sa.select(signal.c.id, signal.c.type, signal.c.value, signal.c.quality).where(
                signal.c.id.in_(part)
            )
        ):
            details[row.id] = (row.type, row.value, row.quality)
    last = connection.execute(sa.select(sa.func.coalesce(sa.func.max(feed_event.c.seq), 0)))
    seq = int(last.scalar_one())
    rows: list[dict[str, object]] = []
    for op, name, sid in changes:
        seq += 1
        type_, value, quality = details[sid]
        rows.append(
            {
                "seq": seq,
                "op": op,
                "list": name,
                "type": type_,
                "value": value,
                "quality": quality,
                "created_day": day,
            }
        )
    for batch in chunks(rows):
        connection.execute(feed_event.insert(), list(batch))
    return len(rows)
