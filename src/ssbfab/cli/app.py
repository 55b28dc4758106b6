"""The command-line application: the Typer app, shared options, error handling and
output helpers that every command module uses.

Heavy modules (pandas, pyomo, simpy) are imported inside the commands so that
`ssbfab --help` is instant. Bad input exits 2 with a message naming file, line and
field; "no plan exists" exits 3; an interruption exits 130; none shows a Python
traceback (the README's table lists every exit code of every command). With `--json`
a command prints exactly one JSON document on stdout and nothing else there. Tables
fit the terminal, or 100 columns when the output is not one.
"""

from __future__ import annotations

import functools
import json
import re
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
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="PATH=VALUE",
                 help="Change one input for this run, by the paths studies use, e.g. "
                      "--set materials.Li2S.price=\"1e6 CNY/t\" (repeatable)."),
]
WideOpt = Annotated[bool, typer.Option(
    "--wide", help="Every column, with 95 % intervals (wider than 100 characters).")]
# Without a terminal (a pipe, a file, CI logs) tables are laid out for this width.
PIPE_WIDTH = 100
# a number (separators, exponent, "%"), with its interval: "± h" or "(low-high)"
_NUM = r"[-+]?[\d,.]+(e[-+]?\d+)?%?"
_NUMBER = re.compile(rf"{_NUM}( ± {_NUM}| \({_NUM}-{_NUM}\))?|± {_NUM}|\({_NUM}-{_NUM}\)")


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
        except KeyboardInterrupt:
            err("interrupted: nothing was written half-way")
            raise typer.Exit(130) from None

    return wrapper


def overrides_from(sets: list[str] | None):
    """`--set PATH=VALUE` options as study overrides (None if there are none). VALUE
    is read as a YAML value, as it would be written in the data file: `0.9`, `92 %`,
    `1e6 CNY/t`, `[dp-40, dp-60]`. Paths are checked when the data is loaded."""
    import yaml

    from ..data.overrides import Overrides
    from ..errors import InputError, Problem

    values: dict[str, object] = {}
    problems: list[Problem] = []
    for item in sets or []:
        path, eq, text = item.partition("=")
        path = path.strip()
        if not eq or not path:
            problems.append(Problem("--set", None, path, f"expected PATH=VALUE, found "
                                    f"{item[:80]!r}, e.g. materials.Li2S.price=\"1e6 CNY/t\""))
            continue
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            problems.append(Problem("--set", None, path, f"cannot read the value "
                                    f"{text[:80]!r}: {str(exc).splitlines()[0]}"))
            continue
        if value is None:
            problems.append(Problem("--set", None, path, "no value after '='; expected "
                                    "PATH=VALUE, e.g. plant.floor_area=\"30000 m^2\""))
        elif path in values:
            problems.append(Problem("--set", None, path, "given twice; give each path once"))
        else:
            values[path] = value
    if problems:
        raise InputError(problems)
    return Overrides(values, file="--set") if values else None


def err(msg: str) -> None:
    print(msg, file=sys.stderr)


def emit_json(doc) -> None:
    from ..io import json_clean

    sys.stdout.write(json.dumps(json_clean(doc), indent=2, allow_nan=False) + "\n")


def table(title: str, columns: list[str], rows: list[list], caption: str | None = None,
          names: int = 1, wide: bool = False) -> None:
    """Print a title, a table and a caption on stdout. The first `names` columns hold
    names (steps, options, routes): left-aligned and never wrapped or cut, so they can
    be searched for; a cell may hold several lines ("\n"). Laid out for $COLUMNS,
    else the terminal, else PIPE_WIDTH; with `wide`, at the table's natural width."""
    import os

    from rich import box
    from rich.console import Console
    from rich.table import Table

    # two characters between columns (a blank divider and one of padding)
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    cells = [[str(v) for v in r] for r in rows]
    for i, c in enumerate(columns):
        if i < names:
            longest = max((len(line) for r in cells for line in r[i].splitlines()), default=0)
            t.add_column(c, justify="left", no_wrap=True, min_width=longest)
        else:  # mostly numbers: right-aligned; mostly words: left (wrapped if need be)
            filled = [r[i] for r in cells if r[i] not in ("", "-")]
            numbers = sum(bool(_NUMBER.fullmatch(v)) for v in filled)
            t.add_column(c, justify="right" if 2 * numbers >= len(filled) else "left")
    for r in cells:
        t.add_row(*r)
    cols = os.environ.get("COLUMNS", "")
    width = int(cols) if cols.isdigit() else (None if sys.stdout.isatty() else PIPE_WIDTH)
    console = Console(width=width)
    if wide:
        natural = Console(width=10_000).measure(t).maximum
        console = Console(width=max(console.width, natural))
    # title and caption wrap at the console's width, not at a narrow table's
    console.print(title, style="bold", highlight=False, markup=False)
    console.print(t)
    if caption:
        console.print(caption, highlight=False, markup=False)
