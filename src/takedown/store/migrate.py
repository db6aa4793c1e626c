"""Schema migrations, run from code: `upgrade(url)` brings a database to the newest revision.

The Alembic configuration is built here (no alembic.ini), the scripts ship inside the package.
The upgrade runs in one serialised write transaction, so two servers starting at once do not
both migrate.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from takedown.errors import ConfigError
from takedown.store import transactions
from takedown.store.engine import create_engine

__all__ = ["MIGRATIONS", "check_current", "current_revision", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None: never migrated). ConfigError when the database
    cannot be reached."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except sa.exc.OperationalError as exc:
        raise ConfigError(f"cannot open the database: {_reason(exc)}") from None


def check_current(engine: sa.Engine) -> None:
    """ConfigError unless the database is at the newest revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        at = "has never been migrated" if current is None else f"is at revision {current}"
        raise ConfigError(
            f"the database {at}, this takedown needs revision {head}: run `takedown db upgrade`"
        )


def _reason(exc: sa.exc.DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)


def upgrade(url: str | sa.Engine) -> str:
    """Migrate the database at `url` (or behind an engine) to the newest revision; returns it.
    ConfigError when the database cannot be reached."""
    engine = create_engine(url) if isinstance(url, str) else url
    config = _config()
    try:
        with transactions.write(engine) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except sa.exc.OperationalError as exc:
        raise ConfigError(f"cannot migrate the database: {_reason(exc)}") from None
    finally:
        if isinstance(url, str):
            engine.dispose()
    return head_revision()
