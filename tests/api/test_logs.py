"""No client address reaches a log line, whatever logs it; the server runs without access log."""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator

import pytest

from takedown.api.logs import REDACTED, logging_config, scrub
from takedown.api.server import uvicorn_config
from tests.api.conftest import Api


@pytest.mark.parametrize(
    "text",
    [
        "127.0.0.1:51234 - connection lost",
        "client ('198.51.100.7', 443) said hello",
        "peer 2001:db8::17 went away",
        "peer [::1]:8000 went away",
        "via ::ffff:192.0.2.128 today",
        "fe80::1%eth0 link-local",
    ],
)
def test_addresses_are_scrubbed(text: str) -> None:
    scrubbed = scrub(text)

    assert REDACTED in scrubbed
    for address in ("127.0.0.1", "198.51.100.7", "2001:db8::17", "::1", "192.0.2.128", "fe80"):
        assert address not in scrubbed


def test_ordinary_messages_are_left_alone() -> None:
    text = "database at schema revision 0001; platform:3:match limited; took 1.5 s"

    assert scrub(text) == text


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The server's logging configuration, writing to a buffer instead of stderr; the loggers
    it touches are put back afterwards."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "takedown"]
    saved = [
        (logger, list(logger.handlers), logger.level, logger.propagate, logger.disabled)
        for logger in (logging.getLogger(name) for name in names)
    ]
    config = logging_config()
    config["handlers"]["stderr"]["stream"] = io.StringIO()
    logging.config.dictConfig(config)
    stream = logging.getLogger("uvicorn").handlers[0]
    assert isinstance(stream, logging.StreamHandler)
    yield stream.stream
    for logger, handlers, level, propagate, disabled in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled


def test_uvicorn_style_records_lose_the_client_address(captured: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" 403', "203.0.113.9:40000", "/v1/feed"
    )
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "203.0.113.9:40000", "GET", "/v1/feed", "1.1", 200
    )
    try:
        raise ConnectionError("reset by 203.0.113.9")
    except ConnectionError:
        logging.getLogger("takedown.api").exception("lost a client")

    output = captured.getvalue()
    assert "203.0.113.9" not in output
    assert '"WebSocket /v1/feed" 403' in output
    assert "GET /v1/feed" not in output  # access records are dropped outright
    assert "ConnectionError: reset by [address removed]" in output


def test_lines_about_the_listening_address_keep_it(captured: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)", "http", "127.0.0.1", 8000
    )

    logging.getLogger("uvicorn.error").error(
        OSError(98, "error while attempting to bind on address ('127.0.0.1', 8000): in use")
    )

    output = captured.getvalue()
    assert "Uvicorn running on http://127.0.0.1:8000" in output
    assert "bind on address ('127.0.0.1', 8000)" in output


def test_uvicorn_runs_without_access_log_proxy_headers_or_server_header(sqlite_api: Api) -> None:
    config = uvicorn_config(sqlite_api.app, "127.0.0.1", 8000)

    assert config.access_log is False
    assert config.proxy_headers is False
    assert config.server_header is False
    assert config.ws == "none"
    assert config.log_config is None
