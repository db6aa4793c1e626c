"""The reporter's side of the registry's API, over HTTP: what `takedown report` uses.

Only fingerprints leave the machine: each media item is sent as `takedown hash --json` prints
it, without its path (`report_media`), and nothing else about the files. The client sends no
cookie and a fixed User-Agent that names only the program.

A report of many files is split into requests the registry accepts at its default limits
(`MAX_MEDIA_PER_REQUEST` media and `MAX_BODY_BYTES` of JSON each): the first request makes the
case, the others add to it with the PIN it returned. Each request carries a solved
proof-of-work challenge (`registry.pow.solve`). The registry's JSON errors become this
package's errors (`takedown.errors`) with the registry's message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from takedown.errors import (
    AuthError,
    ConflictError,
    InputError,
    LockedError,
    NotFoundError,
    RateLimitedError,
    RemoteError,
    TakedownError,
)
from takedown.hashing.fingerprint import MediaFingerprint
from takedown.platform.feed_client import normalise_server
from takedown.registry import secrets
from takedown.registry.pow import solve

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_MEDIA_PER_REQUEST",
    "MAX_POW_BITS",
    "CaseState",
    "MediaState",
    "NewCase",
    "ReporterClient",
    "report_media",
    "requests_for",
]

MAX_MEDIA_PER_REQUEST = 50
"""The registry's default `TAKEDOWN_MAX_MEDIA_PER_REQUEST`."""
MAX_BODY_BYTES = 1_500_000
"""Media JSON per request: under the registry's default 2 MiB body limit, with room for the
rest of the request."""
MAX_POW_BITS = 24
"""The most proof of work solved per request: about 2^24 SHA-256, a minute at worst in pure
Python (the registry's default is 18 bits: docs/abuse.md)."""
_USER_AGENT = "takedown-report"


def report_media(fingerprint: MediaFingerprint) -> dict[str, Any]:
    """What the registry receives for one file: its fingerprints, no path, no pixels."""
    return fingerprint.to_json()


def requests_for(media: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """`media` in order, cut into runs that fit one request each. InputError for an item
    too large to send at all (a video of many hours)."""
    run: list[dict[str, Any]] = []
    size = 0
    for item in media:
        item_size = len(json.dumps(item, separators=(",", ":")))
        if item_size > MAX_BODY_BYTES:
            raise InputError(
                f"one {item.get('kind', 'media')} has {item_size:,} bytes of fingerprints, more "
                f"than one request may carry ({MAX_BODY_BYTES:,})"
            )
        if run and (len(run) == MAX_MEDIA_PER_REQUEST or size + item_size > MAX_BODY_BYTES):
            yield run
            run, size = [], 0
        run.append(item)
        size += item_size
    if run:
        yield run


@dataclass(frozen=True, slots=True)
class NewCase:
    case_number: str
    pin: str
    media_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MediaState:
    media_id: str
    kind: str
    status: str
    seen_by: int
    removed_by: int


@dataclass(frozen=True, slots=True)
class CaseState:
    case_number: str
    age_group: str
    status: str
    created: str
    media: tuple[MediaState, ...]


class ReporterClient:
    """One registry, as a reporter uses it: no account, a case number and its PIN."""

    def __init__(
        self, server: str, *, transport: httpx.BaseTransport | None = None, timeout: float = 60.0
    ) -> None:
        self.server = normalise_server(server)
        self._http = httpx.Client(
            base_url=self.server,
            headers={"User-Agent": _USER_AGENT},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ReporterClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def create_case(
        self, age_group: str, language: str, media: Sequence[dict[str, Any]]
    ) -> NewCase:
        """A new case holding `media` (as `report_media` makes them), in as many requests as
        it takes. Should a later request fail, the case exists with the media sent so far:
        the error says so, with the case number and PIN, so they are not lost."""
        runs = list(requests_for(media))
        if not runs:
            raise InputError("nothing to report: no media")
        body = {"age_group": age_group, "language": language, "media": runs[0]}
        made = self._post("/v1/cases", {**body, "pow": self._proof()}, expect=201)
        case = NewCase(
            _text(made, "case_number"), _text(made, "pin"), tuple(_texts(made, "media_ids"))
        )
        ids = list(case.media_ids)
        for run in runs[1:]:
            try:
                ids += self.add_media(case.case_number, case.pin, run)
            except TakedownError as exc:
                raise RemoteError(
                    f"case {case.case_number} (PIN {case.pin}) was made with {len(ids)} of "
                    f"{len(media)} files; adding the rest failed: {exc.message}"
                ) from exc
        return NewCase(case.case_number, case.pin, tuple(ids))

    def add_media(self, number: str, pin: str, media: Sequence[dict[str, Any]]) -> list[str]:
        """Add `media` to an active case; their new media ids, in order."""
        ids: list[str] = []
        for run in requests_for(media):
            body = {"pin": _pin(pin), "media": run, "pow": self._proof()}
            answer = self._post(f"/v1/cases/{_case(number)}/media", body, expect=201)
            ids += _texts(answer, "media_ids")
        return ids

    def status(self, number: str, pin: str) -> CaseState:
        answer = self._post(f"/v1/cases/{_case(number)}/status", {"pin": _pin(pin)})
        items = answer.get("media")
        if not isinstance(items, list):
            raise RemoteError("the registry's answer has no media list")
        return CaseState(
            _text(answer, "case_number"),
            _text(answer, "age_group"),
            _text(answer, "status"),
            _text(answer, "created_day"),
            tuple(_media_state(item) for item in items),
        )

    def withdraw(self, number: str, pin: str, media_id: str | None = None) -> None:
        """Withdraw the whole case, or one media item of it."""
        path = f"/v1/cases/{_case(number)}"
        if media_id is not None:
            path += f"/media/{_media_id(media_id)}"
        self._post(f"{path}/withdraw", {"pin": _pin(pin)})

    def _proof(self) -> dict[str, str]:
        challenge = self._request("GET", "/v1/challenge", None, expect=200)
        text, bits = challenge.get("challenge"), challenge.get("difficulty")
        if not isinstance(text, str) or not isinstance(bits, int) or bits < 0:
            raise RemoteError("the registry's proof-of-work challenge is malformed")
        if bits > MAX_POW_BITS:
            raise RemoteError(
                f"the registry asks for {bits} bits of proof of work, more than this client "
                f"solves ({MAX_POW_BITS}, about a minute); try again later"
            )
        return {"challenge": text, "solution": solve(text, bits)}

    def _post(self, path: str, body: dict[str, Any], *, expect: int = 200) -> dict[str, Any]:
        return self._request("POST", path, body, expect=expect)

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None, *, expect: int
    ) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TimeoutException:
            raise RemoteError(f"the registry at {self.server} did not answer in time") from None
        except httpx.TransportError as exc:
            raise RemoteError(f"cannot reach the registry at {self.server} ({exc})") from None
        if response.status_code != expect:
            raise _error(response)
        try:
            answer = response.json()
        except ValueError:
            raise RemoteError(f"the registry's answer to {path} is not JSON") from None
        if not isinstance(answer, dict):
            raise RemoteError(f"the registry's answer to {path} is not a JSON object")
        return answer


_ERRORS: dict[int, type[TakedownError]] = {
    400: InputError,
    401: AuthError,
    404: NotFoundError,
    409: ConflictError,
    413: InputError,
    422: InputError,
}


def _error(response: httpx.Response) -> TakedownError:
    """The registry's `{"error": {"code", "message"}}` as one of our errors."""
    message = ""
    try:
        detail = response.json()["error"]["message"]
        if isinstance(detail, str):
            message = detail[:300]
    except (ValueError, KeyError, TypeError):
        pass
    status = response.status_code
    message = message or f"HTTP {status}"
    if status in (423, 429):  # the message says when to try again
        wait = response.headers.get("Retry-After", "")
        seconds = int(wait) if wait.isdigit() else 1
        if status == 423:
            return LockedError(message, retry_after=seconds)
        return RateLimitedError(message, retry_after=seconds)
    kind = _ERRORS.get(status)
    if kind is None:
        return RemoteError(f"the registry answered {status}: {message}")
    return kind(message)


def _case(number: str) -> str:
    """A case number as typed (any case, with or without dashes), in its stored form."""
    clean = secrets.normalise_case_number(number)
    if clean is None:
        raise InputError(
            f"{number[:40]!r} is not a case number: 12 letters and digits, like K7QM-93TX-RW4P"
        )
    return clean


def _pin(pin: str) -> str:
    clean = secrets.normalise_pin(pin)
    if clean is None:
        raise InputError(f"a PIN is {secrets.PIN_DIGITS} digits")
    return clean


def _media_id(media_id: str) -> str:
    clean = secrets.normalise_media_id(media_id)
    if clean is None:
        raise InputError(f"{media_id[:40]!r} is not a media id (16 letters and digits)")
    return clean


def _text(answer: dict[str, Any], name: str) -> str:
    value = answer.get(name)
    if not isinstance(value, str):
        raise RemoteError(f"the registry's answer has no {name!r}")
    return value


def _texts(answer: dict[str, Any], name: str) -> list[str]:
    values = answer.get(name)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise RemoteError(f"the registry's answer has no {name!r} list")
    return values


def _media_state(item: Any) -> MediaState:
    if not isinstance(item, dict):
        raise RemoteError("the registry's media status is not a JSON object")
    counts = [item.get("seen_by"), item.get("removed_by")]
    if not all(isinstance(c, int) and c >= 0 for c in counts):
        raise RemoteError("the registry's media status has no platform counts")
    return MediaState(
        _text(item, "media_id"),
        _text(item, "kind"),
        _text(item, "status"),
        int(item["seen_by"]),
        int(item["removed_by"]),
    )
