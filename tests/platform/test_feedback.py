"""The feedback sender against a fake registry (httpx.MockTransport): batches, retries with
back-off, refusals that are not retried forever, and an outbox that survives a crash."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from takedown.errors import ConfigError, InputError
from takedown.platform.feedback import (
    failed_rows,
    flush_outbox,
    outbox_counts,
    registry_client,
    requeue_failed,
)
from takedown.platform.outbox import Lease, RetryPolicy, retry_after
from takedown.platform.review import Match, decide, list_items, record_match
from takedown.platform.store import open_store
from takedown.platform.tables import feedback_outbox

KEY = "tdk_" + "k" * 40
Handler = Callable[[list[dict[str, Any]]], httpx.Response]


@dataclass
class FakeRegistry:
    """Answers `POST /v1/feedback` with what the test scripts (default: accept all), and
    keeps every verdict it accepted, in order."""

    script: list[Handler | httpx.Response | Exception] = field(default_factory=list)
    accepted: list[tuple[str, str, str]] = field(default_factory=list)
    requests: list[list[dict[str, Any]]] = field(default_factory=list)
    known: set[str] | None = None
    """Hash values the registry knows (404 for others), None: all."""
    max_items: int = 1000

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/feedback"
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        items = json.loads(request.content)["items"]
        self.requests.append(items)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            answer = step if isinstance(step, httpx.Response) else step(items)
            if not 200 <= answer.status_code < 300:
                return answer
        if len(items) > self.max_items:
            return _error(
                422,
                "invalid_request",
                f"items: expected 1 to {self.max_items} feedback items, got {len(items)}",
            )
        for i, item in enumerate(items):
            if self.known is not None and item["value"] not in self.known:
                return _error(404, "not_found", f"items[{i}]: no such signal in your lists")
        self.accepted.extend((i["type"], i["value"], i["verdict"]) for i in items)
        return httpx.Response(200, json={"accepted": len(items)})

    def client(self) -> httpx.Client:
        return registry_client(
            "http://registry.test", KEY, transport=httpx.MockTransport(self.handle)
        )


def _error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message}}, headers=headers
    )


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def engine(agent_store: str) -> Iterator[sa.Engine]:
    """The local store on SQLite, then on PostgreSQL."""
    engine = open_store(None, agent_store)
    try:
        yield engine
    finally:
        engine.dispose()


def queue(engine: sa.Engine, n: int) -> list[str]:
    """n pending matches of distinct hashes (n pending_review verdicts); their values."""
    values = [secrets.token_hex(32) for _ in range(n)]
    for i, value in enumerate(values):
        record_match(
            engine,
            f"media/{i}.jpg",
            Match("adult", "pdq", value, "original", "original", 3),
            "scan",
        )
    return values


def rows(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(feedback_outbox).order_by(feedback_outbox.c.id)))


def test_everything_waiting_is_sent_in_order_and_marked_sent(engine: sa.Engine) -> None:
    values = queue(engine, 3)
    registry = FakeRegistry()
    with registry.client() as client:
        report = flush_outbox(engine, client)
    assert (report.sent, report.failed, report.waiting, report.error) == (3, [], 0, None)
    assert report.ok
    assert registry.accepted == [("pdq", v, "pending_review") for v in values]
    assert all(row.sent_at is not None and row.attempts == 1 for row in rows(engine))
    # Nothing is sent twice.
    with registry.client() as client:
        assert flush_outbox(engine, client).sent == 0
    assert len(registry.requests) == 1


def test_batches_are_cut_to_the_batch_size(engine: sa.Engine) -> None:
    queue(engine, 5)
    registry = FakeRegistry()
    with registry.client() as client:
        assert flush_outbox(engine, client, batch_size=2).sent == 5
    assert [len(r) for r in registry.requests] == [2, 2, 1]


def test_a_registry_with_a_lower_limit_gets_smaller_batches(engine: sa.Engine) -> None:
    queue(engine, 7)
    registry = FakeRegistry(max_items=3)
    with registry.client() as client:
        report = flush_outbox(engine, client)
    assert report.ok
    assert report.sent == 7
    assert [len(r) for r in registry.requests] == [7, 3, 3, 1]


def test_503_then_200_is_retried_with_back_off(engine: sa.Engine) -> None:
    values = queue(engine, 2)
    registry = FakeRegistry(
        script=[_error(503, "internal", "down"), _error(503, "internal", "down")]
    )
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=5, base=1.0, factor=2.0, cap=30.0)
    with registry.client() as client:
        report = flush_outbox(engine, client, policy=policy, sleep=sleeps)
    assert report.ok
    assert report.sent == 2
    assert len(registry.requests) == 3
    assert registry.accepted == [("pdq", v, "pending_review") for v in values]
    # Exponential with jitter: the k-th wait is in [base * 2^(k-1) / 2, base * 2^(k-1)].
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 2.0
    assert all(row.attempts == 3 and row.last_error is None for row in rows(engine))


def test_429_waits_as_long_as_retry_after_says(engine: sa.Engine) -> None:
    queue(engine, 1)
    registry = FakeRegistry(
        script=[_error(429, "rate_limited", "slow down", **{"Retry-After": "7"})]
    )
    sleeps = Sleeps()
    with registry.client() as client:
        report = flush_outbox(engine, client, sleep=sleeps)
    assert report.ok
    assert sleeps == [7.0]


def test_network_errors_are_retried(engine: sa.Engine) -> None:
    queue(engine, 1)
    registry = FakeRegistry(script=[httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
    sleeps = Sleeps()
    with registry.client() as client:
        report = flush_outbox(engine, client, sleep=sleeps)
    assert report.ok
    assert len(sleeps) == 2
    assert len(registry.accepted) == 1


def test_a_registry_that_stays_down_is_given_up_on_for_now(engine: sa.Engine) -> None:
    queue(engine, 3)
    registry = FakeRegistry(script=[_error(502, "bad_gateway", "no upstream")] * 4)
    sleeps = Sleeps()
    with registry.client() as client:
        report = flush_outbox(engine, client, policy=RetryPolicy(attempts=4), sleep=sleeps)
    assert report.sent == 0
    assert report.waiting == 3
    assert report.error is not None
    assert "HTTP 502" in report.error
    assert "after 4 attempts" in report.error
    assert len(registry.requests) == 4
    assert len(sleeps) == 3
    assert all(row.attempts == 4 and "HTTP 502" in row.last_error for row in rows(engine))
    # The next flush, with the registry back, sends them.
    with registry.client() as client:
        assert flush_outbox(engine, client).sent == 3


def test_a_retry_after_beyond_the_limit_stops_the_run(engine: sa.Engine) -> None:
    queue(engine, 1)
    registry = FakeRegistry(
        script=[_error(429, "rate_limited", "later", **{"Retry-After": "3600"})]
    )
    sleeps = Sleeps()
    with registry.client() as client:
        report = flush_outbox(engine, client, sleep=sleeps)
    assert sleeps == []
    assert report.error is not None
    assert "wait 3600 s" in report.error
    assert report.waiting == 1


def test_400_is_not_retried_forever(engine: sa.Engine) -> None:
    (value,) = queue(engine, 1)
    registry = FakeRegistry(
        script=[_error(400, "invalid_request", "The request body is not valid JSON.")] * 10
    )
    sleeps = Sleeps()
    with registry.client() as client:
        report = flush_outbox(engine, client, sleep=sleeps)
    assert len(registry.requests) == 1
    assert sleeps == []
    assert report.sent == 0
    assert report.waiting == 0
    assert not report.ok
    assert [(f.value, f.verdict) for f in report.failed] == [(value, "pending_review")]
    assert "HTTP 400" in report.failed[0].error
    (row,) = rows(engine)
    assert row.failed_at is not None
    assert row.sent_at is None
    assert row.attempts == 1
    # A failed row is not sent again by later flushes.
    with registry.client() as client:
        assert flush_outbox(engine, client).sent == 0
    assert len(registry.requests) == 1
    assert outbox_counts(engine).failed == 1
    assert [f.value for f in failed_rows(engine)] == [value]


def test_the_item_a_404_names_fails_and_the_others_go_through(engine: sa.Engine) -> None:
    values = queue(engine, 4)
    registry = FakeRegistry(known={values[0], values[2], values[3]})
    with registry.client() as client:
        report = flush_outbox(engine, client)
    assert report.sent == 3
    assert [f.value for f in report.failed] == [values[1]]
    assert "items[1]: no such signal" in report.failed[0].error
    assert [v for _, v, _ in registry.accepted] == [values[0], values[2], values[3]]
    assert len(registry.requests) == 2


def test_a_4xx_naming_no_item_is_narrowed_down_one_by_one(engine: sa.Engine) -> None:
    values = queue(engine, 3)

    def refuse_second(items: list[dict[str, Any]]) -> httpx.Response:
        if any(i["value"] == values[1] for i in items):
            return _error(409, "conflict", "cannot take this one")
        return httpx.Response(200, json={"accepted": len(items)})

    registry = FakeRegistry(script=[refuse_second] * 10)
    with registry.client() as client:
        report = flush_outbox(engine, client)
    assert [f.value for f in report.failed] == [values[1]]
    assert report.sent == 2
    assert [v for _, v, _ in registry.accepted] == [values[0], values[2]]
    assert [len(r) for r in registry.requests] == [3, 1, 1, 1]


def test_a_refused_key_stops_the_run_without_failing_rows(engine: sa.Engine) -> None:
    queue(engine, 2)
    registry = FakeRegistry(script=[_error(401, "unauthorized", "unknown API key")])
    with registry.client() as client:
        report = flush_outbox(engine, client)
    assert report.error is not None
    assert "refused the API key" in report.error
    assert report.failed == []
    assert report.waiting == 2
    with registry.client() as client:
        assert flush_outbox(engine, client).sent == 2


def test_unsent_rows_survive_a_new_engine(tmp_path: Path) -> None:
    """A crash before the registry acknowledged anything: the verdicts are still there."""
    first = open_store(tmp_path / "state", None)
    values = queue(first, 2)
    registry = FakeRegistry(script=[httpx.ConnectError("down")] * 2)
    with registry.client() as client:
        report = flush_outbox(first, client, policy=RetryPolicy(attempts=2), sleep=Sleeps())
    assert report.waiting == 2
    first.dispose()

    second = open_store(tmp_path / "state", None)
    try:
        assert outbox_counts(second).waiting == 2
        with registry.client() as client:
            assert flush_outbox(second, client).sent == 2
        assert registry.accepted == [("pdq", v, "pending_review") for v in values]
    finally:
        second.dispose()


def test_a_crash_between_send_and_mark_resends_in_order(engine: sa.Engine) -> None:
    """The registry took the batch but the answer never came back: the next flush sends it
    again, and verdicts queued since go after it, so the latest verdict is still right."""
    (value,) = queue(engine, 1)
    registry = FakeRegistry()

    def lose_the_answer(request: httpx.Request) -> httpx.Response:
        registry.handle(request)
        raise httpx.ReadError("connection reset after the registry answered")

    lossy = registry_client(
        "http://registry.test", KEY, transport=httpx.MockTransport(lose_the_answer)
    )
    with lossy:
        report = flush_outbox(engine, lossy, policy=RetryPolicy(attempts=1), sleep=Sleeps())
    assert report.waiting == 1
    (item,) = _items(engine)
    decide(engine, item, True, "alice")
    with registry.client() as client:
        assert flush_outbox(engine, client).sent == 2
    assert registry.accepted == [
        ("pdq", value, "pending_review"),
        ("pdq", value, "pending_review"),
        ("pdq", value, "blocked"),
    ]


def _items(engine: sa.Engine) -> list[int]:
    return [item.id for item in list_items(engine, None)]


def test_requeued_failures_go_after_newer_verdicts(engine: sa.Engine) -> None:
    values = queue(engine, 1)
    registry = FakeRegistry(known=set())
    with registry.client() as client:
        assert len(flush_outbox(engine, client).failed) == 1
    newer = queue(engine, 1)
    assert requeue_failed(engine) == 1
    assert requeue_failed(engine) == 0
    registry.known = None
    with registry.client() as client:
        assert flush_outbox(engine, client).sent == 2
    assert [v for _, v, _ in registry.accepted] == [newer[0], values[0]]


def test_one_sender_at_a_time(engine: sa.Engine) -> None:
    queue(engine, 1)
    holder = Lease(engine, "feedback")
    assert holder.acquire() is None
    registry = FakeRegistry()
    with registry.client() as client:
        report = flush_outbox(engine, client)
    assert report.error is not None
    assert "another sender" in report.error
    assert registry.requests == []
    holder.release()
    with registry.client() as client:
        assert flush_outbox(engine, client).sent == 1


def test_concurrent_flushes_send_each_verdict_once(engine: sa.Engine) -> None:
    queue(engine, 20)
    registry = FakeRegistry()
    lock = threading.Lock()

    def handle(request: httpx.Request) -> httpx.Response:
        with lock:
            return registry.handle(request)

    barrier = threading.Barrier(3)
    reports = []

    def flush() -> None:
        client = registry_client("http://registry.test", KEY, transport=httpx.MockTransport(handle))
        barrier.wait()
        with client:
            reports.append(flush_outbox(engine, client, batch_size=3))

    threads = [threading.Thread(target=flush) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in reports) == 20
    assert len(registry.accepted) == 20


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after(httpx.Response(429, headers={"Retry-After": "12"}), now) == 12.0
    date = httpx.Response(503, headers={"Retry-After": "Tue, 01 Jan 2030 12:00:30 GMT"})
    assert retry_after(date, now) == 30.0
    assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"}), now) is None
    assert retry_after(httpx.Response(503), now) is None


@pytest.mark.parametrize(
    ("server", "key", "message"),
    [
        ("ftp://registry.example", KEY, "http"),
        ("http://registry.example/?x=1", KEY, "without a query"),
        ("http://registry.example", None, "API key is needed"),
        ("http://registry.example", "short", "8-512 printable"),
    ],
)
def test_bad_server_or_key_is_a_config_error(server: str, key: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        registry_client(server, key)


def test_batch_size_is_checked(engine: sa.Engine) -> None:
    with FakeRegistry().client() as client, pytest.raises(InputError, match="batch_size"):
        flush_outbox(engine, client, batch_size=0)
