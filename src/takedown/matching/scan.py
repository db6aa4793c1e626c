"""Scanning: which listed items one upload's fingerprint matches, and how.

Per listed item the strongest evidence wins: equal SHA-256, else equal MD5, else PDQ (images,
judged by `rules`) or vPDQ (videos). At most one match per listed item.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from takedown.hashing.fingerprint import MediaFingerprint, Signal
from takedown.hashing.video import parse_vpdq
from takedown.matching import rules
from takedown.matching.index import PdqRangeIndex, VideoIndex
from takedown.matching.listfile import ListedMedia

__all__ = [
    "VIDEO_FRAME_THRESHOLD",
    "VIDEO_MATCH_FRACTION",
    "VIDEO_MIN_QUALITY",
    "ListIndex",
    "ScanMatch",
]

# python-threatexchange's vPDQ defaults: frames this close count as the same picture, and a
# video matches when enough of the query's usable frames appear somewhere in the listed one.
VIDEO_MIN_QUALITY = 50
VIDEO_FRAME_THRESHOLD = 31
VIDEO_MATCH_FRACTION = 0.8


@dataclass(frozen=True, slots=True)
class ScanMatch:
    """One listed item matched by an upload. `value` is the listed side's hash."""

    listed: ListedMedia
    type: str
    value: str
    distance: int
    variant: str | None = None

    @property
    def listed_name(self) -> str:
        """The listed item's path if the list has one, else its SHA-256."""
        return self.listed.path if self.listed.path is not None else self.listed.sha256

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = (
            {"path": self.listed.path}
            if self.listed.path is not None
            else {"sha256": self.listed.sha256}
        )
        out.update(type=self.type, value=self.value, distance=self.distance, variant=self.variant)
        return out


class ListIndex:
    """A list, indexed for matching uploads against it."""

    def __init__(self, listed: Sequence[ListedMedia]) -> None:
        self._listed = tuple(listed)
        self._by_sha256: dict[str, list[int]] = defaultdict(list)
        self._by_md5: dict[str, list[int]] = defaultdict(list)
        # The PDQ index holds each usable listed signal under its position in _signals.
        self._signals: list[tuple[int, Signal]] = []
        self._video = VideoIndex(min_quality=VIDEO_MIN_QUALITY, match_fraction=VIDEO_MATCH_FRACTION)
        for item, media in enumerate(self._listed):
            self._by_sha256[media.sha256].append(item)
            self._by_md5[media.md5].append(item)
            self._signals.extend(
                (item, signal)
                for signal in media.signals
                if signal.type == "pdq" and signal.quality >= rules.MIN_QUALITY
            )
            if media.kind == "video":
                self._video.add(item, [f.hex for f in media.vpdq], [f.quality for f in media.vpdq])
        self._pdq = PdqRangeIndex.build(
            range(len(self._signals)), [signal.value for _, signal in self._signals]
        )

    def __len__(self) -> int:
        return len(self._listed)

    def match(self, fp: MediaFingerprint) -> list[ScanMatch]:
        """Every listed item `fp` matches, nearest first (ties by listed path or SHA-256)."""
        found: dict[int, ScanMatch] = {}
        for item in self._by_sha256.get(fp.sha256, ()):
            listed = self._listed[item]
            found[item] = ScanMatch(listed, "sha256", listed.sha256, 0)
        for item in self._by_md5.get(fp.md5, ()):
            listed = self._listed[item]
            found.setdefault(item, ScanMatch(listed, "md5", listed.md5, 0))
        if fp.kind == "image":
            perceptual = self._match_pdq(fp.signals)
        else:
            perceptual = self._match_vpdq(fp.vpdq)
        for item, match in perceptual.items():
            found.setdefault(item, match)
        return sorted(found.values(), key=lambda m: (m.distance, m.listed_name, m.type))

    def _match_pdq(self, signals: Sequence[Signal]) -> dict[int, ScanMatch]:
        queries = [s for s in signals if s.type == "pdq" and s.quality >= rules.MIN_QUALITY]
        hits = self._pdq.search([q.value for q in queries], rules.MAX_THRESHOLD)
        pairs: dict[int, list[rules.PdqPair]] = defaultdict(list)
        for query, query_hits in zip(queries, hits, strict=True):
            for position, distance in query_hits:
                item, listed = self._signals[position]
                if distance <= rules.pair_threshold(query.variant, listed.variant):
                    pairs[item].append(rules.PdqPair(query, listed, distance))
        matches: dict[int, ScanMatch] = {}
        for item, item_pairs in pairs.items():
            chosen = rules.accept(item_pairs)
            if chosen is not None:
                matches[item] = ScanMatch(
                    self._listed[item],
                    "pdq",
                    chosen.listed.value,
                    chosen.distance,
                    chosen.listed.variant,
                )
        return matches

    def _match_vpdq(self, frames: Sequence[str]) -> dict[int, ScanMatch]:
        parsed = [parse_vpdq(f) for f in frames]
        found = self._video.search(
            [f.hex for f in parsed], [f.quality for f in parsed], VIDEO_FRAME_THRESHOLD
        )
        return {
            m.video: ScanMatch(
                self._listed[m.video], "vpdq", self._listed[m.video].sha256, m.distance
            )
            for m in found
        }
