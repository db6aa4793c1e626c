"""What the outbox senders share: the retry policy and a lease so one sender runs at a time.

Rows are sent in id order, and a sender stops at the first batch it cannot deliver, so a
later verdict on a signal never overtakes an earlier one. Two senders at once could still
interleave their requests; the lease (a row in `agent_meta`) prevents that.
"""

from __future__ import annotations

import email.utils
import math
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from takedown.platform.store import write
from takedown.platform.tables import agent_meta

__all__ = [
    "LEASE_SECONDS",
    "Lease",
    "RetryPolicy",
    "Sleep",
    "is_retryable",
    "retry_after",
    "short_error",
]

LEASE_SECONDS = 300
"""How long a sender holds the outbox without renewing it (a crashed sender's lease lapses)."""

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off for one batch: `attempts` tries in all, waiting `base`, then
    `base * factor`, ... (at most `cap` seconds, with jitter down to half of it), or what the
    server's Retry-After asks for 429/503 if that is at most `max_retry_after`."""

    attempts: int = 6
    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    max_retry_after: float = 120.0

    def delay(self, retry: int, asked: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        if asked is not None:
            return asked
        full = min(self.cap, self.base * self.factor ** (retry - 1))
        return full * (0.5 + random.random() / 2)  # noqa: S311 (jitter, not a secret)


def is_retryable(status: int) -> bool:
    """Statuses worth trying again later: the registry is overloaded, restarting or broken."""
    return status in (408, 429) or status >= 500


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent or
    unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, math.ceil(seconds))


def short_error(response: httpx.Response) -> str:
    """`HTTP 404 not_found: items[0]: no such signal ...` from the registry's error shape."""
    try:
        body = response.json()
        error = body["error"]
        detail = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        detail = response.text[:200].strip() or response.reason_phrase
    return f"HTTP {response.status_code} {detail}"


class Lease:
    """A named lease in `agent_meta`: held by one sender until released or expired."""

    def __init__(self, engine: sa.Engine, name: str, seconds: int = LEASE_SECONDS) -> None:
        self._engine = engine
        self._key = f"lease:{name}"
        self._seconds = seconds
        self._owner = secrets.token_hex(8)
        self._value: str | None = None

    def acquire(self) -> datetime | None:
        """Take or renew the lease: None on success, else when the holder's lease ends."""
        now = datetime.now(UTC)
        value = f"{self._owner} {(now + timedelta(seconds=self._seconds)).isoformat()}"
        try:
            with write(self._engine) as connection:
                held = connection.execute(
                    sa.select(agent_meta.c.value).where(agent_meta.c.key == self._key)
                ).scalar_one_or_none()
                if held is None:
                    connection.execute(agent_meta.insert().values(key=self._key, value=value))
                else:
                    owner, _, until = held.partition(" ")
                    expires = _parse_time(until)
                    if owner != self._owner and expires is not None and expires > now:
                        return expires
                    taken = connection.execute(
                        agent_meta.update()
                        .where(agent_meta.c.key == self._key, agent_meta.c.value == held)
                        .values(value=value)
                    ).rowcount
                    if taken != 1:  # another sender renewed or took it since we read it
                        return now + timedelta(seconds=self._seconds)
        except IntegrityError:  # another sender inserted the row first
            return now + timedelta(seconds=self._seconds)
        self._value = value
        return None

    def release(self) -> None:
        if self._value is None:
            return
        with write(self._engine) as connection:
            connection.execute(
                agent_meta.delete().where(
                    agent_meta.c.key == self._key, agent_meta.c.value == self._value
                )
            )
        self._value = None


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None  # a damaged lease row counts as expired
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
