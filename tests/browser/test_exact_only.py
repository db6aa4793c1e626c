"""Files the browser cannot fingerprint like Python: the page says so and sends them by their
exact hashes only (without the hasher's notes, which the API refuses); the registry lists each
by its file MD5, which a platform's feed then carries."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import LiveServer
from tests.browser.ui import (
    HASH_TIMEOUT_MS,
    Feed,
    answer_age,
    choose_files,
    ops,
    payload,
    photo,
    send_and_read_case,
)


def make_avi(path: Path) -> None:
    """Two seconds of moving noise in an AVI container (which the browser's hasher does not
    demux, so it gives the exact hashes only)."""
    generator = np.random.default_rng(7)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=Fraction(5))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(10):
            pixels = generator.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_exact_only_files_are_explained_and_sent_as_the_api_takes_them(
    live_server: LiveServer, context: BrowserContext, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.avi"
    make_avi(clip)
    tiff = tmp_path / "scan.tif"
    Image.open(photo(30)).save(tiff)

    feed = Feed(live_server, "exact-only-platform")
    page = context.new_page()
    page.goto(f"{live_server.url}/report?lang=en")
    answer_age(page)
    choose_files(page, [clip, tiff])
    items = page.locator("#file-list li")
    expect(items).to_have_count(2)
    for item in (items.nth(0), items.nth(1)):
        # Both ready, each with the notice that only its exact hashes go.
        expect(item).to_have_class("ready", timeout=HASH_TIMEOUT_MS)
        expect(item.locator(".notice")).to_be_visible()
        expect(item.locator(".notice")).to_contain_text("only its exact hashes will be sent")

    page.locator("#to-review").click()
    review = page.locator("#review-list li")
    expect(review).to_have_count(2)
    for index in range(2):
        expect(review.nth(index).locator(".notice")).to_contain_text("Exact hashes match only")
    media = payload(page)["media"]
    clip_data, tiff_data = clip.read_bytes(), tiff.read_bytes()
    assert media == [
        {
            "kind": kind,
            "md5": hashlib.md5(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "signals": [],
            "vpdq": [],
        }
        for kind, data in (("video", clip_data), ("image", tiff_data))
    ]
    send_and_read_case(page)
    # The platform's feed now lists both files by their MD5, and nothing else of them.
    added = ops(feed.read(), "add")
    assert added == {
        ("md5", hashlib.md5(clip_data).hexdigest()),
        ("md5", hashlib.md5(tiff_data).hexdigest()),
    }
