"""The one place where errors become HTTP responses: `{"error": {"code", "message"}}`.

Takedown errors keep their `code` and `message`; FastAPI's validation errors become
`invalid_request` with a message naming the field; anything unexpected is a generic 500
(the details go to the server log, never to the client).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from takedown.api.middleware import security_headers
from takedown.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    InputError,
    LockedError,
    NotFoundError,
    RateLimitedError,
    TakedownError,
)

__all__ = ["error_body", "error_response", "install_error_handlers", "response_for"]

logger = logging.getLogger("takedown.api")

_STATUS: tuple[tuple[type[TakedownError], int], ...] = (
    (InputError, 422),
    (AuthError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (LockedError, 423),
    (RateLimitedError, 429),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}

INTERNAL_MESSAGE = "Something went wrong on our side; nothing was saved. Please try again later."


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def status_of(exc: TakedownError) -> int:
    """The HTTP status for a takedown error (500 for kinds a client cannot cause)."""
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def response_for(exc: Exception, method: str, where: str, path: str) -> JSONResponse:
    """The response for an exception raised while serving `method` `where` (the route's
    template, for the log) at `path`: what the handlers below give, for code that runs
    outside FastAPI's routing (`hotpaths`)."""
    if isinstance(exc, TakedownError):
        return _takedown_response(exc, method, where, path)
    if isinstance(exc, RequestValidationError):
        return _validation_error_response(exc)
    return _internal_response(exc, method, where, path, traceback=True)


def _takedown_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TakedownError)
    return _takedown_response(exc, request.method, _route(request), request.url.path)


def _takedown_response(exc: TakedownError, method: str, where: str, path: str) -> JSONResponse:
    status = status_of(exc)
    if status == 500:
        return _internal_response(exc, method, where, path, traceback=True)
    headers: dict[str, str] = {}
    if isinstance(exc, LockedError | RateLimitedError):
        headers["Retry-After"] = str(max(1, exc.retry_after))
    if isinstance(exc, AuthError):
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(status, exc.code, exc.message, headers)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _validation_error_response(exc)


def _validation_error_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(400, "invalid_request", "The request body is not valid JSON.")
    return error_response(422, "invalid_request", describe_validation_errors(errors))


def describe_validation_errors(errors: Sequence[Any], *, limit: int = 3) -> str:
    """'body.media[0].md5: String should match pattern ...; ...' for the first few errors."""
    parts = []
    for error in errors[:limit]:
        parts.append(f"{_location(error.get('loc', ()))}: {error.get('msg', 'invalid')}")
    more = len(errors) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts) + "."


def _location(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "request"


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "The request was not accepted."
    if exc.status_code == 404:
        message = "No such endpoint; see /docs for the API."
    return error_response(exc.status_code, code, message, exc.headers)


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises these after the response, and the server logs the traceback.
    return _internal_response(
        exc, request.method, _route(request), request.url.path, traceback=False
    )


def _route(request: Request) -> str:
    # The route template, never the concrete path: a case number in a log line would tie
    # a moment in time to a case.
    return str(getattr(request.scope.get("route"), "path", "?"))


def _internal_response(
    exc: Exception, method: str, where: str, path: str, *, traceback: bool
) -> JSONResponse:
    logger.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        method,
        where,
        exc_info=exc if traceback else None,
    )
    # Sent from outside the middleware stack, so it carries the security headers itself.
    return error_response(500, "internal", INTERNAL_MESSAGE, security_headers(path))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TakedownError, _takedown_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
