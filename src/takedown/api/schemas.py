"""Request and response bodies of the HTTP API (Pydantic v2), validated strictly.

Requests reject unknown fields and wrong types. Formats (hex lengths, PIN, language tag) are
fixed here; list lengths are server settings, checked by the registry (which names the field)
and written into the OpenAPI document by `finish_document`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import models_json_schema

from takedown.hashing.fingerprint import IMAGE_VARIANTS, QUERY_VARIANTS
from takedown.registry.settings import Settings

MAX_SEQ = 2**62
"""Largest feed cursor accepted (fits a signed 64-bit column with room to spare)."""

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="32 lowercase hex digits.")]
Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="64 lowercase hex digits.")]
SignalValue = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{32}([0-9a-f]{32})?$",
        description="PDQ: 64 lowercase hex digits; md5: 32.",
    ),
]
Quality = Annotated[int, Field(ge=0, le=100, description="PDQ quality 0-100.")]
VpdqLine = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{64},[0-9]{1,3},[0-9]{1,9}\.[0-9]{3}$",
        max_length=80,
        description="One video frame: '<64 hex PDQ>,<quality>,<seconds with 3 decimals>'.",
    ),
]
Pin = Annotated[
    str,
    Field(
        pattern=r"^[ -]*(?:[0-9][ -]*){10}$",
        max_length=40,
        description="The 10-digit PIN shown when the case was made (spaces and dashes are "
        "ignored).",
        examples=["0471826395"],
    ),
]
MediaId = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9]{1,64}$", description="A media id as the registry gave it.")
]
ListName = Literal["minor", "adult"]
SignalType = Literal["pdq", "md5"]

_IMAGE_VARIANT = "^(" + "|".join(IMAGE_VARIANTS) + ")$"
_QUERY_VARIANT = (
    "^(" + "|".join(dict.fromkeys((*QUERY_VARIANTS, *IMAGE_VARIANTS, "frame", "file"))) + ")$"
)


_VARIANT_DESCRIPTION = (
    "Which view the hash is of: for a photo one of "
    + ", ".join(f"`{name}`" for name in IMAGE_VARIANTS)
    + "; `frame` for a video frame; `file` for a video's md5. Compare only comparable variants "
    "(`takedown.matching.rules`: a `patch` matches only a `patch`)."
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- reporter side


class PowSolution(_Request):
    """A solved challenge from `GET /v1/challenge` (sent even when the difficulty is 0)."""

    challenge: Annotated[str, Field(min_length=1, max_length=256)]
    solution: Annotated[str, Field(pattern=r"^[0-9]{1,20}$", description="Decimal counter.")]


class ReportedSignal(_Request):
    """One PDQ hash of a photo, as `takedown hash --json` prints it."""

    type: Literal["pdq"]
    value: Hex64
    quality: Quality
    variant: Annotated[str, Field(pattern=_IMAGE_VARIANT, description="Which view was hashed.")]


class ReportedMedia(_Request):
    """One photo or video: the fingerprint JSON of `takedown hash --json` without `path`."""

    kind: Literal["image", "video"]
    md5: Hex32
    sha256: Hex64
    signals: list[ReportedSignal] = Field(
        default_factory=list,
        description=(
            "Photos: their PDQ signals. A photo sent with none (its device could not decode"
            " it) is listed by its MD5, which matches identical copies only."
        ),
    )
    vpdq: list[VpdqLine] = Field(
        default_factory=list, description="Videos: one frame hash per second."
    )


class CreateCaseRequest(_Request):
    age_group: Literal["minor", "adult"] = Field(
        description="'minor' if the person shown was under 18 when it was made, else 'adult'."
    )
    language: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
            max_length=16,
            description="BCP-47 language tag for messages about the case, e.g. 'en' or 'pt-BR'.",
        ),
    ]
    media: list[ReportedMedia] = Field(min_length=1)
    pow: PowSolution


class PinRequest(_Request):
    pin: Pin


class AddMediaRequest(_Request):
    pin: Pin
    media: list[ReportedMedia] = Field(min_length=1)
    pow: PowSolution


class ChallengeResponse(_Response):
    challenge: str
    difficulty: int = Field(description="Leading zero bits required; 0: any solution counts.")
    expires: int = Field(description="Unix time (seconds) after which the challenge is refused.")


class CaseCreatedResponse(_Response):
    case_number: str = Field(examples=["K7QM-93TX-RW4P"])
    pin: str = Field(examples=["0471826395"])
    media_ids: list[str]
    warning: str


class MediaIdsResponse(_Response):
    media_ids: list[str]


class MediaStatusResponse(_Response):
    media_id: str
    kind: Literal["image", "video"]
    status: Literal["pending", "seen", "removed", "withdrawn"]
    seen_by: int = Field(description="Platforms that reported any outcome for this item.")
    removed_by: int = Field(description="Platforms that reported blocking it.")


class CaseStatusResponse(_Response):
    case_number: str
    age_group: Literal["minor", "adult"]
    status: Literal["active", "withdrawn"]
    created_day: date
    media: list[MediaStatusResponse]


class WithdrawnResponse(_Response):
    status: Literal["withdrawn"] = "withdrawn"


# ---------------------------------------------------------------- platform side


class FeedEventItem(_Response):
    seq: int
    op: Literal["add", "remove"]
    list: ListName
    type: SignalType
    value: str
    quality: int
    variant: str = Field(description=_VARIANT_DESCRIPTION)


class FeedPageResponse(_Response):
    events: list[FeedEventItem]
    next: int = Field(description="Pass as `after` on the next call.")
    has_more: bool


class SnapshotCursorLine(_Response):
    cursor: int = Field(description="Continue with GET /v1/feed?after=<cursor>.")


class SnapshotSignalLine(_Response):
    list: ListName
    type: SignalType
    value: str
    quality: int
    variant: str = Field(description=_VARIANT_DESCRIPTION)


class FeedbackItem(_Request):
    """A verdict on one signal (`type` + `value`) or on one media item (`media_id`)."""

    verdict: Literal["pending_review", "blocked", "not_blocked"]
    type: SignalType | None = None
    value: SignalValue | None = None
    media_id: MediaId | None = None

    @model_validator(mode="after")
    def _one_target(self) -> FeedbackItem:
        by_signal = self.type is not None or self.value is not None
        if by_signal and self.media_id is not None:
            raise ValueError("give either type and value, or media_id, not both")
        if not by_signal and self.media_id is None:
            raise ValueError("give type and value of a signal, or a media_id")
        if self.type is None or self.value is None:
            if by_signal:
                raise ValueError("type and value go together")
        else:
            _check_value_length(self.type, self.value)
        return self


class FeedbackRequest(_Request):
    items: list[FeedbackItem] = Field(min_length=1)


class FeedbackResponse(_Response):
    accepted: int


class QuerySignal(_Request):
    """One hash of an upload: a PDQ signal (`takedown scan` computes them) or a video MD5."""

    type: SignalType
    value: SignalValue
    quality: Quality = 100
    variant: Annotated[
        str | None,
        Field(pattern=_QUERY_VARIANT, description="Default: 'original' (pdq), 'file' (md5)."),
    ] = None

    @model_validator(mode="after")
    def _value_fits_type(self) -> QuerySignal:
        _check_value_length(self.type, self.value)
        return self


class MatchRequest(_Request):
    signals: list[QuerySignal] = Field(min_length=1)


class MatchItem(_Response):
    list: ListName
    type: SignalType
    value: str
    quality: int
    distance: int = Field(description="Hamming distance (0 for an exact md5 match).")


class MatchResponse(_Response):
    matches: list[MatchItem]


class HealthResponse(_Response):
    status: Literal["ok"] = "ok"


class ErrorDetail(_Response):
    code: str = Field(examples=["invalid_request"])
    message: str


class ErrorResponse(_Response):
    error: ErrorDetail


def _check_value_length(kind: str, value: str) -> None:
    expected = 64 if kind == "pdq" else 32
    if len(value) != expected:
        raise ValueError(f"a {kind} value has {expected} hex digits, got {len(value)}")


RAW_BODIES: tuple[type[BaseModel], ...] = (CreateCaseRequest,)
"""Request bodies read with `api.bodies.parse_json` (documented by `finish_document`)."""


def finish_document(openapi: dict[str, Any], settings: Settings) -> None:
    """Complete FastAPI's OpenAPI document: the settings' list limits as `maxItems`, and our
    error shape (not FastAPI's) for invalid requests."""
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    # Bodies read by `api.bodies.parse_json` are not in any endpoint's signature.
    _, defined = models_json_schema(
        [(model, "validation") for model in RAW_BODIES],
        ref_template="#/components/schemas/{model}",
    )
    for name, schema in defined.get("$defs", {}).items():
        components.setdefault(name, schema)
    limits = {
        ("CreateCaseRequest", "media"): settings.max_media_per_request,
        ("AddMediaRequest", "media"): settings.max_media_per_request,
        ("ReportedMedia", "signals"): settings.max_image_signals,
        ("ReportedMedia", "vpdq"): settings.max_video_frames,
        ("FeedbackRequest", "items"): settings.max_feedback_per_request,
        ("MatchRequest", "signals"): settings.max_match_signals,
    }
    for (model, field), limit in limits.items():
        prop = components.get(model, {}).get("properties", {}).get(field)
        if prop is not None:
            prop["maxItems"] = limit
    ours = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    theirs = {"$ref": "#/components/schemas/HTTPValidationError"}
    for item in openapi.get("paths", {}).values():
        for operation in item.values():
            invalid = operation.get("responses", {}).get("422", {})
            if invalid.get("content", {}).get("application/json", {}).get("schema") == theirs:
                operation["responses"]["422"] = {
                    "description": "Invalid request: the message names the field and the rule.",
                    "content": ours,
                }
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
