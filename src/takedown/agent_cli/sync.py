"""`takedown platform sync`: bring the local store up to date with the registry's feed."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from takedown.agent_cli import app
from takedown.agent_cli.store_options import DbUrl, StateDir
from takedown.cli_edge import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from takedown.errors import AuthError, ConfigError, ForbiddenError, InputError, TakedownError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from takedown.platform.feed_client import FeedClient

EXIT_INTERRUPTED = 130

_stderr = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)
"""Messages carry text from outside (URLs, the registry's errors): never read as markup."""


@app.command("sync")
def sync_command(
    server: Annotated[
        str,
        typer.Option("--server", help="The registry's base URL, e.g. https://registry.example."),
    ],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="TAKEDOWN_PLATFORM_KEY",
            help="The platform's API key (better: the TAKEDOWN_PLATFORM_KEY variable, which "
            "other users of the machine cannot see in the process list).",
            show_envvar=False,
        ),
    ] = None,
    state: StateDir = None,
    db: DbUrl = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep syncing every --interval seconds until Ctrl-C.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=1.0, help="Seconds between syncs with --watch.")
    ] = 60.0,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=10_000, help="Feed events per request.")
    ] = 1000,
    attempts: Annotated[
        int,
        typer.Option(
            "--attempts", min=1, max=100, help="Tries per request before a failure is final."
        ),
    ] = 8,
) -> None:
    """Sync the lists from the registry into the local store (first time: the snapshot, then
    the feed from the saved cursor). Safe to interrupt and run again at any point."""
    from takedown.platform.feed_client import FeedClient, RetryPolicy
    from takedown.platform.store import open_store

    try:
        engine = open_store(state, db)
    except TakedownError as exc:
        raise _exit(exc) from None
    try:
        retry = RetryPolicy(attempts=attempts)
        with FeedClient(server, key or "", retry=retry, on_retry=_retrying) as client:
            while True:
                try:
                    _once(engine, client, page_size)
                    _send_feedback(engine, server, key)
                except (AuthError, ForbiddenError, ConfigError, InputError):
                    raise
                except TakedownError as exc:
                    if not watch:
                        raise
                    _stderr.print(f"takedown: sync failed, trying again later: {exc}")
                if not watch:
                    return
                time.sleep(interval)
    except TakedownError as exc:
        raise _exit(exc) from None
    except KeyboardInterrupt:
        _stderr.print("takedown: sync stopped; what was committed is kept, run it again to go on.")
        raise typer.Exit(EXIT_OK if watch else EXIT_INTERRUPTED) from None
    finally:
        engine.dispose()


def _once(engine: sa.Engine, client: FeedClient, page_size: int) -> None:
    from takedown.platform.sync import Quarantined, SyncProgress, sync

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        TimeElapsedColumn(),
        console=_stderr,
        transient=True,
        disable=not _stderr.is_terminal,  # in a log, the summary line says it all
    )
    task = progress.add_task("sync: connecting", total=None)

    def show(state: SyncProgress) -> None:
        if state.stage == "snapshot":
            again = f" (try {state.snapshots_started})" if state.snapshots_started > 1 else ""
            text = f"snapshot{again}: {state.snapshot_signals:,} signals"
        else:
            text = f"feed: cursor {state.cursor:,}, +{state.added:,} -{state.removed:,}"
        if state.bad:
            text += f", {state.bad:,} malformed"
        progress.update(task, description=f"sync {text}")

    def quarantined(item: Quarantined) -> None:
        where = f"event seq {item.seq}" if item.seq is not None else "snapshot line"
        progress.console.print(f"takedown: quarantined a malformed {where}: {item.error}")

    with progress:
        report = sync(
            engine, client, page_size=page_size, on_progress=show, on_quarantined=quarantined
        )
    line = f"synced {report.server}: cursor {report.cursor}"
    if report.snapshot:
        line += f", snapshot of {report.snapshot_signals} signals"
    line += (
        f", {report.added} added, {report.removed} removed by the feed; "
        f"{report.live} signals in the local store"
    )
    if report.bad:
        line += f"; {report.bad} malformed events quarantined (table bad_event)"
    _stderr.print(line)


def _send_feedback(engine: sa.Engine, server: str, key: str | None) -> None:
    """After each sync, send the review verdicts waiting in the outbox (`pending_review` on a
    match, `blocked` / `not_blocked` on a decision). What cannot be delivered now stays
    queued for the next sync or `takedown platform feedback send`."""
    from takedown.platform.feedback import flush_outbox, registry_client

    with registry_client(server, key) as client:
        report = flush_outbox(engine, client)
    if report.sent or report.waiting or report.failed or report.error:
        line = f"feedback: {report.sent} sent, {report.waiting} waiting"
        if report.failed:
            line += f", {len(report.failed)} refused (see `takedown platform feedback status`)"
        if report.error:
            line += f"; {report.error}"
        _stderr.print(line)


def _retrying(message: str, delay: float) -> None:
    _stderr.print(f"takedown: {message}; trying again in {delay:.0f} s")


def _exit(exc: TakedownError) -> typer.Exit:
    _stderr.print(f"takedown: cannot sync: {exc}")
    return typer.Exit(EXIT_USAGE if isinstance(exc, ConfigError | InputError) else EXIT_FAILED)
