"""The composition root of the HTTP API: `create_app(settings)` wires registry, proof of work,
rate limits, routers, middleware and error handlers into one FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig

from takedown import web
from takedown.api import schemas
from takedown.api.compat_stopncii import stopncii_router
from takedown.api.errors import install_error_handlers
from takedown.api.hotpaths import HotPaths
from takedown.api.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from takedown.api.platform import platform_router
from takedown.api.powsecret import pow_secret
from takedown.api.public import public_router
from takedown.api.reporter import Reporting, reporter_router
from takedown.api.services import Services
from takedown.registry.pow import ProofOfWork
from takedown.registry.ratelimit import Limits
from takedown.registry.service import Registry
from takedown.registry.settings import Settings
from takedown.web import pages

__all__ = ["create_app"]

DESCRIPTION = """\
The takedown registry: people report photos and videos by their hashes only (nothing else
leaves their device), platforms read the hash list and report back what they did.

Every error has the body `{"error": {"code": "...", "message": "..."}}`.
See docs/api.md for examples, limits and what the service stores.
"""

# FastAPI's built-in OpenTelemetry would record requests (client address, user agent) as
# soon as a provider is configured anywhere in the process; the registry keeps no such data.
_TELEMETRY_OFF = TelemetryConfig(
    tracing=False, metrics=False, logs=False, operation_spans=False, auto_configure=False
)

_TAGS = [
    {"name": "reporter", "description": "Anonymous: cases are reached by number and PIN."},
    {"name": "platform", "description": "Participating platforms, with an API key."},
    {"name": "public", "description": "Aggregate numbers and health."},
]


class TakedownAPI(FastAPI):
    """FastAPI whose OpenAPI document carries the settings' limits and our error shape."""

    services: Services

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schemas.finish_document(super().openapi(), self.services.settings)
        return super().openapi()


def create_app(
    settings: Settings,
    registry: Registry | None = None,
    *,
    proof_of_work: ProofOfWork | None = None,
    limits: Limits | None = None,
) -> FastAPI:
    """The API application. Without `registry`, one is made from `settings` (and its engine
    closed at shutdown); the database must already be migrated (`takedown serve` does that).

    Without `proof_of_work`, challenges are signed with the secret every server process shares
    (`TAKEDOWN_POW_SECRET`, or the file `pow_secret` in the data directory, made on first use);
    without `limits`, the default rates apply (per process).
    """
    owned = registry is None
    services = Services(
        settings=settings,
        registry=Registry.from_settings(settings) if registry is None else registry,
        proof_of_work=proof_of_work
        or ProofOfWork(pow_secret(settings), settings.pow_difficulty_bits),
        limits=limits or Limits.from_rates({}),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            services.registry.close()

    app = TakedownAPI(
        title="takedown registry",
        version="1",
        description=DESCRIPTION,
        openapi_tags=_TAGS,
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
        telemetry=_TELEMETRY_OFF,
    )
    app.services = services
    reporting = Reporting(services)
    app.include_router(reporter_router(services, reporting))
    app.include_router(platform_router(services))
    app.include_router(public_router(services))
    app.include_router(stopncii_router(services))
    app.include_router(pages.router(settings, services.registry.transparency))
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    install_error_handlers(app)
    # The busiest two endpoints without FastAPI's routing, inside the body limit and headers.
    app.add_middleware(HotPaths, reporting=reporting)
    # Added last = outermost: the 413 of the body limit gets the security headers too.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
