"""The hosted match: query signals against the live signals of a platform's lists.

PDQ signals go through `matching.pdq_index.PdqIndex` (built per list, cached, rebuilt when the
list's last feed seq changes) and the pair rule of `matching.rules`; md5 signals match by
equality. Only live signals can match: withdrawn, quarantined and unusable ones are not listed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from takedown.hashing.fingerprint import Signal
from takedown.matching import rules
from takedown.matching.pdq_index import PdqIndex
from takedown.registry.models import Match
from takedown.registry.validation import CleanSignal
from takedown.store import transactions
from takedown.store.schema import feed_event, listing, signal

__all__ = ["ListMatcher"]


@dataclass(frozen=True, slots=True)
class _ListIndex:
    seq: int
    index: PdqIndex
    entries: tuple[Signal, ...]


class ListMatcher:
    """Per-list PDQ indexes over the live signals, shared by all requests (thread-safe)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._indexes: dict[str, _ListIndex] = {}
        self._lock = threading.Lock()

    def match(self, lists: Sequence[str], queries: Sequence[CleanSignal]) -> tuple[Match, ...]:
        best: dict[tuple[str, str, str], Match] = {}
        pdq = [q for q in queries if q.type == "pdq" and q.quality >= rules.MIN_QUALITY]
        md5 = sorted({q.value for q in queries if q.type == "md5"})
        for name in lists:
            found: list[Match] = []
            if pdq:
                found.extend(self._pdq(name, pdq))
            if md5:
                found.extend(self._md5(name, md5))
            for match in found:
                key = (match.list, match.type, match.value)
                if key not in best or match.distance < best[key].distance:
                    best[key] = match
        return tuple(sorted(best.values(), key=lambda m: (m.distance, m.list, m.type, m.value)))

    def _pdq(self, name: str, queries: Sequence[CleanSignal]) -> list[Match]:
        listed = self._index(name)
        hits = listed.index.search([q.value for q in queries], rules.MAX_THRESHOLD)
        found: list[Match] = []
        for query, query_hits in zip(queries, hits, strict=True):
            for _item, position, distance in query_hits:
                entry = listed.entries[position]
                if distance <= rules.pair_threshold(query.variant, entry.variant):
                    found.append(Match(name, "pdq", entry.value, entry.quality, distance))
        return found

    def _md5(self, name: str, values: Sequence[str]) -> list[Match]:
        query = (
            sa.select(signal.c.value, signal.c.quality)
            .select_from(listing.join(signal, signal.c.id == listing.c.signal_id))
            .where(listing.c.list == name, signal.c.type == "md5", signal.c.value.in_(values))
        )
        with transactions.read(self._engine) as connection:
            rows = connection.execute(query).all()
        return [Match(name, "md5", row.value, row.quality, 0) for row in rows]

    def _index(self, name: str) -> _ListIndex:
        with self._lock, transactions.read(self._engine, snapshot=True) as connection:
            seq = connection.execute(
                sa.select(sa.func.coalesce(sa.func.max(feed_event.c.seq), 0)).where(
                    feed_event.c.list == name
                )
            ).scalar_one()
            cached = self._indexes.get(name)
            if cached is not None and cached.seq == seq:
                return cached
            rows = connection.execute(
                sa.select(signal.c.id, signal.c.value, signal.c.quality, signal.c.variant)
                .select_from(listing.join(signal, signal.c.id == listing.c.signal_id))
                .where(listing.c.list == name, signal.c.type == "pdq")
                .order_by(signal.c.id)
            ).all()
            entries = tuple(Signal("pdq", row.value, row.quality, row.variant) for row in rows)
            index = PdqIndex.build(
                [(row.id, entry) for row, entry in zip(rows, entries, strict=True)]
            )
            built = _ListIndex(int(seq), index, entries)
            self._indexes[name] = built
            return built
