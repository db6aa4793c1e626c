"""The confirmation webhook's outbox: delivered until acknowledged, signed, and not retried
forever when the receiver refuses."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from takedown.platform.outbox import RetryPolicy
from takedown.platform.review import Match, decide, record_match
from takedown.platform.store import open_store
from takedown.platform.tables import webhook_outbox
from takedown.platform.webhook import SIGNATURE_HEADER, flush_webhooks, sign

HOOK = "https://hooks.example/takedown"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = open_store(tmp_path / "state", None)
    try:
        yield engine
    finally:
        engine.dispose()


def confirm(engine: sa.Engine, ref: str) -> None:
    match = Match("minor", "pdq", secrets.token_hex(32), "original", "original", 5)
    item = record_match(engine, ref, match, "upload")
    assert item is not None
    decide(engine, item.id, True, "alice", webhook_url=HOOK)


class Receiver:
    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.bodies: list[bytes] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == HOOK
        self.bodies.append(request.content)
        self.headers.append(request.headers)
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def no_sleep(_seconds: float) -> None:
    pass


def test_calls_are_delivered_in_order_and_signed(engine: sa.Engine) -> None:
    confirm(engine, "a.jpg")
    confirm(engine, "b.jpg")
    receiver = Receiver()
    with receiver.client() as client:
        report = flush_webhooks(engine, client, secret="s3cret")
    assert (report.sent, report.failed, report.waiting, report.error) == (2, [], 0, None)
    assert [json.loads(b)["ref"] for b in receiver.bodies] == ["a.jpg", "b.jpg"]
    for body, headers in zip(receiver.bodies, receiver.headers, strict=True):
        assert headers[SIGNATURE_HEADER] == sign("s3cret", body)
        assert headers["Content-Type"] == "application/json"
    with receiver.client() as client:
        assert flush_webhooks(engine, client).sent == 0


def test_unsigned_without_a_secret(engine: sa.Engine) -> None:
    confirm(engine, "a.jpg")
    receiver = Receiver()
    with receiver.client() as client:
        flush_webhooks(engine, client)
    assert SIGNATURE_HEADER not in receiver.headers[0]


def test_503_then_200_is_retried(engine: sa.Engine) -> None:
    confirm(engine, "a.jpg")
    receiver = Receiver(503, httpx.ConnectError("down"), 200)
    with receiver.client() as client:
        report = flush_webhooks(engine, client, sleep=no_sleep)
    assert report.ok
    assert report.sent == 1
    assert len(receiver.bodies) == 3
    with engine.connect() as connection:
        row = connection.execute(sa.select(webhook_outbox)).one()
    assert row.attempts == 3
    assert row.sent_at is not None


def test_a_refusal_is_not_retried_and_the_rest_go_on(engine: sa.Engine) -> None:
    confirm(engine, "a.jpg")
    confirm(engine, "b.jpg")
    receiver = Receiver(410)
    with receiver.client() as client:
        report = flush_webhooks(engine, client, sleep=no_sleep)
    assert report.sent == 1
    assert len(report.failed) == 1
    assert "HTTP 410" in report.failed[0][1]
    assert len(receiver.bodies) == 2
    with receiver.client() as client:
        assert flush_webhooks(engine, client).sent == 0
    assert len(receiver.bodies) == 2


def test_a_receiver_that_stays_down_keeps_the_calls_waiting(engine: sa.Engine) -> None:
    confirm(engine, "a.jpg")
    confirm(engine, "b.jpg")
    receiver = Receiver(500, 500, 500)
    with receiver.client() as client:
        report = flush_webhooks(engine, client, policy=RetryPolicy(attempts=3), sleep=no_sleep)
    assert report.sent == 0
    assert report.waiting == 2
    assert report.error is not None
    assert "HTTP 500" in report.error
    assert len(receiver.bodies) == 3  # b.jpg waits behind a.jpg
    with receiver.client() as client:
        assert flush_webhooks(engine, client).sent == 2
