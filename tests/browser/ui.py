"""Driving the reporter's pages as a person does: helpers shared by the browser tests."""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.conftest import PHOTOS_DEV, VIDEO_REFERENCE

HASH_TIMEOUT_MS = 180_000
"""Fingerprinting a photo takes well under a second and a short video a few seconds; a busy
two-core CI machine gets generous room."""

PHOTOS = sorted(PHOTOS_DEV.glob("*.jpg"))
VIDEOS = sorted(VIDEO_REFERENCE.glob("*.mp4"))


def photo(index: int) -> Path:
    """A distinct photo per test (tests share one server, so they must not share hashes)."""
    return PHOTOS[index]


def video(name: str) -> Path:
    return VIDEO_REFERENCE / name


@dataclass(frozen=True)
class Case:
    number: str
    pin: str


def mime_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def choose_files(page: Page, paths: list[Path]) -> None:
    """Pick files with the file chooser (the input behind the "Choose" button)."""
    page.set_input_files("#file-input", [str(path) for path in paths])


def drop_files(page: Page, paths: list[Path]) -> None:
    """Drag and drop files onto the drop area: a DataTransfer with real File objects, and the
    dragenter / dragover / drop events a browser fires."""
    files = [
        {
            "name": path.name,
            "type": mime_type(path),
            "data": base64.b64encode(path.read_bytes()).decode("ascii"),
        }
        for path in paths
    ]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const file of files) {
                const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], file.name, { type: file.type }));
            }
            return transfer;
        }""",
        files,
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event("#drop-zone", event, {"dataTransfer": transfer})
    transfer.dispose()


def wait_until_ready(page: Page, count: int) -> None:
    """Wait until `count` files are fingerprinted (and none is still waiting or failed)."""
    items = page.locator("#file-list li")
    expect(items).to_have_count(count)
    expect(page.locator("#file-list li.ready")).to_have_count(count, timeout=HASH_TIMEOUT_MS)


def answer_age(page: Page, age_group: str = "adult") -> None:
    page.locator(f"#age-{age_group}").check()
    page.locator("#age-form button[type=submit]").click()
    expect(page.locator("#step-files")).to_be_visible()


def payload(page: Page) -> dict[str, Any]:
    """What the page says it will send (the review step's "see exactly what will be sent")."""
    details = page.locator("#payload-details")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    expect(page.locator("#payload")).to_contain_text('"media"')
    text = page.locator("#payload").inner_text()
    result: dict[str, Any] = json.loads(text)
    return result


def send_and_read_case(page: Page) -> Case:
    page.locator("#send").click()
    expect(page.locator("#step-done")).to_be_visible(timeout=60_000)
    number = page.locator("#case-number").inner_text().strip()
    pin = page.locator("#case-pin").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", number), number
    assert re.fullmatch(r"[0-9]{10}", pin), pin
    return Case(number, pin)


def open_case(page: Page, server: LiveServer, case: Case, lang: str = "en") -> None:
    page.goto(f"{server.url}/status?lang={lang}")
    page.locator("#case-input").fill(case.number)
    page.locator("#pin-input").fill(case.pin)
    page.locator("#status-form button[type=submit]").click()
    expect(page.locator("#case")).to_be_visible()


def usable_values(media: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The (type, value) pairs of reported media that the registry lists (docs/registry.md:
    quality >= 50 and not a flat image's all-0 / all-1 hash; the file MD5 of a video, or of a
    photo sent without PDQ signals)."""
    flat = {"0" * 64, "f" * 64}
    pairs: set[tuple[str, str]] = set()
    for item in media:
        for signal in item["signals"]:
            if signal["quality"] >= 50 and signal["value"] not in flat:
                pairs.add(("pdq", signal["value"]))
        for line in item["vpdq"]:
            value, quality, _ = line.split(",")
            if int(quality) >= 50 and value not in flat:
                pairs.add(("pdq", value))
        if item["kind"] == "video" or not item["signals"]:
            pairs.add(("md5", item["md5"]))
    return pairs


class Feed:
    """A platform reading `/v1/feed` with its API key, from a cursor on."""

    def __init__(self, server: LiveServer, name: str) -> None:
        output = server.takedown("admin", "platform", "add", name, "--lists", "minor,adult")
        found = re.search(r"tdk_[A-Za-z0-9_]+", output.stdout)
        assert found, output.stdout
        self.url = f"{server.url}/v1/feed"
        self.headers = {"Authorization": f"Bearer {found.group(0)}"}
        self.cursor = 0
        self.read()  # start from now

    def read(self) -> list[dict[str, Any]]:
        """The events since the last read."""
        events: list[dict[str, Any]] = []
        while True:
            response = httpx.get(
                self.url,
                params={"after": self.cursor, "limit": 10_000},
                headers=self.headers,
                timeout=30,
            )
            assert response.status_code == 200, response.text
            page = response.json()
            events += page["events"]
            self.cursor = page["next"]
            if not page["has_more"]:
                return events


def ops(events: list[dict[str, Any]], op: str, list_name: str = "adult") -> set[tuple[str, str]]:
    return {(e["type"], e["value"]) for e in events if e["op"] == op and e["list"] == list_name}
