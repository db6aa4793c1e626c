"""The message catalogues: every language has every key, with the same placeholders, and
every key the templates and scripts use exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from takedown.errors import ConfigError
from takedown.web import STATIC_DIR, TEMPLATES_DIR
from takedown.web.i18n import MESSAGES_DIR, Catalogues, negotiate, placeholders

CATALOGUES = sorted(MESSAGES_DIR.glob("*.json"))
ENGLISH = json.loads((MESSAGES_DIR / "en.json").read_text(encoding="utf-8"))


def test_english_and_spanish_are_shipped() -> None:
    assert {path.stem for path in CATALOGUES} >= {"en", "es"}
    assert Catalogues.load().languages == tuple(path.stem for path in CATALOGUES)


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda path: path.stem)
def test_every_language_has_every_key_with_the_same_placeholders(path: Path) -> None:
    messages = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(set(ENGLISH) - set(messages)) == [], "missing keys"
    assert sorted(set(messages) - set(ENGLISH)) == [], "keys English does not have"
    for key, text in messages.items():
        assert text.strip(), f"{key} is empty"
        assert placeholders(text) == placeholders(ENGLISH[key]), key


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda path: path.stem)
def test_catalogue_files_have_no_duplicate_keys(path: Path) -> None:
    def no_duplicates(pairs: list[tuple[str, str]]) -> dict[str, str]:
        keys = [key for key, _ in pairs]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        assert duplicates == [], f"duplicate keys in {path.name}"
        return dict(pairs)

    json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=no_duplicates)


def _used_keys() -> tuple[set[str], set[str]]:
    """Literal keys passed to t(...) in templates and scripts, and keys passed to plural()."""
    sources = [*TEMPLATES_DIR.glob("*.html"), *(STATIC_DIR / "js").glob("*.js")]
    text = "\n".join(path.read_text(encoding="utf-8") for path in sources)
    keys = set(re.findall(r"""\bt\(\s*["']([a-z][A-Za-z0-9_.]*)["']""", text))
    keys |= set(re.findall(r"""\bresource\([^,]+,\s*["']([a-z][A-Za-z0-9_.]*)["']""", text))
    plurals = set(re.findall(r"""\bplural\(\s*["']([a-z][A-Za-z0-9_.]*)["']""", text))
    return keys, plurals


def test_every_key_the_pages_use_exists() -> None:
    keys, plurals = _used_keys()
    assert len(keys) > 50  # the scan found the pages' keys
    assert sorted(keys - set(ENGLISH)) == []
    assert plurals
    assert sorted(key for key in plurals if f"{key}.other" not in ENGLISH) == []
    # Keys built at run time from API values (status.js, files.js, errors.js).
    dynamic = [
        *(f"status.state.{state}" for state in ("pending", "seen", "removed", "withdrawn")),
        *(f"status.mediaName.{kind}" for kind in ("image", "video")),
        *(f"status.list.{group}" for group in ("minor", "adult")),
        *(f"error.{code}" for code in ("unauthorized", "locked", "rate_limited", "conflict")),
    ]
    assert sorted(set(dynamic) - set(ENGLISH)) == []


def test_text_fills_placeholders_and_rejects_missing_values() -> None:
    spanish = Catalogues.load()["es"]
    assert spanish.text("report.step", n=2, total=3) == "Paso 2 de 3"
    with pytest.raises(KeyError):
        spanish.text("report.step", n=2)


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("es-MX,es;q=0.9,en;q=0.8", "es"),
        ("en-GB,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR, de;q=0.5", None),
        ("en;q=0.1, es;q=0.5", "es"),
        ("es;q=0, en", "en"),
        ("ES", "es"),
        ("*", None),
        ("", None),
        ("es;q=abc, en;q=0.5", "en"),
        (";;,,=", None),
    ],
)
def test_accept_language_negotiation(header: str, chosen: str | None) -> None:
    assert negotiate(header, ("en", "es")) == chosen


def test_lang_parameter_wins_and_unknown_languages_fall_back() -> None:
    catalogues = Catalogues.load()
    assert catalogues.choose("es", "en").language == "es"
    assert catalogues.choose("es-AR", None).language == "es"
    assert catalogues.choose("xx", "es").language == "es"
    assert catalogues.choose(None, "fr").language == "en"


def test_a_broken_catalogue_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "en.json").write_text('{"language.name": "English"}', encoding="utf-8")
    assert Catalogues.load(tmp_path).languages == ("en",)
    (tmp_path / "es.json").write_text('{"language.name": 3}', encoding="utf-8")
    with pytest.raises(ConfigError, match="string keys and values"):
        Catalogues.load(tmp_path)
    (tmp_path / "es.json").write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="not readable JSON"):
        Catalogues.load(tmp_path)
    (tmp_path / "es.json").unlink()
    (tmp_path / "Spanish.json").write_text('{"language.name": "x"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="BCP-47"):
        Catalogues.load(tmp_path)
