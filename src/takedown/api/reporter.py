"""Reporter endpoints: a proof-of-work challenge, make a case, check it, add to it, withdraw.

No account and nothing about the reporter's connection: a case is reached by its number and
PIN only. PINs travel in POST bodies so that they never sit in a URL, a log or a history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

import anyio.to_thread
import orjson
from anyio import CapacityLimiter
from fastapi import APIRouter, Path, Request, Response

from takedown.api import bodies, schemas
from takedown.api.services import Services
from takedown.errors import RateLimitedError
from takedown.registry import service

__all__ = ["PIN_QUEUE", "PIN_WARNING", "PIN_WORKERS", "Reporting", "reporter_router"]

T = TypeVar("T")

PIN_WORKERS = 16
"""Threads that may run a use case that hashes or checks a PIN at once. Most of them wait for
the registry's writer, which writes the cases waiting together in one transaction; the argon2id
hashing itself (1-2 ms and 2 MiB at the default cost) runs at most one per CPU
(`registry.secrets.PinHasher`). Made-up case numbers cost a check too (unknown cases take as
long as wrong PINs), so without this bound anonymous requests could hold every worker thread.
Waiting requests wait in the event loop, not in threads."""
PIN_QUEUE = 200
"""Requests allowed to wait for a PIN worker; beyond that, 429 at once."""
BUSY_RETRY_AFTER = 5

PIN_WARNING = (
    "Write down the case number and the PIN now. The PIN is shown only this once and cannot "
    "be recovered; anyone who has both can see and withdraw this case."
)

CaseNumberPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,20}$", examples=["K7QM-93TX-RW4P"])]
MediaIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$")]

_PIN_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorResponse, "description": "Unknown case number or wrong PIN."},
    423: {
        "model": schemas.ErrorResponse,
        "description": "Too many wrong PINs: locked; see the Retry-After header.",
    },
    429: {"model": schemas.ErrorResponse, "description": "Too many requests; see Retry-After."},
}
_POW_ERRORS: dict[int | str, dict[str, object]] = {
    422: {
        "model": schemas.ErrorResponse,
        "description": "Invalid body, a limit exceeded, or the proof of work was refused "
        "(code `proof_of_work_failed`: get a new challenge).",
    },
}


def to_media(items: Sequence[schemas.ReportedMedia]) -> list[service.MediaIn]:
    signal = service.SignalIn
    return [
        service.MediaIn(
            item.kind,
            item.md5,
            item.sha256,
            tuple([signal(s.type, s.value, s.quality, s.variant) for s in item.signals]),
            tuple(item.vpdq),
        )
        for item in items
    ]


class Reporting:
    """What the reporter endpoints share: the bounded pool of PIN workers, and the bodies of
    the two busiest endpoints (a challenge, a new case), which `hotpaths` also serves without
    FastAPI's routing. One per application."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._pin_workers = CapacityLimiter(PIN_WORKERS)

    async def pin_work(self, call: Callable[[], T]) -> T:
        """Run a use case that hashes or checks a PIN on the bounded PIN pool."""
        if self._pin_workers.statistics().tasks_waiting >= PIN_QUEUE:
            raise RateLimitedError(
                "the registry is busy right now; try again in a few seconds",
                retry_after=BUSY_RETRY_AFTER,
            )
        return await anyio.to_thread.run_sync(call, limiter=self._pin_workers)

    def challenge(self) -> bytes:
        """The JSON of a fresh challenge (`schemas.ChallengeResponse`)."""
        return orjson.dumps(self.services.proof_of_work.issue())

    async def create_case(self, body: bytes, content_type: str) -> bytes:
        """The JSON of a new case (`schemas.CaseCreatedResponse`, status 201) from the raw
        request body; raises what the API turns into error responses."""
        # The body is checked in one pydantic call (`bodies`), the answer written with orjson.
        parsed = bodies.parse_json(body, content_type, schemas.CreateCaseRequest)
        services = self.services
        # Work first: filling the global bucket has to cost the sender CPU, not us.
        services.proof_of_work.verify(parsed.pow.challenge, parsed.pow.solution)
        services.limits.check_create()
        media = to_media(parsed.media)
        registry = services.registry
        created = await self.pin_work(
            lambda: registry.create_case(parsed.age_group, parsed.language, media)
        )
        return orjson.dumps(
            {
                "case_number": created.case_number,
                "pin": created.pin,
                "media_ids": list(created.media_ids),
                "warning": PIN_WARNING,
            }
        )


def reporter_router(services: Services, reporting: Reporting) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["reporter"])
    registry = services.registry
    pin_work = reporting.pin_work

    @router.get(
        "/challenge",
        summary="Get a proof-of-work challenge",
        response_model=schemas.ChallengeResponse,
    )
    async def challenge() -> Response:
        """A fresh challenge for `POST /v1/cases` or `POST /v1/cases/{number}/media`.

        Find a decimal `solution` such that SHA-256 of `"<challenge>:<solution>"` starts with
        `difficulty` zero bits, and send both as `pow`. Each challenge is good for one request
        until `expires`. At difficulty 0 the check is off and `"0"` is a solution.
        """
        # Served by `hotpaths` in the application; this route documents it (and serves it
        # where the hot paths are not installed).
        return Response(reporting.challenge(), media_type=bodies.JSON)

    @router.post(
        "/cases",
        status_code=201,
        summary="Report photos and videos (hashes only)",
        response_model=schemas.CaseCreatedResponse,
        responses={
            **_POW_ERRORS,
            400: {"model": schemas.ErrorResponse, "description": "The body is not valid JSON."},
            429: {"model": schemas.ErrorResponse, "description": "Too many new cases right now."},
        },
        openapi_extra=bodies.body_openapi(schemas.CreateCaseRequest),
    )
    async def create_case(request: Request) -> Response:
        """Make a case from the fingerprints of one or more photos or videos (as printed by
        `takedown hash --json`, without `path`). Returns the case number and a PIN, shown once.
        """
        # Served by `hotpaths` in the application, like `challenge`.
        content = await reporting.create_case(
            await request.body(), request.headers.get("content-type", "")
        )
        return Response(content, status_code=201, media_type=bodies.JSON)

    @router.post(
        "/cases/{number}/status",
        summary="Check a case",
        response_model=schemas.CaseStatusResponse,
        responses=_PIN_ERRORS,
    )
    async def case_status(
        number: CaseNumberPath, body: schemas.PinRequest
    ) -> schemas.CaseStatusResponse:
        """The case and, per media item, how many platforms have seen and removed it."""
        services.limits.check_case(number, "status")
        status = await pin_work(lambda: registry.case_status(number, body.pin))
        return schemas.CaseStatusResponse.model_validate(status, from_attributes=True)

    @router.post(
        "/cases/{number}/media",
        status_code=201,
        summary="Add photos or videos to a case",
        response_model=schemas.MediaIdsResponse,
        responses={
            **_PIN_ERRORS,
            **_POW_ERRORS,
            409: {"model": schemas.ErrorResponse, "description": "The case was withdrawn."},
        },
    )
    async def add_media(
        number: CaseNumberPath, body: schemas.AddMediaRequest
    ) -> schemas.MediaIdsResponse:
        """More fingerprints for an existing, active case; returns the new media ids."""
        services.limits.check_case(number, "add_media")
        services.proof_of_work.verify(body.pow.challenge, body.pow.solution)
        media = to_media(body.media)
        media_ids = await pin_work(lambda: registry.add_media(number, body.pin, media))
        return schemas.MediaIdsResponse(media_ids=list(media_ids))

    @router.post(
        "/cases/{number}/withdraw",
        summary="Withdraw a whole case",
        response_model=schemas.WithdrawnResponse,
        responses=_PIN_ERRORS,
    )
    async def withdraw_case(
        number: CaseNumberPath, body: schemas.PinRequest
    ) -> schemas.WithdrawnResponse:
        """Take every hash of the case off the lists; platforms receive `remove` events."""
        services.limits.check_case(number, "withdraw")
        await pin_work(lambda: registry.withdraw_case(number, body.pin))
        return schemas.WithdrawnResponse()

    @router.post(
        "/cases/{number}/media/{media_id}/withdraw",
        summary="Withdraw one photo or video",
        response_model=schemas.WithdrawnResponse,
        responses={
            **_PIN_ERRORS,
            404: {"model": schemas.ErrorResponse, "description": "No such media in this case."},
        },
    )
    async def withdraw_media(
        number: CaseNumberPath, media_id: MediaIdPath, body: schemas.PinRequest
    ) -> schemas.WithdrawnResponse:
        """Take one media item's hashes off the lists (hashes other cases hold stay listed)."""
        services.limits.check_case(number, "withdraw")
        await pin_work(lambda: registry.withdraw_media(number, body.pin, media_id))
        return schemas.WithdrawnResponse()

    return router
