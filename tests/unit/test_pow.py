"""The proof-of-work gate accepts each honest solution once and nothing else, without state."""

from __future__ import annotations

import base64
import hashlib
import statistics
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from takedown.errors import ConfigError, InvalidRequestError, ProofOfWorkError
from takedown.registry.pow import ProofOfWork, leading_zero_bits, solve

SECRET = b"s" * 32
PAYLOAD = struct.Struct(">16sQB")  # the documented layout: nonce, expiry, difficulty


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def gate(difficulty: int = 8, clock: FakeClock | None = None, **kwargs: int) -> ProofOfWork:
    return ProofOfWork(SECRET, difficulty, clock=clock or FakeClock(), **kwargs)


def work_bits(challenge: str, solution: str) -> int:
    return leading_zero_bits(hashlib.sha256(f"{challenge}:{solution}".encode()).digest())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def failing_solution(challenge: str, difficulty: int) -> str:
    return next(s for s in map(str, range(10_000)) if work_bits(challenge, s) < difficulty)


@pytest.mark.parametrize("difficulty", [8, 10, 12])
def test_a_solved_challenge_is_accepted(difficulty: int) -> None:
    pow_ = gate(difficulty)
    issued = pow_.issue()
    assert issued["difficulty"] == difficulty
    solution = solve(issued["challenge"], issued["difficulty"])
    assert work_bits(issued["challenge"], solution) >= difficulty
    pow_.verify(issued["challenge"], solution)


def test_a_challenge_expires_after_its_ttl() -> None:
    clock = FakeClock()
    pow_ = gate(clock=clock, ttl_seconds=300)
    issued = pow_.issue()
    assert issued["expires"] == int(clock.now) + 300
    solution = solve(issued["challenge"], 8)
    clock.now += 300
    with pytest.raises(ProofOfWorkError, match="expired"):
        pow_.verify(issued["challenge"], solution)
    clock.now -= 1
    pow_.verify(issued["challenge"], solution)


def test_a_wrong_solution_is_refused_and_does_not_spend_the_challenge() -> None:
    pow_ = gate(12)
    issued = pow_.issue()
    with pytest.raises(ProofOfWorkError, match="does not solve"):
        pow_.verify(issued["challenge"], failing_solution(issued["challenge"], 12))
    pow_.verify(issued["challenge"], solve(issued["challenge"], 12))


def test_a_solution_is_accepted_only_once() -> None:
    pow_ = gate()
    issued = pow_.issue()
    solution = solve(issued["challenge"], 8)
    pow_.verify(issued["challenge"], solution)
    with pytest.raises(ProofOfWorkError, match="already used"):
        pow_.verify(issued["challenge"], solution)


def test_another_solution_of_a_spent_challenge_is_refused_too() -> None:
    pow_ = gate(4)
    challenge = pow_.issue()["challenge"]
    first = solve(challenge, 4)
    second = next(
        s for s in map(str, range(int(first) + 1, 10_000)) if work_bits(challenge, s) >= 4
    )
    pow_.verify(challenge, first)
    with pytest.raises(ProofOfWorkError, match="already used"):
        pow_.verify(challenge, second)


def test_spent_challenges_are_forgotten_after_they_expire() -> None:
    clock = FakeClock()
    pow_ = gate(clock=clock, ttl_seconds=10, max_spent=2)
    for _ in range(2):
        issued = pow_.issue()
        pow_.verify(issued["challenge"], solve(issued["challenge"], 8))
    clock.now += 10
    fresh = pow_.issue()
    pow_.verify(fresh["challenge"], solve(fresh["challenge"], 8))
    assert pow_.spent_count == 1


def test_memory_is_bounded_by_forgetting_the_oldest_spent_challenge() -> None:
    pow_ = gate(max_spent=2)
    issued = [pow_.issue() for _ in range(3)]
    solutions = [solve(i["challenge"], 8) for i in issued]
    for one, solution in zip(issued, solutions, strict=True):
        pow_.verify(one["challenge"], solution)
    # Documented trade-off: past max_spent, the oldest spent challenge may be spent again.
    pow_.verify(issued[0]["challenge"], solutions[0])
    with pytest.raises(ProofOfWorkError, match="already used"):
        pow_.verify(issued[2]["challenge"], solutions[2])


def tamper(challenge: str, field: str) -> str:
    payload_text, tag_text = challenge.split(".")
    nonce, expires, difficulty = PAYLOAD.unpack(unb64(payload_text))
    tag = unb64(tag_text)
    if field == "nonce":
        nonce = bytes([nonce[0] ^ 1]) + nonce[1:]
    elif field == "expires":
        expires += 3600
    elif field == "difficulty":
        difficulty = 0
    elif field == "tag":
        tag = bytes([tag[0] ^ 1]) + tag[1:]
    return f"{b64(PAYLOAD.pack(nonce, expires, difficulty))}.{b64(tag)}"


@pytest.mark.parametrize("field", ["nonce", "expires", "difficulty", "tag"])
def test_an_altered_challenge_is_refused(field: str) -> None:
    pow_ = gate(8)
    altered = tamper(pow_.issue()["challenge"], field)
    with pytest.raises(ProofOfWorkError, match="not issued by this registry or was altered"):
        pow_.verify(altered, solve(altered, 8))


def test_a_challenge_from_another_secret_is_refused() -> None:
    theirs = ProofOfWork(b"t" * 32, 8).issue()["challenge"]
    with pytest.raises(ProofOfWorkError, match="not issued by this registry"):
        gate(8).verify(theirs, solve(theirs, 8))


def test_a_challenge_easier_than_the_current_difficulty_is_refused() -> None:
    clock = FakeClock()
    easy = gate(4, clock).issue()["challenge"]
    with pytest.raises(ProofOfWorkError, match="easier than the registry now requires"):
        gate(8, clock).verify(easy, solve(easy, 4))


def test_a_harder_challenge_still_counts() -> None:
    clock = FakeClock()
    hard = gate(10, clock).issue()["challenge"]
    gate(8, clock).verify(hard, solve(hard, 10))


def test_difficulty_zero_accepts_anything_well_formed() -> None:
    clock = FakeClock()
    off = gate(0, clock)
    assert not off.enabled
    issued = off.issue()
    assert issued["difficulty"] == 0
    off.verify(issued["challenge"], "0")
    off.verify(issued["challenge"], "0")
    off.verify(tamper(issued["challenge"], "tag"), "12345")
    clock.now += 10**6
    off.verify(issued["challenge"], "7")
    with pytest.raises(InvalidRequestError):
        off.verify("not a challenge", "0")
    with pytest.raises(InvalidRequestError):
        off.verify(issued["challenge"], "")


@pytest.mark.parametrize(
    "solution", ["", "-1", "1.0", " 1", "1 ", "0x10", "١٢", "1" * 21, "12a", "１"]
)
def test_a_solution_that_is_not_a_short_decimal_number_is_malformed(solution: str) -> None:
    pow_ = gate()
    challenge = pow_.issue()["challenge"]
    with pytest.raises(InvalidRequestError) as raised:
        pow_.verify(challenge, solution)
    assert type(raised.value) is InvalidRequestError


def test_another_spelling_of_a_challenge_is_malformed() -> None:
    pow_ = gate()
    challenge = pow_.issue()["challenge"]
    payload, tag = challenge.split(".")
    # 34 base64 characters carry 25 bytes: the last character has 4 unused bits. Flip one.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(payload[-1]) ^ 1]
    assert unb64(payload[:-1] + twin) == unb64(payload)
    solution = solve(challenge, 8)
    for spelling in [
        f"{payload[:-1]}{twin}.{tag}",
        f"{payload}==.{tag}",
        f"{payload}.{tag}=",
        f"{payload}..{tag}",
        f"+{payload[1:]}.{tag}",
        f" {challenge}",
        f"{challenge}\n",
        challenge[:-1],
        f"{challenge}.{tag}",
    ]:
        with pytest.raises(InvalidRequestError) as raised:
            pow_.verify(spelling, solution)
        assert type(raised.value) is InvalidRequestError, spelling
    pow_.verify(challenge, solution)


base64_texts = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.",
    max_size=90,
)
shaped_like_a_challenge = st.builds(
    "{}.{}".format,
    st.text(alphabet="AZaz09-_", min_size=34, max_size=34),
    st.text(alphabet="AZaz09-_", min_size=43, max_size=43),
)


@given(
    challenge=st.one_of(st.text(max_size=200), base64_texts, shaped_like_a_challenge),
    solution=st.one_of(st.text(max_size=30), st.from_regex(r"[0-9]{1,20}", fullmatch=True)),
)
def test_any_text_is_refused_with_a_request_error_only(challenge: str, solution: str) -> None:
    with pytest.raises(InvalidRequestError):
        gate(8).verify(challenge, solution)


@given(solution=st.text(max_size=30))
def test_any_solution_text_to_a_real_challenge_is_refused_with_a_request_error(
    solution: str,
) -> None:
    pow_ = gate(16)
    challenge = pow_.issue()["challenge"]
    with pytest.raises(InvalidRequestError):
        pow_.verify(challenge, solution)


def test_solving_costs_about_two_to_the_difficulty_hashes() -> None:
    def mean_attempts(bits: int) -> float:
        return statistics.fmean(int(solve(f"cost-{bits}-{i}", bits)) + 1 for i in range(40))

    easy, hard = mean_attempts(4), mean_attempts(10)
    # Attempts are geometric with mean 2**bits; 40 samples keep the mean within these loose bounds.
    assert 2**4 / 3 < easy < 2**4 * 3
    assert 2**10 / 3 < hard < 2**10 * 3
    assert hard > 8 * easy


def test_solve_at_difficulty_zero_is_immediate() -> None:
    assert solve("anything", 0) == "0"


@pytest.mark.parametrize(
    ("secret", "difficulty", "ttl"),
    [(b"short", 8, 300), (SECRET, -1, 300), (SECRET, 33, 300), (SECRET, 8, 0)],
)
def test_unusable_settings_are_a_config_error(secret: bytes, difficulty: int, ttl: int) -> None:
    with pytest.raises(ConfigError):
        ProofOfWork(secret, difficulty, ttl)
