"""VideoIndex: listed videos as groups of per-second PDQ frame hashes, matched by vPDQ's rule.

A query video matches a listed one when at least `match_fraction` (80 %) of the query's
usable frames (quality >= 50) are within the threshold of some usable frame of it: the
defaults of python-threatexchange's vPDQ.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from takedown.errors import InputError
from takedown.matching.mih import DEFAULT_THRESHOLD, PdqRangeIndex, Queries, hash_words

__all__ = ["MATCH_FRACTION", "MIN_QUALITY", "VideoIndex", "VideoMatch"]

MIN_QUALITY = 50
"""Frames below this quality (blank, flat or dark) are ignored on both sides."""

MATCH_FRACTION = 0.8
"""Share of the query's usable frames that must appear in a listed video."""


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """A listed video matched by a query video."""

    video: int
    """The listed video's id (its group id)."""
    matched_frames: int
    """Usable query frames within the threshold of some frame of the listed video."""
    usable_frames: int
    """Query frames with quality >= the index's min_quality."""
    distance: int
    """Lower median, over all usable query frames, of the distance to the nearest listed
    frame (frames with none count as farthest; with >= 80 % matched it is always a real
    distance)."""


class VideoIndex:
    """Listed videos, each a group of frame hashes under one int64 video id.

    Adding a video id that is present replaces its frames; removing one that is absent does
    nothing. Listed frames below min_quality are not stored, and identical frames of one
    video are stored once. Safe to share between threads.
    """

    def __init__(
        self, *, min_quality: int = MIN_QUALITY, match_fraction: float = MATCH_FRACTION
    ) -> None:
        if not 0 <= min_quality <= 100:
            raise ValueError(f"min_quality must be 0-100, got {min_quality}")
        if not 0 < match_fraction <= 1:
            raise ValueError(f"match_fraction must be in (0, 1], got {match_fraction}")
        self.min_quality = min_quality
        self.match_fraction = match_fraction
        self._lock = threading.Lock()
        self._frames = PdqRangeIndex()
        self._frame_ids_of: dict[int, npt.NDArray[np.int64]] = {}
        self._video_of_frame = np.empty(0, dtype=np.int64)
        self._next_frame = 0

    def __len__(self) -> int:
        return len(self._frame_ids_of)

    def __contains__(self, video: object) -> bool:
        return video in self._frame_ids_of

    @property
    def frames(self) -> int:
        """Frame hashes stored (usable, and distinct within each video)."""
        return len(self._frames)

    def add(self, video: int, frames: Queries, qualities: Sequence[int]) -> None:
        """Store (or replace) listed video `video`: its frame hashes and their qualities."""
        if isinstance(video, bool) or not isinstance(video, int | np.integer):
            raise InputError(f"a video id must be an integer, got {video!r}")
        video = int(video)
        words = _usable(frames, qualities, self.min_quality)
        words = np.unique(words, axis=0) if len(words) else words
        with self._lock:
            self._drop(video)
            first = self._next_frame
            ids = np.arange(first, first + len(words), dtype=np.int64)
            self._next_frame += len(words)
            if self._next_frame > len(self._video_of_frame):
                grown = np.empty(max(self._next_frame, 2 * len(self._video_of_frame)), np.int64)
                grown[:first] = self._video_of_frame[:first]
                self._video_of_frame = grown
            self._video_of_frame[first : self._next_frame] = video
            self._frames.add(ids, words)
            self._frame_ids_of[video] = ids

    def remove(self, videos: Iterable[int]) -> None:
        """Remove the listed videos `videos`; ids not stored are ignored."""
        with self._lock:
            for video in videos:
                self._drop(video)

    def search(
        self, frames: Queries, qualities: Sequence[int], threshold: int = DEFAULT_THRESHOLD
    ) -> list[VideoMatch]:
        """The listed videos the query video (its frame hashes and qualities) matches,
        nearest first (ties by video id)."""
        usable = _usable(frames, qualities, self.min_quality)
        if not len(usable):
            return []
        with self._lock:
            hits = self._frames.search_batch(usable, threshold)
            videos = self._video_of_frame[hits.id]
        # Nearest distance per (video, query frame): sort by video, frame, distance and
        # keep the first of each pair.
        order = np.lexsort((hits.distance, hits.query, videos))
        videos, query, distance = videos[order], hits.query[order], hits.distance[order]
        first = np.ones(len(order), dtype=np.bool_)
        first[1:] = (videos[1:] != videos[:-1]) | (query[1:] != query[:-1])
        videos, distance = videos[first], distance[first]
        matches = []
        new_video = np.ones(len(videos), dtype=np.bool_)
        new_video[1:] = videos[1:] != videos[:-1]
        starts: list[int] = np.flatnonzero(new_video).tolist()
        for lo, hi in itertools.pairwise([*starts, len(videos)]):
            matched = hi - lo
            if matched < self.match_fraction * len(usable):
                continue
            median = int(np.sort(distance[lo:hi])[(len(usable) - 1) // 2])
            matches.append(VideoMatch(int(videos[lo]), matched, len(usable), median))
        return sorted(matches, key=lambda m: (m.distance, m.video))

    def _drop(self, video: int) -> None:
        ids = self._frame_ids_of.pop(video, None)
        if ids is not None:
            self._frames.remove(ids)


def _usable(frames: Queries, qualities: Sequence[int], min_quality: int) -> npt.NDArray[np.uint64]:
    words = hash_words(frames)
    quality = np.asarray(qualities)
    if quality.ndim != 1 or len(quality) != len(words):
        raise InputError(f"got {quality.size} qualities for {len(words)} frames")
    if len(quality) and (
        quality.dtype.kind not in "iu" or quality.min() < 0 or quality.max() > 100
    ):
        raise InputError("frame qualities must be integers 0-100")
    return words[quality >= min_quality]
