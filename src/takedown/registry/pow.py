"""Proof of work for anonymous endpoints: flooding the registry costs CPU, and identifies no one.

A challenge is signed with HMAC, so the server keeps no state to issue or check it; it only
remembers spent challenges until they expire, so that one solution buys one request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypedDict

from takedown.errors import ConfigError, InvalidRequestError, ProofOfWorkError

__all__ = [
    "MAX_DIFFICULTY",
    "MAX_SOLUTION_DIGITS",
    "Challenge",
    "ProofOfWork",
    "leading_zero_bits",
    "solve",
]

MAX_DIFFICULTY = 32
"""Highest accepted setting: each bit doubles the reporter's wait, and 32 bits take hours."""

MAX_SOLUTION_DIGITS = 20
"""A solution is a decimal counter; 20 digits hold any 64-bit count."""

MIN_SECRET_BYTES = 16

_NONCE_BYTES = 16
_PAYLOAD = struct.Struct(f">{_NONCE_BYTES}sQB")
"""Random nonce, expiry (Unix seconds), difficulty in bits."""

_TAG_CONTEXT = b"takedown proof-of-work challenge v1\x00"
_PAYLOAD_CHARS = len(base64.urlsafe_b64encode(bytes(_PAYLOAD.size)).rstrip(b"="))
_TAG_CHARS = len(base64.urlsafe_b64encode(bytes(hashlib.sha256().digest_size)).rstrip(b"="))
_CHALLENGE = re.compile(
    f"(?P<payload>[A-Za-z0-9_-]{{{_PAYLOAD_CHARS}}})\\.(?P<tag>[A-Za-z0-9_-]{{{_TAG_CHARS}}})"
)
_SOLUTION = re.compile(f"[0-9]{{1,{MAX_SOLUTION_DIGITS}}}")

Clock = Callable[[], float]


class Challenge(TypedDict):
    """What the client receives: solve `challenge` at `difficulty` bits before `expires`."""

    challenge: str
    difficulty: int
    expires: int


class ProofOfWork:
    """Issues and checks challenges: SHA-256(challenge + ":" + solution) must start with
    `difficulty_bits` zero bits.

    Every server process that may receive the answer must share `secret`. Spent challenges are
    remembered in this process only (at most `max_spent`, oldest forgotten first): with several
    processes a challenge can be spent once per process, which is acceptable because every
    spend still needed the work once. `difficulty_bits=0` turns the check off: `verify` then
    accepts anything well-formed.
    """

    def __init__(
        self,
        secret: bytes,
        difficulty_bits: int,
        ttl_seconds: int = 300,
        clock: Clock = time.time,
        *,
        max_spent: int = 100_000,
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"the proof-of-work secret must be at least {MIN_SECRET_BYTES} random bytes"
            )
        if not 0 <= difficulty_bits <= MAX_DIFFICULTY:
            raise ConfigError(
                f"proof-of-work difficulty must be 0 (off) to {MAX_DIFFICULTY} bits, "
                f"got {difficulty_bits}"
            )
        if ttl_seconds < 1:
            raise ConfigError(f"proof-of-work ttl must be at least 1 s, got {ttl_seconds}")
        if max_spent < 1:
            raise ConfigError(f"max_spent must be at least 1, got {max_spent}")
        self._secret = secret
        self.difficulty_bits = difficulty_bits
        self.ttl_seconds = ttl_seconds
        self.max_spent = max_spent
        self._clock = clock
        self._spent: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.difficulty_bits > 0

    @property
    def spent_count(self) -> int:
        """Spent challenges remembered (at most `max_spent`; expired ones are dropped lazily)."""
        with self._lock:
            return len(self._spent)

    def issue(self) -> Challenge:
        """A fresh challenge at the current difficulty, valid for `ttl_seconds`."""
        expires = int(self._clock()) + self.ttl_seconds
        payload = _PAYLOAD.pack(secrets.token_bytes(_NONCE_BYTES), expires, self.difficulty_bits)
        challenge = f"{_b64encode(payload)}.{_b64encode(self._tag(payload))}"
        return {"challenge": challenge, "difficulty": self.difficulty_bits, "expires": expires}

    def verify(self, challenge: str, solution: str) -> None:
        """Accept the solution once, or raise.

        InvalidRequestError: the challenge or solution is not in the documented form.
        ProofOfWorkError: well-formed, but not issued here, altered, expired, easier than the
        current difficulty, not a solution, or already spent.
        """
        payload, tag = _parse_challenge(challenge)
        if not _SOLUTION.fullmatch(solution):
            raise InvalidRequestError(
                f"a proof-of-work solution is a decimal number of 1-{MAX_SOLUTION_DIGITS} digits"
            )
        if not self.enabled:
            return
        if not hmac.compare_digest(tag, self._tag(payload)):
            raise ProofOfWorkError(
                "this proof-of-work challenge was not issued by this registry or was altered; "
                "request a new challenge"
            )
        nonce: bytes
        expires: int
        difficulty: int
        nonce, expires, difficulty = _PAYLOAD.unpack(payload)
        now = self._clock()
        if now >= expires:
            raise ProofOfWorkError("the proof-of-work challenge expired; request a new challenge")
        if difficulty < self.difficulty_bits:
            raise ProofOfWorkError(
                "the proof-of-work challenge is easier than the registry now requires; "
                "request a new challenge"
            )
        if leading_zero_bits(_work(challenge, solution)) < difficulty:
            raise ProofOfWorkError(
                "the proof-of-work solution does not solve the challenge; solve it again"
            )
        self._spend(nonce, expires, now)

    def _spend(self, nonce: bytes, expires: int, now: float) -> None:
        with self._lock:
            # Spent challenges are (nearly) in expiry order: drop the expired ones from the front.
            while self._spent:
                oldest, oldest_expires = next(iter(self._spent.items()))
                if oldest_expires > now:
                    break
                del self._spent[oldest]
            if nonce in self._spent:
                raise ProofOfWorkError(
                    "this proof-of-work challenge was already used; request a new challenge"
                )
            self._spent[nonce] = expires
            if len(self._spent) > self.max_spent:
                self._spent.popitem(last=False)

    def _tag(self, payload: bytes) -> bytes:
        return hmac.digest(self._secret, _TAG_CONTEXT + payload, "sha256")


def solve(challenge: str, difficulty: int) -> str:
    """The reference solver: the smallest decimal counter whose work hash has `difficulty`
    leading zero bits. Expect about 2**difficulty hashes (docs/abuse.md has timings)."""
    if not 0 <= difficulty <= 256:
        raise ValueError(f"difficulty must be 0-256 bits, got {difficulty}")
    prefix = hashlib.sha256(f"{challenge}:".encode())
    bound = 1 << (256 - difficulty)
    counter = 0
    while True:
        candidate = str(counter).encode("ascii")
        attempt = prefix.copy()
        attempt.update(candidate)
        if int.from_bytes(attempt.digest(), "big") < bound:
            return candidate.decode("ascii")
        counter += 1


def leading_zero_bits(digest: bytes) -> int:
    """How many of the digest's first bits (big-endian) are zero."""
    return len(digest) * 8 - int.from_bytes(digest, "big").bit_length()


def _work(challenge: str, solution: str) -> bytes:
    return hashlib.sha256(f"{challenge}:{solution}".encode()).digest()


def _parse_challenge(challenge: str) -> tuple[bytes, bytes]:
    malformed = InvalidRequestError(
        "the proof-of-work challenge is malformed; send it exactly as the registry issued it"
    )
    match = _CHALLENGE.fullmatch(challenge)
    if match is None:
        raise malformed
    try:
        payload = _b64decode(match["payload"])
        tag = _b64decode(match["tag"])
    except (binascii.Error, ValueError):
        raise malformed from None
    # Only the canonical encoding counts, so one challenge has exactly one spelling.
    if _b64encode(payload) != match["payload"] or _b64encode(tag) != match["tag"]:
        raise malformed
    return payload, tag


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
