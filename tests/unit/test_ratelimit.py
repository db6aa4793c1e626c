"""Token buckets: a burst, then the sustained rate; keys apart; bounded memory; thread-safe."""

from __future__ import annotations

import math
import threading
import time

import pytest

from takedown.errors import ConfigError, RateLimitedError
from takedown.registry.ratelimit import DEFAULT_RATES, Limits, Rate, RateLimiter


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def allowed(limiter: RateLimiter, key: str, times: int) -> int:
    passed = 0
    for _ in range(times):
        try:
            limiter.check(key)
        except RateLimitedError:
            continue
        passed += 1
    return passed


def retry_after(limiter: RateLimiter, key: str) -> int:
    with pytest.raises(RateLimitedError) as raised:
        limiter.check(key)
    return raised.value.retry_after


def test_a_burst_passes_then_the_bucket_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=2.0, burst=5, clock=clock)
    assert allowed(limiter, "global:create_case", 8) == 5
    clock.now += 1.0
    assert allowed(limiter, "global:create_case", 8) == 2
    clock.now += 0.25
    assert allowed(limiter, "global:create_case", 1) == 0
    clock.now += 0.25
    assert allowed(limiter, "global:create_case", 1) == 1


def test_a_long_pause_refills_no_more_than_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=10.0, burst=3, clock=clock)
    assert allowed(limiter, "k:1", 3) == 3
    clock.now += 3600
    assert allowed(limiter, "k:1", 10) == 3


def test_retry_after_is_the_whole_seconds_until_the_next_token() -> None:
    clock = FakeClock()
    slow = RateLimiter(rate_per_second=0.25, burst=1, clock=clock)
    slow.check("k:1")
    assert retry_after(slow, "k:1") == 4
    clock.now += 1.5
    assert retry_after(slow, "k:1") == 3  # 2.5 s to go, rounded up
    clock.now += 2.5
    slow.check("k:1")


def test_retry_after_is_at_least_one_second() -> None:
    fast = RateLimiter(rate_per_second=100.0, burst=1, clock=FakeClock())
    fast.check("k:1")
    assert retry_after(fast, "k:1") == 1


def test_a_refused_request_takes_no_token() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=1.0, burst=1, clock=clock)
    limiter.check("k:1")
    for _ in range(5):
        retry_after(limiter, "k:1")
    clock.now += 1.0
    limiter.check("k:1")


def test_keys_have_their_own_buckets() -> None:
    limiter = RateLimiter(rate_per_second=1.0, burst=2, clock=FakeClock())
    assert allowed(limiter, "platform:1:match", 5) == 2
    assert allowed(limiter, "platform:2:match", 5) == 2
    assert allowed(limiter, "platform:1:feed", 5) == 2


def test_the_least_recently_used_key_is_forgotten_past_max_keys() -> None:
    limiter = RateLimiter(rate_per_second=1.0, burst=1, clock=FakeClock(), max_keys=2)
    limiter.check("case:A:status")
    limiter.check("case:B:status")
    retry_after(limiter, "case:A:status")  # A is now more recently used than B
    limiter.check("case:C:status")  # evicts B
    assert len(limiter) == 2
    retry_after(limiter, "case:A:status")
    retry_after(limiter, "case:C:status")
    limiter.check("case:B:status")  # forgotten, so it came back with a full bucket
    assert len(limiter) == 2


def test_many_keys_keep_memory_bounded() -> None:
    limiter = RateLimiter(rate_per_second=1.0, burst=1, clock=FakeClock(), max_keys=100)
    for number in range(1000):
        limiter.check(f"case:{number}:status")
    assert len(limiter) == 100


def test_concurrent_threads_never_get_more_than_the_burst() -> None:
    limiter = RateLimiter(rate_per_second=1.0, burst=50, clock=FakeClock())
    passed: list[int] = []
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        passed.append(allowed(limiter, "global:create_case", 200))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(passed) == 50


def test_concurrent_threads_on_a_real_clock_stay_within_burst_plus_refill() -> None:
    limiter = RateLimiter(rate_per_second=100.0, burst=20)
    passed: list[int] = []

    def hammer() -> None:
        passed.append(allowed(limiter, "global:create_case", 2000))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    assert 20 <= sum(passed) <= 20 + math.ceil(100 * elapsed)


@pytest.mark.parametrize("key", ["203.0.113.7", "::1", "2001:db8::1", "ip:203.0.113.7:create"])
def test_an_ip_address_is_never_accepted_as_a_key(key: str) -> None:
    limiter = RateLimiter(rate_per_second=1.0, burst=1)
    with pytest.raises(ValueError, match="never be IP addresses"):
        limiter.check(key)
    assert len(limiter) == 0


@pytest.mark.parametrize(
    ("rate", "burst", "max_keys"),
    [
        (0.0, 1, 1),
        (-1.0, 1, 1),
        (float("inf"), 1, 1),
        (float("nan"), 1, 1),
        (1.0, 0, 1),
        (1.0, 1, 0),
    ],
)
def test_unusable_limits_are_a_config_error(rate: float, burst: int, max_keys: int) -> None:
    with pytest.raises(ConfigError):
        RateLimiter(rate, burst, max_keys=max_keys)


def test_limits_default_to_the_documented_rates() -> None:
    limits = Limits.from_env({})
    assert (limits.create.rate_per_second, limits.create.burst) == (50.0, 200)
    assert (limits.match.rate_per_second, limits.match.burst) == (5.0, 20)
    assert (limits.feed.rate_per_second, limits.feed.burst) == (20.0, 100)
    assert (limits.case.rate_per_second, limits.case.burst) == (1.0, 10)
    assert DEFAULT_RATES["create"] == Rate(50.0, 200)


def test_limits_are_configured_from_the_environment() -> None:
    limits = Limits.from_env(
        {
            "TAKEDOWN_RATE_CREATE_PER_S": "1000",
            "TAKEDOWN_RATE_CREATE_BURST": "2000",
            "TAKEDOWN_RATE_MATCH_PER_S": "0.5",
            "TAKEDOWN_RATE_FEED_BURST": " ",
        }
    )
    assert (limits.create.rate_per_second, limits.create.burst) == (1000.0, 2000)
    assert (limits.match.rate_per_second, limits.match.burst) == (0.5, 20)
    assert (limits.feed.rate_per_second, limits.feed.burst) == (20.0, 100)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TAKEDOWN_RATE_CREATE_PER_S", "fast"),
        ("TAKEDOWN_RATE_CREATE_PER_S", "0"),
        ("TAKEDOWN_RATE_CREATE_PER_S", "inf"),
        ("TAKEDOWN_RATE_FEED_BURST", "1.5"),
        ("TAKEDOWN_RATE_CASE_BURST", "-3"),
    ],
)
def test_a_bad_environment_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Limits.from_env({variable: value})


def test_unknown_rate_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown rate limit 'upload'"):
        Limits.from_rates({"upload": Rate(1.0, 1)})


def test_limits_build_their_own_keys() -> None:
    clock = FakeClock()
    limits = Limits.from_rates(
        {name: Rate(per_second=1.0, burst=1) for name in DEFAULT_RATES}, clock=clock
    )
    limits.check_create()
    with pytest.raises(RateLimitedError):
        limits.check_create()
    limits.check_match(1)
    limits.check_match(2)
    limits.check_feed(1)
    with pytest.raises(RateLimitedError):
        limits.check_match(1)
    limits.check_case("abcd-efgh-jkmn", "status")
    limits.check_case("ABCDEFGHJKMN", "withdraw")
    # Spelling the case number differently does not buy a new bucket.
    with pytest.raises(RateLimitedError):
        limits.check_case(" ABCD EFGH JKMN ", "status")


@pytest.mark.parametrize("junk", ["", "1.2.3.4", "::1", "a:b:c", "x" * 10_000, "ǅ"])
def test_any_case_number_text_is_rate_limited_not_a_crash(junk: str) -> None:
    limits = Limits.from_rates({"case": Rate(per_second=1.0, burst=1)}, clock=FakeClock())
    limits.check_case(junk, "status")
    with pytest.raises(RateLimitedError):
        limits.check_case(junk, "status")
