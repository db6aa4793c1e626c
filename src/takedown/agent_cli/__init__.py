"""`takedown platform ...`: the platform agent's commands (an edge, like `takedown.cli`).

Each area registers its commands on `app` from its own module (`sync`, `review`, `backfill`,
...); the imports at the bottom pull them in. Errors become messages and exit codes here.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="The platform agent: sync the list, scan and match, review, feedback, backfill.",
    no_args_is_help=True,
)

# Command modules register themselves on `app` when imported (keep this list sorted).
from takedown.agent_cli import backfill as _backfill  # noqa: E402, F401
from takedown.agent_cli import review as _review  # noqa: E402, F401
from takedown.agent_cli import serve as _serve  # noqa: E402, F401
from takedown.agent_cli import sync as _sync  # noqa: E402, F401
