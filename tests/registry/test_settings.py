"""Settings come from TAKEDOWN_* variables; bad values name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from takedown.errors import ConfigError
from takedown.registry.lockout import lock_seconds
from takedown.registry.ratelimit import Limits
from takedown.registry.settings import ENV_VARIABLES, Settings


def test_defaults_put_an_sqlite_file_in_the_data_dir() -> None:
    settings = Settings.from_env({})

    assert settings.data_dir == Path("data")
    assert settings.database_url == "sqlite:///data/takedown.db"
    assert (settings.quarantine_platforms, settings.feed_page_default) == (2, 1000)
    assert (settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism) == (
        2,
        2048,
        1,
    )


def test_every_setting_has_a_variable_that_is_read() -> None:
    env = {
        variable: "/srv/takedown" if name == "data_dir" else "7"
        for name, variable in ENV_VARIABLES.items()
        if name != "database_url"
    }
    env["TAKEDOWN_FEED_PAGE_MAX"] = "9"
    env["TAKEDOWN_ARGON2_MEMORY_KIB"] = "1024"
    env["TAKEDOWN_MAX_BODY_BYTES"] = "4096"

    settings = Settings.from_env(env)

    assert settings.database_url == "sqlite:////srv/takedown/takedown.db"
    assert settings.quarantine_platforms == settings.pow_difficulty_bits == 7
    assert settings.feed_page_max == 9
    assert settings.max_body_bytes == 4096


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    settings = Settings.from_env({"TAKEDOWN_DATABASE_URL": "postgresql://u@db/takedown"})

    assert settings.database_url == "postgresql+psycopg://u@db/takedown"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"TAKEDOWN_QUARANTINE_PLATFORMS": "two"},
            "TAKEDOWN_QUARANTINE_PLATFORMS must be an integer",
        ),
        ({"TAKEDOWN_QUARANTINE_PLATFORMS": "0"}, "TAKEDOWN_QUARANTINE_PLATFORMS must be >= 1"),
        ({"TAKEDOWN_FEED_PAGE_DEFAULT": "20000"}, "TAKEDOWN_FEED_PAGE_DEFAULT must be <="),
        ({"TAKEDOWN_POW_DIFFICULTY_BITS": "33"}, "TAKEDOWN_POW_DIFFICULTY_BITS must be 0-32"),
        ({"TAKEDOWN_DATABASE_URL": "mysql://x/y"}, "TAKEDOWN_DATABASE_URL must be sqlite"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        Settings.from_env(env)


def test_the_lock_doubles_from_the_fifth_wrong_pin_up_to_a_day() -> None:
    settings = Settings()

    assert [lock_seconds(n, settings) for n in range(1, 8)] == [None] * 4 + [60, 120, 240]
    assert lock_seconds(17, settings) == 86_400
    assert lock_seconds(10**9, settings) == 86_400


def test_two_server_processes_by_default_each_with_half_the_rate_limits() -> None:
    assert Settings.from_env({}).server_workers == 2
    env = {"TAKEDOWN_RATE_CREATE_PER_S": "300", "TAKEDOWN_RATE_CREATE_BURST": "401"}

    whole = Limits.from_env(env)
    shared = Limits.from_env(env, processes=Settings.from_env({}).server_workers)

    assert (whole.create.rate_per_second, whole.create.burst) == (300.0, 401)
    assert (shared.create.rate_per_second, shared.create.burst) == (150.0, 200)
    assert (shared.case.rate_per_second, shared.case.burst) == (0.5, 5)
    with pytest.raises(ConfigError, match="processes"):
        Limits.from_env(env, processes=0)
