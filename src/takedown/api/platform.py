"""Platform endpoints: the feed, the snapshot for a first sync, feedback, and the hosted match.

Every endpoint needs an API key (`Authorization: Bearer <key>` or `X-Api-Key: <key>`) and
sees only the lists the platform was given.
"""

# No `from __future__ import annotations` here: the endpoints' annotations name the local
# `authenticated` dependency, which FastAPI must see as an object, not a string.

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from takedown.api import bodies, schemas
from takedown.api.services import Services
from takedown.errors import AuthError
from takedown.registry import service

__all__ = ["EVENT_FIELDS", "LINE_FIELDS", "NDJSON", "SNAPSHOT_BATCH", "platform_router"]

NDJSON = "application/x-ndjson"
SNAPSHOT_BATCH = 1000
"""Snapshot lines built per trip to the database thread (bounds memory per response)."""

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="`Authorization: Bearer tdk_...`: the API key the operator gave the platform.",
)
_api_key = APIKeyHeader(
    name="X-Api-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="The same API key in `X-Api-Key` instead of `Authorization`.",
)

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.ErrorResponse, "description": "Missing, unknown or revoked API key."},
    429: {"model": schemas.ErrorResponse, "description": "Too many requests; see Retry-After."},
}


def platform_router(services: Services) -> APIRouter:
    registry = services.registry
    settings = services.settings

    def current_platform(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key)],
    ) -> service.Platform:
        key = bearer.credentials if bearer is not None else api_key
        if not key:
            raise AuthError(
                "an API key is required: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'"
            )
        return registry.authenticate(key)

    authenticated = Depends(current_platform)
    router = APIRouter(prefix="/v1", tags=["platform"], responses=_AUTH_ERRORS)

    @router.get("/feed", summary="Read list changes", response_model=schemas.FeedPageResponse)
    def feed(
        platform: Annotated[service.Platform, authenticated],
        after: Annotated[
            int, Query(ge=0, le=schemas.MAX_SEQ, description="Events with seq > after.")
        ] = 0,
        limit: Annotated[
            int, Query(ge=1, le=settings.feed_page_max, description="Events per page.")
        ] = settings.feed_page_default,
    ) -> Response:
        """`add` and `remove` events of the platform's lists, in `seq` order. Call again with
        `after=next` while `has_more`; later, poll with the last `next`."""
        services.limits.check_feed(platform.id)
        page = registry.feed(platform, after, limit)
        # Pages of up to 10,000 events: written straight from the registry's tuples (the
        # fields of `schemas.FeedEventItem`, in order) with orjson, not model by model.
        return bodies.json_response(
            {
                "events": [dict(zip(EVENT_FIELDS, event, strict=True)) for event in page.events],
                "next": page.next_after,
                "has_more": page.has_more,
            }
        )

    @router.get(
        "/feed/snapshot",
        summary="Every live signal, for a first sync",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": (
                    'NDJSON: a first line `{"cursor": N}`, then one '
                    '`{"list", "type", "value", "quality", "variant"}` line per live signal. '
                    "Continue with `GET /v1/feed?after=N`."
                ),
                "content": {
                    NDJSON: {
                        "schema": {
                            "oneOf": [
                                schemas.SnapshotCursorLine.model_json_schema(),
                                schemas.SnapshotSignalLine.model_json_schema(),
                            ]
                        }
                    }
                },
            }
        },
    )
    def snapshot(platform: Annotated[service.Platform, authenticated]) -> StreamingResponse:
        """The current lists in one streamed response, instead of replaying the whole feed."""
        services.limits.check_feed(platform.id)
        cursor, events = registry.snapshot(platform)
        return StreamingResponse(_snapshot_lines(cursor, events), media_type=NDJSON)

    @router.post(
        "/feedback",
        summary="Report what the platform did with matches",
        response_model=schemas.FeedbackResponse,
        responses={
            404: {"model": schemas.ErrorResponse, "description": "An item names no known hash."}
        },
    )
    def feedback(
        platform: Annotated[service.Platform, authenticated], body: schemas.FeedbackRequest
    ) -> schemas.FeedbackResponse:
        """Verdicts per signal or media item: `pending_review`, `blocked` or `not_blocked`.
        Hashes that several platforms find `not_blocked` are held for the operator's review."""
        services.limits.check_feed(platform.id)
        items = [
            service.FeedbackIn(
                verdict=item.verdict, type=item.type, value=item.value, media_id=item.media_id
            )
            for item in body.items
        ]
        return schemas.FeedbackResponse(accepted=registry.submit_feedback(platform, items))

    @router.post(
        "/match",
        summary="Match an upload's hashes against the lists",
        response_model=schemas.MatchResponse,
    )
    def match(
        platform: Annotated[service.Platform, authenticated], body: schemas.MatchRequest
    ) -> schemas.MatchResponse:
        """For platforms that do not keep the list: the listed signals within the match rule's
        distance of the given hashes. Rate limited per platform, so it cannot dump the list."""
        services.limits.check_match(platform.id)
        signals = [
            service.SignalIn(
                type=s.type,
                value=s.value,
                quality=s.quality,
                variant=s.variant or ("file" if s.type == "md5" else "original"),
            )
            for s in body.signals
        ]
        matches = registry.match(platform, signals)
        return schemas.MatchResponse(
            matches=[schemas.MatchItem.model_validate(m, from_attributes=True) for m in matches]
        )

    return router


async def _snapshot_lines(cursor: int, events: Iterator[service.FeedEvent]) -> AsyncIterator[bytes]:
    """NDJSON in batches; the registry's iterator runs in a worker thread, one batch at a time,
    and is closed however the response ends (a client may hang up halfway)."""
    try:
        yield _line({"cursor": cursor})
        while True:
            batch = await run_in_threadpool(_next_batch, events)
            if not batch:
                return
            yield batch
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            await run_in_threadpool(close)


def _next_batch(events: Iterator[service.FeedEvent]) -> bytes:
    lines = []
    for event in events:
        lines.append(_line(dict(zip(LINE_FIELDS, event[2:], strict=True))))
        if len(lines) >= SNAPSHOT_BATCH:
            break
    return b"".join(lines)


def _line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


EVENT_FIELDS = tuple(schemas.FeedEventItem.model_fields)
"""The keys of a feed event: `FeedEvent`'s fields, in order (a test checks)."""
LINE_FIELDS = tuple(schemas.SnapshotSignalLine.model_fields)
"""The keys of a snapshot line: `FeedEvent`'s fields after seq and op (a test checks)."""
