"""The whole reporting flow in a real browser against a real `takedown serve`: report photos
and a video, get a case number and PIN, check the status, add a file, withdraw one file and
then the case, and see a platform's feed follow every step."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import LiveServer
from tests.browser.ui import (
    Feed,
    answer_age,
    choose_files,
    drop_files,
    open_case,
    ops,
    payload,
    photo,
    send_and_read_case,
    usable_values,
    video,
    wait_until_ready,
)


def test_report_check_add_and_withdraw(
    live_server: LiveServer, context: BrowserContext, tmp_path: Path
) -> None:
    feed = Feed(live_server, "flow-platform")
    page = context.new_page()
    page.goto(f"{live_server.url}/report?lang=en")

    # Step 1: the age question. Continuing without an answer says what is missing.
    page.locator("#age-form button[type=submit]").click()
    expect(page.locator("#age-error")).to_be_visible()
    answer_age(page, "adult")

    # Step 2: three photos from the chooser, one photo and a video dropped on the page.
    chosen = [photo(0), photo(1), photo(2)]
    dropped = [photo(3), video("doorknob-hd-no-bar.mp4")]
    choose_files(page, chosen)
    drop_files(page, dropped)
    wait_until_ready(page, 5)
    expect(page.locator("#overall-text")).to_have_text("5 of 5 files ready")
    assert page.locator("#overall-progress").get_attribute("value") == "100"

    # Step 3: the review shows local previews and counts; one photo is taken out again.
    page.locator("#to-review").click()
    review = page.locator("#review-list li")
    expect(review).to_have_count(5)
    for index in range(4):
        source = review.nth(index).locator("img").get_attribute("src")
        assert source is not None
        assert source.startswith("blob:"), source
    expect(review.nth(4)).to_contain_text("Video")
    expect(review.nth(0)).to_contain_text("fingerprints")
    page.get_by_role("button", name=f"Remove {chosen[1].name}").click()
    expect(review).to_have_count(4)
    expect(page.locator("#announcer")).to_have_text(f"{chosen[1].name} removed.")

    body = payload(page)
    assert body["age_group"] == "adult"
    assert body["language"] == "en"
    media = body["media"]
    assert [item["kind"] for item in media] == ["image", "image", "image", "video"]
    for item in media:
        assert set(item) == {"kind", "md5", "sha256", "signals", "vpdq"}
    reported = usable_values(media)
    assert len(reported) >= 4

    # Send: a case number and a PIN, and a text file with both made on this device.
    case = send_and_read_case(page)
    expect(page.locator("#done-title")).to_be_focused()
    with page.expect_download() as download:
        page.get_by_role("button", name="Save as a text file").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert case.number in saved
    assert case.pin in saved
    assert f"{live_server.url}/status?lang=en" in saved
    assert download.value.suggested_filename == f"takedown-case-{case.number}.txt"

    added = feed.read()
    assert reported <= ops(added, "add"), "every listed hash reached the platform's feed"
    assert ops(added, "remove") == set()

    # Status: the four files are waiting for platforms.
    open_case(page, live_server, case)
    expect(page.locator("#case-title")).to_have_text(f"Case {case.number}")
    rows = page.locator("#media-rows tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("Photo 1")
    expect(rows.nth(3)).to_contain_text("Video 1")
    for index in range(4):
        expect(rows.nth(index)).to_contain_text("Waiting for platforms")

    # Add a file to the case.
    extra = photo(4)
    choose_files(page, [extra])
    wait_until_ready(page, 1)
    page.locator("#add-send").click()
    expect(page.locator("#add-status")).to_have_text("1 file was added to the case.")
    expect(rows).to_have_count(5)
    added_later = feed.read()
    assert len(ops(added_later, "add")) >= 1

    # Withdraw one photo: its hashes leave the list at once.
    page.get_by_role("button", name="Withdraw Photo 1").click()
    expect(page.locator("#confirm-text")).to_be_focused()
    page.locator("#confirm-yes").click()
    expect(page.locator("#status-message")).to_have_text("Photo 1 was withdrawn.")
    expect(rows.nth(0)).to_contain_text("Withdrawn")
    expect(rows.nth(1)).to_contain_text("Waiting for platforms")
    first_photo = usable_values(media[:1])
    removed = feed.read()
    assert ops(removed, "remove") == first_photo

    # Withdraw the whole case: everything else leaves the list too.
    page.locator("#withdraw-case").click()
    page.locator("#confirm-yes").click()
    expect(page.locator("#status-message")).to_have_text("The case was withdrawn.")
    expect(page.locator("#case-state")).to_contain_text("Withdrawn")
    expect(page.locator("#add")).to_be_hidden()
    expect(page.locator("#withdraw-case")).to_be_hidden()
    for index in range(5):
        expect(rows.nth(index)).to_contain_text("Withdrawn")
    removed_all = feed.read()
    everything = reported | ops(added_later, "add")
    assert ops(removed_all, "remove") == everything - first_photo

    # A wrong PIN gets the same answer as an unknown case, and the page says so.
    page.locator("#another").click()
    page.locator("#case-input").fill(case.number)
    page.locator("#pin-input").fill("0000000000" if case.pin != "0000000000" else "1111111111")
    page.locator("#status-form button[type=submit]").click()
    expect(page.locator("#status-message")).to_have_text("The case number or the PIN is not right.")
