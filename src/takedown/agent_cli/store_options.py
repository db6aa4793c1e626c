"""`--state DIR` / `--db URL`: where a platform agent command finds its local store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["DB_ENV", "STATE_ENV", "DbUrl", "StateDir"]

STATE_ENV = "TAKEDOWN_PLATFORM_STATE"
DB_ENV = "TAKEDOWN_PLATFORM_DB"

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state",
        envvar=STATE_ENV,
        file_okay=False,
        help="Directory of the local store (SQLite agent.db, created if missing).",
    ),
]
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar=DB_ENV,
        help="Local store in PostgreSQL instead: postgresql+psycopg://user@host/db.",
    ),
]
