"""The hosted match: a platform's query signals against the live signals of its lists."""

from __future__ import annotations

import random

from takedown.registry.models import FeedbackIn, Match, MediaIn, SignalIn
from takedown.registry.service import Registry
from tests.registry import factories as f


def test_a_listed_signal_is_found_within_the_threshold(registry: Registry) -> None:
    rng = random.Random(70)
    platform, _ = registry.add_platform("acme", ["adult"])
    listed = f.pdq(rng)
    registry.create_case("adult", "en", [f.image(rng, [listed, f.pdq(rng)])])

    near = SignalIn("pdq", f.flip_bits(listed, 31, rng), 80, "original")
    far = SignalIn("pdq", f.flip_bits(listed, 32, rng), 80, "original")

    assert registry.match(platform, [near]) == (Match("adult", "pdq", listed, 90, 31),)
    assert registry.match(platform, [far]) == ()


def test_matches_come_nearest_first_one_per_listed_signal(registry: Registry) -> None:
    rng = random.Random(71)
    platform, _ = registry.add_platform("acme", ["minor", "adult"])
    a, b = f.pdq(rng), f.pdq(rng)
    registry.create_case("minor", "en", [f.image(rng, [a])])
    registry.create_case("adult", "en", [f.image(rng, [b])])

    found = registry.match(
        platform,
        [
            SignalIn("pdq", f.flip_bits(a, 10, rng), 90, "original"),
            SignalIn("pdq", f.flip_bits(a, 3, rng), 90, "trimmed"),
            SignalIn("pdq", f.flip_bits(b, 5, rng), 90, "derotated"),
        ],
    )

    assert [(m.list, m.value, m.distance) for m in found] == [("minor", a, 3), ("adult", b, 5)]


def test_patches_match_only_patches(registry: Registry) -> None:
    rng = random.Random(72)
    platform, _ = registry.add_platform("acme", ["adult"])
    whole, patch = f.pdq(rng), f.pdq(rng)
    signals = (SignalIn("pdq", whole, 90, "original"), SignalIn("pdq", patch, 90, "patch"))
    registry.create_case("adult", "en", [MediaIn("image", f.md5(rng), f.sha256(rng), signals)])

    assert registry.match(platform, [SignalIn("pdq", whole, 90, "patch")]) == ()
    assert registry.match(platform, [SignalIn("pdq", patch, 90, "original")]) == ()
    assert [m.value for m in registry.match(platform, [SignalIn("pdq", patch, 90, "patch")])] == [
        patch
    ]


def test_low_quality_queries_match_nothing(registry: Registry) -> None:
    rng = random.Random(73)
    platform, _ = registry.add_platform("acme", ["adult"])
    listed = f.pdq(rng)
    registry.create_case("adult", "en", [f.image(rng, [listed])])

    assert registry.match(platform, [SignalIn("pdq", listed, 49, "original")]) == ()


def test_video_md5s_and_frames_match(registry: Registry) -> None:
    rng = random.Random(74)
    platform, _ = registry.add_platform("acme", ["adult"])
    frame = f.pdq(rng)
    clip = f.video(rng, [(frame, 70)])
    registry.create_case("adult", "en", [clip])

    assert registry.match(platform, [SignalIn("md5", clip.md5, 100, "file")]) == (
        Match("adult", "md5", clip.md5, 100, 0),
    )
    assert registry.match(platform, [SignalIn("md5", f.md5(rng), 100, "file")]) == ()
    assert registry.match(
        platform, [SignalIn("pdq", f.flip_bits(frame, 2, rng), 90, "original")]
    ) == (Match("adult", "pdq", frame, 70, 2),)


def test_withdrawn_and_quarantined_signals_no_longer_match(registry: Registry) -> None:
    rng = random.Random(75)
    platform, _ = registry.add_platform("acme", ["adult"])
    other, _ = registry.add_platform("other", ["adult"])
    gone, disputed = f.pdq(rng), f.pdq(rng)
    created = registry.create_case("adult", "en", [f.image(rng, [gone])])
    registry.create_case("adult", "en", [f.image(rng, [disputed])])
    query = [SignalIn("pdq", gone, 90, "original"), SignalIn("pdq", disputed, 90, "original")]
    assert len(registry.match(platform, query)) == 2  # and the index is now cached

    registry.withdraw_case(created.case_number, created.pin)
    assert [m.value for m in registry.match(platform, query)] == [disputed]

    for who in (platform, other):
        registry.submit_feedback(who, [FeedbackIn("not_blocked", "pdq", disputed)])
    assert registry.match(platform, query) == ()

    registry.restore("pdq", disputed)
    assert [m.value for m in registry.match(platform, query)] == [disputed]
