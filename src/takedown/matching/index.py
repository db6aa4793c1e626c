"""The matching indexes, incremental and exact (design and costs: docs/matching.md).

    PdqRangeIndex()                      PDQ hashes under int64 ids (multi-index hashing)
        .add(ids, hashes)                ids: int64 array-like; hashes: hex strings or
                                         an (n, 4) uint64 array (see hash_words); an id
                                         holds one hash, re-adding replaces it
        .remove(ids)                     absent ids are ignored; stops matching at once
        len(index), id in index, .nbytes
        .search(queries, threshold=31)   -> per query [(id, distance), ...] nearest first
        .search_batch(queries, threshold=31)
                                         -> RangeHits(query, id, distance) flat arrays
        PdqRangeIndex.build(ids, hashes) one bulk add
    ExactIndex("md5" | "sha256")         .add(ids, hexes) .remove(ids) .search(hexes)
                                         -> per digest [id, ...]
    VideoIndex()                         .add(video, frames, qualities) .remove(videos)
                                         .search(frames, qualities, threshold=31)
                                         -> [VideoMatch(video, matched_frames,
                                            usable_frames, distance), ...]

Every input is validated (InputError); thresholds are 0-256 and every stored hash within
the threshold is returned.
"""

from __future__ import annotations

from takedown.matching.exact_index import ExactIndex
from takedown.matching.mih import DEFAULT_THRESHOLD, PdqRangeIndex, RangeHits, hash_words
from takedown.matching.video_index import MATCH_FRACTION, MIN_QUALITY, VideoIndex, VideoMatch

__all__ = [
    "DEFAULT_THRESHOLD",
    "MATCH_FRACTION",
    "MIN_QUALITY",
    "ExactIndex",
    "PdqRangeIndex",
    "RangeHits",
    "VideoIndex",
    "VideoMatch",
    "hash_words",
]
