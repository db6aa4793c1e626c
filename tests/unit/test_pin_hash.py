"""PIN hashing: argon2id strings from libsodium (one lane) and argon2-cffi (several lanes)
are the same standard format, so either library checks what the other wrote."""

from __future__ import annotations

import argon2
import pytest

from takedown.registry.secrets import PinHasher, new_pin

PIN = "0123456789"


def hasher(lanes: int = 1) -> PinHasher:
    return PinHasher(time_cost=2, memory_kib=64 * lanes, parallelism=lanes)


def test_one_lane_hash_is_standard_argon2id_with_the_configured_cost() -> None:
    stored = hasher().hash(PIN)
    assert stored.startswith("$argon2id$v=19$m=64,t=2,p=1$")
    reference = argon2.PasswordHasher(time_cost=2, memory_cost=64, parallelism=1)
    assert reference.verify(stored, PIN)
    assert not reference.check_needs_rehash(stored)


@pytest.mark.parametrize("lanes", [1, 4])
def test_right_and_wrong_pins(lanes: int) -> None:
    pins = hasher(lanes)
    stored = pins.hash(PIN)
    assert f",p={lanes}$" in stored
    assert pins.verify(stored, PIN)
    assert not pins.verify(stored, "0123456788")
    assert stored != pins.hash(PIN)  # salted


def test_hashes_of_the_other_library_are_checked() -> None:
    by_cffi = argon2.PasswordHasher(time_cost=1, memory_cost=32, parallelism=2).hash(PIN)
    by_cffi_one_lane = argon2.PasswordHasher(time_cost=3, memory_cost=16, parallelism=1).hash(PIN)
    by_sodium = hasher(1).hash(PIN)
    for pins in (hasher(1), hasher(4)):
        for stored in (by_cffi, by_cffi_one_lane, by_sodium):
            assert pins.verify(stored, PIN), stored
            assert not pins.verify(stored, "9999999999"), stored


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=64,t=2,p=1$c2FsdHNhbHQ$",
        "$argon2id$v=19$m=64,t=2,p=1$!!!$!!!",
        "$argon2i$v=19$m=64,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=64,t=2,p=1$" + "A" * 300,
        "$argon2id$v=19$m=64,t=2,p=1$ünïcode",
    ],
)
def test_a_damaged_stored_hash_is_a_wrong_pin_not_an_error(stored: str) -> None:
    assert not hasher().verify(stored, PIN)


def test_unknown_case_checks_a_decoy_and_never_matches() -> None:
    pins = hasher()
    assert not pins.verify(None, PIN)
    assert not pins.verify(None, new_pin())
