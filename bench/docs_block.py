"""The one way a benchmark puts its report into docs/benchmarks.md: between two markers,
`<!-- NAME:start -->` and `<!-- NAME:end -->`, which the rest of the page (prose written by
hand) surrounds; on the first run, when the markers are not there yet, the report's section
(heading, command, introduction) is appended with the block."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DOCS", "replace_block"]

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def replace_block(marker: str, text: str, *, section: str = "", docs: Path = DOCS) -> None:
    """Put `text` between the `marker` markers of `docs`; if they are missing, append
    `section` (a heading and introduction, in Markdown) followed by the markers and `text`."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    block = f"{start}\n{text.rstrip(chr(10))}\n{end}"
    page = docs.read_text()
    if start in page and end in page.split(start, 1)[1]:
        head, rest = page.split(start, 1)
        _, tail = rest.split(end, 1)
        page = head + block + tail
    else:
        parts = [page.rstrip("\n"), section.strip("\n"), block] if section else [page, block]
        page = "\n\n".join(part for part in parts if part) + "\n"
    docs.write_text(page)
