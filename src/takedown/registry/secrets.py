"""Secrets the registry hands out: case numbers, PINs, API keys and media ids.

All come from `secrets`. PINs are stored as argon2id hashes (they are short: the hash must be
slow); API keys carry 256 random bits, so a SHA-256 of the key is enough, and it is compared in
constant time.

argon2id runs in libsodium (PyNaCl) when it can, and in argon2-cffi otherwise. Both write and
read the same standard strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`), but libsodium
picks an AVX2 or AVX-512 implementation at run time where argon2-cffi's wheels carry a
portable SSE2 one: at the default cost (2 passes, 2 MiB) a hash took 1.1 ms instead of 2.4 ms
on the benchmark machine, and a new case pays for one. libsodium only does one lane, so a
configured `parallelism` above 1, and any stored hash made with more than one lane, go to
argon2-cffi.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading

import argon2
import nacl.exceptions
import nacl.pwhash.argon2id as sodium_argon2id
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "CASE_ALPHABET",
    "CASE_NUMBER_LENGTH",
    "KEY_PREFIX",
    "MEDIA_ID_LENGTH",
    "PIN_DIGITS",
    "PinHasher",
    "display_case_number",
    "hash_api_key",
    "key_lookup",
    "keys_equal",
    "new_api_key",
    "new_case_number",
    "new_media_id",
    "new_media_ids",
    "new_pin",
    "normalise_case_number",
    "normalise_media_id",
    "normalise_pin",
]

CASE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""31 symbols without look-alikes (no 0 O 1 I L): about 59 bits in 12 characters."""
CASE_NUMBER_LENGTH = 12
PIN_DIGITS = 10
KEY_PREFIX = "tdk_"
_KEY_BYTES = 32
_KEY_BODY = re.compile(r"[a-z2-7]{52}")
MEDIA_ID_LENGTH = 16
_MEDIA_ID = re.compile(r"[a-z2-7]{16}")
_SEPARATORS = re.compile(r"[\s-]")


def new_case_number() -> str:
    """A fresh case number, 12 characters, stored without dashes: one uniform draw below
    31^12, written in base 31 (one call to the system's random source, not twelve)."""
    number = secrets.randbelow(len(CASE_ALPHABET) ** CASE_NUMBER_LENGTH)
    symbols = []
    for _ in range(CASE_NUMBER_LENGTH):
        number, digit = divmod(number, len(CASE_ALPHABET))
        symbols.append(CASE_ALPHABET[digit])
    return "".join(symbols)


def display_case_number(number: str) -> str:
    """XXXX-XXXX-XXXX, as shown to reporters."""
    return "-".join(number[i : i + 4] for i in range(0, len(number), 4))


def normalise_case_number(text: str) -> str | None:
    """The stored form of a case number typed with or without dashes/spaces, in any case;
    None if it cannot be one."""
    compact = _SEPARATORS.sub("", text).upper()
    if len(compact) != CASE_NUMBER_LENGTH or any(c not in CASE_ALPHABET for c in compact):
        return None
    return compact


def new_pin() -> str:
    """`PIN_DIGITS` (10) digits, shown to the reporter once."""
    return f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"


def normalise_pin(text: str) -> str | None:
    """The PIN typed with or without spaces and dashes; None unless exactly `PIN_DIGITS`
    ASCII digits remain."""
    compact = _SEPARATORS.sub("", text)
    if len(compact) != PIN_DIGITS or not compact.isascii() or not compact.isdigit():
        return None
    return compact


def new_media_id() -> str:
    """A public, opaque media id: 80 random bits as 16 lowercase base32 characters."""
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()


def new_media_ids(count: int) -> list[str]:
    """`count` media ids as `new_media_id` makes them, from one draw of random bytes."""
    text = base64.b32encode(secrets.token_bytes(10 * count)).decode("ascii").lower()
    return [text[i : i + MEDIA_ID_LENGTH] for i in range(0, len(text), MEDIA_ID_LENGTH)]


def normalise_media_id(text: str) -> str | None:
    lowered = text.strip().lower()
    return lowered if _MEDIA_ID.fullmatch(lowered) else None


def new_api_key() -> str:
    """`tdk_` + 32 random bytes in lowercase base32 (52 characters)."""
    body = base64.b32encode(secrets.token_bytes(_KEY_BYTES)).decode("ascii").rstrip("=")
    return KEY_PREFIX + body.lower()


def hash_api_key(key: str) -> str | None:
    """SHA-256 (hex) of a well-formed key, or None if `key` cannot be one of ours."""
    if not key.startswith(KEY_PREFIX) or not _KEY_BODY.fullmatch(key[len(KEY_PREFIX) :]):
        return None
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def key_lookup(key_hash: str) -> str:
    """The indexed prefix a key's row is found by before the full comparison."""
    return key_hash[:16]


def keys_equal(stored_hash: str, presented_hash: str) -> bool:
    return hmac.compare_digest(stored_hash.encode("ascii"), presented_hash.encode("ascii"))


class PinHasher:
    """argon2id with the configured cost; `verify` never raises for a wrong PIN or bad hash.

    At most `concurrency` hashes run at once (default: one per CPU): they are pure CPU, so
    more at a time finish no sooner, and they would crowd out of the CPUs the one thread
    every new case waits for, the database writer. With one lane (the default) hashing and
    checking run in libsodium (see the module's docstring)."""

    def __init__(
        self, *, time_cost: int, memory_kib: int, parallelism: int, concurrency: int = 0
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._sodium = parallelism == 1
        self._time_cost = time_cost
        self._memory_bytes = memory_kib * 1024
        self._decoy: str | None = None
        self._running = threading.BoundedSemaphore(concurrency or os.cpu_count() or 1)

    def hash(self, pin: str) -> str:
        with self._running:
            return self._hash(pin)

    def _hash(self, pin: str) -> str:
        if self._sodium:
            encoded = sodium_argon2id.str(
                pin.encode(), opslimit=self._time_cost, memlimit=self._memory_bytes
            )
            return encoded.decode("ascii")
        return self._hasher.hash(pin)

    def verify(self, pin_hash: str | None, pin: str) -> bool:
        """Whether `pin` matches; with no hash (unknown case) a decoy is checked instead, so
        that an unknown case number takes as long as a wrong PIN."""
        if pin_hash is None and self._decoy is None:
            self._decoy = self._hash(new_pin())  # made once, on first need
        stored = pin_hash or self._decoy or ""
        with self._running:
            return _argon2id_matches(self._hasher, stored, pin) and bool(pin_hash)


_ONE_LANE = re.compile(r"\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$")


def _argon2id_matches(hasher: argon2.PasswordHasher, stored: str, pin: str) -> bool:
    """Check `pin` against a stored argon2id string: in libsodium if it was made with one
    lane (every hash at the default settings), else in argon2-cffi."""
    try:
        if _ONE_LANE.match(stored):
            return bool(sodium_argon2id.verify(stored.encode("ascii"), pin.encode()))
        return hasher.verify(stored, pin)
    except (
        nacl.exceptions.CryptoError,
        VerifyMismatchError,
        VerificationError,
        InvalidHashError,
        UnicodeEncodeError,  # a stored string that is not ASCII cannot be a hash of ours
    ):
        return False
