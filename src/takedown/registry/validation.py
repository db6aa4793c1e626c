"""Checks on everything that reaches the registry from outside, and its normalised form.

Every check raises InvalidRequestError whose message starts with the path of the offending
field, e.g. ``media[2].signals[5].value: expected 64 lowercase hex characters``. Values of the
wrong Python type are refused the same way, so callers never see another exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

from takedown.errors import InputError, InvalidRequestError
from takedown.hashing.fingerprint import IMAGE_VARIANTS, QUERY_VARIANTS
from takedown.hashing.video import VideoFrameHash, parse_vpdq
from takedown.matching.rules import MIN_QUALITY
from takedown.registry import secrets
from takedown.registry.models import AGE_GROUPS, LISTS, VERDICTS, FeedbackIn, MediaIn, SignalIn
from takedown.registry.settings import Settings

__all__ = [
    "FRAME_VARIANT",
    "MD5_VARIANT",
    "CleanFeedback",
    "CleanMedia",
    "CleanSignal",
    "age_group",
    "case_number",
    "contact",
    "feed_window",
    "feedback_items",
    "language",
    "lists",
    "media_id",
    "media_items",
    "pin",
    "platform_name",
    "query_signals",
    "signal_key",
]

FRAME_VARIANT = "frame"
"""Variant of the PDQ signals taken from a video's vPDQ frames."""
MD5_VARIANT = "file"
"""Variant of md5 signals: the hash of the whole file (a video's, StopNCII's VideoMD5, or a
photo's that came with no PDQ signal)."""
MATCH_VARIANTS = frozenset((*IMAGE_VARIANTS, *QUERY_VARIANTS, FRAME_VARIANT))
"""Variants a hosted-match query may name for a PDQ signal."""

_HEX_LENGTH = {"md5": 32, "sha256": 64, "pdq": 64}
_HEX = re.compile(r"[0-9a-f]+")
_PDQ_HEX = re.compile(r"[0-9a-f]{64}")
_IMAGE_VARIANTS = frozenset(IMAGE_VARIANTS)
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_PLATFORM_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_DEGENERATE_PDQ = frozenset(("0" * 64, "f" * 64))
"""All-zero and all-one hashes come from flat images: they would match every flat upload."""
_EMPTY_FILE_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
_MAX_VPDQ_LINE = 100
_MAX_SEQ = 2**63 - 1
"""Feed sequence numbers are 64-bit signed integers in the database."""


class CleanSignal(NamedTuple):
    type: str
    value: str
    quality: int
    variant: str
    usable: bool
    """Worth listing: quality >= MIN_QUALITY and not a degenerate hash."""


class CleanMedia(NamedTuple):
    kind: str
    md5: str
    sha256: str
    signals: tuple[CleanSignal, ...]
    """Distinct by value: an image's PDQ signals (or, with none, its md5 signal); a video's md5
    signal, then its frames."""
    vpdq: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CleanFeedback:
    verdict: str
    type: str | None
    value: str | None
    media_id: str | None


def _fail(field: str, message: str) -> NoReturn:
    raise InvalidRequestError(f"{field}: {message}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        _fail(field, f"expected a string, got {type(value).__name__}")
    return value


def _items(value: object, field: str, low: int, high: int, what: str) -> Sequence[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        _fail(field, f"expected a list of {what}, got {type(value).__name__}")
    if not low <= len(value) <= high:
        _fail(field, f"expected {low} to {high} {what}, got {len(value)}")
    return value


def hex_value(value: object, field: str, kind: str) -> str:
    """A lowercase hex hash of the length `kind` (md5, sha256, pdq) has."""
    text = _text(value, field)
    length = _HEX_LENGTH[kind]
    if len(text) != length or not _HEX.fullmatch(text):
        _fail(field, f"expected {length} lowercase hex characters")
    return text


def _quality(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        _fail(field, f"expected an integer 0-100, got {_shown(value)}")
    return value


def _pdq_usable(value: str, quality: int) -> bool:
    return quality >= MIN_QUALITY and value not in _DEGENERATE_PDQ


def age_group(value: object) -> str:
    if value not in AGE_GROUPS:
        _fail("age_group", f"expected one of {', '.join(AGE_GROUPS)}, got {_shown(value)}")
    assert isinstance(value, str)
    return value


def language(value: object) -> str:
    text = _text(value, "language")
    if len(text) > 16 or not _LANGUAGE.fullmatch(text):
        _fail("language", f"expected a language tag such as 'en' or 'pt-BR', got {_shown(text)}")
    return text


def media_items(media: object, settings: Settings, field: str = "media") -> tuple[CleanMedia, ...]:
    """1 to `max_media_per_request` media items, each checked and normalised."""
    items = _items(media, field, 1, settings.max_media_per_request, "media items")
    return tuple(_media(item, settings, f"{field}[{i}]") for i, item in enumerate(items))


def _media(item: object, settings: Settings, field: str) -> CleanMedia:
    if not isinstance(item, MediaIn):
        _fail(field, f"expected a media item, got {type(item).__name__}")
    md5 = hex_value(item.md5, f"{field}.md5", "md5")
    sha256 = hex_value(item.sha256, f"{field}.sha256", "sha256")
    if item.kind == "image":
        if isinstance(item.vpdq, str | bytes) or not isinstance(item.vpdq, Sequence) or item.vpdq:
            _fail(f"{field}.vpdq", "only videos carry vPDQ frames; leave it empty for an image")
        raw = _items(item.signals, f"{field}.signals", 0, settings.max_image_signals, "PDQ signals")
        if not raw:
            # A photo the device could hash only exactly (e.g. HEIC in a browser that cannot
            # decode it) is listed by its file MD5, as a video is: it matches identical copies.
            return CleanMedia("image", md5, sha256, (_file_md5(md5),), ())
        return CleanMedia("image", md5, sha256, _image_signals(raw, f"{field}.signals"), ())
    if item.kind == "video":
        if (
            isinstance(item.signals, str | bytes)
            or not isinstance(item.signals, Sequence)
            or item.signals
        ):
            _fail(f"{field}.signals", "a video's frames go in vpdq; leave signals empty")
        lines = _items(item.vpdq, f"{field}.vpdq", 0, settings.max_video_frames, "vPDQ frames")
        frames = [_frame(line, f"{field}.vpdq[{j}]") for j, line in enumerate(lines)]
        file_md5 = _file_md5(md5)
        signals = [
            CleanSignal("pdq", f.hex, f.quality, FRAME_VARIANT, _pdq_usable(f.hex, f.quality))
            for f in frames
        ]
        vpdq = tuple(f.vpdq for f in frames)
        return CleanMedia("video", md5, sha256, _distinct([file_md5, *signals]), vpdq)
    _fail(f"{field}.kind", f"expected 'image' or 'video', got {_shown(item.kind)}")


def _file_md5(md5: str) -> CleanSignal:
    """The file's MD5 as a signal (unusable for an empty file, which every upload tool makes)."""
    return CleanSignal("md5", md5, 100, MD5_VARIANT, md5 != _EMPTY_FILE_MD5)


def _frame(line: object, field: str) -> VideoFrameHash:
    text = _text(line, field)
    if len(text) > _MAX_VPDQ_LINE:
        _fail(field, "expected '<64 hex>,<quality>,<seconds>'")
    try:
        return parse_vpdq(text)
    except InputError as exc:
        _fail(field, exc.message)


def _image_signals(raw: Sequence[Any], field: str) -> tuple[CleanSignal, ...]:
    """The distinct PDQ signals of a photo. Each well-formed one is checked inline (a case
    has hundreds); anything unusual goes through `_image_signal`, which names the problem."""
    out: list[CleanSignal] = []
    seen: set[str] = set()
    for j, signal in enumerate(raw):
        if (
            type(signal) is SignalIn
            and signal.type == "pdq"
            and type(signal.value) is str
            and _PDQ_HEX.fullmatch(signal.value)
            and type(signal.quality) is int
            and 0 <= signal.quality <= 100
            and type(signal.variant) is str
            and signal.variant in _IMAGE_VARIANTS
        ):
            value, quality = signal.value, signal.quality
            clean = CleanSignal("pdq", value, quality, signal.variant, _pdq_usable(value, quality))
        else:
            clean = _image_signal(signal, f"{field}[{j}]")
        if clean.value not in seen:
            seen.add(clean.value)
            out.append(clean)
    return tuple(out)


def _image_signal(signal: object, field: str) -> CleanSignal:
    if not isinstance(signal, SignalIn):
        _fail(field, f"expected a signal, got {type(signal).__name__}")
    if signal.type != "pdq":
        _fail(f"{field}.type", f"expected 'pdq', got {_shown(signal.type)}")
    value = hex_value(signal.value, f"{field}.value", "pdq")
    quality = _quality(signal.quality, f"{field}.quality")
    if not isinstance(signal.variant, str) or signal.variant not in IMAGE_VARIANTS:
        _fail(
            f"{field}.variant",
            f"expected one of {', '.join(IMAGE_VARIANTS)}, got {_shown(signal.variant)}",
        )
    return CleanSignal("pdq", value, quality, signal.variant, _pdq_usable(value, quality))


def _distinct(signals: list[CleanSignal]) -> tuple[CleanSignal, ...]:
    """The first signal of each (type, value): one hash is one signal, whatever its variants."""
    seen: set[tuple[str, str]] = set()
    out: list[CleanSignal] = []
    for signal in signals:
        key = (signal.type, signal.value)
        if key not in seen:
            seen.add(key)
            out.append(signal)
    return tuple(out)


def query_signals(signals: object, settings: Settings) -> tuple[CleanSignal, ...]:
    """A hosted-match query: 1 to `max_match_signals` PDQ or md5 signals. PDQ variants are
    those a platform computes (or any listed variant); an md5 has variant `file`."""
    items = _items(signals, "signals", 1, settings.max_match_signals, "signals")
    out: list[CleanSignal] = []
    for i, signal in enumerate(items):
        field = f"signals[{i}]"
        if not isinstance(signal, SignalIn):
            _fail(field, f"expected a signal, got {type(signal).__name__}")
        if signal.type not in ("pdq", "md5"):
            _fail(f"{field}.type", f"expected 'pdq' or 'md5', got {_shown(signal.type)}")
        value = hex_value(signal.value, f"{field}.value", signal.type)
        quality = _quality(signal.quality, f"{field}.quality")
        allowed = MATCH_VARIANTS if signal.type == "pdq" else frozenset((MD5_VARIANT,))
        if not isinstance(signal.variant, str) or signal.variant not in allowed:
            _fail(
                f"{field}.variant",
                f"expected one of {', '.join(sorted(allowed))}, got {_shown(signal.variant)}",
            )
        usable = _pdq_usable(value, quality) if signal.type == "pdq" else True
        out.append(CleanSignal(signal.type, value, quality, signal.variant, usable))
    return tuple(out)


def signal_key(type_: object, value: object, field: str = "") -> tuple[str, str]:
    """A listed signal named by (type, value): `pdq` with 64 hex or `md5` with 32."""
    prefix = f"{field}." if field else ""
    if type_ not in ("pdq", "md5"):
        _fail(f"{prefix}type", f"expected 'pdq' or 'md5', got {_shown(type_)}")
    assert isinstance(type_, str)
    return type_, hex_value(value, f"{prefix}value", type_)


def feedback_items(items: object, settings: Settings) -> tuple[CleanFeedback, ...]:
    """1 to `max_feedback_per_request` verdicts, each on a signal or a media item."""
    raw = _items(items, "items", 1, settings.max_feedback_per_request, "feedback items")
    out: list[CleanFeedback] = []
    for i, item in enumerate(raw):
        field = f"items[{i}]"
        if not isinstance(item, FeedbackIn):
            _fail(field, f"expected a feedback item, got {type(item).__name__}")
        if item.verdict not in VERDICTS:
            _fail(
                f"{field}.verdict",
                f"expected one of {', '.join(VERDICTS)}, got {_shown(item.verdict)}",
            )
        assert isinstance(item.verdict, str)
        names_signal = item.type is not None or item.value is not None
        if names_signal == (item.media_id is not None):
            _fail(field, "name either a signal (type and value) or a media_id, not both")
        if names_signal:
            type_, value = signal_key(item.type, item.value, field)
            out.append(CleanFeedback(item.verdict, type_, value, None))
        else:
            out.append(CleanFeedback(item.verdict, None, None, media_id(item.media_id, field)))
    return tuple(out)


def media_id(value: object, field: str = "") -> str:
    prefix = f"{field}." if field else ""
    text = _text(value, f"{prefix}media_id")
    normal = secrets.normalise_media_id(text)
    if normal is None:
        _fail(
            f"{prefix}media_id",
            f"expected {secrets.MEDIA_ID_LENGTH} characters a-z and 2-7, got {_shown(text)}",
        )
    return normal


def case_number(value: object) -> str:
    text = _text(value, "case_number")
    normal = secrets.normalise_case_number(text)
    if normal is None:
        _fail(
            "case_number",
            f"expected {secrets.CASE_NUMBER_LENGTH} characters (as XXXX-XXXX-XXXX, dashes "
            "optional) from 2-9 and A-Z without I, L and O",
        )
    return normal


def pin(value: object) -> str:
    text = _text(value, "pin")
    normal = secrets.normalise_pin(text)
    if normal is None:
        _fail("pin", f"expected {secrets.PIN_DIGITS} digits (spaces and dashes are ignored)")
    return normal


def platform_name(value: object) -> str:
    text = _text(value, "name")
    if not _PLATFORM_NAME.fullmatch(text):
        _fail(
            "name",
            "expected 1-64 characters a-z, 0-9, '.', '_' or '-', starting with a letter or "
            f"digit, got {_shown(text)}",
        )
    return text


def lists(value: object) -> tuple[str, ...]:
    """A non-empty subset of the lists, in canonical order."""
    items = _items(value, "lists", 1, len(LISTS), "lists")
    for i, name in enumerate(items):
        if name not in LISTS:
            _fail(f"lists[{i}]", f"expected one of {', '.join(LISTS)}, got {_shown(name)}")
    if len(set(items)) != len(items):
        _fail("lists", "a list is named twice")
    return tuple(name for name in LISTS if name in items)


def contact(value: object) -> str | None:
    if value is None:
        return None
    text = _text(value, "contact").strip()
    if len(text) > 200 or any(not ch.isprintable() for ch in text):
        _fail("contact", "expected at most 200 printable characters")
    return text or None


def feed_window(after: object, limit: object, settings: Settings) -> tuple[int, int]:
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= _MAX_SEQ:
        _fail("after", f"expected an integer 0-{_MAX_SEQ}, got {_shown(after)}")
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int)
        or not 1 <= limit <= settings.feed_page_max
    ):
        _fail("limit", f"expected an integer 1-{settings.feed_page_max}, got {_shown(limit)}")
    return after, limit
