"""Shared test configuration: where the shared data lives, and no skipped test counts as a pass."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TAKEDOWN_SHARED_DATA", REPO.parent / "shared" / "data"))
PDQ_REFERENCE = SHARED_DATA / "pdq-reference"
VIDEO_REFERENCE = SHARED_DATA / "video-reference"
PHOTOS_DEV = SHARED_DATA / "photos-dev"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not PDQ_REFERENCE.is_dir():
        raise pytest.UsageError(
            f"shared test data not found at {SHARED_DATA}; set TAKEDOWN_SHARED_DATA."
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped:
        terminalreporter.write_line(
            f"FAILED: {len(skipped)} test(s) skipped; a skipped test is not a pass.", red=True
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
