"""JSON bodies for the busiest endpoints, without FastAPI's per-field path.

`parse_json` validates the raw request bytes with the model in one pydantic call
(`model_validate_json`: parsing and checking in Rust) and raises FastAPI's own
`RequestValidationError` with the same locations (`body.media[0].md5`), so errors look exactly
as for every other endpoint. `json_response` writes a response with orjson. `body_openapi`
documents such a body, since FastAPI cannot see it in the endpoint's signature
(`schemas.finish_document` adds the model to the document's components).
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

__all__ = ["JSON", "body_openapi", "json_response", "parse_json"]

JSON = "application/json"

M = TypeVar("M", bound=BaseModel)


def parse_json(body: bytes, content_type: str, model: type[M]) -> M:
    """A raw JSON request body as `model`. Like FastAPI: a body sent without a JSON content
    type is not parsed (422), malformed JSON is 400 (`json_invalid`), anything else that does
    not fit the model 422 naming the field."""
    if not body:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    if not _is_json(content_type):
        raise RequestValidationError(
            [
                {
                    "type": "model_attributes_type",
                    "loc": ("body",),
                    "msg": "Send the body as JSON, with the header Content-Type: application/json",
                    "input": None,
                }
            ]
        )
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in errors]
        ) from None


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def json_response(content: Any, status_code: int = 200) -> Response:
    """`content` (dicts, lists, str, int, bool, None) as a JSON response."""
    return Response(orjson.dumps(content), status_code=status_code, media_type=JSON)


def body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for an endpoint that reads `model` with `parse_json`."""
    reference = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {JSON: {"schema": reference}}}}
