"""Feedback from platforms: what reporters see in their status, and quarantine of hashes
that several platforms dispute."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from takedown.errors import ConflictError, NotFoundError
from takedown.registry.models import FeedbackIn, Platform
from takedown.registry.service import Registry
from tests.registry import factories as f


def platforms(registry: Registry, count: int) -> list[Platform]:
    return [registry.add_platform(f"p{i}", ["minor", "adult"])[0] for i in range(count)]


def ops_after(registry: Registry, reader: Platform, after: int) -> list[tuple[str, str, str]]:
    return [(e.op, e.list, e.value) for e in registry.feed(reader, after, 1000).events]


def test_feedback_turns_pending_into_seen_and_removed(registry: Registry) -> None:
    rng = random.Random(60)
    a, b, c = platforms(registry, 3)
    photo, other = f.pdq(rng), f.pdq(rng)
    clip = f.video(rng, [(f.pdq(rng), 90)])
    created = registry.create_case(
        "adult", "en", [f.image(rng, [photo]), f.image(rng, [other]), clip]
    )

    accepted = registry.submit_feedback(a, [FeedbackIn("pending_review", "pdq", photo)])
    registry.submit_feedback(b, [FeedbackIn("blocked", "pdq", photo)])
    registry.submit_feedback(c, [FeedbackIn("pending_review", "pdq", photo)])
    registry.submit_feedback(c, [FeedbackIn("blocked", "pdq", photo)])  # c's latest verdict
    registry.submit_feedback(a, [FeedbackIn("pending_review", "md5", clip.md5)])
    registry.submit_feedback(b, [FeedbackIn("blocked", media_id=created.media_ids[2])])

    status = registry.case_status(created.case_number, created.pin)
    assert accepted == 1
    assert [(m.status, m.seen_by, m.removed_by) for m in status.media] == [
        ("removed", 3, 2),
        ("pending", 0, 0),
        ("removed", 2, 1),
    ]


def test_a_later_verdict_replaces_the_earlier_one(registry: Registry) -> None:
    rng = random.Random(61)
    (a,) = platforms(registry, 1)
    photo = f.pdq(rng)
    created = registry.create_case("adult", "en", [f.image(rng, [photo])])

    registry.submit_feedback(a, [FeedbackIn("blocked", "pdq", photo)])
    registry.submit_feedback(a, [FeedbackIn("not_blocked", "pdq", photo)])

    (media,) = registry.case_status(created.case_number, created.pin).media
    assert (media.status, media.seen_by, media.removed_by) == ("seen", 1, 0)


def test_feedback_is_all_or_nothing(registry: Registry) -> None:
    rng = random.Random(62)
    (a,) = platforms(registry, 1)
    photo = f.pdq(rng)
    created = registry.create_case("adult", "en", [f.image(rng, [photo])])

    with pytest.raises(NotFoundError, match=r"^items\[1\]: "):
        registry.submit_feedback(
            a, [FeedbackIn("blocked", "pdq", photo), FeedbackIn("blocked", "pdq", f.pdq(rng))]
        )

    (media,) = registry.case_status(created.case_number, created.pin).media
    assert media.status == "pending"


def test_two_platforms_saying_not_blocked_quarantine_a_signal(registry: Registry) -> None:
    rng = random.Random(63)
    a, b, reader = platforms(registry, 3)
    disputed, fine = f.pdq(rng), f.pdq(rng)
    registry.create_case("minor", "en", [f.image(rng, [disputed, fine])])
    registry.create_case("adult", "en", [f.image(rng, [disputed])])
    start = registry.feed(reader, 0, 100).next_after

    registry.submit_feedback(a, [FeedbackIn("not_blocked", "pdq", disputed)])
    assert ops_after(registry, reader, start) == []
    assert registry.quarantined() == ()

    registry.submit_feedback(b, [FeedbackIn("not_blocked", "pdq", disputed)])
    assert ops_after(registry, reader, start) == [
        ("remove", "minor", disputed),
        ("remove", "adult", disputed),
    ]
    (held,) = registry.quarantined()
    assert (held.type, held.value, held.state, held.not_blocked_by) == (
        "pdq",
        disputed,
        "quarantined",
        2,
    )
    assert registry.transparency()["quarantine"]["quarantined"] == 1
    assert registry.transparency()["live_signals"] == {"minor": 1, "adult": 0}


def test_a_quarantined_signal_stays_out_when_more_cases_list_it(registry: Registry) -> None:
    rng = random.Random(64)
    a, b, reader = platforms(registry, 3)
    disputed = f.pdq(rng)
    registry.create_case("adult", "en", [f.image(rng, [disputed])])
    for platform in (a, b):
        registry.submit_feedback(platform, [FeedbackIn("not_blocked", "pdq", disputed)])
    start = registry.feed(reader, 0, 100).next_after

    registry.create_case("adult", "en", [f.image(rng, [disputed])])

    assert ops_after(registry, reader, start) == []


def test_restoring_puts_it_back_and_old_verdicts_do_not_quarantine_it_again(
    registry: Registry,
) -> None:
    rng = random.Random(65)
    a, b, c, reader = platforms(registry, 4)
    disputed = f.pdq(rng)
    registry.create_case("adult", "en", [f.image(rng, [disputed])])
    for platform in (a, b):
        registry.submit_feedback(platform, [FeedbackIn("not_blocked", "pdq", disputed)])
    start = registry.feed(reader, 0, 100).next_after

    registry.restore("pdq", disputed)
    assert ops_after(registry, reader, start) == [("add", "adult", disputed)]
    assert registry.quarantined() == ()

    registry.submit_feedback(c, [FeedbackIn("blocked", "pdq", disputed)])
    registry.submit_feedback(a, [FeedbackIn("not_blocked", "pdq", disputed)])  # a, again
    assert ops_after(registry, reader, start + 1) == []

    registry.submit_feedback(c, [FeedbackIn("not_blocked", "pdq", disputed)])  # a second, new
    assert ops_after(registry, reader, start + 1) == [("remove", "adult", disputed)]
    assert [q.state for q in registry.quarantined()] == ["quarantined"]


def test_confirming_keeps_it_out_for_good(registry: Registry) -> None:
    rng = random.Random(66)
    a, b, reader = platforms(registry, 3)
    disputed = f.pdq(rng)
    registry.create_case("adult", "en", [f.image(rng, [disputed])])
    for platform in (a, b):
        registry.submit_feedback(platform, [FeedbackIn("not_blocked", "pdq", disputed)])
    start = registry.feed(reader, 0, 100).next_after

    registry.confirm("pdq", disputed)
    registry.confirm("pdq", disputed)  # again: no change

    assert [(q.value, q.state) for q in registry.quarantined()] == [(disputed, "confirmed")]
    with pytest.raises(ConflictError, match="confirmed"):
        registry.restore("pdq", disputed)
    registry.create_case("adult", "en", [f.image(rng, [disputed])])
    assert ops_after(registry, reader, start) == []


def test_restore_and_confirm_need_a_quarantined_signal(registry: Registry) -> None:
    rng = random.Random(67)
    listed = f.pdq(rng)
    registry.create_case("adult", "en", [f.image(rng, [listed])])
    calls: list[Callable[[], None]] = [
        lambda: registry.restore("pdq", listed),
        lambda: registry.confirm("pdq", listed),
        lambda: registry.restore("md5", f.md5(rng)),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match="no quarantined signal"):
            call()


def test_quarantine_applies_to_video_md5s_too(registry: Registry) -> None:
    rng = random.Random(68)
    a, b, reader = platforms(registry, 3)
    clip = f.video(rng, [(f.pdq(rng), 90)])
    registry.create_case("adult", "en", [clip])
    start = registry.feed(reader, 0, 100).next_after

    for platform in (a, b):
        registry.submit_feedback(platform, [FeedbackIn("not_blocked", "md5", clip.md5)])

    assert ops_after(registry, reader, start) == [("remove", "adult", clip.md5)]


def test_revoked_platforms_verdicts_do_not_count_toward_quarantine(registry: Registry) -> None:
    rng = random.Random(69)
    a, b, reader = platforms(registry, 3)
    disputed = f.pdq(rng)
    registry.create_case("adult", "en", [f.image(rng, [disputed])])
    registry.submit_feedback(a, [FeedbackIn("not_blocked", "pdq", disputed)])
    registry.revoke(a.name)
    start = registry.feed(reader, 0, 100).next_after

    registry.submit_feedback(b, [FeedbackIn("not_blocked", "pdq", disputed)])

    assert ops_after(registry, reader, start) == []
