"""The match rule: when a query's PDQ signals count as a match for one listed original.

Both sides of a pair must have quality >= `MIN_QUALITY`. Whole-image variants match at the
usual PDQ threshold; region signals (patches) are held to a stricter rule because there are
more of them per image, so chance agreements are likelier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from takedown.hashing.fingerprint import PATCH, Signal

__all__ = ["MAX_THRESHOLD", "MIN_QUALITY", "PdqPair", "accept", "pair_threshold"]

MIN_QUALITY = 50
"""PDQ signals below this quality say too little about the image to match on."""

DEFAULT_THRESHOLD = 31
"""Meta's recommended PDQ distance for whole images."""

PATCH_THRESHOLD = 31
"""Largest distance between two patch hashes (regions around the same corner)."""

NEVER = -1
"""`pair_threshold` for variant pairs that are never compared (a patch against a whole image)."""

MAX_THRESHOLD = max(DEFAULT_THRESHOLD, PATCH_THRESHOLD)
"""No pair of signals is ever considered further apart than this (index search radius)."""


@dataclass(frozen=True, slots=True)
class PdqPair:
    """A query signal within the search radius of a listed signal."""

    query: Signal
    listed: Signal
    distance: int


def pair_threshold(query_variant: str, listed_variant: str) -> int:
    """The largest distance at which this pair of variants still counts (NEVER: not compared).

    Patches are compared only with patches; whole-image variants (the dihedral set and the
    trimmed picture) only with whole-image variants.
    """
    query_patch = query_variant == PATCH
    if query_patch != (listed_variant == PATCH):
        return NEVER
    return PATCH_THRESHOLD if query_patch else DEFAULT_THRESHOLD


def accept(pairs: Sequence[PdqPair]) -> PdqPair | None:
    """Given every pair between one query and one listed original that passed
    `pair_threshold`, the pair reported as the match, or None when they do not match."""
    if not pairs:
        return None
    return min(pairs, key=lambda p: (p.distance, p.listed.variant, p.query.variant))
