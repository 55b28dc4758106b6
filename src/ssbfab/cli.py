"""Command line: `ssbfab COMMAND ...`.

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
        from .errors import InputError, NoPlanError

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
    from .io import json_clean

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


# ----------------------------------------------------------------------------- routes


@app.command()
@handle_errors
def routes(json_: JsonOpt = False, lines: LinesOpt = None):
    """List the shipped routes with kWh per cell, Wh/kg, Wh/L and materials cost per kWh."""
    from .summary import route_summaries

    rows = route_summaries(lines)
    if json_:
        emit_json(rows)
        return
    table("ssbfab routes", ["route", "form", "electrolyte", "kWh/cell", "Wh/kg", "Wh/L",
                            "materials $/kWh"],
          [[r["name"], r["form"], r["electrolyte"], f"{r['energy_kwh']:.3f}",
            f"{r['wh_per_kg']:.0f}", f"{r['wh_per_l']:.0f}",
            f"{r['materials_cost_per_kwh']:.1f}"] for r in rows],
          caption="materials cost at nominal yields, default levels, driest allowed dry room; "
                  f"{rows[0]['currency'] if rows else 'USD'} of the economics' currency year")


@app.command()
@handle_errors
def cell(route: Annotated[str, typer.Argument(help="Route name or path to a route file")],
         json_: JsonOpt = False, lines: LinesOpt = None):
    """Cell design of a route: capacity, energy, mass, volume and the bill of materials."""
    from .summary import cell_report

    doc = cell_report(route, lines)
    if json_:
        emit_json(doc)
        return
    keys = ["capacity_ah", "nominal_v", "energy_wh", "mass_kg", "volume_l", "wh_per_kg",
            "wh_per_l", "cathode_area_m2", "cathode_areal_capacity_mah_cm2",
            "materials_cost_per_kwh"]
    table(f"cell: {doc['route']}", ["quantity", "value"],
          [[k, f"{doc[k]:.4g}"] for k in keys])
    table("bill of materials (bought per good cell)", ["material", "quantity", "unit",
                                                        "in cell", "$/kWh"],
          [[b["material"], f"{b['quantity']:.4g}", b["unit"], f"{b['design_quantity']:.4g}",
            f"{b['cost_per_kwh']:.2f}"] for b in doc["bom"]])


@app.command()
@handle_errors
def materials(route: Annotated[str, typer.Argument(help="Route name or path to a route file")],
              json_: JsonOpt = False, lines: LinesOpt = None):
    """Materials the line makes itself, with the mass and cost share of their raws."""
    from .summary import materials_report

    doc = materials_report(route, lines)
    if json_:
        emit_json(doc)
        return
    if not doc["materials"]:
        print(f"{doc['route']}: the line makes no material itself")
    for m in doc["materials"]:
        table(f"{m['name']} (made at {m['step']}): {m['cost_per_kg']:.2f} {m['currency']}/kg "
              "of raw materials", ["raw", "mass %", "cost %"],
              [[r["name"], f"{100 * r['mass_fraction']:.1f}", f"{100 * r['cost_share']:.1f}"]
               for r in m["raw"]])


@app.command()
@handle_errors
def validate(files: Annotated[list[Path], typer.Argument(help="Data files to check")],
             lines: LinesOpt = None):
    """Check data files (routes, materials, dry rooms, economics); print what was checked."""
    from .errors import InputError, Problem
    from .spec import load_any

    problems: list[Problem] = []
    for f in files:
        try:
            kind = load_any(f, lines)
            print(f"ok  {f}  ({kind})")
        except InputError as exc:
            problems.extend(exc.problems)
            print(f"BAD {f}")
    if problems:
        raise InputError(problems)


# Commands of the other parts register themselves on `app` when imported.
from . import cli_commands  # noqa: E402,F401


def main() -> None:
    app()


if __name__ == "__main__":
    main()
