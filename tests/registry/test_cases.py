"""Reporters: create a case, check its status, add media, withdraw; PINs and their lockout."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from takedown.errors import (
    AuthError,
    ConflictError,
    InvalidRequestError,
    LockedError,
    NotFoundError,
)
from takedown.registry import secrets
from takedown.registry.service import Registry
from tests.registry import factories as f
from tests.registry.backends import FakeClock

CASE_NUMBER = re.compile(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}")


def wrong(pin: str) -> str:
    return "0000000000" if pin != "0000000000" else "1111111111"


def test_a_new_case_gets_a_number_a_pin_and_one_id_per_media_item(registry: Registry) -> None:
    rng = random.Random(1)
    created = registry.create_case("adult", "en", [f.image(rng), f.image(rng)])

    assert CASE_NUMBER.fullmatch(created.case_number)
    assert re.fullmatch(r"[0-9]{10}", created.pin)
    assert len(created.media_ids) == 2
    assert all(re.fullmatch(r"[a-z2-7]{16}", m) for m in created.media_ids)
    assert len(set(created.media_ids)) == 2


def test_status_lists_each_media_item_as_pending(registry: Registry, clock: FakeClock) -> None:
    rng = random.Random(2)
    created = registry.create_case(
        "minor", "pt-BR", [f.image(rng), f.video(rng, [(f.pdq(rng), 90)])]
    )

    status = registry.case_status(created.case_number, created.pin)

    assert status.case_number == created.case_number
    assert status.age_group == "minor"
    assert status.status == "active"
    assert status.created_day == clock.now.date()
    assert [(m.media_id, m.kind, m.status, m.seen_by, m.removed_by) for m in status.media] == [
        (created.media_ids[0], "image", "pending", 0, 0),
        (created.media_ids[1], "video", "pending", 0, 0),
    ]


def test_the_case_number_is_accepted_without_dashes_and_in_lower_case(registry: Registry) -> None:
    created = registry.create_case("adult", "en", [f.image(random.Random(3))])
    typed = created.case_number.replace("-", "").lower()

    assert registry.case_status(typed, created.pin).case_number == created.case_number
    assert registry.case_status(f" {created.case_number} ", created.pin).status == "active"


def test_added_media_show_up_in_the_status(registry: Registry) -> None:
    rng = random.Random(4)
    created = registry.create_case("adult", "en", [f.image(rng)])

    added = registry.add_media(created.case_number, created.pin, [f.image(rng), f.image(rng)])

    ids = [m.media_id for m in registry.case_status(created.case_number, created.pin).media]
    assert ids == [*created.media_ids, *added]


def test_withdrawing_one_media_item_leaves_the_others(registry: Registry) -> None:
    rng = random.Random(5)
    created = registry.create_case("adult", "en", [f.image(rng), f.image(rng)])

    registry.withdraw_media(created.case_number, created.pin, created.media_ids[0].upper())
    registry.withdraw_media(created.case_number, created.pin, created.media_ids[0])  # again: no-op

    status = registry.case_status(created.case_number, created.pin)
    assert status.status == "active"
    assert [m.status for m in status.media] == ["withdrawn", "pending"]


def test_a_withdrawn_case_shows_all_media_withdrawn_and_takes_no_more(registry: Registry) -> None:
    rng = random.Random(6)
    created = registry.create_case("adult", "en", [f.image(rng), f.image(rng)])

    registry.withdraw_case(created.case_number, created.pin)
    registry.withdraw_case(created.case_number, created.pin)  # again: no-op

    status = registry.case_status(created.case_number, created.pin)
    assert status.status == "withdrawn"
    assert [m.status for m in status.media] == ["withdrawn", "withdrawn"]
    with pytest.raises(ConflictError, match="withdrawn"):
        registry.add_media(created.case_number, created.pin, [f.image(rng)])


def test_the_pin_is_accepted_with_spaces_and_dashes(registry: Registry) -> None:
    created = registry.create_case("adult", "en", [f.image(random.Random(30))])
    pin = created.pin
    typed = f" {pin[:3]}-{pin[3:6]} {pin[6:]} "

    assert registry.case_status(created.case_number, typed).case_number == created.case_number


def test_a_media_id_of_another_case_is_not_found(registry: Registry) -> None:
    rng = random.Random(7)
    mine = registry.create_case("adult", "en", [f.image(rng)])
    theirs = registry.create_case("adult", "en", [f.image(rng)])

    with pytest.raises(NotFoundError, match="media_id"):
        registry.withdraw_media(mine.case_number, mine.pin, theirs.media_ids[0])
    status = registry.case_status(theirs.case_number, theirs.pin)
    assert status.media[0].status == "pending"


def test_unknown_case_and_wrong_pin_give_the_same_error(registry: Registry) -> None:
    created = registry.create_case("adult", "en", [f.image(random.Random(8))])
    unknown = "2345-6789-ABCD" if created.case_number != "2345-6789-ABCD" else "3456-789A-BCDE"

    with pytest.raises(AuthError) as wrong_pin:
        registry.case_status(created.case_number, wrong(created.pin))
    with pytest.raises(AuthError) as no_case:
        registry.case_status(unknown, created.pin)

    assert str(wrong_pin.value) == str(no_case.value)


MALFORMED = [
    ("2345-6789-ABC", "1234567890", "case_number"),
    ("2345-6789-ABCI", "1234567890", "case_number"),  # I is not in the alphabet
    ("2345-6789-ABCD", "12345678", "pin"),  # the old 8-digit length
    ("2345-6789-ABCD", "123456789", "pin"),
    ("2345-6789-ABCD", "12345678901", "pin"),
    ("2345-6789-ABCD", "123456789x", "pin"),
    ("2345-6789-ABCD", "١٢٣٤٥٦٧٨٩٠", "pin"),  # Arabic-Indic digits: digits, but not ours
]


def test_malformed_case_numbers_and_pins_are_invalid_requests(registry: Registry) -> None:
    for number, pin, field in MALFORMED:
        with pytest.raises(InvalidRequestError, match=f"^{field}: "):
            registry.case_status(number, pin)
        with pytest.raises(InvalidRequestError, match=f"^{field}: "):
            registry.withdraw_case(number, pin)


def test_five_wrong_pins_lock_the_case_even_for_the_right_pin(
    registry: Registry, clock: FakeClock
) -> None:
    created = registry.create_case("adult", "en", [f.image(random.Random(9))])
    for _ in range(5):
        with pytest.raises(AuthError):
            registry.case_status(created.case_number, wrong(created.pin))

    with pytest.raises(LockedError) as locked:
        registry.case_status(created.case_number, created.pin)
    assert locked.value.retry_after == 60

    clock.advance(59)
    with pytest.raises(LockedError) as still:
        registry.withdraw_case(created.case_number, created.pin)
    assert still.value.retry_after == 1

    clock.advance(1)
    assert registry.case_status(created.case_number, created.pin).status == "active"


def test_each_further_wrong_pin_doubles_the_lock_up_to_a_day(
    registry: Registry, clock: FakeClock
) -> None:
    created = registry.create_case("adult", "en", [f.image(random.Random(10))])
    for _ in range(5):
        with pytest.raises(AuthError):
            registry.case_status(created.case_number, wrong(created.pin))
    locks = []
    for _ in range(12):
        with pytest.raises(LockedError) as locked:
            registry.case_status(created.case_number, wrong(created.pin))
        locks.append(locked.value.retry_after)
        clock.advance(locked.value.retry_after)
        with pytest.raises(AuthError):  # the lock is over: this wrong PIN locks again
            registry.case_status(created.case_number, wrong(created.pin))

    assert locks == [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 61440, 86400]


def test_a_correct_pin_resets_the_count(registry: Registry, clock: FakeClock) -> None:
    created = registry.create_case("adult", "en", [f.image(random.Random(11))])
    for _ in range(4):
        with pytest.raises(AuthError):
            registry.case_status(created.case_number, wrong(created.pin))
    registry.case_status(created.case_number, created.pin)
    for _ in range(4):
        with pytest.raises(AuthError):
            registry.case_status(created.case_number, wrong(created.pin))

    assert registry.case_status(created.case_number, created.pin).status == "active"


def test_the_lock_is_per_case(registry: Registry) -> None:
    rng = random.Random(12)
    locked = registry.create_case("adult", "en", [f.image(rng)])
    other = registry.create_case("adult", "en", [f.image(rng)])
    for _ in range(5):
        with pytest.raises(AuthError):
            registry.case_status(locked.case_number, wrong(locked.pin))

    assert registry.case_status(other.case_number, other.pin).status == "active"


def test_case_numbers_use_every_symbol_in_every_position() -> None:
    numbers = [secrets.new_case_number() for _ in range(3000)]

    assert all(len(number) == secrets.CASE_NUMBER_LENGTH for number in numbers)
    for position in range(secrets.CASE_NUMBER_LENGTH):
        counts = Counter(number[position] for number in numbers)
        assert set(counts) == set(secrets.CASE_ALPHABET)
        # About 97 each; a biased digit (or a stuck one) would be far off.
        assert 40 < min(counts.values()) <= max(counts.values()) < 170
    assert len(set(numbers)) == len(numbers)


def test_media_ids_drawn_together_are_well_formed_and_distinct() -> None:
    ids = secrets.new_media_ids(500)

    assert len(ids) == 500
    assert all(secrets.normalise_media_id(media_id) == media_id for media_id in ids)
    assert len(set(ids)) == 500
