"""`takedown platform serve`: upload-time matching for the platform's own upload pipeline.

`POST /match` takes a file (multipart field `file`; hashed in memory, never stored) or JSON
hashes, and answers the matches against the local store, in the shape `takedown scan --json`
prints them. The index follows the store: a background thread catches up with each sync.
Never imports `takedown.api` (the registry's service): this runs at the platform.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio
import sqlalchemy as sa
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from takedown.errors import (
    AuthError,
    DecodeError,
    FileTooLargeError,
    ImageTooLargeError,
    InputError,
    TakedownError,
    UnsupportedMediaError,
)
from takedown.hashing.fingerprint import MediaFingerprint, Signal, query_fingerprint
from takedown.hashing.video import parse_vpdq
from takedown.platform.matcher import FRAME, StoreMatch
from takedown.platform.store_index import NotSyncedError, StoreIndex
from takedown.platform.upload import MemoryFile, read_multipart_file

__all__ = ["MAX_JSON_BYTES", "ServiceSettings", "create_service"]

log = logging.getLogger("takedown.platform.service")

MAX_JSON_BYTES = 1024 * 1024
MAX_SIGNALS = 64
MAX_FRAMES = 3600
_REF = re.compile(r"[\x21-\x7e]{1,1000}")


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    token: str | None = None
    """When set, `POST /match` needs `Authorization: Bearer <token>`."""
    max_upload_bytes: int = 100 * 1024 * 1024
    refresh_seconds: float = 5.0
    """How often the index checks the store for a newer sync."""
    workers: int = max(1, min(4, os.cpu_count() or 1))
    """Uploads hashed at once (each holds its file in memory while it is hashed)."""


class _Hash(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["pdq", "md5"]
    value: Annotated[str, Field(pattern=r"^[0-9a-f]+$", min_length=32, max_length=64)]
    quality: Annotated[int, Field(ge=0, le=100)] = 100
    variant: Annotated[str | None, Field(pattern=r"^[a-z0-9_:.-]{1,16}$")] = None


class MatchRequest(BaseModel):
    """An upload's hashes, as `takedown hash --json` or `scan` compute them: PDQ `signals`
    (and MD5s), the file's `md5`, a video's `vpdq` frames."""

    model_config = ConfigDict(extra="forbid", strict=True)

    signals: Annotated[list[_Hash], Field(max_length=MAX_SIGNALS)] = []
    md5: Annotated[str | None, Field(pattern=r"^[0-9a-f]{32}$")] = None
    vpdq: Annotated[list[str], Field(max_length=MAX_FRAMES)] = []


def create_service(engine: sa.Engine, settings: ServiceSettings | None = None) -> FastAPI:
    """The app, on an open local store (the caller disposes of the engine)."""
    config = settings or ServiceSettings()
    index = StoreIndex(engine)
    limiter = anyio.CapacityLimiter(config.workers)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = threading.Thread(
            target=_follow, args=(index, config.refresh_seconds, stop), daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)

    app = FastAPI(
        title="takedown platform match service",
        description="Upload-time matching against the platform agent's synced local store.",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    @app.exception_handler(TakedownError)
    async def _takedown_error(_request: Request, exc: TakedownError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(InputError(_first_error(exc.errors())))

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness, and whether the index is loaded (`ready`) and up to which cursor."""
        return {"status": "ok", "ready": index.cursor is not None, "cursor": index.cursor}

    @app.post("/match")
    async def match(
        request: Request,
        ref: Annotated[
            str | None,
            Query(description="The platform's id of the upload: matches become review items."),
        ] = None,
    ) -> dict[str, Any]:
        """Matches for one upload: a multipart `file`, or JSON hashes."""
        _check_token(request, config.token)
        if ref is not None and not _REF.fullmatch(ref):
            raise InputError("ref must be 1-1000 printable ASCII characters, no spaces")
        if index.cursor is None:
            # NotSyncedError (503) until the first sync has completed.
            await anyio.to_thread.run_sync(index.refresh)
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() == "application/json":
            signals, md5, frames = _hashes(await _json_body(request))
            found = await anyio.to_thread.run_sync(index.match_hashes, signals, md5, frames)
        else:
            found = await _match_file(request, content_type, index, config, limiter)
        if ref is not None:
            await anyio.to_thread.run_sync(_record, engine, ref, found)
        return {"matches": [m.to_json() for m in found]}

    return app


def _follow(index: StoreIndex, every: float, stop: threading.Event) -> None:
    """Keep the index up to date with the store until told to stop."""
    while True:
        try:
            if index.refresh():
                log.info("index at cursor %s (%d signals)", index.cursor, len(index))
        except NotSyncedError:
            pass
        except Exception:
            log.exception("refreshing the index failed; trying again")
        if stop.wait(every):
            return


def _check_token(request: Request, token: str | None) -> None:
    if token is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        raise AuthError("send 'Authorization: Bearer <token>' with the service's token")


async def _json_body(request: Request) -> MatchRequest:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_JSON_BYTES:
            raise FileTooLargeError(f"a JSON body is at most {MAX_JSON_BYTES:,} bytes")
    try:
        return MatchRequest.model_validate_json(bytes(data))
    except ValidationError as exc:
        raise InputError(_first_error(exc.errors(), "body")) from None


def _hashes(body: MatchRequest) -> tuple[list[Signal], str | None, list[Signal]]:
    signals: list[Signal] = []
    md5 = body.md5
    for i, item in enumerate(body.signals):
        expected = 64 if item.type == "pdq" else 32
        if len(item.value) != expected:
            raise InputError(
                f"body.signals[{i}].value: a {item.type} is {expected} lowercase hex characters"
            )
        default = "original" if item.type == "pdq" else "file"
        signals.append(Signal(item.type, item.value, item.quality, item.variant or default))
    md5s = [s for s in signals if s.type == "md5"]
    if md5s:
        if len(md5s) > 1 or (md5 is not None and md5 != md5s[0].value):
            raise InputError("give one MD5: the file's, in `md5` or as one md5 signal")
        md5 = md5s[0].value
    frames = []
    for i, line in enumerate(body.vpdq):
        try:
            frame = parse_vpdq(line)
        except InputError as exc:
            raise InputError(f"body.vpdq[{i}]: {exc.message}") from None
        frames.append(Signal("pdq", frame.hex, frame.quality, FRAME))
    return [s for s in signals if s.type == "pdq"], md5, frames


async def _match_file(
    request: Request,
    content_type: str,
    index: StoreIndex,
    config: ServiceSettings,
    limiter: anyio.CapacityLimiter,
) -> list[StoreMatch]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > config.max_upload_bytes:
        raise FileTooLargeError(
            f"the upload is over the limit of {config.max_upload_bytes:,} bytes"
        )
    with MemoryFile() as upload:
        await read_multipart_file(content_type, request.stream(), config.max_upload_bytes, upload)
        try:
            fp: MediaFingerprint = await anyio.to_thread.run_sync(
                query_fingerprint, upload.path, limiter=limiter
            )
        except (DecodeError, UnsupportedMediaError) as exc:
            # The in-memory file has no name, so the hashing code cannot tell from a suffix
            # whether a photo or a video was meant: say both.
            raise DecodeError(
                f"the upload is not an image or video we can read: {exc.message}"
            ) from None
    return await anyio.to_thread.run_sync(index.match, fp)


def _record(engine: sa.Engine, ref: str, matches: list[StoreMatch]) -> None:
    from takedown.platform.review import record_match

    for match in matches:
        record_match(engine, ref, match, "upload")


_STATUS: dict[type[TakedownError], int] = {
    FileTooLargeError: 413,
    ImageTooLargeError: 413,
    AuthError: 401,
    NotSyncedError: 503,
    InputError: 422,
}


def _error(exc: TakedownError) -> JSONResponse:
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 500)
    if status == 500:
        log.error("unexpected error: %s", exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": {"code": exc.code, "message": exc.message}}, status_code=status, headers=headers
    )


def _first_error(errors: Sequence[Any], prefix: str | None = None) -> str:
    """The first validation error as `where: what` (`body.signals[0].value: ...`)."""
    if not errors:
        return "invalid request"
    error = errors[0]
    parts = [prefix] if prefix else []
    for part in error.get("loc", ()):
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        else:
            parts.append(str(part))
    where = ".".join(parts)
    message = str(error.get("msg", "invalid"))
    return f"{where}: {message}" if where else message
