"""`ssbfab simulate`: run the line simulator on a route, a plan or a bare line file.

Without --plan a route is sized by `size_for_capacity` (per step the cheapest option
per unit of capacity, enough machines for the target at nominal availability) and
a bare line file (`form: line`) runs max(min_count, 1) machines of each step's
first option. SimPy, numpy and pandas are imported inside the command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .app import JsonOpt, LinesOpt, app, emit_json, err, handle_errors, table


def _num(x: float, digits: int) -> str:
    """`digits` significant figures; thousands separated rather than 1.234e+07."""
    r = float(f"{x:.{digits}g}")
    return f"{r:,.0f}" if abs(r) >= 1000 else f"{r:.{digits}g}"


def _fmt(e, digits: int = 4) -> str:
    """mean ± half the 95 % interval when it is symmetric (Student t), else the mean
    and the interval's ends, "0.96 (0.76-0.99)" ("-" when not computable)."""
    import math

    if e.mean is None or (isinstance(e.mean, float) and math.isnan(e.mean)):
        return "-"
    if e.ci95_high == e.ci95_low:
        return _num(e.mean, digits)
    if e.method == "t":
        return f"{_num(e.mean, digits)} ± {_num((e.ci95_high - e.ci95_low) / 2, 2)}"
    return f"{_num(e.mean, digits)} ({_num(e.ci95_low, 2)}-{_num(e.ci95_high, 2)})"


@app.command()
@handle_errors
def simulate(
    route: Annotated[str, typer.Argument(help="Route name, route file or bare line file")],
    capacity_gwh: Annotated[float | None, typer.Option(
        "--capacity-gwh", help="Size the line for this many good GWh per year "
                               "(default: the route's plant.default_capacity).")] = None,
    plan: Annotated[Path | None, typer.Option(
        "--plan", help="A plan.json (or an optimiser result) with machines, levels, lots.")] = None,
    days: Annotated[float, typer.Option(
        "--days", help="Horizon in calendar days, warm-up included.")] = 365.0,
    warmup_days: Annotated[float, typer.Option(
        "--warmup-days", help="Days discarded at the start.")] = 30.0,
    reps: Annotated[int, typer.Option("--reps", help="Independent replications.")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Root of the random streams.")] = 1,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="Worker processes (default: min(reps, CPU count)).")] = None,
    json_: JsonOpt = False,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write stats.json and CSV tables into this folder.")] = None,
    lines: LinesOpt = None,
):
    """Simulate a production line: yields, availability, blocking, WIP, lead time, output."""
    from ..data.loader import resolve_route
    from ..errors import InputError, Problem
    from ..sim import bare_config
    from ..sim import simulate as run

    r = resolve_route(route, lines)
    if plan is not None and capacity_gwh is not None:
        raise InputError(Problem("arguments", None, "--capacity-gwh",
                                 "give --plan or --capacity-gwh, not both (a plan has its target)"))
    if plan is not None:
        from ..config import PlantConfig

        config = PlantConfig.read(r, plan)
    elif r.cell is None:
        if capacity_gwh is not None:
            raise InputError(Problem(r.file, None, "--capacity-gwh",
                                     "a bare line file has no cell design, so no energy per "
                                     "cell to size for; give --plan or neither"))
        config = bare_config(r)
    else:
        from ..config import size_for_capacity

        if capacity_gwh is not None and not capacity_gwh > 0:
            raise InputError(Problem("arguments", None, "--capacity-gwh",
                                     f"expected a positive number, found {capacity_gwh:g}"))
        config = size_for_capacity(r, capacity_gwh)

    result = _run_with_progress(run, config, days, warmup_days, reps, seed, workers)
    for w in result.warnings:
        err(f"warning: {w}")
    if out is not None:
        result.write(out)
    if json_:
        emit_json(result.to_dict())
        return
    _print(result)
    if out is not None:
        print(f"wrote {out}/stats.json and CSV tables")


def _run_with_progress(run, config, days, warmup_days, reps, seed, workers):
    """A progress bar on stderr when it is a terminal (stdout stays clean for --json)."""
    if not sys.stderr.isatty():
        return run(config, days=days, warmup_days=warmup_days, reps=reps, seed=seed,
                   workers=workers)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("simulating {task.description}"), BarColumn(),
                  TextColumn("{task.completed:.1f}/{task.total:g} replications"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(config.route.name, total=reps)
        return run(config, days=days, warmup_days=warmup_days, reps=reps, seed=seed,
                   workers=workers,
                   progress=lambda done, total: bar.update(task, completed=done))


def _print(result) -> None:
    s = result.stats
    table(f"simulation: {s.route} ({s.reps} replications x {s.days:g} days, "
          f"warm-up {s.warmup_days:g}, seed {s.seed})",
          ["step", "option", "machines", "utilization", "availability", "blocked", "starved",
           "yield", "good/h", "WIP"],
          [[st.step, st.option, st.machines, _fmt(st.utilization, 3), _fmt(st.availability, 3),
            _fmt(st.blocked, 2), _fmt(st.starved, 2), _fmt(st.yield_, 4),
            _fmt(st.throughput_per_h), _fmt(st.wip_mean)] for st in s.steps.values()],
          caption="fractions of machine-time; good/h per operating hour in the step's unit; "
                  "WIP in machines and the buffer after the step; ± half the 95 % interval, "
                  "or (its ends) for fractions, which it keeps inside [0, 1]")
    d = s.dry_room
    notes = [f"{name}: {e.note}" for name, e in (
        ("excursion h/yr", d.excursion_hours), ("sulfide exposure", d.sulfide_exposure_kg_h),
        ("H2S", d.h2s_estimate)) if e.note]
    table("line", ["quantity", "value"], [
        ["good cells per year", _fmt(s.good_cells_per_year)],
        ["good GWh per year", _fmt(s.good_gwh_per_year)],
        ["overall yield (worst branch)", _fmt(s.overall_yield)],
        ["lead time, h of operation", _fmt(s.lead_time_h)],
        ["bottleneck", s.bottleneck],
        ["dry-room excursion h/yr", _fmt(d.excursion_hours)],
        ["sulfide exposure kg·h/yr", _fmt(d.sulfide_exposure_kg_h)],
        ["H2S estimate L/yr", _fmt(d.h2s_estimate)],
        ["kernel events", f"{s.events:,}"],
        ["wall time s", f"{s.wall_s:.1f}"],
    ], caption="; ".join(notes) or None)
