"""`takedown platform serve`: the upload-time match service beside the platform's uploads."""

from __future__ import annotations

from typing import Annotated

import typer

from takedown.agent_cli import app
from takedown.agent_cli.store_options import DbUrl, StateDir
from takedown.errors import ConfigError, InputError, TakedownError

TOKEN_ENV = "TAKEDOWN_MATCH_TOKEN"  # noqa: S105 (the variable's name, not a secret)
_LOCAL = ("127.0.0.1", "localhost", "::1")


@app.command("serve")
def serve_command(
    state: StateDir = None,
    db: DbUrl = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8100,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar=TOKEN_ENV,
            show_envvar=False,
            help=f"Require 'Authorization: Bearer <token>' on /match (or set {TOKEN_ENV}).",
        ),
    ] = None,
    max_upload_mib: Annotated[
        int, typer.Option("--max-upload-mib", min=1, max=4096, help="Largest upload accepted.")
    ] = 100,
    refresh_seconds: Annotated[
        float,
        typer.Option(min=0.5, max=3600, help="How often the index checks the store for a sync."),
    ] = 5.0,
) -> None:
    """Serve POST /match (a file, hashed in memory and never stored, or JSON hashes) against
    the local store that `takedown platform sync` keeps up to date."""
    import uvicorn

    from takedown.platform.service import ServiceSettings, create_service
    from takedown.platform.store import open_store

    if token is not None and len(token) < 16:
        raise _exit(ConfigError("the token must be at least 16 characters"))
    if token is None and host not in _LOCAL:
        typer.echo(
            f"takedown: warning: /match on {host} without a token: anyone who reaches the port "
            f"can use it (set --token or {TOKEN_ENV}).",
            err=True,
        )
    try:
        engine = open_store(state, db)
    except TakedownError as exc:
        raise _exit(exc) from None
    settings = ServiceSettings(
        token=token,
        max_upload_bytes=max_upload_mib * 1024 * 1024,
        refresh_seconds=refresh_seconds,
    )
    try:
        uvicorn.run(
            create_service(engine, settings),
            host=host,
            port=port,
            access_log=False,  # upload ids and addresses stay out of the logs
            proxy_headers=False,
            server_header=False,
            ws="none",
            log_level="info",
        )
    finally:
        engine.dispose()


def _exit(exc: TakedownError) -> typer.Exit:
    typer.echo(f"takedown: cannot serve: {exc}", err=True)
    return typer.Exit(2 if isinstance(exc, ConfigError | InputError) else 1)
