"""StopNCII-compatible endpoints under `/compat/stopncii/v1`: `FetchHashes` and `SubmitFeedback`
in the JSON shapes of StopNCII's partner API, so that Meta's python-threatexchange (`stop_ncii`
exchange with a base URL override) and HMA read our lists unmodified. See docs/api.md.
"""

# No `from __future__ import annotations`: FastAPI must see the local dependency as an object.

import base64
import binascii
import hashlib
import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, model_validator

from takedown.api import schemas
from takedown.api.services import Services
from takedown.errors import AuthError, ForbiddenError, InvalidRequestError, NotFoundError
from takedown.registry import service
from takedown.registry.stopncii import HashRecord

__all__ = ["PREFIX", "stopncii_router"]

PREFIX = "/compat/stopncii/v1"

EPOCH = date(1970, 1, 1)
DAY_SECONDS = 86_400
MAX_TIMESTAMP = (date.max - EPOCH).days * DAY_SECONDS
"""The last day we can name (9999-12-31), in Unix seconds."""

SIGNAL_TYPES = {"pdq": "ImagePDQ", "md5": "VideoMD5"}
"""Our PDQ signals (photos in every variant, and video frames) are PDQ of real image content,
so they are `ImagePDQ`. An `md5` signal is a file's MD5: a video's, or a photo's that its device
could hash only exactly; StopNCII has one MD5 type, `VideoMD5`, so both go out as that."""

VERDICTS = {"Blocked": "blocked", "NotBlocked": "not_blocked", "PendingReview": "pending_review"}
"""StopNCII feedback values that are verdicts. The others (`None`, `QualityUnknown`,
`Unknown`, `Withdrawn`, `Deleted`) say nothing we record and are refused."""

_TOKEN = re.compile(r"^[1-9][0-9]{0,18}$")
_MAX_SEQ = 2**63 - 1

_subscription_key = APIKeyHeader(
    name="Ocp-Apim-Subscription-Key",
    auto_error=False,
    scheme_name="stopnciiSubscriptionKey",
    description="The platform's API key (`tdk_...`), where StopNCII clients send theirs.",
)
_function_key = APIKeyHeader(
    name="x-functions-key",
    auto_error=False,
    scheme_name="stopnciiFunctionKey",
    description="The platform's API key again (or another active key of the same platform).",
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.ErrorResponse, "description": "Missing, unknown or revoked API key."},
    403: {"model": schemas.ErrorResponse, "description": "The keys belong to two platforms."},
    429: {"model": schemas.ErrorResponse, "description": "Too many requests; see Retry-After."},
}

HashStatus = Literal["Active", "Withdrawn"]
SignalTypeName = Literal["ImagePDQ", "VideoMD5"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HashRecordItem(_Response):
    """One hash in its current state; a later record for the same hash replaces it."""

    lastModtimestamp: int = Field(
        description="Unix time of the day of the hash's latest change (00:00 UTC): day precision."
    )
    signalType: SignalTypeName
    hashValue: str = Field(description="PDQ: 64 lowercase hex digits; VideoMD5: 32.")
    hashStatus: HashStatus = Field(
        description="`Active` while listed in one of your lists; `Withdrawn`: delete it."
    )
    caseNumbers: dict[str, HashStatus] = Field(
        description="One opaque id derived from the hash alone, never a reporter's case number."
    )
    CSPFeedbacks: list[dict[str, Any]] = Field(
        description="Always empty: platforms' verdicts are not shared with other platforms."
    )


class FetchHashesResponse(_Response):
    count: int = Field(description="Records in this page.")
    nextPageToken: str | None = Field(description="Pass as `nextPageToken` for the next page.")
    nextSetTimestamp: int = Field(
        description="The checkpoint: pass as `startTimestamp` on a later fetch."
    )
    hasMoreRecords: bool
    hashRecords: list[HashRecordItem]


class HashFeedback(_Request):
    """A verdict on one listed hash. `tags` are accepted and not stored."""

    hashValue: schemas.SignalValue
    feedbackValue: Literal["Blocked", "NotBlocked", "PendingReview"]
    tags: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=50)
    signalType: SignalTypeName | None = None

    @model_validator(mode="after")
    def _type_fits_value(self) -> "HashFeedback":
        if self.signalType is not None and self.signalType != _signal_type(self.hashValue):
            raise ValueError(f"a {self.signalType} hash has {_digits(self.signalType)} hex digits")
        return self


class SubmitFeedbackRequest(_Request):
    count: int | None = Field(default=None, description="If given, len(hashFeedbacks).")
    hashFeedbacks: list[HashFeedback] = Field(min_length=1)

    @model_validator(mode="after")
    def _count_matches(self) -> "SubmitFeedbackRequest":
        if self.count is not None and self.count != len(self.hashFeedbacks):
            raise ValueError(f"count is {self.count} but {len(self.hashFeedbacks)} were sent")
        return self


class SubmitFeedbackResponse(_Response):
    count: int = Field(description="Feedback items received.")
    accepted: int = Field(description="Verdicts recorded.")


def stopncii_router(services: Services) -> APIRouter:
    registry = services.registry
    settings = services.settings

    def current_platform(
        subscription_key: Annotated[str | None, Depends(_subscription_key)],
        function_key: Annotated[str | None, Depends(_function_key)],
    ) -> service.Platform:
        keys = [key for key in (subscription_key, function_key) if key]
        if not keys:
            raise AuthError(
                "an API key is required: send it as 'Ocp-Apim-Subscription-Key' and/or "
                "'x-functions-key'"
            )
        platforms = [registry.authenticate(key) for key in keys]
        if len({platform.id for platform in platforms}) > 1:
            raise ForbiddenError(
                "'Ocp-Apim-Subscription-Key' and 'x-functions-key' hold keys of two different "
                "platforms; send keys of one platform"
            )
        return platforms[0]

    authenticated = Depends(current_platform)
    router = APIRouter(prefix=PREFIX, tags=["stopncii"], responses=_ERRORS)

    @router.get(
        "/FetchHashes",
        summary="StopNCII-compatible: read the lists",
        response_model=FetchHashesResponse,
    )
    def fetch_hashes(
        platform: Annotated[service.Platform, authenticated],
        start_timestamp: Annotated[
            int,
            Query(
                alias="startTimestamp",
                ge=0,
                le=MAX_TIMESTAMP,
                description="Records whose lastModtimestamp is at least this (Unix seconds).",
            ),
        ] = 0,
        page_size: Annotated[
            int,
            Query(
                alias="pageSize",
                ge=1,
                le=2**31,
                description=f"Records per page; at most {settings.feed_page_max} are returned.",
            ),
        ] = settings.feed_page_default,
        next_page_token: Annotated[
            str | None,
            Query(alias="nextPageToken", max_length=64, description="From the previous page."),
        ] = None,
    ) -> FetchHashesResponse:
        """Every hash of the platform's lists once, in the state of its latest change, oldest
        change first: `Active` while listed, `Withdrawn` once it left every list of the
        platform (withdrawn by the person, or held for review). Page with `nextPageToken`
        while `hasMoreRecords`; keep `nextSetTimestamp` as the next `startTimestamp`."""
        services.limits.check_feed(platform.id)
        after = _decode_token(next_page_token) if next_page_token else 0
        page = registry.hash_records(
            platform,
            _first_day_from(start_timestamp),
            after,
            min(page_size, settings.feed_page_max),
        )
        last = page.records[-1].seq if page.records else after
        return FetchHashesResponse(
            count=len(page.records),
            nextPageToken=_encode_token(last) if last else None,
            nextSetTimestamp=(
                _timestamp(page.records[-1].day) if page.records else start_timestamp
            ),
            hasMoreRecords=page.has_more,
            hashRecords=[_record(record) for record in page.records],
        )

    @router.post(
        "/SubmitFeedback",
        summary="StopNCII-compatible: report what the platform did with matches",
        response_model=SubmitFeedbackResponse,
        responses={
            404: {"model": schemas.ErrorResponse, "description": "A hash is not in your lists."}
        },
    )
    def submit_feedback(
        platform: Annotated[service.Platform, authenticated], body: SubmitFeedbackRequest
    ) -> SubmitFeedbackResponse:
        """StopNCII feedback as verdicts: `Blocked`, `NotBlocked` and `PendingReview` become
        `blocked`, `not_blocked` and `pending_review`, exactly as `POST /v1/feedback`."""
        services.limits.check_feed(platform.id)
        if len(body.hashFeedbacks) > settings.max_feedback_per_request:
            raise InvalidRequestError(
                f"body.hashFeedbacks: at most {settings.max_feedback_per_request} per request, "
                f"got {len(body.hashFeedbacks)}"
            )
        items = [
            service.FeedbackIn(
                verdict=VERDICTS[item.feedbackValue],
                type="pdq" if len(item.hashValue) == 64 else "md5",
                value=item.hashValue,
            )
            for item in body.hashFeedbacks
        ]
        try:
            accepted = registry.submit_feedback(platform, items)
        except NotFoundError as exc:
            # The registry numbers the items as we passed them: one per hashFeedbacks entry.
            raise NotFoundError(exc.message.replace("items[", "body.hashFeedbacks[", 1)) from None
        return SubmitFeedbackResponse(count=len(items), accepted=accepted)

    return router


def _record(record: HashRecord) -> HashRecordItem:
    status: HashStatus = "Active" if record.live else "Withdrawn"
    return HashRecordItem(
        lastModtimestamp=_timestamp(record.day),
        signalType=_signal_type(record.value),
        hashValue=record.value,
        hashStatus=status,
        caseNumbers={_record_id(record.type, record.value): status},
        CSPFeedbacks=[],
    )


def _record_id(type_: str, value: str) -> str:
    """An opaque id for the hash, computed from the hash alone: StopNCII clients expect case
    ids here, and a reporter's case number must never reach a platform."""
    return "td-" + hashlib.sha256(f"takedown:{type_}:{value}".encode()).hexdigest()[:24]


def _signal_type(value: str) -> SignalTypeName:
    return "ImagePDQ" if len(value) == 64 else "VideoMD5"


def _digits(signal_type: SignalTypeName) -> int:
    return 64 if signal_type == "ImagePDQ" else 32


def _timestamp(day: date) -> int:
    return (day - EPOCH).days * DAY_SECONDS


def _first_day_from(timestamp: int) -> date:
    """The first day whose timestamp (00:00 UTC) is at least `timestamp`."""
    return EPOCH + timedelta(days=-(-timestamp // DAY_SECONDS))


def _encode_token(seq: int) -> str:
    return base64.urlsafe_b64encode(str(seq).encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    refused = InvalidRequestError(
        "query.nextPageToken: not a token this server gave; start again without it"
    )
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise refused from None
    if _TOKEN.fullmatch(raw) is None or int(raw) > _MAX_SEQ:
        raise refused
    return int(raw)
