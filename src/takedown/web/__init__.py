"""The reporter's web pages (Jinja2) and the static JavaScript that hashes on the device.

`router(settings)` serves the pages; `STATIC_DIR` is mounted at `/static` by `takedown.api.app`.
Nothing here receives a file: the pages only ever send the JSON of hashes to the API.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR", "TEMPLATES_DIR"]

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
