"""Sending the platform's verdicts to the registry: `flush_outbox(engine, client) -> FlushReport`.

Rows of `feedback_outbox` go to `POST /v1/feedback` in id order, in batches; a row is marked
sent only after the registry's 2xx. Network errors, 408, 429 and 5xx are retried with back-off;
another 4xx marks the row it names failed (never retried) and the rest go on.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import sqlalchemy as sa

from takedown.errors import InputError
from takedown.platform.feed_client import check_key, normalise_server
from takedown.platform.outbox import (
    Lease,
    RetryPolicy,
    Sleep,
    is_retryable,
    retry_after,
    short_error,
)
from takedown.platform.store import write
from takedown.platform.tables import feedback_outbox

__all__ = [
    "BATCH_SIZE",
    "FailedFeedback",
    "FlushReport",
    "OutboxCounts",
    "failed_rows",
    "flush_outbox",
    "outbox_counts",
    "registry_client",
    "requeue_failed",
]

BATCH_SIZE: Final = 1000
"""Verdicts per request: the registry's default `TAKEDOWN_MAX_FEEDBACK_PER_REQUEST`. A
registry with a lower limit says so (422) and the batch is cut to its limit."""

USER_AGENT: Final = "takedown-platform-agent"
_ITEM = re.compile(r"items\[(\d+)\]")
_LIMIT = re.compile(r"items: expected 1 to (\d+)")


@dataclass(frozen=True, slots=True)
class FailedFeedback:
    """A verdict the registry refused for good, and why."""

    id: int
    type: str
    value: str
    verdict: str
    error: str


@dataclass(slots=True)
class FlushReport:
    sent: int = 0
    """Verdicts the registry acknowledged in this run."""
    failed: list[FailedFeedback] = field(default_factory=list)
    """Verdicts refused for good in this run (4xx other than 408/429)."""
    waiting: int = 0
    """Verdicts still in the outbox after the run (they go with the next flush)."""
    error: str | None = None
    """Why the run stopped before the outbox was empty (registry unreachable, key refused)."""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    waiting: int
    sent: int
    failed: int


def registry_client(
    server: str,
    key: str | None,
    *,
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An HTTP client for the registry at `server` sending the platform's API key; for
    `flush_outbox`. ConfigError for a malformed server URL or key."""
    return httpx.Client(
        base_url=normalise_server(server),
        headers={"Authorization": f"Bearer {check_key(key)}", "User-Agent": USER_AGENT},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        transport=transport,
        follow_redirects=False,
    )


def flush_outbox(
    engine: sa.Engine,
    client: httpx.Client,
    *,
    batch_size: int = BATCH_SIZE,
    policy: RetryPolicy | None = None,
    sleep: Sleep = time.sleep,
) -> FlushReport:
    """Send every waiting verdict to the registry `client` points at (base URL and API key
    set, as `registry_client` makes it). Never raises for the registry's answers: what went
    wrong is in the report."""
    if not 1 <= batch_size <= BATCH_SIZE:
        raise InputError(f"batch_size must be 1 to {BATCH_SIZE}, not {batch_size}")
    lease = Lease(engine, "feedback")
    held_until = lease.acquire()
    if held_until is not None:
        return FlushReport(
            waiting=outbox_counts(engine).waiting,
            error="another sender is flushing the feedback outbox (its lease ends "
            f"{held_until:%Y-%m-%d %H:%M:%S} UTC); try again later",
        )
    try:
        report = _Flush(engine, client, batch_size, policy or RetryPolicy(), sleep, lease).run()
    finally:
        lease.release()
    report.waiting = outbox_counts(engine).waiting
    return report


def outbox_counts(engine: sa.Engine) -> OutboxCounts:
    sent = feedback_outbox.c.sent_at.is_not(None)
    failed = sa.and_(feedback_outbox.c.sent_at.is_(None), feedback_outbox.c.failed_at.is_not(None))
    query = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((sent, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((failed, 1), else_=0)), 0),
    ).select_from(feedback_outbox)
    with engine.connect() as connection:
        total, n_sent, n_failed = connection.execute(query).one()
    return OutboxCounts(
        waiting=int(total - n_sent - n_failed), sent=int(n_sent), failed=int(n_failed)
    )


def failed_rows(engine: sa.Engine, limit: int = 100) -> list[FailedFeedback]:
    """Verdicts the registry refused, newest first."""
    query = (
        sa.select(feedback_outbox)
        .where(feedback_outbox.c.sent_at.is_(None), feedback_outbox.c.failed_at.is_not(None))
        .order_by(feedback_outbox.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        return [
            FailedFeedback(row.id, row.type, row.value, row.verdict, row.last_error or "")
            for row in connection.execute(query)
        ]


def requeue_failed(engine: sa.Engine) -> int:
    """Put every failed verdict back in the queue (after the cause was fixed); how many.
    They go after the verdicts already waiting, in their original order."""
    with write(engine) as connection:
        rows = connection.execute(
            sa.select(feedback_outbox)
            .where(feedback_outbox.c.sent_at.is_(None), feedback_outbox.c.failed_at.is_not(None))
            .order_by(feedback_outbox.c.id)
        ).all()
        if not rows:
            return 0
        # New ids keep the rule "later row, later verdict" for rows queued since.
        connection.execute(
            feedback_outbox.delete().where(feedback_outbox.c.id.in_([row.id for row in rows]))
        )
        connection.execute(
            feedback_outbox.insert(),
            [
                {
                    "type": row.type,
                    "value": row.value,
                    "verdict": row.verdict,
                    "created_at": row.created_at,
                    "attempts": row.attempts,
                    "last_error": row.last_error,
                }
                for row in rows
            ],
        )
        return len(rows)


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    type: str
    value: str
    verdict: str


class _Flush:
    """One run of the sender."""

    def __init__(
        self,
        engine: sa.Engine,
        client: httpx.Client,
        batch_size: int,
        policy: RetryPolicy,
        sleep: Sleep,
        lease: Lease,
    ) -> None:
        self._engine = engine
        self._client = client
        self._batch_size = batch_size
        self._policy = policy
        self._sleep = sleep
        self._lease = lease
        self._report = FlushReport()

    def run(self) -> FlushReport:
        size = self._batch_size
        isolate = 0  # rows still to send one by one, to find the one a 4xx is about
        while True:
            rows = self._next_rows(1 if isolate else size)
            if not rows:
                return self._report
            if self._lease.acquire() is not None:
                self._report.error = "another sender took over the feedback outbox"
                return self._report
            answer = self._send(rows)
            if isinstance(answer, str):
                self._report.error = f"{answer}; the verdicts wait in the outbox for the next flush"
                return self._report
            status = answer.status_code
            if 200 <= status < 300:
                self._mark_sent(rows)
                isolate = max(0, isolate - 1)
                continue
            error = short_error(answer)
            if status in (401, 403):
                self._note_attempt(rows, error)
                self._report.error = f"the registry refused the API key ({error})"
                return self._report
            index = _named_item(answer)
            limit = _LIMIT.search(error)
            if index is not None and index < len(rows):
                self._mark_failed(rows[index], error)
            elif limit is not None and len(rows) > int(limit.group(1)) >= 1:
                size = int(limit.group(1))
            elif status == 413 and len(rows) > 1:
                size = max(1, len(rows) // 2)
            elif len(rows) > 1:
                isolate = len(rows)
            else:
                self._mark_failed(rows[0], error)
                isolate = max(0, isolate - 1)

    def _send(self, rows: list[_Row]) -> httpx.Response | str:
        """The registry's answer that retrying will not change (2xx or a 4xx), or the last
        error once the retries ran out."""
        body: dict[str, Any] = {
            "items": [{"verdict": r.verdict, "type": r.type, "value": r.value} for r in rows]
        }
        for attempt in range(1, self._policy.attempts + 1):
            asked: float | None = None
            try:
                response = self._client.post("/v1/feedback", json=body)
            except httpx.TransportError as exc:
                error = f"cannot reach the registry ({type(exc).__name__}: {exc})"
            else:
                if not is_retryable(response.status_code):
                    return response
                error = short_error(response)
                asked = retry_after(response)
            self._note_attempt(rows, error)
            if attempt == self._policy.attempts:
                return f"{error} (after {attempt} attempts)"
            if asked is not None and asked > self._policy.max_retry_after:
                return f"{error}; the registry asks to wait {asked:.0f} s"
            self._sleep(self._policy.delay(attempt, asked))
        raise AssertionError("unreachable")  # pragma: no cover

    def _next_rows(self, limit: int) -> list[_Row]:
        query = (
            sa.select(
                feedback_outbox.c.id,
                feedback_outbox.c.type,
                feedback_outbox.c.value,
                feedback_outbox.c.verdict,
            )
            .where(feedback_outbox.c.sent_at.is_(None), feedback_outbox.c.failed_at.is_(None))
            .order_by(feedback_outbox.c.id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [_Row(*row) for row in connection.execute(query)]

    def _mark_sent(self, rows: list[_Row]) -> None:
        ids = [row.id for row in rows]
        with write(self._engine) as connection:
            connection.execute(
                feedback_outbox.update()
                .where(feedback_outbox.c.id.in_(ids))
                .values(
                    sent_at=datetime.now(UTC),
                    attempts=feedback_outbox.c.attempts + 1,
                    last_error=None,
                )
            )
        self._report.sent += len(rows)

    def _mark_failed(self, row: _Row, error: str) -> None:
        with write(self._engine) as connection:
            connection.execute(
                feedback_outbox.update()
                .where(feedback_outbox.c.id == row.id)
                .values(
                    failed_at=datetime.now(UTC),
                    attempts=feedback_outbox.c.attempts + 1,
                    last_error=error,
                )
            )
        self._report.failed.append(FailedFeedback(row.id, row.type, row.value, row.verdict, error))

    def _note_attempt(self, rows: list[_Row], error: str) -> None:
        with write(self._engine) as connection:
            connection.execute(
                feedback_outbox.update()
                .where(feedback_outbox.c.id.in_([row.id for row in rows]))
                .values(attempts=feedback_outbox.c.attempts + 1, last_error=error[:2000])
            )


def _named_item(response: httpx.Response) -> int | None:
    """The index of the item a 404/422 names (`items[3]: ...`), if it names one."""
    if response.status_code not in (404, 422):
        return None
    found = _ITEM.search(short_error(response))
    return None if found is None else int(found.group(1))
