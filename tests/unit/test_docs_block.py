"""bench/docs_block.py: a benchmark's report replaces only its own block of the page."""

from __future__ import annotations

from pathlib import Path

from bench.docs_block import replace_block

PAGE = """# Benchmarks

Prose by hand.

<!-- a:start -->
old a
<!-- a:end -->

More prose.

<!-- b:start -->
old b
<!-- b:end -->
"""


def test_the_block_is_replaced_and_everything_else_kept(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(PAGE)

    replace_block("a", "new a\nsecond line\n", section="## never used", docs=docs)

    assert docs.read_text() == PAGE.replace("old a", "new a\nsecond line")


def test_a_missing_block_is_appended_with_its_section(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(PAGE)

    replace_block("c", "report c", section="## C (bench/c.py)\n\nHow C is measured.", docs=docs)
    replace_block("c", "report c, again", section="## C (bench/c.py)", docs=docs)

    text = docs.read_text()
    assert text.startswith(PAGE.rstrip("\n"))
    assert text.endswith(
        "\n\n## C (bench/c.py)\n\nHow C is measured.\n\n"
        "<!-- c:start -->\nreport c, again\n<!-- c:end -->\n"
    )
    assert text.count("## C") == 1
