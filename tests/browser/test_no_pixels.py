"""No pixels leave the device: a full report of several photos and a video, recorded twice,
by Playwright (every request of the page and its workers) and by Chromium's own network log
(every URL request and every byte written to any socket). Every request must go to the
registry's own origin, every body must be nothing but the JSON of hashes, and no byte run of
any reported file may appear in anything the browser sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Playwright, Request

from tests.browser.conftest import CHROMIUM, LiveServer
from tests.browser.ui import (
    answer_age,
    choose_files,
    drop_files,
    open_case,
    photo,
    send_and_read_case,
    video,
    wait_until_ready,
)
from tests.browser.wire import NetLog, RefusedError, check_body, shares_a_run

BROWSER_ITSELF = "not an origin"
"""The initiator Chromium's log gives requests no page started: typed URLs and
`page.goto`, and the browser's own services."""


@dataclass(frozen=True)
class Seen:
    url: str
    method: str
    body: bytes | None


@pytest.fixture
def logged_browser(playwright: Playwright, tmp_path: Path) -> Iterator[tuple[Browser, Path]]:
    """A Chromium of its own, writing its network log with every byte sent."""
    netlog = tmp_path / "netlog.json"
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", f"--log-net-log={netlog}", "--net-log-capture-mode=Everything"],
    )
    try:
        yield browser, netlog
    finally:
        if browser.is_connected():
            browser.close()


def test_a_full_report_sends_only_hashes_to_the_registry(
    live_server: LiveServer, logged_browser: tuple[Browser, Path]
) -> None:
    browser, netlog_path = logged_browser
    origin = live_server.url
    photos = [photo(20), photo(21), photo(22), photo(23)]
    clip = video("pattern-sd-grey-bar.mp4")
    files = [path.read_bytes() for path in [*photos, clip]]

    context = browser.new_context(locale="en-US")
    seen: list[Seen] = []

    def record(request: Request) -> None:
        seen.append(Seen(request.url, request.method, request.post_data_buffer))

    context.on("request", record)
    page = context.new_page()
    page.goto(f"{origin}/report?lang=en")
    answer_age(page, "minor")
    choose_files(page, photos[:3])
    drop_files(page, [photos[3], clip])
    wait_until_ready(page, 5)
    page.locator("#to-review").click()
    case = send_and_read_case(page)
    page.locator("#save").click()
    # The status page too: the case number and PIN go in a POST body.
    open_case(page, live_server, case)
    context.close()
    browser.close()

    # 1. Playwright's view: every request of the page and its workers.
    assert any(s.url.endswith("/static/js/hash-worker.js") for s in seen), "the hasher ran"
    assert any(s.url.endswith("/static/js/pow-worker.js") for s in seen), "the proof of work ran"
    # Requests made inside the workers (their module imports) are recorded too.
    assert any(s.url.endswith("/static/js/hasher/index.js") for s in seen)
    assert any(s.url.endswith("/static/js/sha256.js") for s in seen)
    posted: list[bytes] = []
    for request in seen:
        parts = urlsplit(request.url)
        if parts.scheme == "blob":
            assert request.url.startswith(f"blob:{origin}/"), request.url
            continue
        assert f"{parts.scheme}://{parts.netloc}" == origin, f"another origin: {request.url}"
        if request.method == "GET":
            assert not request.body, request.url
            continue
        assert request.method == "POST", request.url
        assert parts.path.startswith("/v1/cases"), request.url
        assert request.body is not None
        check_body(request.body, request.url)
        posted.append(request.body)
    assert len(posted) == 2  # the new case, then its status

    # 2. Chromium's own log: every URL request, of the page, its workers and the browser.
    # What the page or a worker starts has the page's origin as initiator; the browser's own
    # services (autofill, updates) start theirs with none, carry none of the page's data
    # (point 3 checks their bytes too) and are not the page's to prevent.
    netlog = NetLog(netlog_path)
    for logged in netlog.requests:
        if logged.initiator != BROWSER_ITSELF:
            assert logged.initiator == origin, logged
            assert logged.url.startswith(f"{origin}/"), f"another origin: {logged.url}"
    page_requests = [r for r in netlog.requests if r.url.startswith(f"{origin}/")]
    assert len([r for r in page_requests if r.method == "POST"]) == len(posted)
    assert any(r.url.endswith("/static/js/hash-worker.js") for r in page_requests)

    # The bytes on the wire to the registry: the same two bodies, and nothing else.
    wire = [r for r in netlog.http_requests() if r.headers.get("host") == urlsplit(origin).netloc]
    bodies = [r.body for r in wire if r.body]
    assert sorted(bodies) == sorted(posted)
    for sent_request in wire:
        assert sent_request.line.startswith(("GET ", "POST ")), sent_request.line
        if sent_request.body:
            check_body(sent_request.body, sent_request.line)

    # 3. No run of 64 bytes of any file in anything sent, on any socket, by anyone.
    sent = netlog.all_bytes_sent()
    assert sum(len(chunk) for chunk in sent) > sum(len(body) for body in posted)
    for data in files:
        for chunk in [*sent, *posted]:
            assert not shares_a_run(data, chunk)


def test_the_checks_refuse_what_is_not_hashes() -> None:
    """The body check and the byte-run check do catch what they are there to catch."""
    good = b'{"pin": "0123456789"}'
    assert check_body(good) == {"pin": "0123456789"}
    refused = [
        b'{"media": [{"kind": "image", "md5": "'
        + b"a" * 32
        + b'", "sha256": "'
        + b"b" * 64
        + b'", "thumbnail": "iVBORw0KGgo="}]}',
        b'{"media": [{"kind": "image", "md5": "'
        + b"a" * 32
        + b'", "sha256": "'
        + b"b" * 64
        + b'", "signals": [{"type": "pdq", "value": "'
        + b"c" * 64
        + b'", "variant": "x"}]}]}',
        b'{"language": "' + b"e" * 40 + b'"}',
        b'{"pin": "0123456789", "note": "hello"}',
        b"\xff\xd8\xff\xe0 a JPEG",
        b"[]",
    ]
    for body in refused:
        with pytest.raises(RefusedError):
            check_body(body)
    data = bytes(range(256)) * 4
    assert shares_a_run(data, b"prefix " + data[100:164] + b" suffix")
    assert not shares_a_run(data, b"prefix " + data[100:163] + b" suffix")
