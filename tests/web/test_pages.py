"""The pages as the server renders them (no browser): every page in every language, the
language choice, the security headers, and no cookies. Browser checks are in tests/browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from takedown.web.i18n import Catalogues
from takedown.web.pages import PAGES
from tests.api.conftest import Api, running_api

LANGUAGES = Catalogues.load().languages
PATHS = [page.path for page in PAGES]
CSP = (
    "default-src 'self'; connect-src 'self'; img-src 'self' blob:; media-src 'self' blob:; "
    "worker-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("pages")) as running:
        yield running


class _Parsed(HTMLParser):
    """The parts of a page these tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.html_lang: str | None = None
        self.links: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.inline_handlers: list[str] = []
        self.styles: int = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.html_lang = values.get("lang")
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        if tag == "script":
            self.scripts.append(values)
        if tag == "style" or "style" in values:
            self.styles += 1
        self.inline_handlers += [name for name in values if name.startswith("on")]


def parse(html: str) -> _Parsed:
    parsed = _Parsed()
    parsed.feed(html)
    return parsed


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", PATHS)
def test_every_page_renders_in_every_language(api: Api, path: str, language: str) -> None:
    response = api.client.get(path, params={"lang": language})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-language"] == language
    page = parse(response.text)
    assert page.html_lang == language
    # Every internal link keeps the language; no inline code or style for the CSP to refuse.
    internal = [link for link in page.links if link.startswith("/")]
    assert internal
    for link in internal:
        assert re.search(r"\?lang=[a-z-]+(#.*)?$", link), link
    assert page.inline_handlers == []
    assert page.styles == 0
    for script in page.scripts:
        assert script.get("src") or script.get("type") == "application/json", script


@pytest.mark.parametrize("path", PATHS)
def test_every_page_has_the_security_headers_and_no_cookie(api: Api, path: str) -> None:
    response = api.client.get(path)

    headers = response.headers
    assert headers["content-security-policy"] == CSP
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "set-cookie" not in headers
    assert headers["vary"] == "Accept-Language"


def test_the_language_comes_from_the_parameter_then_the_browser(api: Api) -> None:
    def language(**kwargs: object) -> str | None:
        response = api.client.get("/report", **kwargs)
        return parse(response.text).html_lang

    assert language() == "en"
    assert language(headers={"Accept-Language": "es-ES,es;q=0.9"}) == "es"
    assert language(headers={"Accept-Language": "fr, es;q=0.3, en;q=0.2"}) == "es"
    assert language(params={"lang": "en"}, headers={"Accept-Language": "es"}) == "en"
    assert language(params={"lang": "es"}) == "es"
    assert language(params={"lang": "zz"}, headers={"Accept-Language": "es"}) == "es"
    assert language(params={"lang": "x" * 100}) == "en"


def test_the_switch_links_every_language_of_the_same_page(api: Api) -> None:
    page = parse(api.client.get("/status", params={"lang": "es"}).text)
    for language in LANGUAGES:
        assert f"/status?lang={language}" in page.links


def test_the_home_page_counts_the_platforms_and_names_none(api: Api) -> None:
    api.platform("examplegram")

    # The count is cached for a minute: a fresh app reads it.
    from fastapi.testclient import TestClient

    from takedown.api import create_app

    with TestClient(create_app(api.settings, api.registry)) as client:
        html = client.get("/", params={"lang": "en"}).text
    assert "Platforms connected to this registry now: 1." in html
    assert "examplegram" not in html


def test_the_static_files_are_served_with_the_headers(api: Api) -> None:
    for path in ["/static/css/site.css", "/static/js/report.js", "/static/js/pow-worker.js"]:
        response = api.client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP


def test_no_page_takes_a_body(api: Api) -> None:
    for path in PATHS:
        assert api.client.post(path, content=b"x").status_code == 405


def test_templates_are_shipped_with_the_package() -> None:
    from takedown.web import TEMPLATES_DIR

    shipped = {path.name for path in Path(TEMPLATES_DIR).glob("*.html")}
    assert {page.template for page in PAGES} <= shipped
