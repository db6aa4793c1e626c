"""The values the registry's use cases take and return: frozen dataclasses, and named tuples
for what a request brings or a page returns by the hundred."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, NamedTuple

__all__ = [
    "AGE_GROUPS",
    "LISTS",
    "VERDICTS",
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
    "SignalIn",
]

LISTS = ("minor", "adult")
"""The two lists: images taken under 18 (as Take It Down) and of adults (as StopNCII)."""
AGE_GROUPS = LISTS
"""A case's age group names the list its signals go to."""
VERDICTS = ("pending_review", "blocked", "not_blocked")


class SignalIn(NamedTuple):
    """One perceptual hash as the reporter's device (or a platform's query) computed it. (A
    named tuple, like `MediaIn`: a case brings hundreds, made per request.)"""

    type: str
    value: str
    quality: int
    variant: str


class MediaIn(NamedTuple):
    """One photo or video of a case, as `takedown.hashing.fingerprint.MediaFingerprint`."""

    kind: Literal["image", "video"]
    md5: str
    sha256: str
    signals: tuple[SignalIn, ...] = ()
    vpdq: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreatedCase:
    """What a reporter is shown once: the case number (XXXX-XXXX-XXXX) and PIN."""

    case_number: str
    pin: str
    media_ids: tuple[str, ...]


@dataclass(frozen=True)
class MediaStatus:
    media_id: str
    kind: str
    status: Literal["pending", "seen", "removed", "withdrawn"]
    seen_by: int
    """Distinct platforms with any feedback on the media item or its signals."""
    removed_by: int
    """Distinct platforms whose latest verdict on the item or one of its signals is `blocked`."""


@dataclass(frozen=True)
class CaseStatus:
    case_number: str
    age_group: str
    status: str
    created_day: date
    media: tuple[MediaStatus, ...]


class FeedEvent(NamedTuple):
    """One feed event (a tuple, so that pages of thousands are cheap to build)."""

    seq: int
    op: str
    list: str
    type: str
    value: str
    quality: int
    variant: str
    """Which view of the photo was hashed (`original`, `rot90`, ..., `patch`), `frame` for a
    video frame, `file` for a video's md5: `matching.rules` compares comparable variants."""


@dataclass(frozen=True)
class FeedPage:
    events: tuple[FeedEvent, ...]
    next_after: int
    """The `after` of the next request: the last event's seq (or the request's `after`)."""
    has_more: bool


@dataclass(frozen=True)
class Platform:
    id: int
    name: str
    lists: tuple[str, ...]
    status: str


@dataclass(frozen=True)
class FeedbackIn:
    """A platform's verdict on one listed signal (type and value) or one media item."""

    verdict: str
    type: str | None = None
    value: str | None = None
    media_id: str | None = None


@dataclass(frozen=True)
class Match:
    list: str
    type: str
    value: str
    quality: int
    distance: int


@dataclass(frozen=True)
class QuarantinedSignal:
    """A signal held out of the feed after disputes, for the operator to review."""

    type: str
    value: str
    quality: int
    variant: str
    state: Literal["quarantined", "confirmed"]
    day: date
    """When it was quarantined (or confirmed)."""
    not_blocked_by: int
    """Active platforms whose latest verdict on it is `not_blocked`."""
