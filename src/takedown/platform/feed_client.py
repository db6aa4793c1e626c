"""The registry's platform feed over HTTP: pages of `/v1/feed` and the streamed snapshot.

Transient failures (timeouts, dropped connections, 5xx, 429) are retried with exponential
back-off, honouring `Retry-After`; a refused key (401/403) stops at once. Every failure ends
as a TakedownError (AuthError, ForbiddenError, RemoteError) whose message names the cause.
The transport is injectable, so tests can talk to a fake registry in-process.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar

import httpx

from takedown.errors import AuthError, ConfigError, ForbiddenError, RemoteError
from takedown.platform.events import MAX_LINE_BYTES, MAX_SEQ

__all__ = [
    "KEY_ENV",
    "FeedClient",
    "FeedPage",
    "RetryPolicy",
    "Snapshot",
    "TransientError",
    "check_key",
    "normalise_server",
]

KEY_ENV: Final = "TAKEDOWN_PLATFORM_KEY"
_KEY = re.compile(r"[\x21-\x7e]{8,512}")
_USER_AGENT: Final = "takedown-platform-agent"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried."""

    attempts: int = 8
    """Tries in all (the first one included) before giving up."""
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 600.0
    """A longer `Retry-After` is not waited for: the try counts as failed."""

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before try `attempt + 1` (attempt counts from 1)."""
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        jittered = backoff * (0.5 + random.random() / 2)  # noqa: S311 (not for security)
        return float(max(jittered, retry_after or 0.0))


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One `/v1/feed` page; `events` are unchecked JSON values (see `events.parse_event`)."""

    events: list[Any]
    next: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A streaming `/v1/feed/snapshot`: its cursor, and its signal lines (raw bytes, without
    the newline; a line longer than MAX_LINE_BYTES comes cut to that length)."""

    cursor: int
    lines: Iterator[bytes]


class TransientError(RemoteError):
    """A failure worth retrying (the connection dropped, the server was busy or failing)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


def normalise_server(server: str) -> str:
    """The registry's base URL, checked (http or https, a host, no query) and without a
    trailing slash. ConfigError otherwise."""
    try:
        url = httpx.URL(server.strip())
    except (httpx.InvalidURL, TypeError):
        raise ConfigError(f"--server {server!r} is not a URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"--server must be an http:// or https:// URL, got {server!r}")
    if url.userinfo:
        raise ConfigError("--server must not carry a user or password")
    if url.query or url.fragment:
        raise ConfigError("--server is the registry's base URL, without a query or fragment")
    return str(url.copy_with(path=url.path.rstrip("/") or "")).rstrip("/")


def check_key(key: str | None) -> str:
    """The platform's API key, or ConfigError saying where to put it."""
    if not key:
        raise ConfigError(f"an API key is needed: --key KEY or the {KEY_ENV} variable")
    if not _KEY.fullmatch(key):
        raise ConfigError("the API key must be 8-512 printable ASCII characters, no spaces")
    return key


class FeedClient:
    """Reads one registry's feed with one platform API key."""

    def __init__(
        self,
        server: str,
        key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[str, float], None] | None = None,
    ) -> None:
        self.server = normalise_server(server)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._on_retry = on_retry
        self._http = httpx.Client(
            base_url=self.server,
            headers={"Authorization": f"Bearer {check_key(key)}", "User-Agent": _USER_AGENT},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FeedClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def feed_page(self, after: int, limit: int) -> FeedPage:
        """The events after `after` (at most `limit`), retrying transient failures."""
        return self.retrying(lambda: self._feed_page(after, limit))

    def retrying(self, attempt: Callable[[], _T]) -> _T:
        """`attempt()`, tried again after a TransientError until the policy runs out."""
        for number in range(1, self.retry.attempts + 1):
            try:
                return attempt()
            except TransientError as exc:
                too_long = (exc.retry_after or 0) > self.retry.max_retry_after
                if number == self.retry.attempts or too_long:
                    raise RemoteError(
                        f"the registry at {self.server} still fails after {number} tries: "
                        f"{exc.message}"
                    ) from None
                delay = self.retry.delay(number, exc.retry_after)
                if self._on_retry is not None:
                    self._on_retry(exc.message, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _feed_page(self, after: int, limit: int) -> FeedPage:
        try:
            response = self._http.get("/v1/feed", params={"after": after, "limit": limit})
        except httpx.TimeoutException:
            raise TransientError("the feed request timed out") from None
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach the registry ({_transport(exc)})") from None
        _check_status(response, "/v1/feed")
        return _page(response)

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """The snapshot, streamed: the caller reads `lines` inside the block. Opening it is
        retried; a stream that breaks later raises TransientError from `lines`, and the
        caller starts over (a snapshot cannot be resumed halfway)."""
        response = self.retrying(self._open_snapshot)
        try:
            lines = _lines(response)
            try:
                first = next(lines)
            except StopIteration:
                raise RemoteError(
                    "the snapshot is empty: its first line must be the cursor"
                ) from None
            yield Snapshot(_cursor(first), lines)
        finally:
            response.close()

    def _open_snapshot(self) -> httpx.Response:
        request = self._http.build_request("GET", "/v1/feed/snapshot")
        try:
            response = self._http.send(request, stream=True)
        except httpx.TimeoutException:
            raise TransientError("the snapshot request timed out") from None
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach the registry ({_transport(exc)})") from None
        try:
            if response.is_error:
                response.read()
            _check_status(response, "/v1/feed/snapshot")
        except BaseException:
            response.close()
            raise
        return response


def _check_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 300:
        return
    detail = _error_message(response)
    if status in (429, 408) or status >= 500:
        raise TransientError(
            f"{what} answered {status} ({detail})", retry_after=_retry_after(response)
        )
    if status == 401:
        raise AuthError(
            f"the registry refused the API key ({detail}): check --key or {KEY_ENV}; "
            "the operator may have revoked it"
        )
    if status == 403:
        raise ForbiddenError(f"the registry does not allow this key to read the feed ({detail})")
    raise RemoteError(f"{what} answered {status}: {detail}")


def _error_message(response: httpx.Response) -> str:
    """The registry's `{"error": {"message"}}`, else a short piece of the body."""
    try:
        body = response.json()
        message = body["error"]["message"]
        if isinstance(message, str):
            return message[:300]
    except (ValueError, KeyError, TypeError):
        pass
    text = " ".join(response.text.split())[:200]
    return text or response.reason_phrase or "no details"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _transport(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]


def _page(response: httpx.Response) -> FeedPage:
    try:
        body = response.json()
    except ValueError:
        raise RemoteError("the feed page is not JSON: is --server the registry's URL?") from None
    if not isinstance(body, dict):
        raise RemoteError("the feed page is not a JSON object")
    events, next_, has_more = body.get("events"), body.get("next"), body.get("has_more")
    if not isinstance(events, list):
        raise RemoteError("the feed page has no 'events' list")
    if type(next_) is not int or not 0 <= next_ <= MAX_SEQ:
        raise RemoteError(f"the feed page's 'next' is not a cursor: {str(next_)[:40]!r}")
    if type(has_more) is not bool:
        raise RemoteError("the feed page's 'has_more' is not true or false")
    return FeedPage(events, next_, has_more)


def _cursor(line: bytes) -> int:
    try:
        obj = json.loads(line)
    except ValueError:
        obj = None
    cursor = obj.get("cursor") if isinstance(obj, dict) else None
    if type(cursor) is not int or not 0 <= cursor <= MAX_SEQ:
        raise RemoteError(
            'the snapshot\'s first line must be {"cursor": N}, got '
            f"{line[:80].decode('utf-8', errors='replace')!r}"
        )
    return cursor


def _lines(response: httpx.Response) -> Iterator[bytes]:
    """Lines of an NDJSON stream in bounded memory: a line over MAX_LINE_BYTES is cut there
    (the rest is skipped). A stream that ends without a final newline was cut short."""
    buffer = bytearray()
    overlong = False
    try:
        for chunk in response.iter_bytes():
            start = 0
            while True:
                end = chunk.find(b"\n", start)
                if end < 0:
                    if not overlong:
                        buffer += chunk[start:]
                        if len(buffer) > MAX_LINE_BYTES:
                            del buffer[MAX_LINE_BYTES:]
                            overlong = True
                    break
                if not overlong:
                    buffer += chunk[start:end]
                line = bytes(buffer[:MAX_LINE_BYTES])
                buffer.clear()
                overlong = False
                start = end + 1
                if line.strip():
                    yield line
    except httpx.TimeoutException:
        raise TransientError("the snapshot stream stalled (read timeout)") from None
    except httpx.TransportError as exc:
        raise TransientError(f"the snapshot stream broke off ({_transport(exc)})") from None
    if buffer or overlong:
        raise TransientError("the snapshot stream ended in the middle of a line")
