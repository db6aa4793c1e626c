"""Matching uploads against synced signals (the local store, or a saved snapshot file).

The feed carries single signals, not the reporter's media items, so every listed signal is its
own candidate. The match rule is `takedown.matching.rules`, as for `scan --list`: both
qualities >= 50, whole-image variants against whole-image variants within 31 bits, patches
only against patches. A video's file MD5 matches by equality; its frames match when >= 80 % of
the upload's usable frames are within 31 bits of listed frames of one list.

The PDQ index is reached through `PdqSearch` (ids and hashes in, (id, distance) out), built by
`new_pdq_index`: the one line to change to switch index implementations (today the exact
multi-index-hashing `PdqRangeIndex` of `takedown.matching.mih`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from takedown.hashing.fingerprint import PATCH, MediaFingerprint, Signal
from takedown.hashing.video import parse_vpdq
from takedown.matching import rules
from takedown.matching.mih import PdqRangeIndex
from takedown.matching.pdq_index import Words, pdq_words
from takedown.matching.scan import (
    VIDEO_FRAME_THRESHOLD,
    VIDEO_MATCH_FRACTION,
    VIDEO_MIN_QUALITY,
)

__all__ = [
    "FRAME",
    "ListedSignal",
    "PdqSearch",
    "SignalMatcher",
    "StoreMatch",
    "new_pdq_index",
]

FRAME = "frame"
"""The query variant of a video frame (and the registry's variant of listed frames)."""
FILE = "file"


class PdqSearch(Protocol):
    """An exact PDQ range index keyed by integer ids (signal ids of the local store)."""

    def add(
        self, ids: Sequence[int] | npt.NDArray[np.int64], hashes: Sequence[str] | Words
    ) -> None: ...
    def remove(self, ids: Sequence[int]) -> None: ...
    def search(
        self, queries: Sequence[str], threshold: int = 31
    ) -> list[list[tuple[int, int]]]: ...
    def __len__(self) -> int: ...


def new_pdq_index() -> PdqSearch:
    """An empty PDQ index (switch implementations here)."""
    return PdqRangeIndex()


@dataclass(frozen=True, slots=True)
class ListedSignal:
    """One signal of the lists, as synced."""

    id: int
    list: str
    type: str
    value: str
    quality: int
    variant: str


@dataclass(frozen=True, slots=True)
class StoreMatch:
    """One listed signal matched by an upload. `kind` is how (`md5`, `pdq` or `vpdq`);
    `type` and `value` name the listed signal (for a `vpdq` match, the listed frame most of
    the upload's frames came nearest to). Satisfies the review queue's `MatchLike`."""

    kind: str
    list: str
    type: str
    value: str
    distance: int
    query_variant: str
    listed_variant: str

    def to_json(self) -> dict[str, Any]:
        """The shape of `takedown scan --json` matches, with the list instead of a path."""
        return {
            "list": self.list,
            "type": self.kind,
            "value": self.value,
            "distance": self.distance,
            "variant": self.listed_variant,
        }


Lookup = Callable[[Sequence[int]], Mapping[int, ListedSignal]]
"""The current rows of the given signal ids; a removed signal is simply absent."""


class SignalMatcher:
    """Candidates from in-memory indexes, confirmed against `lookup` (so a signal removed since
    the indexes were built never matches)."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self.pdq: PdqSearch = new_pdq_index()
        self._md5: dict[str, set[int]] = defaultdict(set)
        self._md5_of: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.pdq) + len(self._md5_of)

    def add(self, signals: Iterable[ListedSignal]) -> None:
        """Index signals (PDQ below the minimum quality cannot match and is left out)."""
        ids: list[int] = []
        hashes: list[str] = []
        for s in signals:
            if s.type == "md5":
                self._md5[s.value].add(s.id)
                self._md5_of[s.id] = s.value
            elif s.type == "pdq" and s.quality >= rules.MIN_QUALITY:
                ids.append(s.id)
                hashes.append(s.value)
        if ids:
            self.pdq.add(ids, hashes)

    def add_all(self, chunks: Iterable[Sequence[ListedSignal]]) -> None:
        """Index many signals given in chunks, with one index build at the end (faster than
        adding chunk by chunk; PDQ hashes wait as 32-byte words, not as strings)."""
        ids: list[npt.NDArray[np.int64]] = []
        words: list[npt.NDArray[np.uint64]] = []
        for chunk in chunks:
            pdq = [s for s in chunk if s.type == "pdq" and s.quality >= rules.MIN_QUALITY]
            self.add([s for s in chunk if s.type == "md5"])
            if pdq:
                ids.append(np.fromiter((s.id for s in pdq), dtype=np.int64, count=len(pdq)))
                words.append(pdq_words([s.value for s in pdq]))
        if ids:
            self.pdq.add(np.concatenate(ids), np.concatenate(words))

    def remove(self, ids: Sequence[int]) -> None:
        self.pdq.remove(ids)
        for id_ in ids:
            value = self._md5_of.pop(id_, None)
            if value is not None:
                self._md5[value].discard(id_)
                if not self._md5[value]:
                    del self._md5[value]

    def match(self, fp: MediaFingerprint) -> list[StoreMatch]:
        """Every listed signal `fp` matches, nearest first (whole images before patches)."""
        if fp.kind == "video":
            frames = [parse_vpdq(line) for line in fp.vpdq]
            return self.match_hashes(
                (), fp.md5, [Signal("pdq", f.hex, f.quality, FRAME) for f in frames]
            )
        return self.match_hashes(fp.signals, fp.md5, ())

    def match_hashes(
        self, signals: Sequence[Signal], md5: str | None, frames: Sequence[Signal] = ()
    ) -> list[StoreMatch]:
        """Matches for an upload's PDQ signals, its file MD5 and (a video) its frames."""
        found: list[StoreMatch] = []
        if md5 is not None:
            found.extend(self._match_md5(md5))
        found.extend(self._match_pdq(signals))
        found.extend(self._match_frames(frames))
        # Nearest first; at equal distance whole-image evidence before patches.
        return sorted(
            found,
            key=lambda m: (m.distance, m.listed_variant == PATCH, m.list, m.kind, m.value),
        )

    def _match_md5(self, md5: str) -> list[StoreMatch]:
        ids = sorted(self._md5.get(md5, ()))
        if not ids:
            return []
        rows = self._lookup(ids)
        return [
            StoreMatch("md5", row.list, "md5", row.value, 0, FILE, row.variant)
            for row in (rows.get(i) for i in ids)
            if row is not None and row.type == "md5" and row.value == md5
        ]

    def _candidates(
        self, queries: Sequence[Signal], radius: int
    ) -> tuple[list[list[tuple[int, int]]], Mapping[int, ListedSignal]]:
        """Per query, (id, distance) hits; and the current rows of every hit."""
        if not queries or not len(self.pdq):
            return [[] for _ in queries], {}
        hits = self.pdq.search([q.value for q in queries], radius)
        ids = sorted({id_ for per_query in hits for id_, _ in per_query})
        rows = self._lookup(ids) if ids else {}
        checked: list[list[tuple[int, int]]] = []
        for query, per_query in zip(queries, hits, strict=True):
            kept = []
            for id_, _ in per_query:
                row = rows.get(id_)
                if row is None or row.type != "pdq" or row.quality < rules.MIN_QUALITY:
                    continue
                # The distance is taken from the row itself: the index may be a moment behind.
                distance = _hamming(query.value, row.value)
                if distance <= radius:
                    kept.append((id_, distance))
            checked.append(kept)
        return checked, rows

    def _match_pdq(self, signals: Sequence[Signal]) -> list[StoreMatch]:
        queries = [s for s in signals if s.type == "pdq" and s.quality >= rules.MIN_QUALITY]
        hits, rows = self._candidates(queries, rules.MAX_THRESHOLD)
        pairs: dict[int, list[rules.PdqPair]] = defaultdict(list)
        for query, per_query in zip(queries, hits, strict=True):
            for id_, distance in per_query:
                row = rows[id_]
                if distance <= rules.pair_threshold(query.variant, row.variant):
                    listed = Signal("pdq", row.value, row.quality, row.variant)
                    pairs[id_].append(rules.PdqPair(query, listed, distance))
        matches = []
        for id_, id_pairs in pairs.items():
            chosen = rules.accept(id_pairs)
            if chosen is not None:
                row = rows[id_]
                matches.append(
                    StoreMatch(
                        "pdq",
                        row.list,
                        "pdq",
                        row.value,
                        chosen.distance,
                        chosen.query.variant,
                        row.variant,
                    )
                )
        return matches

    def _match_frames(self, frames: Sequence[Signal]) -> list[StoreMatch]:
        usable = [f for f in frames if f.quality >= VIDEO_MIN_QUALITY]
        if not usable:
            return []
        hits, rows = self._candidates(usable, VIDEO_FRAME_THRESHOLD)
        # Per list: each usable frame's nearest comparable listed frame (id, distance).
        nearest: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
        for i, per_query in enumerate(hits):
            for id_, distance in per_query:
                row = rows[id_]
                if distance > rules.pair_threshold(FRAME, row.variant):
                    continue
                best = nearest[row.list].get(i)
                if best is None or (distance, id_) < (best[1], best[0]):
                    nearest[row.list][i] = (id_, distance)
        matches = []
        for list_, per_frame in nearest.items():
            if len(per_frame) < VIDEO_MATCH_FRACTION * len(usable):
                continue
            # Lower median over all usable frames (frames with no near frame sort last; with
            # >= 80 % of them near, the median is always a near one), as `scan --list` does.
            median = sorted(d for _, d in per_frame.values())[(len(usable) - 1) // 2]
            votes = Counter(id_ for id_, _ in per_frame.values())
            top = max(votes.values())
            chosen = min((id_ for id_, n in votes.items() if n == top), key=lambda i: rows[i].value)
            row = rows[chosen]
            matches.append(StoreMatch("vpdq", list_, "pdq", row.value, median, FRAME, row.variant))
        return matches


def _hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
