"""Drive the in-browser hasher (src/takedown/web/static/js/hasher) from Playwright.

Files reach the page the way a person's files do: through an `<input type=file>` (created
here, so these tests do not depend on the report page), then the real module Web Worker
`/static/js/hash-worker.js` hashes them and we collect its messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.browser.conftest import LiveServer
from tests.conftest import PDQ_REFERENCE as PDQ_REFERENCE
from tests.conftest import PHOTOS_DEV as PHOTOS_DEV
from tests.conftest import VIDEO_REFERENCE as VIDEO_REFERENCE

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})


def open_blank(page: Page, server: LiveServer) -> None:
    """A same-origin document (a static file) with a file input `#files`."""
    page.goto(f"{server.url}/static/js/hasher/md5.js")
    page.evaluate(
        """() => {
          const input = document.createElement('input');
          input.type = 'file';
          input.multiple = true;
          input.id = 'files';
          document.body.appendChild(input);
        }"""
    )


def hash_in_worker(
    page: Page, server: LiveServer, files: list[Path], timeout_s: float = 900, warm: bool = False
) -> list[dict[str, Any]]:
    """Post every file to the hash worker (after a warm-up request if `warm`, as the page
    sends one); return per file its messages and outcome: {"name", "progress": [[done,
    total], ...], "result": item | None, "error": {...} | None, "after_warm": bool}."""
    open_blank(page, server)
    page.set_input_files("#files", [str(f) for f in files])
    page.set_default_timeout(timeout_s * 1000)
    results: list[dict[str, Any]] = page.evaluate(
        """(warm) => new Promise((resolve) => {
          const files = Array.from(document.getElementById('files').files);
          const worker = new Worker('/static/js/hash-worker.js', { type: 'module' });
          const out = files.map((f) => ({ name: f.name, progress: [], result: null, error: null }));
          let left = files.length;
          let warmed = false;
          worker.onmessage = (event) => {
            const m = event.data;
            if (m.type === 'warm') { warmed = true; return; }
            const entry = out[m.id];
            entry.after_warm = warmed;
            if (m.type === 'progress') entry.progress.push([m.done, m.total]);
            else {
              if (m.type === 'result') entry.result = m.item;
              else entry.error = { code: m.code, message: m.message };
              entry.ms = performance.now() - entry.start;
              if (--left === 0) { worker.terminate(); resolve(out); }
            }
          };
          worker.onerror = (e) => resolve([{ workerError: String(e.message || e) }]);
          if (warm) worker.postMessage({ warm: true });
          files.forEach((file, id) => {
            out[id].start = performance.now();
            worker.postMessage({ id, file });
          });
        })""",
        warm,
    )
    if results and "workerError" in results[0]:
        raise AssertionError(f"the hash worker failed to start: {results[0]['workerError']}")
    return results


def run_module(page: Page, server: LiveServer, script: str) -> Any:
    """Evaluate `script` (an async function body receiving `mod(path)` to import hasher
    modules) in a same-origin page."""
    open_blank(page, server)
    return page.evaluate(
        "async () => { const mod = (p) => import('/static/js/hasher/' + p); " + script + " }"
    )
