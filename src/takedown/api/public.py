"""Public endpoints: aggregate transparency numbers and a health check."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from takedown.api import schemas
from takedown.api.services import Services

__all__ = ["TRANSPARENCY_TTL_SECONDS", "public_router"]

TRANSPARENCY_TTL_SECONDS = 60.0
"""The numbers are recomputed at most this often: an anonymous endpoint must not be a way to
make the database count its tables on every request."""


class _Cached:
    def __init__(self, compute: Callable[[], dict[str, Any]], ttl: float) -> None:
        self._compute = compute
        self._ttl = ttl
        self._value: dict[str, Any] | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            if self._value is None or now - self._at >= self._ttl:
                self._value = self._compute()
                self._at = now
            return self._value


def public_router(services: Services) -> APIRouter:
    router = APIRouter()
    transparency_numbers = _Cached(services.registry.transparency, TRANSPARENCY_TTL_SECONDS)

    @router.get("/v1/transparency", tags=["public"], summary="Aggregate numbers")
    def transparency() -> dict[str, Any]:
        """Counts only (cases, media, live hashes per list, platforms, withdrawals, quarantine),
        recomputed at most once a minute. Nothing about any one case or reporter."""
        return transparency_numbers.get()

    @router.get(
        "/healthz", tags=["public"], summary="Liveness", response_model=schemas.HealthResponse
    )
    def healthz() -> schemas.HealthResponse:
        """`{"status": "ok"}` while the server runs."""
        return schemas.HealthResponse()

    return router
