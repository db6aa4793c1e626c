"""The reviewer page, through FastAPI's TestClient: token login, CSRF on every form, media
only for recorded refs (re-encoded previews), and a confirmation that queues `blocked` and
fires the webhook."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from takedown.cli import app as cli_app
from takedown.errors import ConfigError
from takedown.platform import review
from takedown.platform.review import Match, record_match
from takedown.platform.reviewweb import COOKIE, ReviewWebConfig, create_app
from takedown.platform.store import open_store
from takedown.platform.tables import feedback_outbox

TOKEN = "reviewer-token-" + "x" * 16


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = open_store(tmp_path / "state", None)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    pixels = np.random.default_rng(1).integers(0, 256, (900, 1200, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(root / "photo.jpg", quality=90)
    (root / "page.html").write_text("<script>alert(1)</script>")
    (tmp_path / "secret.jpg").write_bytes((root / "photo.jpg").read_bytes())
    return root


def make_client(engine: sa.Engine, media_root: Path | None = None, **config: Any) -> TestClient:
    web = create_app(engine, ReviewWebConfig(token=TOKEN, media_root=media_root, **config))
    return TestClient(web, base_url="http://127.0.0.1:8200", follow_redirects=False)


def add_item(engine: sa.Engine, ref: str) -> review.ReviewItem:
    match = Match("adult", "pdq", secrets.token_hex(32), "original", "rot90", 11)
    item = record_match(engine, ref, match, "scan")
    assert item is not None
    return item


def login(client: TestClient, name: str = "alice") -> str:
    """Logs in; the page's CSRF token."""
    response = client.post("/login", data={"reviewer": name, "token": TOKEN})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def verdicts(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return [
            str(v)
            for v in connection.execute(
                sa.select(feedback_outbox.c.verdict).order_by(feedback_outbox.c.id)
            ).scalars()
        ]


def test_a_token_is_required(engine: sa.Engine) -> None:
    with pytest.raises(ConfigError, match="reviewer token of at least 16"):
        create_app(engine, ReviewWebConfig(token=""))
    with pytest.raises(ConfigError):
        create_app(engine, ReviewWebConfig(token="short"))


def test_nothing_is_shown_without_logging_in(engine: sa.Engine, media_root: Path) -> None:
    item = add_item(engine, "photo.jpg")
    client = make_client(engine, media_root)
    home = client.get("/")
    assert home.status_code == 303
    assert home.headers["location"] == "/login"
    assert client.get(f"/media/{item.id}").status_code == 401
    decision = client.post(f"/items/{item.id}/decision", data={"decision": "confirm"})
    assert decision.status_code == 401
    assert review.get_item(engine, item.id).status == "pending"
    wrong = client.post("/login", data={"reviewer": "mallory", "token": "not-the-token-at-all"})
    assert wrong.status_code == 401
    assert COOKIE not in wrong.cookies
    assert (
        client.get("/", headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code
        == 303
    )


def test_login_sets_a_strict_httponly_cookie_and_lists_pending_items(
    engine: sa.Engine, media_root: Path
) -> None:
    item = add_item(engine, "photo.jpg")
    decided = add_item(engine, "other.jpg")
    review.decide(engine, decided.id, False, "bob")
    client = make_client(engine, media_root)
    response = client.post("/login", data={"reviewer": "alice", "token": TOKEN})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    page = client.get("/")
    assert page.status_code == 200
    assert item.value in page.text
    assert decided.value not in page.text
    assert "Logged in as alice" in page.text
    assert f'src="/media/{item.id}"' in page.text
    assert "No preview" not in page.text
    assert '<label for="note-' in page.text


def test_every_response_has_a_strict_policy(engine: sa.Engine) -> None:
    client = make_client(engine)
    for path in ("/login", "/", "/static/review.css", "/media/1"):
        response = client.get(path)
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
    page = client.get("/login").text
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page
    assert "style=" not in page


def test_decisions_need_the_csrf_token(engine: sa.Engine, media_root: Path) -> None:
    item = add_item(engine, "photo.jpg")
    client = make_client(engine, media_root)
    csrf = login(client)
    for form in ({"decision": "confirm"}, {"decision": "confirm", "csrf": "forged"}):
        refused = client.post(f"/items/{item.id}/decision", data=form)
        assert refused.status_code == 403
    # A session's token is no good for another session.
    other = make_client(engine, media_root)
    login(other, "bob")
    assert (
        other.post(
            f"/items/{item.id}/decision", data={"decision": "confirm", "csrf": csrf}
        ).status_code
        == 403
    )
    assert review.get_item(engine, item.id).status == "pending"
    assert verdicts(engine) == ["pending_review"]


def test_confirm_records_the_reviewer_and_queues_blocked(
    engine: sa.Engine, media_root: Path
) -> None:
    item = add_item(engine, "photo.jpg")
    other = add_item(engine, "page.html")
    client = make_client(engine, media_root)
    csrf = login(client)
    done = client.post(
        f"/items/{item.id}/decision", data={"decision": "confirm", "csrf": csrf, "note": "same"}
    )
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert f"Item {item.id} confirmed" in page.text
    assert item.value not in page.text
    decided = review.get_item(engine, item.id)
    assert (decided.status, decided.decided_by, decided.note) == ("confirmed", "alice", "same")
    rejected = client.post(f"/items/{other.id}/decision", data={"decision": "reject", "csrf": csrf})
    assert rejected.status_code == 303
    assert verdicts(engine) == ["pending_review", "pending_review", "blocked", "not_blocked"]
    # Deciding again from a stale page is a conflict, not a silent change.
    again = client.post(f"/items/{item.id}/decision", data={"decision": "reject", "csrf": csrf})
    assert again.status_code == 409
    assert "already confirmed by alice" in again.text
    assert review.get_item(engine, item.id).status == "confirmed"


def test_bad_decision_forms_are_refused(engine: sa.Engine) -> None:
    item = add_item(engine, "photo.jpg")
    client = make_client(engine)
    csrf = login(client)
    assert (
        client.post(
            f"/items/{item.id}/decision", data={"decision": "maybe", "csrf": csrf}
        ).status_code
        == 422
    )
    assert (
        client.post("/items/999/decision", data={"decision": "confirm", "csrf": csrf}).status_code
        == 404
    )
    as_json = client.post(f"/items/{item.id}/decision", json={"decision": "confirm", "csrf": csrf})
    assert as_json.status_code == 415
    huge = client.post(
        f"/items/{item.id}/decision",
        data={"decision": "confirm", "csrf": csrf, "note": "n" * 20_000},
    )
    assert huge.status_code == 413
    assert review.get_item(engine, item.id).status == "pending"


def test_bearer_token_works_without_a_session(engine: sa.Engine) -> None:
    item = add_item(engine, "photo.jpg")
    client = make_client(engine)
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Reviewer": "moderation-bot"}
    assert client.get("/", headers=headers).status_code == 200
    done = client.post(f"/items/{item.id}/decision", data={"decision": "reject"}, headers=headers)
    assert done.status_code == 303
    assert review.get_item(engine, item.id).decided_by == "moderation-bot"


def test_media_is_a_reencoded_preview_of_a_recorded_ref(
    engine: sa.Engine, media_root: Path
) -> None:
    photo = add_item(engine, "photo.jpg")
    page = add_item(engine, "page.html")
    outside = add_item(engine, "../secret.jpg")
    absolute = add_item(engine, str(media_root.parent / "secret.jpg"))
    missing = add_item(engine, "gone.jpg")
    client = make_client(engine, media_root)
    login(client)
    preview = client.get(f"/media/{photo.id}")
    assert preview.status_code == 200
    assert preview.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(preview.content)) as image:
        assert image.format == "JPEG"
        assert max(image.size) == 640
    assert preview.content != (media_root / "photo.jpg").read_bytes()
    # Not an image: never served as it is.
    assert client.get(f"/media/{page.id}").status_code == 415
    # Refs leading out of --media-root, and refs that are no file, name nothing.
    for item in (outside, absolute, missing):
        assert client.get(f"/media/{item.id}").status_code == 404
    assert client.get("/media/9999").status_code == 404
    # No route takes a path.
    assert client.get("/media/photo.jpg").status_code == 422
    assert client.get("/static/../reviewweb.py").status_code == 404


def test_without_a_media_root_refs_are_paths_as_recorded(
    engine: sa.Engine, media_root: Path
) -> None:
    item = add_item(engine, str(media_root / "photo.jpg"))
    client = make_client(engine)
    login(client)
    assert client.get(f"/media/{item.id}").status_code == 200


def test_too_many_wrong_tokens_wait(engine: sa.Engine) -> None:
    client = make_client(engine)
    for _ in range(20):
        assert client.post("/login", data={"reviewer": "m", "token": "wrong"}).status_code == 401
    assert client.post("/login", data={"reviewer": "m", "token": TOKEN}).status_code == 429


def test_logout_ends_the_session(engine: sa.Engine) -> None:
    client = make_client(engine)
    csrf = login(client)
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/").status_code == 200
    out = client.post("/logout", data={"csrf": csrf})
    assert out.status_code == 303
    assert client.get("/").status_code == 303


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_confirm_fires_the_signed_webhook(
    engine: sa.Engine, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    item = add_item(engine, "photo.jpg")
    rejected = add_item(engine, "other.jpg")
    client = make_client(engine, webhook_url=url, webhook_secret="hook-secret")
    csrf = login(client)
    client.post(f"/items/{rejected.id}/decision", data={"decision": "reject", "csrf": csrf})
    assert received == []
    done = client.post(f"/items/{item.id}/decision", data={"decision": "confirm", "csrf": csrf})
    assert done.status_code == 303
    ((headers, body),) = received
    payload = json.loads(body)
    decided = review.get_item(engine, item.id)
    assert decided.decided_at is not None
    assert payload == {
        "ref": "photo.jpg",
        "list": "adult",
        "type": "pdq",
        "value": item.value,
        "distance": 11,
        "decided_at": decided.decided_at.isoformat(),
    }
    expected = "sha256=" + hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    assert headers["X-Takedown-Signature"] == expected


def test_review_web_refuses_remote_hosts_and_missing_tokens(tmp_path: Path) -> None:
    runner = CliRunner()
    state = str(tmp_path / "state")
    remote = runner.invoke(
        cli_app, ["platform", "review-web", "--state", state, "--token", TOKEN, "--host", "0.0.0.0"]
    )
    assert remote.exit_code == 2
    assert "--allow-remote" in remote.output
    no_token = runner.invoke(
        cli_app, ["platform", "review-web", "--state", state], env={"TAKEDOWN_REVIEWER_TOKEN": ""}
    )
    assert no_token.exit_code == 2
    assert "reviewer token" in no_token.output


def test_refs_and_notes_are_escaped(engine: sa.Engine) -> None:
    add_item(engine, '"><script>alert(1)</script>.jpg')
    client = make_client(engine)
    login(client)
    page = client.get("/").text
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_refs_that_are_not_files_say_so(engine: sa.Engine) -> None:
    item = add_item(engine, "media-id-8c1f")
    client = make_client(engine)
    login(client)
    page = client.get("/").text
    assert "No preview" in page
    assert f'src="/media/{item.id}"' not in page
