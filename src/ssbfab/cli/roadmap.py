"""`ssbfab roadmap`: which lines to build, convert and retire, year by year.

A file with an `uncertainty:` section (a scenario tree) is also solved as a stochastic
programme (`roadmap.stochastic`): the printed answers are the here-and-now decision, VSS,
EVPI and the reserve's value; `--json` and `--out` add them as the `stochastic` object
to the deterministic roadmap of the file's own values.

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
    solver: Annotated[str | None, typer.Option(
        "--solver", help="For a file with an uncertainty: section: extensive (the extensive "
                         "form on HiGHS, default) or ph (progressive hedging with mpi-sppy "
                         "on MPI; needs the mpi extra)")] = None,
    ranks: Annotated[int | None, typer.Option(
        "--ranks", help="MPI ranks for --solver ph (default 2; at most one per scenario)")
    ] = None,
    json_: JsonOpt = False,
):
    """Plan a company's lines over time: build, convert, retire; production per segment;
    capex, operating cost, cost per kWh of each route, and the NPV. With a scenario tree
    (uncertainty:), what to build now, VSS, EVPI and the value of the reserve."""
    import datetime

    from .. import __version__
    from ..errors import InputError, Problem
    from ..roadmap.load import load_roadmap
    from ..roadmap.solve import plan_roadmap

    if mode not in (None, "perfect_foresight", "myopic"):
        raise InputError(Problem("arguments", None, "--mode",
                                 f"expected perfect_foresight or myopic, found {mode!r}"))
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(Problem(str(out), None, "--out", "exists and is not a folder"))
    if solver not in (None, "extensive", "ph"):
        raise InputError(Problem("arguments", None, "--solver",
                                 f"expected extensive or ph, found {solver!r}"))
    if ranks is not None and solver != "ph":
        raise InputError(Problem("arguments", None, "--ranks",
                                 "only with --solver ph (MPI ranks of progressive hedging)"))
    say = None if json_ else (lambda msg: print(msg, file=sys.stderr))
    conf = {"days": 120.0, "reps": 3, "seed": 1} if confirm else None
    lr = load_roadmap(file)
    if lr.roadmap.uncertainty is None and solver is not None:
        raise InputError(Problem("arguments", None, "--solver",
                                 f"{file} has no uncertainty: section (scenario tree); "
                                 "--solver chooses how a tree is solved"))
    stoch = None
    if lr.roadmap.uncertainty is not None:
        from ..roadmap.decide import solve_stochastic
        from ..roadmap.solve import designs_for
        from ..roadmap.tree import build_tree, check_reserve

        tree = build_tree(lr)  # a bad tree or bad arguments fail before any solve
        check_reserve(lr)
        if solver == "ph":
            from ..roadmap.ph import check_ph

            check_ph(2 if ranks is None else ranks, len(tree.scenarios))
        designs = designs_for(lr, say, conf)
        stoch = solve_stochastic(lr, solver=solver or "extensive",
                                 ranks=2 if ranks is None else ranks,
                                 progress=say, designs=designs)
    result = plan_roadmap(lr, progress=say, confirm=conf, mode=mode)
    if out is not None:
        from ..roadmap.report import write_outputs

        head = {"roadmap file": str(file), "objective": result.objective, "mode": result.mode,
                "currency": f"{result.currency} of {result.currency_year}",
                "solver": f"HiGHS, {result.status}"
                          + (f", gap {result.gap:.2%}" if result.gap is not None else ""),
                "ssbfab": __version__, "date": datetime.date.today().isoformat()}
        write_outputs(result, out, head, stochastic=stoch)
    if json_:
        emit_json({**result.to_dict(),
                   **({"stochastic": stoch.to_dict()} if stoch is not None else {})})
        return
    if stoch is None:
        _print(result)
    else:
        _print_stochastic(stoch, result)
    if out is not None:
        err(f"wrote {out}/roadmap.json, roadmap.csv, report.html"
            + (", stochastic.csv, stochastic_*.png" if stoch is not None else ""))


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


def _print_stochastic(st, det) -> None:
    """The answers a board asks for, then the scenarios (MUSD, the objective's terms)."""
    table(f"roadmap {st.name} under uncertainty: {len(st.scenarios)} scenarios, stages "
          f"{', '.join(map(str, st.stages))} (M{st.currency})",
          ["answer", "value"], [list(r) for r in st.rows()],
          caption="VSS: what planning on the average scenario loses; EVPI: what knowing "
                  "the future (or one input) from the start is worth; reserve value: "
                  "E[NPV] with the reserve line in the first stage minus without any line "
                  "of its route there. values.ranges in --json: the interval each is "
                  "certain to lie in, given the solvers' gaps.")
    cheaper = {x["year"]: x["probability"] for x in st.allsolid_cheaper}
    table("scenarios", ["scenario", "probability", f"NPV M{st.currency}", "lines built (route n)"],
          [[s["name"], f"{s['probability']:.0%}", f"{s['npv'] / 1e6:,.1f}",
            ", ".join(f"{_short(r)} {n}" for r, n in _built(s).items()) or "-"]
           for s in st.scenarios],
          caption=("P(all-solid cheaper per kWh than semi-solid by then): "
                   + ", ".join(f"{y} {p:.0%}" for y, p in cheaper.items()) + ". ")
          if cheaper else None)
    for note in st.notes:
        err(f"note: {note}")
    err(f"planned as if the file's own values were certain: NPV {det.npv / 1e6:,.1f} "
        f"M{det.currency} (--json: the top level)")


def _built(s: dict) -> dict[str, int]:
    """Lines built over a scenario's path, per route."""
    out: dict[str, int] = {}
    for p in s["periods"]:
        for r, v in p["lines"].items():
            if v["built"]:
                out[r] = out.get(r, 0) + v["built"]
    return out


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
