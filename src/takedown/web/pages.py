"""The reporter's pages: home, report, status, help and privacy, rendered with Jinja2.

The pages are plain HTML in the language the request asks for (`takedown.web.i18n`); the
report and status pages load JavaScript modules from `/static/js/` that hash files on the
device and talk to the reporter API (`/v1/...`) with JSON of hashes only. The server never
receives a file: no route here takes a body.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from takedown.registry.settings import Settings
from takedown.web import TEMPLATES_DIR
from takedown.web.i18n import Catalogue, Catalogues

__all__ = ["PAGES", "Page", "router"]

PLATFORM_COUNT_TTL_SECONDS = 60.0
"""The home page shows how many platforms are connected, recounted at most this often."""

_MAX_LANG_PARAMETER = 35


@dataclass(frozen=True)
class Page:
    """One page: its path, template, title message and JavaScript module (if any)."""

    path: str
    template: str
    title: str
    script: str | None


PAGES: tuple[Page, ...] = (
    Page("/", "home.html", "home.title", None),
    Page("/report", "report.html", "report.title", "/static/js/report.js"),
    Page("/status", "status.html", "status.title", "/static/js/status.js"),
    Page("/help", "help.html", "help.title", None),
    Page("/privacy", "privacy.html", "privacy.title", None),
)

NAVIGATION = (
    ("/", "nav.home"),
    ("/report", "nav.report"),
    ("/status", "nav.status"),
    ("/help", "nav.help"),
    ("/privacy", "nav.privacy"),
)


class _PlatformCount:
    """How many platforms are active, from the transparency numbers, cached."""

    def __init__(self, transparency: Callable[[], Mapping[str, Any]]) -> None:
        self._transparency = transparency
        self._value = 0
        self._at: float | None = None
        self._lock = threading.Lock()

    def get(self) -> int:
        with self._lock:
            now = time.monotonic()
            if self._at is None or now - self._at >= PLATFORM_COUNT_TTL_SECONDS:
                self._value = int(self._transparency().get("active_platforms", 0))
                self._at = now
            return self._value


def router(
    settings: Settings,
    transparency: Callable[[], Mapping[str, Any]],
    catalogues: Catalogues | None = None,
) -> APIRouter:
    """The pages, in every language of `catalogues` (default: the shipped ones).
    `transparency` gives the registry's public numbers (for the count of platforms)."""
    languages = catalogues or Catalogues.load()
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    platforms = _PlatformCount(transparency)
    # What the scripts need to know about the server's limits (docs/api.md, "Limits").
    limits = {
        "maxMediaPerRequest": settings.max_media_per_request,
        "maxBodyBytes": settings.max_body_bytes,
    }
    pages_router = APIRouter(include_in_schema=False)

    def render(page: Page, catalogue: Catalogue) -> HTMLResponse:
        def url(path: str, language: str = catalogue.language) -> str:
            return f"{path}?lang={language}"

        template = environment.get_template(page.template)
        html = template.render(
            page=page,
            t=catalogue.text,
            lang=catalogue.language,
            url=url,
            navigation=NAVIGATION,
            switch=[(tag, languages[tag].name, url(page.path, tag)) for tag in languages.languages],
            messages=dict(catalogue.messages),
            limits=limits,
            platform_count=platforms.get() if page.path == "/" else None,
        )
        return HTMLResponse(
            html,
            headers={
                "Content-Language": catalogue.language,
                "Vary": "Accept-Language",
                "Cache-Control": "no-cache",
            },
        )

    def add(page: Page) -> None:
        def show(
            lang: Annotated[str | None, Query(description="Language tag, e.g. 'es'.")] = None,
            accept_language: Annotated[str | None, Header()] = None,
        ) -> HTMLResponse:
            requested = lang if lang is not None and len(lang) <= _MAX_LANG_PARAMETER else None
            return render(page, languages.choose(requested, accept_language))

        pages_router.add_api_route(page.path, show, methods=["GET"], response_class=HTMLResponse)

    for page in PAGES:
        add(page)
    return pages_router
