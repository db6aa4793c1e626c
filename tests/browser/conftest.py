"""Browser tests: a real `takedown serve` process and Debian's Chromium driven by Playwright.

Chromium comes from Debian (`/usr/bin/chromium`, installed by `.ci/run`); Playwright's own
browser download is never used. When Chromium is missing the tests fail (never skip): a
browser test that did not run is not a pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.serving import clean_env, start_serve, stop, takedown_command

CHROMIUM = os.environ.get("TAKEDOWN_CHROMIUM", "/usr/bin/chromium")


@dataclass(frozen=True)
class LiveServer:
    """A running `takedown serve`: its base URL and its working directory (data in ./data)."""

    url: str
    cwd: Path
    env: dict[str, str]

    def takedown(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a `takedown` command (e.g. `admin platform add`) against this server's data."""
        return subprocess.run(
            takedown_command(*args),
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`takedown serve` on a fresh directory, as an operator starts it (SQLite in ./data).
    Proof of work is real but set to 8 bits so the tests do not wait on it."""
    cwd = tmp_path_factory.mktemp("serve")
    env = clean_env(TAKEDOWN_POW_DIFFICULTY_BITS="8")
    served = start_serve(cwd, env)
    try:
        yield LiveServer(served.url, cwd, env)
    finally:
        stop(served.process)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as handle:
        yield handle


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: `apt-get install chromium` (.ci/run does) "
            "or set TAKEDOWN_CHROMIUM.",
            pytrace=False,
        )
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
    )
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(locale="en-US")
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
