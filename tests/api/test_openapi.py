"""The OpenAPI document describes every endpoint, and no generated request gets a 5xx."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from tests.api.conftest import Api, running_api

EXAMPLES_PER_OPERATION = 12

ENDPOINTS = {
    ("get", "/v1/challenge"),
    ("post", "/v1/cases"),
    ("post", "/v1/cases/{number}/status"),
    ("post", "/v1/cases/{number}/media"),
    ("post", "/v1/cases/{number}/withdraw"),
    ("post", "/v1/cases/{number}/media/{media_id}/withdraw"),
    ("get", "/v1/feed"),
    ("get", "/v1/feed/snapshot"),
    ("post", "/v1/feedback"),
    ("post", "/v1/match"),
    ("get", "/v1/transparency"),
    ("get", "/healthz"),
    ("get", "/compat/stopncii/v1/FetchHashes"),
    ("post", "/compat/stopncii/v1/SubmitFeedback"),
}


def test_every_endpoint_is_described(sqlite_api: Api) -> None:
    document = sqlite_api.client.get("/openapi.json").json()

    documented = {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }

    assert set(documented) == ENDPOINTS
    for (method, path), operation in documented.items():
        assert operation.get("summary"), (method, path)
        assert operation.get("description"), (method, path)
        assert "200" in operation["responses"] or "201" in operation["responses"]


def test_the_document_carries_the_configured_limits(tmp_path: Path) -> None:
    with running_api(tmp_path, max_media_per_request=7, max_match_signals=3) as api:
        schemas = api.client.get("/openapi.json").json()["components"]["schemas"]

    assert schemas["CreateCaseRequest"]["properties"]["media"]["maxItems"] == 7
    assert schemas["MatchRequest"]["properties"]["signals"]["maxItems"] == 3
    assert schemas["ReportedMedia"]["properties"]["signals"]["maxItems"] == 64


def test_platform_endpoints_declare_both_key_headers(sqlite_api: Api) -> None:
    document = sqlite_api.client.get("/openapi.json").json()

    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["apiKey"]["name"] == "X-Api-Key"
    for path in ("/v1/feed", "/v1/feed/snapshot"):
        assert {next(iter(s)) for s in document["paths"][path]["get"]["security"]} == {
            "bearer",
            "apiKey",
        }


def test_no_generated_request_gets_a_server_error(sqlite_api: Api) -> None:
    """Schemathesis: valid-looking and invalid requests against every operation, with a real
    platform key, on the real registry. Valid-looking requests also get a real case number
    and a freshly issued proof of work, so that they reach the registry's own checks."""
    api = sqlite_api
    key = api.platform("fuzzer")
    case_number = api.report()["case_number"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert {(op.method, op.path) for op in operations} == ENDPOINTS

    def realistic(case: schemathesis.Case[Any]) -> None:
        if "number" in case.path_parameters:
            case.path_parameters["number"] = case_number
        if isinstance(case.body, dict) and isinstance(case.body.get("pow"), dict):
            solved: dict[str, Any] = api.pow()
            case.body["pow"] = solved

    for operation in operations:
        _fuzz(operation.as_strategy(), key, realistic)
        if len(operation.body) or len(operation.query) or len(operation.path_parameters):
            # Negative generation needs an input to break.
            negative = schemathesis.GenerationMode.NEGATIVE
            _fuzz(operation.as_strategy(generation_mode=negative), key, lambda case: None)


def _fuzz(strategy: Any, key: str, adjust: Callable[[schemathesis.Case[Any]], None]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case[Any]) -> None:
        adjust(case)
        case.call_and_validate(
            headers={"Authorization": f"Bearer {key}", "Ocp-Apim-Subscription-Key": key},
            checks=[not_a_server_error],
        )

    call()


def test_invalid_requests_are_documented_with_our_error_shape(sqlite_api: Api) -> None:
    document = sqlite_api.client.get("/openapi.json").json()

    assert "HTTPValidationError" not in document["components"]["schemas"]
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
