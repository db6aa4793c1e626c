"""What every response shares: the error shape, body limits, security headers, no cookies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from takedown.api.errors import INTERNAL_MESSAGE
from tests.api.conftest import Api, image, running_api, video


@pytest.fixture
def api(sqlite_api: Api) -> Api:
    """HTTP behaviour does not depend on the database: SQLite only."""
    return sqlite_api


def create_request(api: Api, **changes: Any) -> dict[str, Any]:
    return {"age_group": "adult", "language": "en", "media": [image()], "pow": api.pow(), **changes}


def assert_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message
    return message


def test_a_declared_oversized_body_is_413_before_parsing(tmp_path: Path) -> None:
    with running_api(tmp_path, max_body_bytes=4096) as api:
        body = b'{"age_group": "adult", "junk": "' + b"x" * 5000 + b'"}'

        response = api.client.post(
            "/v1/cases", content=body, headers={"content-type": "application/json"}
        )

        assert_error(response, 413, "body_too_large")
        assert response.headers["content-security-policy"].startswith("default-src 'self'")


def test_a_chunked_oversized_body_is_413_while_streaming(tmp_path: Path) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            sent.append(1)
            yield b"x" * 1024

    with running_api(tmp_path, max_body_bytes=4096) as api:
        response = api.client.post(
            "/v1/cases", content=chunks(), headers={"content-type": "application/json"}
        )

        assert_error(response, 413, "body_too_large")


def test_a_body_just_under_the_limit_is_parsed(tmp_path: Path) -> None:
    with running_api(tmp_path, max_body_bytes=4096) as api:
        response = api.client.post("/v1/cases", json=create_request(api, media=[image(3)]))

        assert response.status_code == 201


def test_too_many_media_items_name_the_field(api: Api) -> None:
    media = [image(1) for _ in range(api.settings.max_media_per_request + 1)]

    response = api.client.post("/v1/cases", json=create_request(api, media=media))

    assert "media" in assert_error(response, 422, "invalid_request")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"surprise": 1}, "surprise"),
        ({"age_group": "teen"}, "age_group"),
        ({"age_group": 3}, "age_group"),
        ({"language": "english please"}, "language"),
        ({"media": []}, "media"),
        ({"media": "all of them"}, "media"),
        ({"media": [{**image(), "md5": "XYZ"}]}, "media[0].md5"),
        ({"media": [{**image(), "extra": True}]}, "media[0].extra"),
        ({"media": [{**image(), "signals": [{"type": "pdq", "value": "0" * 64}]}]}, "quality"),
        ({"media": [{**video(), "vpdq": ["not a frame"]}]}, "media[0].vpdq[0]"),
        ({"media": [{**image(), "kind": "audio"}]}, "media[0].kind"),
    ],
)
def test_invalid_bodies_are_refused_naming_the_field(
    api: Api, changes: dict[str, Any], field: str
) -> None:
    response = api.client.post("/v1/cases", json=create_request(api, **changes))

    assert field in assert_error(response, 422, "invalid_request")


def test_wrong_json_types_are_not_coerced(api: Api) -> None:
    media = image()
    media["signals"][0]["quality"] = "90"

    response = api.client.post("/v1/cases", json=create_request(api, media=[media]))

    assert "quality" in assert_error(response, 422, "invalid_request")


def test_malformed_json_is_400(api: Api) -> None:
    response = api.client.post(
        "/v1/cases", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert_error(response, 400, "invalid_request")


def test_unknown_paths_are_404_in_the_error_shape(api: Api) -> None:
    assert_error(api.client.get("/v1/nothing-here"), 404, "not_found")


def test_every_response_carries_the_security_headers_and_no_cookie(api: Api) -> None:
    created = api.report()
    responses = [
        api.client.get("/healthz"),
        api.client.get("/v1/challenge"),
        api.client.get("/v1/transparency"),
        api.client.post(f"/v1/cases/{created['case_number']}/status", json={"pin": "x"}),
        api.client.get("/v1/feed"),
        api.client.get("/openapi.json"),
    ]

    for response in responses:
        headers = response.headers
        assert headers["content-security-policy"] == (
            "default-src 'self'; connect-src 'self'; img-src 'self' blob:; "
            "media-src 'self' blob:; worker-src 'self'; object-src 'none'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert "set-cookie" not in headers
        assert "server" not in headers
    for response in responses[1:5]:
        assert response.headers["cache-control"] == "no-store"


def test_unexpected_errors_are_a_generic_500(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(api.registry, "transparency", broken)
    # The transparency numbers are cached: use an app built after the patch.
    from takedown.api import create_app

    app = create_app(api.settings, api.registry)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/transparency")

    message = assert_error(response, 500, "internal")
    assert message == INTERNAL_MESSAGE
    assert "secret" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


def test_transparency_is_aggregate_numbers_only(api: Api) -> None:
    created = api.report([image(), image()])

    response = api.client.get("/v1/transparency")

    assert response.status_code == 200
    text = response.text
    assert created["case_number"] not in text
    assert all(media_id not in text for media_id in created["media_ids"])


def test_healthz(api: Api) -> None:
    response = api.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_an_unexpected_error_in_a_new_case_is_a_generic_500_with_a_route_only_log(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # `POST /v1/cases` is served by `api.hotpaths`, outside FastAPI's error handlers.
    def broken(*_args: object) -> None:
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(api.registry, "create_case", broken)
    with caplog.at_level("ERROR", logger="takedown.api"):
        response = api.client.post(
            "/v1/cases",
            json={"age_group": "adult", "language": "en", "media": [image()], "pow": api.pow()},
        )

    assert assert_error(response, 500, "internal") == INTERNAL_MESSAGE
    assert "secret" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert [r.getMessage() for r in caplog.records] == ["unhandled RuntimeError on POST /v1/cases"]


def test_the_hot_paths_answer_as_the_routes_they_shortcut(api: Api) -> None:
    """The same requests to the application and to its FastAPI routes alone (the app's inner
    stack, below `HotPaths`): the same statuses, error codes and answer shapes."""
    from starlette.types import Receive, Scope, Send

    from takedown.api.hotpaths import HotPaths

    stack = api.app.middleware_stack
    assert stack is not None
    layer: Any = stack
    while not isinstance(layer, HotPaths):  # our middlewares, outside in
        layer = layer.app
    routes_only = layer.app

    async def without_hot_paths(scope: Scope, receive: Receive, send: Send) -> None:
        await routes_only(scope, receive, send)

    with TestClient(without_hot_paths, raise_server_exceptions=False) as routes:
        for client in (api.client, routes):
            challenge = client.get("/v1/challenge")
            assert challenge.status_code == 200
            assert set(challenge.json()) == {"challenge", "difficulty", "expires"}
            body = {"age_group": "adult", "language": "en", "media": [image()], "pow": api.pow()}
            created = client.post("/v1/cases", json=body)
            assert created.status_code == 201, created.text
            assert set(created.json()) == {"case_number", "pin", "media_ids", "warning"}
            assert created.headers["content-type"] == "application/json"
            bad = {**body, "media": [{**image(), "md5": "zz"}], "pow": api.pow()}
            invalid = client.post("/v1/cases", json=bad)
            assert assert_error(invalid, 422, "invalid_request").startswith("body.media[0].md5")
            garbled = client.post(
                "/v1/cases", content=b"{", headers={"content-type": "application/json"}
            )
            assert assert_error(garbled, 400, "invalid_request")
            as_text = client.post(
                "/v1/cases", content=b"{}", headers={"content-type": "text/plain"}
            )
            assert assert_error(as_text, 422, "invalid_request")
