"""Logging for the server, built so that no client address can reach a log line.

The access log is off; on top of that every record on our handler is scrubbed: anything that
looks like an IPv4 or IPv6 address (in the message, its arguments or a traceback) is replaced.
The exemptions are uvicorn's lines about the address the server itself listens on (started,
or could not bind).
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["REDACTED", "PrivacyFilter", "PrivacyFormatter", "logging_config", "scrub"]

REDACTED = "[address removed]"

_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"
# Two or more colon-separated hex groups, allowing '::' and an embedded IPv4 tail; this also
# hides clock times like 12:30:45, which is an acceptable loss in a server log.
_IPV6 = (
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
    r"(?:%[\w.]+)?(?![\w:.])"
)
_ADDRESS = re.compile(f"{_IPV4}|{_IPV6}")
_STARTED = "Uvicorn running on "
_CANNOT_BIND = "error while attempting to bind on address"


def scrub(text: str) -> str:
    """`text` with every IP-address-looking token replaced by REDACTED."""
    return _ADDRESS.sub(REDACTED, text)


class PrivacyFilter(logging.Filter):
    """Rewrites each record's message with `scrub` (formatting its arguments first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("uvicorn.access"):
            return False
        if _about_own_address(record):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not let its raw arguments through
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        # uvicorn's coloured variant of the message, formatted separately.
        if hasattr(record, "color_message"):
            del record.color_message
        return True


class PrivacyFormatter(logging.Formatter):
    """A formatter whose whole output (tracebacks included) goes through `scrub`."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if _about_own_address(record) else scrub(text)


def _about_own_address(record: logging.LogRecord) -> bool:
    """uvicorn's start-up line (a fixed format string) or its bind failure (an OSError): no
    client can put text into either."""
    if not record.name.startswith("uvicorn"):
        return False
    if isinstance(record.msg, str):
        return record.msg.startswith(_STARTED)
    return isinstance(record.msg, OSError) and _CANNOT_BIND in str(record.msg)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn and takedown: stderr only, scrubbed, and the
    access log switched off (no handler, not propagated)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"privacy": {"()": PrivacyFilter}},
        "formatters": {
            "plain": {
                "()": PrivacyFormatter,
                "fmt": "%(levelname)s %(name)s: %(message)s",
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "plain",
                "filters": ["privacy"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "takedown": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
