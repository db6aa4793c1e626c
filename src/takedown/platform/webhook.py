"""The confirmation webhook: `flush_webhooks(engine)` delivers the queued calls.

`review.decide(..., webhook_url=URL)` queues `{ref, list, type, value, distance, decided_at}`
in `webhook_outbox` with the confirmation; each row is POSTed as JSON to its URL until a 2xx.
With a secret, the body is signed: `X-Takedown-Signature: sha256=<hex HMAC-SHA256 of body>`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa

from takedown.platform.outbox import (
    Lease,
    RetryPolicy,
    Sleep,
    is_retryable,
    retry_after,
    short_error,
)
from takedown.platform.store import write
from takedown.platform.tables import webhook_outbox

__all__ = ["SIGNATURE_HEADER", "WebhookReport", "flush_webhooks", "sign"]

SIGNATURE_HEADER = "X-Takedown-Signature"


@dataclass(slots=True)
class WebhookReport:
    sent: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    """(row id, error) of calls refused for good (4xx other than 408/429)."""
    waiting: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def flush_webhooks(
    engine: sa.Engine,
    client: httpx.Client | None = None,
    *,
    secret: str | None = None,
    policy: RetryPolicy | None = None,
    sleep: Sleep = time.sleep,
) -> WebhookReport:
    """POST every queued webhook call, oldest first; stop at the first one that cannot be
    delivered after the retries (it and the later ones wait for the next flush)."""
    policy = policy or RetryPolicy()
    report = WebhookReport()
    lease = Lease(engine, "webhook")
    held_until = lease.acquire()
    if held_until is not None:
        report.error = (
            f"another sender is delivering webhooks (lease ends {held_until:%H:%M:%S} UTC)"
        )
        report.waiting = _waiting(engine)
        return report
    own = client is None
    http = client if client is not None else httpx.Client(timeout=15.0)
    try:
        while report.error is None:
            with engine.connect() as connection:
                row = connection.execute(
                    sa.select(webhook_outbox.c.id, webhook_outbox.c.url, webhook_outbox.c.payload)
                    .where(webhook_outbox.c.sent_at.is_(None), webhook_outbox.c.failed_at.is_(None))
                    .order_by(webhook_outbox.c.id)
                    .limit(1)
                ).first()
            if row is None:
                break
            _deliver(
                engine, http, row.id, row.url, row.payload.encode(), secret, policy, sleep, report
            )
    finally:
        if own:
            http.close()
        lease.release()
    report.waiting = _waiting(engine)
    return report


def _deliver(
    engine: sa.Engine,
    http: httpx.Client,
    row_id: int,
    url: str,
    body: bytes,
    secret: str | None,
    policy: RetryPolicy,
    sleep: Sleep,
    report: WebhookReport,
) -> None:
    headers = {"Content-Type": "application/json", "User-Agent": "takedown-agent"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    for attempt in range(1, policy.attempts + 1):
        asked: float | None = None
        try:
            response = http.post(url, content=body, headers=headers)
        except httpx.TransportError as exc:
            error = f"cannot reach the webhook ({type(exc).__name__}: {exc})"
        else:
            if 200 <= response.status_code < 300:
                _update(engine, row_id, sent_at=datetime.now(UTC), last_error=None)
                report.sent += 1
                return
            error = short_error(response)
            if not is_retryable(response.status_code):
                _update(engine, row_id, failed_at=datetime.now(UTC), last_error=error)
                report.failed.append((row_id, error))
                return
            asked = retry_after(response)
        _update(engine, row_id, last_error=error)
        if attempt == policy.attempts or (asked is not None and asked > policy.max_retry_after):
            report.error = f"webhook {url}: {error}; the call waits for the next flush"
            return
        sleep(policy.delay(attempt, asked))


def _update(engine: sa.Engine, row_id: int, **values: object) -> None:
    with write(engine) as connection:
        connection.execute(
            webhook_outbox.update()
            .where(webhook_outbox.c.id == row_id)
            .values(attempts=webhook_outbox.c.attempts + 1, **values)
        )


def _waiting(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(webhook_outbox)
                .where(webhook_outbox.c.sent_at.is_(None), webhook_outbox.c.failed_at.is_(None))
            ).scalar_one()
        )
