"""Run the API with uvicorn: migrate the database, then serve, keeping no client data.

uvicorn is told not to write an access log, not to trust proxy headers (so no forwarded
address ever enters a request scope), not to speak WebSocket and not to announce itself; the
logging configuration scrubs anything that looks like an address (`logs`).
"""

from __future__ import annotations

import logging.config

import uvicorn
from starlette.types import ASGIApp

from takedown.api.app import create_app
from takedown.api.logs import logging_config
from takedown.registry.ratelimit import Limits
from takedown.registry.settings import Settings
from takedown.store.migrate import upgrade

__all__ = ["serve", "uvicorn_config"]

logger = logging.getLogger("takedown.api")


def uvicorn_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration `serve` uses (separate so that tests can inspect it)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        proxy_headers=False,
        forwarded_allow_ips="",
        server_header=False,
        ws="none",
        log_config=None,
        lifespan="on",
    )


def serve(settings: Settings, host: str, port: int, limits: Limits) -> None:
    """Migrate the database to the newest schema, then serve until interrupted."""
    logging.config.dictConfig(logging_config())
    revision = upgrade(settings.database_url)
    logger.info("database at schema revision %s", revision)
    app = create_app(settings, limits=limits)
    uvicorn.Server(uvicorn_config(app, host, port)).run()
