"""Every page in a real browser: security headers, no cookies, no CSP violations, the
language switch, axe-core's accessibility rules in both languages, and the report flow's first
steps with the keyboard alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from takedown.web.i18n import Catalogues
from takedown.web.pages import PAGES
from tests.browser.conftest import LiveServer
from tests.browser.ui import (
    answer_age,
    choose_files,
    photo,
    send_and_read_case,
    wait_until_ready,
)
from tests.conftest import REPO

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
LANGUAGES = Catalogues.load().languages
PATHS = [page.path for page in PAGES]
CSP = (
    "default-src 'self'; connect-src 'self'; img-src 'self' blob:; media-src 'self' blob:; "
    "worker-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
BLOCKING = {"serious", "critical"}


def csp_violations(page: Page) -> list[str]:
    found: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            found.append(message.text)

    page.on("console", listen)
    return found


@pytest.mark.parametrize("path", PATHS)
def test_security_headers_on_every_page_and_its_files(
    live_server: LiveServer, context: BrowserContext, path: str
) -> None:
    page = context.new_page()
    violations = csp_violations(page)
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))

    document = page.goto(f"{live_server.url}{path}")
    page.wait_for_load_state("networkidle")

    assert document is not None
    assert document.status == 200
    headers = document.all_headers()
    assert headers["content-security-policy"] == CSP
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "set-cookie" not in headers
    assert len(responses) >= 2  # the page and at least its style sheet
    for response in responses:
        assert response.url.startswith(live_server.url), response.url
        assert response.status == 200, response.url
        response_headers = response.all_headers()
        assert response_headers["x-content-type-options"] == "nosniff", response.url
        assert response_headers["content-security-policy"] == CSP, response.url
        assert "set-cookie" not in response_headers, response.url
    assert violations == []
    assert context.cookies() == []


def test_the_language_switch_keeps_the_choice_without_cookies(
    live_server: LiveServer, browser: Browser
) -> None:
    spanish_browser = browser.new_context(locale="es-ES")
    try:
        page = spanish_browser.new_page()
        page.goto(f"{live_server.url}/")
        # The browser asks for Spanish: the page is in Spanish.
        expect(page.locator("html")).to_have_attribute("lang", "es")
        expect(page.locator("h1")).to_have_text("Retira imágenes íntimas sin compartirlas")

        # The switch on the page: English, and it holds while moving between pages.
        page.get_by_role("navigation", name="Idioma").get_by_role("link", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        assert page.url.endswith("/?lang=en")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Check a case").click()
        expect(page.locator("h1")).to_have_text("Check a case")
        assert page.url.endswith("/status?lang=en")
        page.get_by_role("link", name="Privacy").first.click()
        expect(page.locator("html")).to_have_attribute("lang", "en")

        # Back to Spanish from any page; the current page is marked in the switch.
        page.get_by_role("link", name="Español").click()
        expect(page.locator("h1")).to_have_text("Privacidad: qué se envía y qué se guarda")
        expect(page.get_by_role("link", name="Español")).to_have_attribute("aria-current", "true")
        assert spanish_browser.cookies() == []
    finally:
        spanish_browser.close()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    assert AXE.is_file(), f"{AXE} is missing: run `make install-test` (npm ci)"
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, which the page's CSP does not govern
        # (add_script_tag would insert an inline script, which the CSP rightly refuses).
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        """async () => await window.axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                            'wcag22aa', 'best-practice']},
        })"""
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
        if violation["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", PATHS)
def test_axe_finds_no_serious_problem_on_any_page(
    live_server: LiveServer, page: Page, path: str, language: str
) -> None:
    page.goto(f"{live_server.url}{path}?lang={language}")
    page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_finds_no_serious_problem_in_any_step_of_the_flow(
    live_server: LiveServer, page: Page, language: str
) -> None:
    """The steps that only exist after the page has worked: files being chosen, the review
    with previews, the case number and PIN, and a case's status with its table."""
    page.goto(f"{live_server.url}/report?lang={language}")
    page.locator("#age-form button[type=submit]").click()  # the error message is shown
    assert axe_violations(page) == []
    answer_age(page, "minor")
    choose_files(page, [photo(10 + LANGUAGES.index(language))])
    wait_until_ready(page, 1)
    assert axe_violations(page) == []
    page.locator("#to-review").click()
    page.locator("#payload-details summary").click()
    assert axe_violations(page) == []
    case = send_and_read_case(page)
    assert axe_violations(page) == []
    page.locator("#save").click()  # so that leaving does not ask first

    page.goto(f"{live_server.url}/status?lang={language}")
    page.locator("#case-input").fill(case.number)
    page.locator("#pin-input").fill(case.pin)
    page.locator("#status-form button[type=submit]").click()
    expect(page.locator("#media-rows tr")).to_have_count(1)
    page.locator("#media-rows button").click()  # the confirmation is open
    expect(page.locator("#confirm")).to_be_visible()
    assert axe_violations(page) == []


def test_the_axe_check_does_find_problems(live_server: LiveServer, page: Page) -> None:
    """The harness is not blind: a picture without a text alternative is reported."""
    page.goto(f"{live_server.url}/help")
    page.evaluate(
        """() => {
            const picture = document.createElement('img');
            picture.src = '/static/favicon.svg';
            document.querySelector('main').append(picture);
        }"""
    )
    assert [violation["id"] for violation in axe_violations(page)] == ["image-alt"]


def focus_is_visible(page: Page) -> dict[str, Any]:
    """Which element has focus, and whether it shows a focus indicator (the file input is
    hidden: its label shows the focus for it)."""
    result: dict[str, Any] = page.evaluate(
        """() => {
            let element = document.activeElement;
            const id = element ? element.id : null;
            if (element && element.id === 'file-input') {
                element = document.querySelector('label[for=file-input]');
            }
            const style = element ? getComputedStyle(element) : null;
            const outline = style && style.outlineStyle !== 'none'
                && parseFloat(style.outlineWidth) >= 2;
            const shadow = style && style.boxShadow !== 'none';
            return {id, tag: element ? element.tagName : null, visible: Boolean(outline || shadow)};
        }"""
    )
    return result


def test_the_first_steps_work_with_the_keyboard_alone(
    live_server: LiveServer, page: Page, tmp_path: Path
) -> None:
    # Playwright turns on file-chooser interception without waiting for the browser's reply
    # when the first listener is added; added only at the key press, it can lose the race and
    # the chooser is never reported. A listener from the start has it on in time.
    page.on("filechooser", lambda _: None)
    page.goto(f"{live_server.url}/report?lang=en")
    page.wait_for_load_state("networkidle")

    # Tab from the top: the skip link first, then the header, then the age question; every
    # stop shows where the focus is.
    page.keyboard.press("Tab")
    first = focus_is_visible(page)
    assert first["tag"] == "A"
    assert first["visible"]
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == "#main"
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = focus_is_visible(page)
        assert focused["visible"], focused
        if focused["id"] == "age-minor":
            break
    else:
        pytest.fail("the age question cannot be reached with Tab")

    # Arrow keys choose within the radio group; Tab goes on to Continue; Enter submits.
    page.keyboard.press("ArrowDown")
    expect(page.locator("#age-adult")).to_be_checked()
    page.keyboard.press("Tab")
    assert focus_is_visible(page) == {"id": "", "tag": "BUTTON", "visible": True}
    page.keyboard.press("Enter")

    # The next step takes the focus; one Tab reaches the file chooser, Space opens it.
    expect(page.locator("#files-title")).to_be_focused()
    page.keyboard.press("Tab")
    assert focus_is_visible(page) == {"id": "file-input", "tag": "LABEL", "visible": True}
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    assert chooser.value.is_multiple()
    chooser.value.set_files(str(photo(12)))
    wait_until_ready(page, 1)

    # Onward to the review with the keyboard: the file's Remove button, then Review.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focus_is_visible(page)["visible"]
    page.keyboard.press("Enter")
    expect(page.locator("#review-title")).to_be_focused()
