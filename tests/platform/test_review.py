"""The review queue: matches become items, decisions move them, and every change of the
platform's verdict on a signal lands in the feedback outbox in the same transaction."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from takedown.errors import ConflictError, InputError, NotFoundError
from takedown.platform import review
from takedown.platform.review import Match, decide, record_match
from takedown.platform.store import open_store
from takedown.platform.tables import feedback_outbox, review_item, webhook_outbox


@pytest.fixture
def engine(agent_store: str) -> Iterator[sa.Engine]:
    engine = open_store(None, agent_store)
    try:
        yield engine
    finally:
        engine.dispose()


def pdq_match(value: str | None = None, distance: int = 4, list_: str = "adult") -> Match:
    return Match(list_, "pdq", value or secrets.token_hex(32), "original", "rot90", distance)


def outbox(engine: sa.Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        return [
            (row.type, row.value, row.verdict)
            for row in connection.execute(sa.select(feedback_outbox).order_by(feedback_outbox.c.id))
        ]


def test_a_match_becomes_a_pending_item_and_queues_pending_review(engine: sa.Engine) -> None:
    match = pdq_match(distance=7)
    item = record_match(engine, "/media/a.jpg", match, "scan")
    assert item is not None
    assert (item.ref, item.list, item.type, item.value) == (
        "/media/a.jpg",
        "adult",
        "pdq",
        match.value,
    )
    assert (item.query_variant, item.listed_variant, item.distance) == ("original", "rot90", 7)
    assert (item.status, item.source, item.decided_at) == ("pending", "scan", None)
    assert item.created_at.tzinfo is not None
    assert outbox(engine) == [("pdq", match.value, "pending_review")]
    assert review.list_items(engine) == [item]


def test_recording_the_same_match_again_changes_nothing(engine: sa.Engine) -> None:
    match = pdq_match()
    first = record_match(engine, "m1", match, "scan")
    assert first is not None
    again = Match(match.list, match.type, match.value, "trimmed", "original", 12)
    assert record_match(engine, "m1", again, "upload") is None
    assert review.list_items(engine, None) == [first]
    assert len(outbox(engine)) == 1


def test_the_same_hash_in_the_other_list_is_another_item(engine: sa.Engine) -> None:
    value = secrets.token_hex(32)
    assert record_match(engine, "m1", pdq_match(value, list_="adult"), "scan") is not None
    assert record_match(engine, "m1", pdq_match(value, list_="minor"), "scan") is not None
    # The registry's verdict is per hash, not per list: one pending_review is enough.
    assert outbox(engine) == [("pdq", value, "pending_review")]


def test_confirm_queues_blocked_and_reject_queues_not_blocked(engine: sa.Engine) -> None:
    a, b = pdq_match(), pdq_match()
    item_a = record_match(engine, "a", a, "scan")
    item_b = record_match(engine, "b", b, "upload")
    assert item_a is not None
    assert item_b is not None
    confirmed = decide(engine, item_a.id, True, "alice", "  same picture  ")
    rejected = decide(engine, item_b.id, False, "bob")
    assert (confirmed.status, confirmed.decided_by, confirmed.note) == (
        "confirmed",
        "alice",
        "same picture",
    )
    assert confirmed.decided_at is not None
    assert (rejected.status, rejected.decided_by, rejected.note) == ("rejected", "bob", None)
    assert outbox(engine) == [
        ("pdq", a.value, "pending_review"),
        ("pdq", b.value, "pending_review"),
        ("pdq", a.value, "blocked"),
        ("pdq", b.value, "not_blocked"),
    ]
    assert review.count_items(engine) == {"pending": 0, "confirmed": 1, "rejected": 1}


def test_one_confirmed_copy_keeps_the_hash_blocked(engine: sa.Engine) -> None:
    """Two copies match one listed hash: confirming one and rejecting the other must not
    tell the registry `not_blocked`, and a new copy must not take back the `blocked`."""
    value = secrets.token_hex(32)
    first = record_match(engine, "copy1", pdq_match(value), "scan")
    second = record_match(engine, "copy2", pdq_match(value, distance=20), "scan")
    assert first is not None
    assert second is not None
    decide(engine, first.id, True, "alice")
    decide(engine, second.id, False, "alice")
    assert record_match(engine, "copy3", pdq_match(value), "backfill") is not None
    assert [verdict for _, _, verdict in outbox(engine)] == ["pending_review", "blocked"]


def test_verdict_follows_the_remaining_copies(engine: sa.Engine) -> None:
    value = secrets.token_hex(32)
    first = record_match(engine, "copy1", pdq_match(value), "scan")
    second = record_match(engine, "copy2", pdq_match(value), "scan")
    assert first is not None
    assert second is not None
    decide(engine, first.id, False, "alice")  # copy2 still waits: still pending_review
    assert [verdict for _, _, verdict in outbox(engine)] == ["pending_review"]
    decide(engine, second.id, False, "alice")
    assert [verdict for _, _, verdict in outbox(engine)] == ["pending_review", "not_blocked"]


def test_deciding_twice_is_a_conflict_unless_changed_on_purpose(engine: sa.Engine) -> None:
    match = pdq_match()
    item = record_match(engine, "a", match, "scan")
    assert item is not None
    decide(engine, item.id, False, "alice")
    for confirmed in (True, False):
        with pytest.raises(ConflictError, match=r"already rejected by alice .*--change"):
            decide(engine, item.id, confirmed, "bob")
    revised = decide(engine, item.id, True, "bob", "looked again", change=True)
    assert (revised.status, revised.decided_by, revised.note) == (
        "confirmed",
        "bob",
        "looked again",
    )
    # The same decision again with --change is a no-op.
    assert decide(engine, item.id, True, "carol", change=True) == revised
    assert [verdict for _, _, verdict in outbox(engine)] == [
        "pending_review",
        "not_blocked",
        "blocked",
    ]


def test_two_reviewers_at_once_one_wins(engine: sa.Engine) -> None:
    item = record_match(engine, "a", pdq_match(), "scan")
    assert item is not None
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def reviewer(name: str, confirmed: bool) -> None:
        barrier.wait()
        try:
            decide(engine, item.id, confirmed, name)
            outcomes.append("won")
        except ConflictError:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=reviewer, args=("alice", True)),
        threading.Thread(target=reviewer, args=("bob", False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "won"]
    final = review.get_item(engine, item.id)
    expected = "blocked" if final.status == "confirmed" else "not_blocked"
    assert [verdict for _, _, verdict in outbox(engine)] == ["pending_review", expected]


def test_item_and_feedback_are_written_together_or_not_at_all(engine: sa.Engine) -> None:
    # Sabotage the outbox: the insert of the verdict fails, so the item must not stay.
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE feedback_outbox"))
    with pytest.raises(sa.exc.DBAPIError):
        record_match(engine, "a", pdq_match(), "scan")
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(review_item)).scalar() == 0


def test_a_confirmation_queues_the_webhook_call(engine: sa.Engine) -> None:
    match = pdq_match(distance=9)
    item = record_match(engine, "/m/a.jpg", match, "scan")
    assert item is not None
    decided = decide(engine, item.id, True, "alice", webhook_url="https://hooks.example/takedown")
    with engine.connect() as connection:
        rows = connection.execute(sa.select(webhook_outbox)).all()
    assert len(rows) == 1
    assert rows[0].url == "https://hooks.example/takedown"
    assert decided.decided_at is not None
    assert json.loads(rows[0].payload) == {
        "ref": "/m/a.jpg",
        "list": "adult",
        "type": "pdq",
        "value": match.value,
        "distance": 9,
        "decided_at": decided.decided_at.isoformat(),
    }


def test_a_rejection_queues_no_webhook_call(engine: sa.Engine) -> None:
    item = record_match(engine, "a", pdq_match(), "scan")
    assert item is not None
    decide(engine, item.id, False, "alice", webhook_url="https://hooks.example/x")
    with engine.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(webhook_outbox)).scalar() == 0
        )


def test_unknown_items_are_not_found(engine: sa.Engine) -> None:
    with pytest.raises(NotFoundError, match="no review item 42"):
        decide(engine, 42, True, "alice")
    with pytest.raises(NotFoundError):
        review.get_item(engine, 42)


def test_listing_pages_and_filters(engine: sa.Engine) -> None:
    items = [record_match(engine, f"m{i}", pdq_match(), "scan") for i in range(5)]
    ids = [item.id for item in items if item is not None]
    decide(engine, ids[1], True, "alice")
    assert [i.id for i in review.list_items(engine)] == [ids[0], *ids[2:]]
    assert [i.id for i in review.list_items(engine, "pending", 2, 1)] == ids[2:4]
    assert [i.id for i in review.list_items(engine, "confirmed")] == [ids[1]]
    assert [i.id for i in review.list_items(engine, None)] == ids
    assert review.is_recorded_ref(engine, "m3")
    assert not review.is_recorded_ref(engine, "m9")


BAD_MATCHES: list[tuple[str, Any, str]] = [
    ("", pdq_match(), "ref must be"),
    ("x" * 1001, pdq_match(), "ref must be"),
    ("a", pdq_match(), "SOURCE"),
    ("a", Match("other", "pdq", "0" * 64, "original", "original", 1), "match.list"),
    ("a", Match("adult", "sha1", "0" * 40, "original", "original", 1), "match.type"),
    ("a", Match("adult", "pdq", "AB" * 32, "original", "original", 1), "match.value"),
    ("a", Match("adult", "md5", "ab" * 32, "file", "file", 0), "match.value"),
    ("a", Match("adult", "pdq", "ab" * 32, "Original!", "original", 1), "match.query_variant"),
    ("a", Match("adult", "pdq", "ab" * 32, "original", "", 1), "match.listed_variant"),
    ("a", Match("adult", "pdq", "ab" * 32, "original", "original", -1), "match.distance"),
    ("a", Match("adult", "pdq", "ab" * 32, "original", "original", 257), "match.distance"),
    ("a", Match("adult", "pdq", "ab" * 32, "original", "original", True), "match.distance"),
]


@pytest.mark.parametrize(("ref", "match", "message"), BAD_MATCHES)
def test_malformed_matches_are_refused(
    engine: sa.Engine, ref: str, match: Match, message: str
) -> None:
    source = "Not A Source" if message == "SOURCE" else "scan"
    with pytest.raises(InputError, match="source must" if message == "SOURCE" else message):
        record_match(engine, ref, match, source)
    assert review.list_items(engine, None) == []


def test_numpy_distances_are_integers(engine: sa.Engine) -> None:
    match = Match("adult", "pdq", secrets.token_hex(32), "original", "original", np.int64(12))  # type: ignore[arg-type]
    item = record_match(engine, "a", match, "scan")
    assert item is not None
    assert item.distance == 12
    assert type(item.distance) is int
    floaty = Match("adult", "pdq", secrets.token_hex(32), "original", "original", 3.0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="distance must be an integer"):
        record_match(engine, "b", floaty, "scan")


def test_md5_matches_are_recorded(engine: sa.Engine) -> None:
    match = Match("minor", "md5", secrets.token_hex(16), "file", "file", 0)
    item = record_match(engine, "video-123", match, "upload")
    assert item is not None
    assert outbox(engine) == [("md5", match.value, "pending_review")]


@pytest.mark.parametrize(
    ("reviewer", "note", "webhook", "message"),
    [
        ("", None, None, "reviewer name is required"),
        ("a" * 101, None, None, "reviewer name must be"),
        ("alice", "n" * 2001, None, "note is over"),
        ("alice", None, "ftp://hooks.example", "webhook must be"),
    ],
)
def test_bad_decisions_are_refused(
    engine: sa.Engine, reviewer: str, note: str | None, webhook: str | None, message: str
) -> None:
    item = record_match(engine, "a", pdq_match(), "scan")
    assert item is not None
    with pytest.raises(InputError, match=message):
        decide(engine, item.id, True, reviewer, note, webhook_url=webhook)
    assert review.get_item(engine, item.id).status == "pending"


def test_signal_verdict_rule() -> None:
    assert review.signal_verdict([]) is None
    assert review.signal_verdict(["pending"]) == "pending_review"
    assert review.signal_verdict(["rejected", "pending"]) == "pending_review"
    assert review.signal_verdict(["rejected"]) == "not_blocked"
    assert review.signal_verdict(["rejected", "pending", "confirmed"]) == "blocked"


def test_concurrent_recorders_make_one_item_and_one_verdict(engine: sa.Engine) -> None:
    """Scan, the upload service and backfill may find the same match at the same moment."""
    value = secrets.token_hex(32)
    barrier = threading.Barrier(4)
    results: list[review.ReviewItem | None] = []

    def recorder(ref: str) -> None:
        barrier.wait()
        results.append(record_match(engine, ref, pdq_match(value), "scan"))

    threads = [threading.Thread(target=recorder, args=(ref,)) for ref in ("a", "a", "b", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(item.ref for item in results if item is not None) == ["a", "b"]
    assert results.count(None) == 2
    assert outbox(engine) == [("pdq", value, "pending_review")]
