"""`ssbfab roadmap`: which lines to build, convert and retire, year by year.

Exit codes: 0 a roadmap (optimal, or the best found within the time limit), 2 bad input
(the roadmap file, the reuse table, an argument), 3 no feasible roadmap (the message
names the segment and year that cannot be served)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .app import JsonOpt, app, emit_json, err, handle_errors, table


def _short(route: str) -> str:
    return route.split("-")[0]


@app.command()
@handle_errors
def roadmap(
    file: Annotated[Path, typer.Argument(help="Roadmap file (e.g. studies/roadmaps/transition.yaml)")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for roadmap.json, roadmap.csv and report.html")] = None,
    mode: Annotated[str | None, typer.Option(
        "--mode", help="perfect_foresight or myopic (default: the file's)")] = None,
    confirm: Annotated[bool, typer.Option(
        "--confirm/--no-confirm", help="Confirm each line design by the simulate-optimise "
                                       "loop (slower; cached)")] = False,
    json_: JsonOpt = False,
):
    """Plan a company's lines over time: build, convert, retire; production per segment;
    capex, operating cost, cost per kWh of each route, and the NPV."""
    import datetime

    from .. import __version__
    from ..errors import InputError, Problem
    from ..roadmap.solve import plan_roadmap

    if mode not in (None, "perfect_foresight", "myopic"):
        raise InputError(Problem("arguments", None, "--mode",
                                 f"expected perfect_foresight or myopic, found {mode!r}"))
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(Problem(str(out), None, "--out", "exists and is not a folder"))
    say = None if json_ else (lambda msg: print(msg, file=sys.stderr))
    conf = {"days": 120.0, "reps": 3, "seed": 1} if confirm else None
    result = plan_roadmap(file, progress=say, confirm=conf, mode=mode)
    if out is not None:
        from ..roadmap.report import write_outputs

        head = {"roadmap file": str(file), "objective": result.objective, "mode": result.mode,
                "currency": f"{result.currency} of {result.currency_year}",
                "solver": f"HiGHS, {result.status}"
                          + (f", gap {result.gap:.2%}" if result.gap is not None else ""),
                "ssbfab": __version__, "date": datetime.date.today().isoformat()}
        write_outputs(result, out, head)
    if json_:
        emit_json(result.to_dict())
        return
    _print(result)
    if out is not None:
        err(f"wrote {out}/roadmap.json, roadmap.csv, report.html")


def _print(result) -> None:
    routes = sorted({r for p in result.periods for r, v in p["lines"].items()
                     if any(v.values())})
    table(f"roadmap {result.name}: lines operating (built+/converted~/retired-)",
          ["year", *[_short(r) for r in routes]],
          [[p["year"], *[_cell(p["lines"][r]) for r in routes]] for p in result.periods],
          caption="n = lines operating; +b built (produce after the lead time), ~i converted "
                  "in, ~o converted out, -r retired")
    cost_routes = sorted({r for p in result.periods for r in p["cost_per_kwh"]})
    table(f"per year ({result.currency} {result.currency_year})",
          ["year", "capex M", "opex M/yr", "demand GWh", "made GWh",
           *[f"{_short(r)} $/kWh" for r in cost_routes]],
          [[p["year"], _musd(p["capex"]), _musd(p["opex"]),
            f"{sum(p['demand_gwh'].values()):.1f}",
            f"{sum(v for per in p['production_gwh'].values() for v in per.values()):.1f}",
            *[f"{p['cost_per_kwh'][r]:.1f}" if r in p["cost_per_kwh"] else "-"
              for r in cost_routes]] for p in result.periods])
    b = result.breakdown
    table(f"NPV {result.npv / 1e6:,.1f} M{result.currency} (present value at "
          f"{result.periods[0]['year']}, solver {result.status}"
          + (f", gap {result.gap:.2%})" if result.gap is not None else ")"),
          ["item", "M" + result.currency], [[k, f"{v / 1e6:,.1f}"] for k, v in b.items()])


def _musd(x: float) -> str:
    """Millions, without the "-0" of a sum of nothing."""
    m = x / 1e6
    return f"{0.0 if abs(m) < 0.5 else m:,.0f}"


def _cell(v: dict) -> str:
    s = str(v["operating"])
    for key, sign in (("built", "+"), ("converted_in", "~i"), ("converted_out", "~o"),
                      ("retired", "-")):
        if v[key]:
            s += f" {sign}{v[key]}"
    return s
