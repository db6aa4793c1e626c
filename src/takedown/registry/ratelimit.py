"""In-memory token buckets keyed by what is asked for (an endpoint, a platform, a case), never by
who asks: the registry does not see or keep reporters' IP addresses (docs/abuse.md)."""

from __future__ import annotations

import ipaddress
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from takedown.errors import ConfigError, RateLimitedError

__all__ = ["DEFAULT_RATES", "Limits", "Rate", "RateLimiter"]

Clock = Callable[[], float]
_N = TypeVar("_N", int, float)


class RateLimiter:
    """One token bucket per key: `burst` requests at once, refilled at `rate_per_second`.

    At most `max_keys` buckets are kept; the least recently used is forgotten first (it comes
    back full). Safe to share between threads.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        clock: Clock = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if not (math.isfinite(rate_per_second) and rate_per_second > 0):
            raise ConfigError(f"a rate limit must be a positive number, got {rate_per_second}")
        if burst < 1:
            raise ConfigError(f"a rate limit's burst must be at least 1, got {burst}")
        if max_keys < 1:
            raise ConfigError(f"max_keys must be at least 1, got {max_keys}")
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Take one token from `key`'s bucket, or raise RateLimitedError (retry_after >= 1 s).

        ValueError if the key is or contains an IP address: that would be a bug, not input.
        """
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                _refuse_addresses(key)
                bucket = _Bucket(tokens=float(self.burst), updated=now)
                self._buckets[key] = bucket
                if len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                refill = max(0.0, now - bucket.updated) * self.rate_per_second
                bucket.tokens = min(float(self.burst), bucket.tokens + refill)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / self.rate_per_second
        retry_after = max(1, math.ceil(wait))
        raise RateLimitedError(
            f"too many requests right now; try again in {retry_after} s", retry_after=retry_after
        )

    def __len__(self) -> int:
        """How many keys have a bucket (at most `max_keys`)."""
        with self._lock:
            return len(self._buckets)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


def _refuse_addresses(key: str) -> None:
    for part in (key, *key.split(":")):
        try:
            ipaddress.ip_address(part)
        except ValueError:
            continue
        raise ValueError("rate-limit keys must never be IP addresses (reporters' privacy)")


@dataclass(frozen=True)
class Rate:
    """A configured limit: sustained requests per second, and how many may come at once."""

    per_second: float
    burst: int


DEFAULT_RATES: Mapping[str, Rate] = {
    "create": Rate(per_second=50.0, burst=200),
    "case": Rate(per_second=1.0, burst=10),
    "match": Rate(per_second=5.0, burst=20),
    "feed": Rate(per_second=20.0, burst=100),
}
"""Overridden by TAKEDOWN_RATE_<NAME>_PER_S and TAKEDOWN_RATE_<NAME>_BURST."""


@dataclass(frozen=True)
class Limits:
    """The limiters the API applies, each with its own key scheme (never a client address).

    - create: one global bucket for anonymous case creation ("global:create_case");
    - case: per case number, for a reporter's status / add / withdraw ("case:<number>:<action>"),
      which caps the PIN checks (argon2) that one case can trigger;
    - match: per platform, for the hosted match ("platform:<id>:match");
    - feed: per platform, for feed and snapshot reads ("platform:<id>:feed").
    """

    create: RateLimiter
    case: RateLimiter
    match: RateLimiter
    feed: RateLimiter

    @classmethod
    def from_rates(cls, rates: Mapping[str, Rate], *, clock: Clock = time.monotonic) -> Limits:
        """Limiters for the given rates; names missing from `rates` get DEFAULT_RATES."""
        unknown = sorted(set(rates) - set(DEFAULT_RATES))
        if unknown:
            raise ConfigError(f"unknown rate limit {unknown[0]!r}; known: {sorted(DEFAULT_RATES)}")
        merged = {**DEFAULT_RATES, **rates}
        limiters = {
            name: RateLimiter(rate.per_second, rate.burst, clock=clock)
            for name, rate in merged.items()
        }
        return cls(**limiters)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Clock = time.monotonic,
        processes: int = 1,
    ) -> Limits:
        """Limits from TAKEDOWN_RATE_{CREATE,CASE,MATCH,FEED}_{PER_S,BURST} (`os.environ` if
        `environ` is None); unset ones keep DEFAULT_RATES. ConfigError names a bad variable.

        With `processes` > 1 (server processes sharing the load, each with its own buckets),
        each gets that share of every rate and burst (a burst at least 1), so that together
        they allow what is configured."""
        env = os.environ if environ is None else environ
        if processes < 1:
            raise ConfigError(f"processes must be at least 1, got {processes}")
        rates = {}
        for name, default in DEFAULT_RATES.items():
            prefix = f"TAKEDOWN_RATE_{name.upper()}"
            per_second = _env_number(env, f"{prefix}_PER_S", float, default.per_second)
            burst = _env_number(env, f"{prefix}_BURST", int, default.burst)
            rates[name] = Rate(per_second=per_second / processes, burst=max(1, burst // processes))
        return cls.from_rates(rates, clock=clock)

    def check_create(self) -> None:
        self.create.check("global:create_case")

    def check_case(self, case_number: str, action: str) -> None:
        """`case_number` as the client sent it: dashes and letter case do not make a new key."""
        normalized = "".join(ch for ch in case_number.upper() if ch.isascii() and ch.isalnum())
        self.case.check(f"case:{normalized[:32]}:{action}")

    def check_match(self, platform_id: int) -> None:
        self.match.check(f"platform:{platform_id}:match")

    def check_feed(self, platform_id: int) -> None:
        self.feed.check(f"platform:{platform_id}:feed")


def _env_number(environ: Mapping[str, str], name: str, kind: type[_N], default: _N) -> _N:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ConfigError(
            f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}"
        ) from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be greater than 0, got {raw!r}")
    return value
