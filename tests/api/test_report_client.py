"""`report_client.ReporterClient` against the real app (in-process): every request is recorded,
so the tests see exactly what leaves the reporter's machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from takedown import report_client
from takedown.errors import AuthError, InputError, NotFoundError, RateLimitedError, RemoteError
from takedown.hashing.fingerprint import fingerprint_file
from takedown.registry.ratelimit import Rate
from takedown.report_client import ReporterClient, report_media, requests_for
from tests.api.conftest import Api, generous_limits, image, running_api
from tests.conftest import PHOTOS_DEV

PHOTOS = sorted(PHOTOS_DEV.glob("*.jpg"))[:3]


class Recorder:
    """A transport that hands each request to the app's TestClient and keeps a copy."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.api.client.request(
            request.method, request.url.path, content=request.content, headers=request.headers
        )
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


@pytest.fixture
def recorded(api: Api) -> Iterator[tuple[ReporterClient, Recorder]]:
    recorder = Recorder(api)
    with ReporterClient("http://registry.test", transport=httpx.MockTransport(recorder)) as c:
        yield c, recorder


def test_a_report_sends_the_fingerprints_and_nothing_else(
    recorded: tuple[ReporterClient, Recorder], api: Api
) -> None:
    client, recorder = recorded
    media = [report_media(fingerprint_file(path)) for path in PHOTOS]

    case = client.create_case("minor", "es", media)

    assert [(r.method, r.url.path) for r in recorder.requests] == [
        ("GET", "/v1/challenge"),
        ("POST", "/v1/cases"),
    ]
    body = recorder.bodies()[1]
    assert set(body) == {"age_group", "language", "media", "pow"}
    assert (body["age_group"], body["language"]) == ("minor", "es")
    # Exactly `takedown hash --json` minus the path: no file name, no pixels.
    assert body["media"] == [fingerprint_file(path).to_json() for path in PHOTOS]
    sent = b"".join(r.content for r in recorder.requests)
    for path in PHOTOS:
        assert path.name.encode() not in sent
    assert len(sent) < 4_000 * len(PHOTOS)  # hashes only: each photo file is ~100 kB
    assert "cookie" not in {name.lower() for r in recorder.requests for name in r.headers}
    state = client.status(case.case_number.lower().replace("-", ""), case.pin)
    assert state.case_number == case.case_number
    assert (state.age_group, state.status) == ("minor", "active")
    assert [m.media_id for m in state.media] == list(case.media_ids)
    assert {m.status for m in state.media} == {"pending"}


def test_many_files_go_in_several_requests_of_one_case(
    recorded: tuple[ReporterClient, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, recorder = recorded
    monkeypatch.setattr(report_client, "MAX_MEDIA_PER_REQUEST", 2)
    media = [image() for _ in range(5)]

    case = client.create_case("adult", "en", media)

    paths = [r.url.path for r in recorder.requests if r.method == "POST"]
    number = case.case_number.replace("-", "")
    assert paths == ["/v1/cases", f"/v1/cases/{number}/media", f"/v1/cases/{number}/media"]
    assert [len(b["media"]) for b in recorder.bodies() if b] == [2, 2, 1]
    assert len(set(case.media_ids)) == 5
    state = client.status(case.case_number, case.pin)
    assert [m.media_id for m in state.media] == list(case.media_ids)


def test_requests_are_cut_by_size_too(monkeypatch: pytest.MonkeyPatch) -> None:
    media = [image(signals=8) for _ in range(6)]
    one = len(json.dumps(media[0], separators=(",", ":")))
    monkeypatch.setattr(report_client, "MAX_BODY_BYTES", one * 2 + 10)
    assert [len(run) for run in requests_for(media)] == [2, 2, 2]
    monkeypatch.setattr(report_client, "MAX_BODY_BYTES", one - 1)
    with pytest.raises(InputError, match="more than one request may carry"):
        list(requests_for(media))


def test_adding_and_withdrawing(recorded: tuple[ReporterClient, Recorder], api: Api) -> None:
    client, _ = recorded
    key = api.platform("reader")
    case = client.create_case("adult", "en", [image()])
    added = client.add_media(case.case_number, case.pin, [image(), image()])
    assert len(added) == 2

    client.withdraw(case.case_number, case.pin, added[0])
    states = {m.media_id: m.status for m in client.status(case.case_number, case.pin).media}
    assert states == {case.media_ids[0]: "pending", added[0]: "withdrawn", added[1]: "pending"}
    client.withdraw(case.case_number, case.pin)
    state = client.status(case.case_number, case.pin)
    assert state.status == "withdrawn"
    feed = api.client.get("/v1/feed", headers={"Authorization": f"Bearer {key}"}).json()
    ops = [e["op"] for e in feed["events"]]
    assert ops.count("add") == ops.count("remove") == 6  # 3 photos x 2 hashes


def test_errors_carry_the_registry_message(recorded: tuple[ReporterClient, Recorder]) -> None:
    client, recorder = recorded
    case = client.create_case("adult", "en", [image()])
    wrong = "0000000000" if case.pin != "0000000000" else "1111111111"
    with pytest.raises(AuthError):
        client.status(case.case_number, wrong)
    with pytest.raises(NotFoundError):
        client.withdraw(case.case_number, case.pin, "a" * 16)
    sent = len(recorder.requests)
    # Refused here, before any request: not a case number, a PIN or a media id.
    for bad in (
        lambda: client.status("not-a-case", case.pin),
        lambda: client.status(case.case_number, "12345"),
        lambda: client.withdraw(case.case_number, case.pin, "../../feed"),
        lambda: client.create_case("adult", "en", []),
    ):
        with pytest.raises(InputError):
            bad()
    assert len(recorder.requests) == sent


def test_a_refused_new_case_is_rate_limited_with_its_message(tmp_path: Path) -> None:
    limits = generous_limits(create=Rate(per_second=0.001, burst=1))
    with running_api(tmp_path, limits=limits) as api:
        transport = httpx.MockTransport(Recorder(api))
        with ReporterClient("http://registry.test", transport=transport) as client:
            client.create_case("adult", "en", [image()])
            with pytest.raises(RateLimitedError) as refused:
                client.create_case("adult", "en", [image()])
    assert refused.value.message


def test_an_unreachable_foreign_or_too_demanding_server_is_a_remote_error() -> None:
    def not_a_registry(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>hello</html>")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def too_hard(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"challenge": "x", "difficulty": 40, "expires": 0})

    cases = ((not_a_registry, "not JSON"), (down, "cannot reach"), (too_hard, "40 bits"))
    for handler, message in cases:
        transport = httpx.MockTransport(handler)
        with (
            ReporterClient("http://registry.test", transport=transport) as c,
            pytest.raises(RemoteError, match=message),
        ):
            c.create_case("adult", "en", [image()])


def test_a_case_cut_short_names_its_number_and_pin(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case is made by the first request; when adding the rest fails, the number and
    PIN must not be lost with the error."""
    recorder = Recorder(api)

    def media_refused(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/media"):
            recorder.requests.append(request)
            return httpx.Response(503, json={"error": {"code": "x", "message": "busy"}})
        return recorder(request)

    monkeypatch.setattr(report_client, "MAX_MEDIA_PER_REQUEST", 1)
    transport = httpx.MockTransport(media_refused)
    with (
        ReporterClient("http://registry.test", transport=transport) as client,
        pytest.raises(RemoteError) as failed,
    ):
        client.create_case("adult", "en", [image(), image()])
    created = json.loads(next(r for r in recorder.requests if r.url.path == "/v1/cases").content)
    assert len(created["media"]) == 1
    message = failed.value.message
    assert "was made with 1 of 2 files" in message
    assert "busy" in message
    number, pin = message.split("case ")[1].split(" (PIN ")
    state = ReporterClient("http://registry.test", transport=httpx.MockTransport(recorder))
    with state:
        assert len(state.status(number, pin.split(")")[0]).media) == 1
