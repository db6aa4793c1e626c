"""The feed: one event per change of live-ness, in order, per list; snapshots that the feed
continues without loss or duplicates."""

from __future__ import annotations

import random

from takedown.registry.models import FeedEvent, MediaIn, Platform
from takedown.registry.service import Registry
from tests.registry import factories as f


def events(
    registry: Registry, platform: Platform, after: int = 0
) -> list[tuple[str, str, str, str]]:
    page = registry.feed(platform, after, 10_000)
    assert not page.has_more
    return [(e.op, e.list, e.type, e.value) for e in page.events]


def live(registry: Registry, platform: Platform) -> set[tuple[str, str, str]]:
    """Replay the whole feed: what a platform that read every event holds now."""
    held: set[tuple[str, str, str]] = set()
    for op, name, type_, value in events(registry, platform):
        key = (name, type_, value)
        assert (op == "add") == (key not in held), f"{op} of {key} does not change the state"
        (held.add if op == "add" else held.discard)(key)
    return held


def test_a_new_image_case_adds_each_usable_pdq_signal_once(registry: Registry) -> None:
    rng = random.Random(30)
    reader, _ = registry.add_platform("reader", ["minor", "adult"])
    a, b = f.pdq(rng), f.pdq(rng)

    registry.create_case("adult", "en", [f.image(rng, [a, b, a])])

    page = registry.feed(reader, 0, 100)
    assert list(page.events) == [
        FeedEvent(1, "add", "adult", "pdq", a, 90, "original"),
        FeedEvent(2, "add", "adult", "pdq", b, 90, "rot90"),
    ]
    assert page.next_after == 2
    assert not page.has_more


def test_unusable_signals_never_reach_the_feed(registry: Registry) -> None:
    rng = random.Random(31)
    reader, _ = registry.add_platform("reader", ["adult"])
    good = f.pdq(rng)
    low = f.image(rng, [f.pdq(rng)], quality=49)
    flat = f.image(rng, ["0" * 64, "f" * 64, good])
    dark_video = f.video(rng, [(f.pdq(rng), 10), ("0" * 64, 100)])

    registry.create_case("adult", "en", [low, flat, dark_video])

    assert events(registry, reader) == [
        ("add", "adult", "pdq", good),
        ("add", "adult", "md5", dark_video.md5),
    ]


def test_a_video_lists_its_file_md5_and_its_distinct_usable_frames(registry: Registry) -> None:
    rng = random.Random(32)
    reader, _ = registry.add_platform("reader", ["minor"])
    one, two = f.pdq(rng), f.pdq(rng)
    clip = f.video(rng, [(one, 90), (one, 90), (two, 60), (f.pdq(rng), 40)])

    registry.create_case("minor", "en", [clip])

    page = registry.feed(reader, 0, 100)
    assert [(e.type, e.value, e.quality, e.variant) for e in page.events] == [
        ("md5", clip.md5, 100, "file"),
        ("pdq", one, 90, "frame"),
        ("pdq", two, 60, "frame"),
    ]


def test_a_photo_without_pdq_signals_is_listed_by_its_file_md5_until_withdrawn(
    registry: Registry,
) -> None:
    """An exact-only photo (its device could not decode it): its MD5 is its one signal."""
    rng = random.Random(36)
    reader, _ = registry.add_platform("reader", ["adult"])
    exact_only = MediaIn("image", f.md5(rng), f.sha256(rng), ())
    empty_file = MediaIn("image", "d41d8cd98f00b204e9800998ecf8427e", f.sha256(rng), ())
    pictured = f.image(rng, count=1)

    created = registry.create_case("adult", "en", [exact_only, empty_file, pictured])

    page = registry.feed(reader, 0, 100)
    assert [(e.type, e.value, e.quality, e.variant) for e in page.events] == [
        ("md5", exact_only.md5, 100, "file"),
        ("pdq", pictured.signals[0].value, 90, "original"),
    ], "the empty file's MD5 is stored but not listed, and a pictured photo's MD5 is not listed"
    registry.withdraw_media(created.case_number, created.pin, created.media_ids[0])
    assert events(registry, reader, page.next_after) == [("remove", "adult", "md5", exact_only.md5)]


def test_each_platform_sees_only_its_lists(registry: Registry) -> None:
    rng = random.Random(33)
    minors, _ = registry.add_platform("minors", ["minor"])
    adults, _ = registry.add_platform("adults", ["adult"])
    both, _ = registry.add_platform("both", ["minor", "adult"])
    x, y = f.pdq(rng), f.pdq(rng)

    registry.create_case("minor", "en", [f.image(rng, [x])])
    registry.create_case("adult", "en", [f.image(rng, [y])])

    assert events(registry, minors) == [("add", "minor", "pdq", x)]
    assert events(registry, adults) == [("add", "adult", "pdq", y)]
    assert events(registry, both) == [("add", "minor", "pdq", x), ("add", "adult", "pdq", y)]
    assert [e.seq for e in registry.feed(adults, 0, 10).events] == [2]


def test_one_hash_in_both_lists_is_an_event_in_each(registry: Registry) -> None:
    rng = random.Random(34)
    both, _ = registry.add_platform("both", ["minor", "adult"])
    shared = f.pdq(rng)

    registry.create_case("minor", "en", [f.image(rng, [shared])])
    registry.create_case("adult", "en", [f.image(rng, [shared])])

    assert events(registry, both) == [
        ("add", "minor", "pdq", shared),
        ("add", "adult", "pdq", shared),
    ]


def test_a_signal_shared_by_two_cases_leaves_only_when_both_withdraw(registry: Registry) -> None:
    rng = random.Random(35)
    reader, _ = registry.add_platform("reader", ["adult"])
    shared, own_a, own_b = f.pdq(rng), f.pdq(rng), f.pdq(rng)
    first = registry.create_case("adult", "en", [f.image(rng, [shared, own_a])])
    second = registry.create_case("adult", "en", [f.image(rng, [own_b, shared])])
    assert events(registry, reader) == [
        ("add", "adult", "pdq", shared),
        ("add", "adult", "pdq", own_a),
        ("add", "adult", "pdq", own_b),
    ]

    registry.withdraw_case(first.case_number, first.pin)
    assert events(registry, reader, 3) == [("remove", "adult", "pdq", own_a)]

    registry.withdraw_media(second.case_number, second.pin, second.media_ids[0])
    assert events(registry, reader, 4) == [
        ("remove", "adult", "pdq", shared),
        ("remove", "adult", "pdq", own_b),
    ]
    assert live(registry, reader) == set()


def test_withdrawing_one_media_item_removes_only_its_signals(registry: Registry) -> None:
    rng = random.Random(36)
    reader, _ = registry.add_platform("reader", ["adult"])
    keep, drop = f.pdq(rng), f.pdq(rng)
    clip = f.video(rng, [(drop, 90)])
    created = registry.create_case("adult", "en", [f.image(rng, [keep]), clip])

    registry.withdraw_media(created.case_number, created.pin, created.media_ids[1])

    assert live(registry, reader) == {("adult", "pdq", keep)}
    assert events(registry, reader, 3) == [
        ("remove", "adult", "md5", clip.md5),
        ("remove", "adult", "pdq", drop),
    ]


def test_adding_media_to_a_case_adds_only_new_hashes(registry: Registry) -> None:
    rng = random.Random(37)
    reader, _ = registry.add_platform("reader", ["adult"])
    old, new = f.pdq(rng), f.pdq(rng)
    created = registry.create_case("adult", "en", [f.image(rng, [old])])

    registry.add_media(created.case_number, created.pin, [f.image(rng, [old, new])])

    assert events(registry, reader) == [("add", "adult", "pdq", old), ("add", "adult", "pdq", new)]


def test_pages_follow_one_another_without_gaps(registry: Registry) -> None:
    rng = random.Random(38)
    reader, _ = registry.add_platform("reader", ["minor", "adult"])
    for group in ("minor", "adult", "minor"):
        registry.create_case(group, "en", [f.image(rng, count=4)])

    seen: list[int] = []
    after = 0
    while True:
        page = registry.feed(reader, after, 5)
        seen.extend(e.seq for e in page.events)
        after = page.next_after
        if not page.has_more:
            break
    assert seen == list(range(1, 13))
    assert registry.feed(reader, after, 5).events == ()
    assert registry.feed(reader, after, 5).next_after == 12


def test_a_snapshot_holds_the_live_signals_and_the_feed_continues_from_its_cursor(
    registry: Registry,
) -> None:
    rng = random.Random(39)
    reader, _ = registry.add_platform("reader", ["adult"])
    first = registry.create_case("adult", "en", [f.image(rng, count=3)])
    registry.create_case("minor", "en", [f.image(rng, count=2)])  # not this platform's list
    second_media = [f.image(rng, count=2)]
    second = registry.create_case("adult", "en", second_media)
    registry.withdraw_case(first.case_number, first.pin)

    cursor, stream = registry.snapshot(reader)
    snapshot = list(stream)

    assert cursor == 10  # 3 + 2 + 2 adds, 3 removes
    assert all(e.op == "add" and e.list == "adult" and e.seq == cursor for e in snapshot)
    assert {(e.list, e.type, e.value) for e in snapshot} == live(registry, reader)
    assert len(snapshot) == 2
    sent = {s.value: (s.quality, s.variant) for m in second_media for s in m.signals}
    assert {e.value: (e.quality, e.variant) for e in snapshot} == sent

    registry.withdraw_case(second.case_number, second.pin)
    third = registry.create_case("adult", "en", [f.image(rng, count=1)])
    held = {(e.list, e.type, e.value) for e in snapshot}
    for event in registry.feed(reader, cursor, 100).events:
        key = (event.list, event.type, event.value)
        assert (event.op == "add") == (key not in held)
        (held.add if event.op == "add" else held.discard)(key)
    assert held == live(registry, reader)
    assert len(held) == 1
    assert registry.case_status(third.case_number, third.pin).status == "active"


def test_a_snapshot_taken_during_writes_is_consistent_with_its_cursor(registry: Registry) -> None:
    rng = random.Random(40)
    reader, _ = registry.add_platform("reader", ["adult"])
    registry.create_case("adult", "en", [f.image(rng, count=3)])

    cursor, stream = registry.snapshot(reader)
    later = registry.create_case("adult", "en", [f.image(rng, count=2)])  # while it is open
    snapshot = list(stream)

    assert cursor == 3
    assert len(snapshot) == 3
    continued = registry.feed(reader, cursor, 100).events
    assert [e.seq for e in continued] == [4, 5]
    assert registry.case_status(later.case_number, later.pin).status == "active"


def test_an_abandoned_snapshot_releases_its_connection(registry: Registry) -> None:
    rng = random.Random(41)
    reader, _ = registry.add_platform("reader", ["adult"])
    registry.create_case("adult", "en", [f.image(rng, count=3)])

    for attempt in range(20):  # more than the pool holds, if abandoning leaked connections
        _cursor, stream = registry.snapshot(reader)
        if attempt % 2:
            next(stream)
            stream.close()
        del stream  # never read: collected, which closes it too
    cursor, stream = registry.snapshot(reader)
    assert [isinstance(e, FeedEvent) for e in stream] == [True, True, True]
    assert cursor == 3
