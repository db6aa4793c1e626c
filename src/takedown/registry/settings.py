"""The registry's settings: one frozen dataclass, read from `TAKEDOWN_*` environment variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from takedown.errors import ConfigError

__all__ = ["ENV_VARIABLES", "MAX_AUTO_WORKERS", "Settings"]

MAX_AUTO_WORKERS = 4
"""Server processes started by default (one per CPU up to this)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the registry and its HTTP API can be tuned with. `database_url` defaults to
    an SQLite file in `data_dir`."""

    data_dir: Path = Path("data")
    database_url: str = ""
    quarantine_platforms: int = 2
    """k: platforms whose latest verdict is `not_blocked` before a signal is quarantined."""
    max_media_per_request: int = 50
    max_image_signals: int = 64
    max_video_frames: int = 3600
    max_body_bytes: int = 2 * 1024 * 1024
    max_feedback_per_request: int = 1000
    max_match_signals: int = 8
    feed_page_default: int = 1000
    feed_page_max: int = 10_000
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 2048
    argon2_parallelism: int = 1
    """argon2id for PINs: 1-2 ms per hash on one core (libsodium), so that 200 new cases per
    second cost 0.2-0.4 core; the 10-digit PIN, not the hash, carries the offline cost
    (docs/registry.md)."""
    pin_max_failures: int = 5
    """Wrong PINs in a row before a case is locked."""
    pin_lock_seconds: int = 60
    """The first lock; each further wrong PIN doubles it."""
    pin_lock_max_seconds: int = 86_400
    pow_difficulty_bits: int = 18
    """Proof-of-work on anonymous endpoints; 0 disables it."""
    workers: int = 2
    """HTTP server processes for `takedown serve`; 0: one per CPU, at most `MAX_AUTO_WORKERS`.
    Two by default: one process spends much of its time holding Python's interpreter lock
    (parsing, checking, the database writer's own Python), so a second one raised case
    submissions by 10-25 % on the 2-CPU benchmark machine (docs/benchmarks.md). Each process
    enforces its share of the rate limits; a solved challenge can be spent once per process
    (docs/abuse.md)."""

    @property
    def server_workers(self) -> int:
        """The number of server processes `workers` asks for."""
        if self.workers:
            return self.workers
        return max(1, min(os.cpu_count() or 1, MAX_AUTO_WORKERS))

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        url = self.database_url.strip()
        if not url:
            url = f"sqlite:///{(self.data_dir / 'takedown.db').as_posix()}"
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):  # psycopg 3 is the driver we ship
                url = "postgresql+psycopg://" + url[len(plain) :]
        object.__setattr__(self, "database_url", url)
        problem = _problem(self)
        if problem is not None:
            raise ConfigError(f"setting {problem[0]} {problem[1]}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `TAKEDOWN_*` variables (see `ENV_VARIABLES`); unset ones keep defaults.
        ConfigError names the variable when a value is not usable."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, variable in ENV_VARIABLES.items():
            raw = env.get(variable)
            if raw is None or raw.strip() == "":
                continue
            if name == "data_dir":
                values[name] = Path(raw)
            elif name == "database_url":
                values[name] = raw.strip()
            else:
                try:
                    values[name] = int(raw.strip().replace("_", ""))
                except ValueError:
                    raise ConfigError(f"{variable} must be an integer, got {raw!r}") from None
        try:
            return cls(**values)
        except ConfigError:
            problem = _problem(_Values(values))
            if problem is None:
                raise
            raise ConfigError(f"{ENV_VARIABLES[problem[0]]} {problem[1]}") from None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


ENV_VARIABLES: dict[str, str] = {
    "data_dir": "TAKEDOWN_DATA_DIR",
    "database_url": "TAKEDOWN_DATABASE_URL",
    "quarantine_platforms": "TAKEDOWN_QUARANTINE_PLATFORMS",
    "max_media_per_request": "TAKEDOWN_MAX_MEDIA_PER_REQUEST",
    "max_image_signals": "TAKEDOWN_MAX_IMAGE_SIGNALS",
    "max_video_frames": "TAKEDOWN_MAX_VIDEO_FRAMES",
    "max_body_bytes": "TAKEDOWN_MAX_BODY_BYTES",
    "max_feedback_per_request": "TAKEDOWN_MAX_FEEDBACK_PER_REQUEST",
    "max_match_signals": "TAKEDOWN_MAX_MATCH_SIGNALS",
    "feed_page_default": "TAKEDOWN_FEED_PAGE_DEFAULT",
    "feed_page_max": "TAKEDOWN_FEED_PAGE_MAX",
    "argon2_time_cost": "TAKEDOWN_ARGON2_TIME_COST",
    "argon2_memory_kib": "TAKEDOWN_ARGON2_MEMORY_KIB",
    "argon2_parallelism": "TAKEDOWN_ARGON2_PARALLELISM",
    "pin_max_failures": "TAKEDOWN_PIN_MAX_FAILURES",
    "pin_lock_seconds": "TAKEDOWN_PIN_LOCK_SECONDS",
    "pin_lock_max_seconds": "TAKEDOWN_PIN_LOCK_MAX_SECONDS",
    "pow_difficulty_bits": "TAKEDOWN_POW_DIFFICULTY_BITS",
    "workers": "TAKEDOWN_WORKERS",
}
"""Setting name -> environment variable."""

_MINIMUM = {
    "quarantine_platforms": 1,
    "max_media_per_request": 1,
    "max_image_signals": 1,
    "max_video_frames": 1,
    "max_body_bytes": 1024,
    "max_feedback_per_request": 1,
    "max_match_signals": 1,
    "feed_page_default": 1,
    "feed_page_max": 1,
    "argon2_time_cost": 1,
    "argon2_memory_kib": 8,
    "argon2_parallelism": 1,
    "pin_max_failures": 1,
    "pin_lock_seconds": 1,
    "pin_lock_max_seconds": 1,
    "pow_difficulty_bits": 0,
    "workers": 0,
}
_MAXIMUM = {"pow_difficulty_bits": 32, "argon2_parallelism": 64, "workers": 64}
_DEFAULTS: dict[str, Any] = {field.name: field.default for field in dataclasses.fields(Settings)}


class _Values:
    """Attribute access to a partial settings dict, defaults for the rest."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        return _DEFAULTS[name]


def _problem(settings: Settings | _Values) -> tuple[str, str] | None:
    """The first unusable setting as (name, what is wrong), or None."""
    for name, low in _MINIMUM.items():
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int):
            return name, f"must be an integer, got {value!r}"
        high = _MAXIMUM.get(name)
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"{low}-{high}"
            return name, f"must be {bounds}, got {value}"
    if settings.feed_page_default > settings.feed_page_max:
        return "feed_page_default", (
            f"must be <= feed_page_max ({settings.feed_page_max}), got {settings.feed_page_default}"
        )
    if settings.argon2_memory_kib < 8 * settings.argon2_parallelism:
        return "argon2_memory_kib", (
            f"must be at least 8 x argon2_parallelism ({8 * settings.argon2_parallelism}), "
            f"got {settings.argon2_memory_kib}"
        )
    url = str(settings.database_url)
    if url and not url.startswith(("sqlite:///", "postgresql+psycopg://")):
        return "database_url", (
            f"must be sqlite:///PATH or postgresql+psycopg://..., got {url.split(':', 1)[0]}:..."
        )
    return None
