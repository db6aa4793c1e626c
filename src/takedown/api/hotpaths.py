"""The two requests every report makes, served without FastAPI's routing.

`GET /v1/challenge` and `POST /v1/cases` are most of the registry's traffic, and under load a
good part of their CPU went to the layers between uvicorn and the endpoint (exception and
exit-stack middleware, route matching, dependency solving, a Response object): the profile of
`bench/registry_load.py` put those layers at about an eighth of the server's Python time.
`HotPaths` sits inside our own middleware (so the body limit and the security headers apply
as to everything else) and answers exactly these two (method, path) pairs itself, with the
same code the FastAPI routes run (`reporter.Reporting`) and the same error responses
(`errors.response_for`). The routes stay in the application: they document both endpoints
in the OpenAPI document, and serve them where `HotPaths` is not installed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from takedown.api.errors import response_for
from takedown.api.reporter import Reporting

__all__ = ["HotPaths"]

_Handler = Callable[[bytes, str], Awaitable[tuple[int, bytes]]]


class HotPaths:
    """ASGI middleware answering `GET /v1/challenge` and `POST /v1/cases` directly."""

    def __init__(self, app: ASGIApp, reporting: Reporting) -> None:
        self.app = app

        async def challenge(_body: bytes, _content_type: str) -> tuple[int, bytes]:
            return 200, reporting.challenge()

        async def create_case(body: bytes, content_type: str) -> tuple[int, bytes]:
            return 201, await reporting.create_case(body, content_type)

        self._handlers: dict[tuple[str, str], _Handler] = {
            ("GET", "/v1/challenge"): challenge,
            ("POST", "/v1/cases"): create_case,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self._handlers.get((scope["method"], scope["path"]))
            if handler is not None:
                await self._serve(handler, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(self, handler: _Handler, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:  # `BodyLimitMiddleware` has read and bounded it: one message
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        content_type = ""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
        try:
            status, content = await handler(body, content_type)
        except Exception as exc:  # the same responses as FastAPI's handlers give
            path = scope["path"]
            await response_for(exc, scope["method"], path, path)(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode("ascii")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})
