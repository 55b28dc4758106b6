"""The command-line application: the Typer app, shared options, error handling and
output helpers that every command module uses.

Heavy modules (pandas, pyomo, simpy) are imported inside the commands so that
`ssbfab --help` is instant. Bad input exits 2 with a message naming file, line and
field; "no plan exists" exits 3; neither shows a Python traceback. With `--json` a
command prints exactly one JSON document on stdout and nothing else there.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="ssbfab",
    help="Simulate and optimise solid-state battery factories: what line to build per "
         "route, and what a good kWh costs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
LinesOpt = Annotated[
    Path | None,
    typer.Option("--lines", help="Data folder with materials.yaml, dry_rooms.yaml, "
                                 "economics.yaml and routes/ (default: the project's lines/)."),
]


def handle_errors(fn):
    """Turn user-facing errors into a message and an exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..errors import InputError, NoPlanError

        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except NoPlanError as exc:
            err(f"no plan: {exc}")
            raise typer.Exit(NoPlanError.exit_code) from None

    return wrapper


def err(msg: str) -> None:
    print(msg, file=sys.stderr)


def emit_json(doc) -> None:
    from ..io import json_clean

    sys.stdout.write(json.dumps(json_clean(doc), indent=2, allow_nan=False) + "\n")


def table(title: str, columns: list[str], rows: list[list], caption: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, caption=caption)
    # a pipe or file gets the full width, not an 80-column guess
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*[str(v) for v in r])
    Console(width=None if sys.stdout.isatty() else 200).print(t)
