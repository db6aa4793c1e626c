"""Message catalogues: one JSON file per language in `messages/`, chosen per request.

A catalogue maps flat dotted keys (`report.age.legend`) to text; `{name}` marks a value filled
in at render time. Plural forms are keys ending in a CLDR category (`review.count.one`,
`review.count.other`); the page's JavaScript picks one with `Intl.PluralRules`. Adding a
language is adding one file named after its BCP-47 tag (`pt-BR.json`) with every key of
`en.json`, and `language.name` set to the language's own name for the switch.

The language of a page comes from `?lang=` when it names a catalogue, else from the
browser's `Accept-Language`, else English. Neither is stored or logged; the links of a page
carry `?lang=` so the choice holds without a cookie.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from takedown.errors import ConfigError

__all__ = [
    "DEFAULT_LANGUAGE",
    "MESSAGES_DIR",
    "Catalogue",
    "Catalogues",
    "negotiate",
    "placeholders",
]

MESSAGES_DIR = Path(__file__).parent / "messages"
DEFAULT_LANGUAGE = "en"

_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_MAX_ACCEPT_LANGUAGE = 512
_MAX_RANGES = 20


def placeholders(text: str) -> frozenset[str]:
    """The `{name}` placeholders in a message."""
    return frozenset(_PLACEHOLDER.findall(text))


@dataclass(frozen=True)
class Catalogue:
    """The messages of one language."""

    language: str
    messages: Mapping[str, str]

    @property
    def name(self) -> str:
        """The language's own name, shown in the language switch."""
        return self.messages["language.name"]

    def text(self, key: str, **values: object) -> str:
        """The message `key` with its placeholders filled from `values`.

        KeyError for an unknown key or a missing value: a template bug, caught by the tests
        that render every page in every language.
        """
        message = self.messages[key]

        def fill(match: re.Match[str]) -> str:
            return str(values[match.group(1)])

        return _PLACEHOLDER.sub(fill, message)


class Catalogues:
    """Every catalogue in a directory, keyed by language tag (the file's stem)."""

    def __init__(self, catalogues: Mapping[str, Catalogue], default: str = DEFAULT_LANGUAGE):
        if default not in catalogues:
            raise ConfigError(f"no message catalogue for the default language {default!r}")
        self._catalogues = dict(sorted(catalogues.items()))
        self.default = default

    @classmethod
    def load(cls, directory: Path = MESSAGES_DIR) -> Catalogues:
        """Read `directory/*.json`. ConfigError for a file that is not a flat JSON object of
        strings, or whose name is not a language tag."""
        catalogues: dict[str, Catalogue] = {}
        for path in sorted(directory.glob("*.json")):
            language = path.stem
            if not _TAG.fullmatch(language):
                raise ConfigError(f"{path}: the file name must be a BCP-47 tag such as es.json")
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise ConfigError(f"{path}: not readable JSON ({error})") from error
            if not isinstance(data, dict) or not all(
                isinstance(key, str) and isinstance(value, str) for key, value in data.items()
            ):
                raise ConfigError(f"{path}: must be one JSON object of string keys and values")
            if "language.name" not in data:
                raise ConfigError(f"{path}: the key 'language.name' is missing")
            catalogues[language] = Catalogue(language, data)
        return cls(catalogues)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._catalogues)

    def __getitem__(self, language: str) -> Catalogue:
        return self._catalogues[language]

    def choose(self, requested: str | None, accept_language: str | None) -> Catalogue:
        """The catalogue for `?lang=` if it names one, else the best match for the
        Accept-Language header, else the default."""
        if requested is not None:
            exact = _lookup(requested, self._catalogues)
            if exact is not None:
                return self._catalogues[exact]
        chosen = negotiate(accept_language or "", self.languages)
        return self._catalogues[chosen or self.default]


def _lookup(tag: str, available: Mapping[str, object]) -> str | None:
    """The available tag equal to `tag` (ignoring case), else one for its primary language."""
    lowered = {name.lower(): name for name in available}
    tag = tag.strip().lower()
    if tag in lowered:
        return lowered[tag]
    primary = tag.split("-", 1)[0]
    return lowered.get(primary)


def negotiate(header: str, available: tuple[str, ...]) -> str | None:
    """The best of `available` for an Accept-Language header (RFC 9110 quality values; a
    range `es-MX` falls back to `es`), or None. Malformed parts are ignored."""
    ranges: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:_MAX_ACCEPT_LANGUAGE].split(",")[:_MAX_RANGES]):
        fields = part.strip().split(";")
        tag = fields[0].strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranges.append((-quality, position, tag))
    for _, _, tag in sorted(ranges):
        found = _lookup(tag, dict.fromkeys(available))
        if found is not None:
            return found
    return None
