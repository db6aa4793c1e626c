"""`takedown platform index-content` and `takedown platform backfill`: hash the platform's
stored media once, then re-match it whenever sync brings new signals."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from takedown.agent_cli import app
from takedown.agent_cli.store_options import DbUrl, StateDir
from takedown.cli_edge import EXIT_FAILED, EXIT_USAGE
from takedown.errors import TakedownError

EXIT_INTERRUPTED = 130

_stderr = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)
"""File names and errors are text from outside: never read as markup."""

Workers = Annotated[
    int | None,
    typer.Option(
        "--workers", min=1, help="Processes (Ray: CPUs of a local Ray). Default: all CPUs."
    ),
]


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@app.command("index-content")
def index_content_command(
    paths: Annotated[
        list[Path], typer.Argument(help="The platform's stored photos and videos, or folders.")
    ],
    state: StateDir = None,
    db: DbUrl = None,
    workers: Workers = None,
) -> None:
    """Hash the platform's stored media (the platform's query set: PDQ signals, vPDQ frames,
    MD5) into the local store, for `takedown platform backfill`. Files already indexed with
    the same SHA-256 are skipped; changed files are hashed again. Unreadable files are
    reported and the rest go on (exit code 1)."""
    from takedown.platform.content import index_files, media_files
    from takedown.platform.store import open_store

    files = list(media_files(paths))
    if not files:
        _stderr.print("takedown: no photos or videos found under the given paths.")
        raise typer.Exit(EXIT_USAGE)
    try:
        engine = open_store(state, db)
    except TakedownError as exc:
        _stderr.print(f"takedown: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    progress = Progress(
        TextColumn("indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_stderr,
        transient=True,
        disable=len(files) < 2,
    )
    try:
        with progress:
            task = progress.add_task("index", total=len(files))

            def done(outcome: object) -> None:
                progress.advance(task)

            report = index_files(engine, files, workers=workers or _cpus(), on_file=done)
    except KeyboardInterrupt:
        _stderr.print("takedown: interrupted; files indexed so far are kept, run it again.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except TakedownError as exc:
        _stderr.print(f"takedown: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        engine.dispose()
    for failure in report.failed:
        _stderr.print(f"{failure.ref}: {failure.error}")
    typer.echo(
        f"indexed {report.indexed}, unchanged {report.unchanged}, failed {len(report.failed)} "
        f"(of {report.total} files)"
    )
    if report.failed:
        raise typer.Exit(EXIT_FAILED)


@app.command("backfill")
def backfill_command(
    state: StateDir = None,
    db: DbUrl = None,
    engine_name: Annotated[
        Literal["local", "ray"],
        typer.Option(
            "--engine",
            help="local: a process pool on this machine; ray: a Ray Data pipeline (a local "
            "Ray, or the cluster at --ray-address).",
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="An existing Ray cluster, e.g. ray://head:10001 (with --engine ray).",
        ),
    ] = None,
    workers: Workers = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-match every stored content hash (`index-content`) against the signals synced since
    the last backfill; content indexed since then against every live signal. Each match
    becomes a review item. Safe to interrupt and run again."""
    from takedown.platform.backfill import Engine, LocalEngine, RayEngine, backfill
    from takedown.platform.store import open_store

    if ray_address and engine_name != "ray":
        _stderr.print("takedown: --ray-address is for --engine ray.")
        raise typer.Exit(EXIT_USAGE)
    try:
        engine = open_store(state, db)
    except TakedownError as exc:
        _stderr.print(f"takedown: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    runner: Engine
    try:
        if engine_name == "ray":
            runner = RayEngine(ray_address, workers or _cpus())
        else:
            runner = LocalEngine(workers or _cpus())
    except TakedownError as exc:
        engine.dispose()
        _stderr.print(f"takedown: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    progress = Progress(
        SpinnerColumn(),
        TextColumn("backfill: {task.completed:,} stored hashes read"),
        TimeElapsedColumn(),
        console=_stderr,
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task("backfill", total=None)
            report = backfill(engine, runner, on_block=lambda rows: progress.advance(task, rows))
    except KeyboardInterrupt:
        _stderr.print("takedown: interrupted; nothing was skipped, run it again.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except TakedownError as exc:
        _stderr.print(f"takedown: backfill failed: {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        runner.close()
        engine.dispose()
    for reason in report.refused:
        _stderr.print(f"takedown: not recorded: {reason}")
    if as_json:
        out = {
            "engine": report.engine,
            "watermark_before": report.watermark_before,
            "watermark_after": report.watermark_after,
            "new_signals": report.new_signals,
            "fresh_content": report.fresh_content,
            "hashes_checked": report.hashes_checked,
            "matches": len(report.matches),
            "recorded": report.recorded,
            "gone": report.gone,
            "refused": len(report.refused),
            "seconds": round(report.seconds, 3),
        }
        sys.stdout.write(json.dumps(out, separators=(",", ":")) + "\n")
    else:
        typer.echo(
            f"backfill ({report.engine}): {report.new_signals} new signals "
            f"(seq {report.watermark_before} -> {report.watermark_after}), "
            f"{report.fresh_content} newly indexed items, {report.hashes_checked:,} stored "
            f"hashes checked in {report.seconds:.1f} s: {len(report.matches)} matches, "
            f"{report.recorded} new review items"
        )
    if report.refused:
        raise typer.Exit(EXIT_FAILED)
