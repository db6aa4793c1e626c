"""The reviewer page: pending matches beside the platform's own media, Confirm / Reject.

Reviewers log in with the reviewer token (a form that sets an HttpOnly, SameSite=Strict
session cookie) or send `Authorization: Bearer <token>`. Every form POST carries the
session's CSRF token. Media is served only as a preview of a review item's recorded ref,
looked up by item id, so no URL can name an arbitrary file.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.background import BackgroundTask

from takedown.errors import ConfigError, ConflictError, InputError, NotFoundError
from takedown.platform import review
from takedown.platform.thumbnail import media_path, preview_jpeg
from takedown.platform.webhook import flush_webhooks

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "COOKIE",
    "MIN_TOKEN_LENGTH",
    "ReviewWebConfig",
    "create_app",
]

COOKIE: Final = "takedown_review"
MIN_TOKEN_LENGTH: Final = 16
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'none'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
_MAX_FORM_BYTES: Final = 16 * 1024
_LOGIN_FAILURES_PER_MINUTE: Final = 20
_HERE = Path(__file__).parent


@dataclass(frozen=True, slots=True)
class ReviewWebConfig:
    token: str
    media_root: Path | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    page_size: int = 20
    session_seconds: int = 8 * 3600


@dataclass(slots=True)
class _Session:
    reviewer: str
    csrf: str
    expires: float


@dataclass(slots=True)
class _Sessions:
    """Logged-in reviewers, in memory: a restart logs everyone out."""

    lifetime: int
    by_id: dict[str, _Session] = field(default_factory=dict)
    failures: deque[float] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new(self, reviewer: str) -> tuple[str, _Session]:
        session_id = secrets.token_urlsafe(32)
        session = _Session(reviewer, secrets.token_urlsafe(32), time.monotonic() + self.lifetime)
        with self.lock:
            now = time.monotonic()
            for stale in [k for k, s in self.by_id.items() if s.expires <= now]:
                del self.by_id[stale]
            self.by_id[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> _Session | None:
        if not session_id:
            return None
        with self.lock:
            session = self.by_id.get(session_id)
            if session is None or session.expires <= time.monotonic():
                self.by_id.pop(session_id, None)
                return None
            return session

    def drop(self, session_id: str | None) -> None:
        with self.lock:
            self.by_id.pop(session_id or "", None)

    def too_many_failures(self) -> bool:
        """Wrong tokens are few in honest use; past the limit, logins wait a minute."""
        with self.lock:
            cutoff = time.monotonic() - 60
            while self.failures and self.failures[0] < cutoff:
                self.failures.popleft()
            return len(self.failures) >= _LOGIN_FAILURES_PER_MINUTE

    def failed(self) -> None:
        with self.lock:
            self.failures.append(time.monotonic())


@dataclass(frozen=True, slots=True)
class _Reviewer:
    name: str
    csrf: str | None
    """The session's CSRF token; None for header (bearer) authentication, which a browser
    cannot be tricked into sending cross-site."""


def create_app(engine: sa.Engine, config: ReviewWebConfig) -> FastAPI:
    """The reviewer page as an ASGI app. ConfigError for a missing or short token."""
    if len(config.token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"a reviewer token of at least {MIN_TOKEN_LENGTH} characters is required "
            "(--token or TAKEDOWN_REVIEWER_TOKEN); make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`"
        )
    if config.webhook_url is not None:
        review.check_webhook_url(config.webhook_url)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    sessions = _Sessions(config.session_seconds)
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        return response

    def reviewer_of(request: Request) -> _Reviewer | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, credentials = auth.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            if hmac.compare_digest(credentials.strip().encode(), config.token.encode()):
                name = request.headers.get("X-Reviewer", "").strip() or "api"
                return _Reviewer(name[: review.MAX_REVIEWER], None)
            return None
        session = sessions.get(request.cookies.get(COOKIE))
        return None if session is None else _Reviewer(session.reviewer, session.csrf)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
        return page(request, "login.html", status, error=error)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        return login_page(request)

    @app.post("/login")
    async def login(request: Request) -> Response:
        if sessions.too_many_failures():
            return login_page(request, "Too many wrong tokens. Wait a minute.", 429)
        form = await _form(request)
        if isinstance(form, Response):
            return form
        token, name = form.get("token", ""), form.get("reviewer", "").strip()
        if not hmac.compare_digest(token.encode(), config.token.encode()):
            sessions.failed()
            return login_page(request, "That token is not right.", 401)
        if not name or len(name) > review.MAX_REVIEWER or not name.isprintable():
            return login_page(request, "Give your name (it is recorded with decisions).", 422)
        session_id, _ = sessions.new(name)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            session_id,
            max_age=config.session_seconds,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        who = reviewer_of(request)
        form = await _form(request)
        if isinstance(form, Response):
            return form
        if who is not None and not _csrf_ok(who, form):
            return _forbidden(request, templates)
        sessions.drop(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request, page_number: int = 1, done: int | None = None) -> Response:
        who = reviewer_of(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        size = config.page_size
        page_number = max(1, page_number)
        items = review.list_items(engine, "pending", size, (page_number - 1) * size)
        counts = review.count_items(engine)
        decided = None
        if done is not None:
            try:
                decided = review.get_item(engine, done)
            except NotFoundError:
                decided = None
        return page(
            request,
            "queue.html",
            items=items,
            previews={i.id for i in items if media_path(i.ref, config.media_root) is not None},
            counts=counts,
            reviewer=who,
            page_number=page_number,
            has_next=counts["pending"] > page_number * size,
            decided=decided,
        )

    @app.post("/items/{item_id}/decision")
    async def decision(request: Request, item_id: int) -> Response:
        who = reviewer_of(request)
        if who is None:
            return _unauthorised(request, templates)
        form = await _form(request)
        if isinstance(form, Response):
            return form
        if not _csrf_ok(who, form):
            return _forbidden(request, templates)
        verdict = form.get("decision")
        if verdict not in ("confirm", "reject"):
            return _error(request, templates, 422, "Choose Confirm or Reject.")
        confirmed = verdict == "confirm"
        try:
            item = await run_in_threadpool(
                review.decide,
                engine,
                item_id,
                confirmed,
                who.name,
                form.get("note") or None,
                webhook_url=config.webhook_url if confirmed else None,
            )
        except NotFoundError as exc:
            return _error(request, templates, 404, exc.message)
        except ConflictError as exc:
            return _error(request, templates, 409, exc.message)
        except InputError as exc:
            return _error(request, templates, 422, exc.message)
        page_number = form.get("page", "1")
        query = urlencode(
            {"done": item.id, "page_number": page_number if page_number.isdigit() else "1"}
        )
        # After the answer: deliver the webhook now if its receiver is up (else it waits in
        # the outbox for `takedown platform feedback send`).
        background = (
            BackgroundTask(flush_webhooks, engine, secret=config.webhook_secret)
            if confirmed and config.webhook_url is not None
            else None
        )
        return RedirectResponse(f"/?{query}", status_code=303, background=background)

    @app.get("/media/{item_id}")
    def media(request: Request, item_id: int) -> Response:
        if reviewer_of(request) is None:
            return Response(status_code=401)
        try:
            item = review.get_item(engine, item_id)
        except NotFoundError:
            return Response(status_code=404)
        # Only the ref recorded for this item, never a path from the request.
        path = media_path(item.ref, config.media_root)
        if path is None:
            return Response(status_code=404)
        try:
            jpeg = preview_jpeg(path)
        except InputError:
            return Response(status_code=415)
        return Response(jpeg, media_type="image/jpeg")

    return app


async def _form(request: Request) -> dict[str, str] | Response:
    """An urlencoded form body (first value per field), or an error response."""
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return Response("expected a form (application/x-www-form-urlencoded)", status_code=415)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            return Response("the form is too large", status_code=413)
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return Response("the form is not valid", status_code=400)
    return {key: values[0] for key, values in fields.items()}


def _csrf_ok(who: _Reviewer, form: dict[str, str]) -> bool:
    if who.csrf is None:
        return True
    return hmac.compare_digest(form.get("csrf", "").encode(), who.csrf.encode())


def _error(request: Request, templates: Jinja2Templates, status: int, message: str) -> Response:
    return templates.TemplateResponse(
        request, "error.html", {"message": message, "status": status}, status_code=status
    )


def _unauthorised(request: Request, templates: Jinja2Templates) -> Response:
    return _error(request, templates, 401, "Log in first.")


def _forbidden(request: Request, templates: Jinja2Templates) -> Response:
    return _error(
        request, templates, 403, "The form expired or did not come from this page. Reload it."
    )
