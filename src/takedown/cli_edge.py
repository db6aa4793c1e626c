"""Where a command's errors become what its user sees: exit codes, and one line on stderr.

Every `takedown` command ends this way (`cli`, `agent_cli`, `report_cli`): 0 done, 1 failed
(or some inputs failed), 2 a mistake in the command or its inputs (InputError, ConfigError).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from takedown.errors import ConfigError, InputError, TakedownError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "edge"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


@contextmanager
def edge(action: str) -> Iterator[None]:
    """Our errors become `takedown: ACTION: message` on stderr and an exit code."""
    try:
        yield
    except TakedownError as exc:
        typer.echo(f"takedown: {action}: {exc}", err=True)
        usage = isinstance(exc, InputError | ConfigError)
        raise typer.Exit(EXIT_USAGE if usage else EXIT_FAILED) from None
