"""Run the API with uvicorn: migrate the database, then serve, keeping no client data.

uvicorn is told not to write an access log, not to trust proxy headers (so no forwarded
address ever enters a request scope), not to speak WebSocket and not to announce itself; the
logging configuration scrubs anything that looks like an address (`logs`).
"""

from __future__ import annotations

import gc
import logging.config
import socket

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp
from uvicorn.supervisors import Multiprocess

from takedown.api.app import create_app
from takedown.api.logs import logging_config
from takedown.api.powsecret import pow_secret
from takedown.registry.ratelimit import Limits
from takedown.registry.settings import Settings
from takedown.store.migrate import upgrade

__all__ = ["GC_THRESHOLDS", "app_from_env", "serve", "settle_memory", "uvicorn_config"]

logger = logging.getLogger("takedown.api")


def uvicorn_config(app: ASGIApp | str, host: str, port: int, workers: int = 1) -> uvicorn.Config:
    """The uvicorn configuration `serve` uses (separate so that tests can inspect it). With
    several workers, `app` is the import string of a factory each process calls."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=workers,
        factory=isinstance(app, str),
        access_log=False,
        proxy_headers=False,
        forwarded_allow_ips="",
        server_header=False,
        ws="none",
        log_config=None,
        lifespan="on",
    )


GC_THRESHOLDS = (50_000, 20, 20)
"""Cyclic garbage collection, per generation (Python's defaults: 700, 10, 10). A case report
allocates thousands of objects (its parsed body), so at the default every request paid for
several collections, about a millisecond of CPU per case in all; nearly all of those objects are
freed by reference counting anyway, and the few cycles wait a little longer."""


def settle_memory() -> None:
    """After start-up: what exists now (modules, the app, compiled schemas) lives as long as
    the process, so move it out of the collector's way (`gc.freeze`), and collect less often
    (`GC_THRESHOLDS`)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def app_from_env() -> FastAPI:
    """The application of one worker process (`settings.workers` > 1): settings and limits
    from the same TAKEDOWN_* variables the parent read."""
    logging.config.dictConfig(logging_config())
    settings = Settings.from_env()
    app = create_app(settings, limits=Limits.from_env(processes=settings.server_workers))
    settle_memory()
    return app


def serve(settings: Settings, host: str, port: int, limits: Limits) -> None:
    """Migrate the database to the newest schema, then serve until interrupted: in this
    process, or in `settings.server_workers` processes sharing the socket. Each process has
    its own registry (connection pool, group commit) and enforces its share of the rate limits
    (read again from the environment by each process, as `limits` cannot be passed on); they
    share the database and the proof-of-work secret."""
    logging.config.dictConfig(logging_config())
    revision = upgrade(settings.database_url)
    logger.info("database at schema revision %s", revision)
    workers = settings.server_workers
    if workers == 1:
        app = create_app(settings, limits=limits)
        settle_memory()
        uvicorn.Server(uvicorn_config(app, host, port)).run()
        return
    pow_secret(settings)  # made once here, before the workers race to read it
    config = uvicorn_config(f"{__name__}:app_from_env", host, port, workers)
    logger.info("serving with %d worker processes", workers)
    sock = config.bind_socket()
    # The shared socket is made outside asyncio, which would otherwise set TCP_NODELAY on
    # each accepted connection; without it kept-alive requests wait ~40 ms (Nagle + delayed
    # ACK). Accepted sockets inherit the option on Linux.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    Multiprocess(config, sockets=[sock]).run()
