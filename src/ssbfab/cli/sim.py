"""`ssbfab simulate`: run the line simulator on a route, a plan or a bare line file.

Without --plan a route is sized by `size_for_capacity` (per step the cheapest option
per unit of capacity, enough machines for the target at nominal availability) and
a bare line file (`form: line`) runs max(min_count, 1) machines of each step's
first option. SimPy, numpy and pandas are imported inside the command.

Exit codes: 0 simulated; 2 bad input (including a target that is not a finite
number of GWh/yr up to 1,000, and a run above the work limit without --yes); 3 the
line sized for the target exceeds the route's machine counts or site areas (the
message names the step, option or area and the data field to raise) and
--beyond-limits was not given.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .app import (
    JsonOpt,
    LinesOpt,
    SetOpt,
    WideOpt,
    app,
    emit_json,
    err,
    handle_errors,
    overrides_from,
    table,
)


def _num(x: float, digits: int) -> str:
    """`digits` significant figures; thousands separated rather than 1.234e+07."""
    r = float(f"{x:.{digits}g}")
    return f"{r:,.0f}" if abs(r) >= 10 ** (digits - 1) else f"{r:.{digits}g}"


def _fmt(e, digits: int = 4, ci: bool = True) -> str:
    """The mean, with `ci` its 95 % interval: ± half of it when it is symmetric
    (Student t), else its ends, "0.96 (0.76-0.99)" ("-" when not computable)."""
    import math

    if e.mean is None or (isinstance(e.mean, float) and math.isnan(e.mean)):
        return "-"
    if not ci:
        return _num(e.mean, digits)
    return f"{_num(e.mean, digits)} {_interval(e)}".rstrip()


def _interval(e, scale: float = 1.0, fmt=None) -> str:
    """The 95 % interval: "± h" for a symmetric (Student t) one, else "(low-high)",
    which for fractions and rare events is not symmetric; "" for a point."""
    import math

    lo, hi = e.ci95_low * scale, e.ci95_high * scale
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "-"
    if lo == hi:
        return ""
    if e.method == "t":
        return f"± {fmt((hi - lo) / 2) if fmt else _num((hi - lo) / 2, 2)}"
    if fmt:
        return f"({fmt(lo)}-{fmt(hi)})"
    # ends with the fewest significant figures (2 to 6) that tell them apart
    digits = next((d for d in range(2, 7) if _num(lo, d) != _num(hi, d)), 6)
    return f"({_num(lo, digits)}-{_num(hi, digits)})"


def _pct(e, decimals: int, ci: bool) -> str:
    """A fraction as a percentage with fixed decimals (with `ci`, and its interval)."""
    import math

    if e.mean is None or not math.isfinite(e.mean):
        return "-"
    text = f"{100 * e.mean:.{decimals}f}"
    if ci:
        text = f"{text} {_interval(e, 100.0, lambda v: f'{v:.{decimals}f}')}".rstrip()
    return text


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
    beyond_limits: Annotated[bool, typer.Option(
        "--beyond-limits", help="Simulate even a line that exceeds the route's machine "
                                "counts (max_count) or site areas; the output says so.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", help="Run even above the work limit (5e7 lot operations in all).")] = False,
    set_: SetOpt = None,
    wide: WideOpt = False,
    lines: LinesOpt = None,
):
    """Simulate a production line: yields, availability, blocking, WIP, lead time, output."""
    from ..data.loader import resolve_route
    from ..errors import InputError, NoPlanError, Problem
    from ..io import check_out_dir
    from ..sim import bare_config
    from ..sim import simulate as run
    from ..sim.linemodel import WORK_LIMIT

    if capacity_gwh is not None:
        from ..config import check_capacity

        check_capacity(capacity_gwh, "--capacity-gwh")
    if out is not None:
        check_out_dir(out)
    r = resolve_route(route, lines, overrides=overrides_from(set_))
    if plan is not None and capacity_gwh is not None:
        raise InputError(Problem("arguments", None, "--capacity-gwh",
                                 "give --plan or --capacity-gwh, not both (a plan has its target)"))
    if plan is not None:
        from ..config import PlantConfig, area_limit_problems

        config = PlantConfig.read(r, plan)  # refuses machine counts above max_count
        over = area_limit_problems(config)
        if over and not beyond_limits:
            raise InputError([Problem(str(plan), None, "", f"the plan exceeds the route's "
                                      f"limits: {m}") for m in over]
                             + [Problem("arguments", None, "--beyond-limits",
                                        "pass it to simulate this plan anyway")])
        if over:
            config.meta["beyond_limits"] = over
    elif r.cell is None:
        if capacity_gwh is not None:
            raise InputError(Problem(r.file, None, "--capacity-gwh",
                                     "a bare line file has no cell design, so no energy per "
                                     "cell to size for; give --plan or neither"))
        config = bare_config(r)
    else:
        from ..config import size_for_capacity

        try:
            config = size_for_capacity(r, capacity_gwh, within_limits=not beyond_limits)
        except NoPlanError as exc:
            raise NoPlanError(f"{exc}\npass --beyond-limits to simulate it anyway") from None

    result = _run_with_progress(run, config, days, warmup_days, reps, seed, workers,
                                None if yes else WORK_LIMIT)
    for w in result.warnings:
        err(f"warning: {w}")
    if out is not None:
        result.write(out)
    if json_:
        emit_json(result.to_dict())
        return
    exceeded = config.meta.get("beyond_limits")
    if exceeded:
        print(f"BEYOND THE ROUTE'S LIMITS (--beyond-limits): {len(exceeded)} limit(s) exceeded, "
              f"listed in the warnings; the site cannot hold this line as its data stand")
    _print(result, wide)
    if out is not None:
        print(f"wrote {out}/stats.json and CSV tables")


def _run_with_progress(run, config, days, warmup_days, reps, seed, workers, max_work):
    """A progress bar on stderr when it is a terminal (stdout stays clean for --json)."""
    if not sys.stderr.isatty():
        return run(config, days=days, warmup_days=warmup_days, reps=reps, seed=seed,
                   workers=workers, max_work=max_work)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("simulating {task.description}"), BarColumn(),
                  TextColumn("{task.completed:.1f}/{task.total:g} replications"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(config.route.name, total=reps)
        return run(config, days=days, warmup_days=warmup_days, reps=reps, seed=seed,
                   workers=workers, max_work=max_work,
                   progress=lambda done, total: bar.update(task, completed=done))


def _print(result, wide: bool = False) -> None:
    s = result.stats
    rows = []
    for st in s.steps.values():
        row = [st.step]
        if wide:  # options of a mixed step on lines of their own, never joined or cut
            row.append("\n".join(st.option.split("+")))
        row += [st.machines] + [_pct(e, d, ci=wide) for e, d in (
            (st.utilization, 1), (st.availability, 1), (st.blocked, 1), (st.starved, 1),
            (st.yield_, 2))]
        row += [_fmt(st.throughput_per_h, ci=wide), _fmt(st.wip_mean, ci=wide)]
        rows.append(row)
    table(f"simulation: {s.route} ({s.reps} replications x {s.days:g} days, "
          f"warm-up {s.warmup_days:g}, seed {s.seed})",
          ["step"] + (["option"] if wide else []) + [
              "machines", "busy %", "up %", "blocked %", "starved %", "yield %", "good/h",
              "WIP"],
          rows, names=2 if wide else 1, wide=wide,
          caption="busy, up, blocked, starved: % of machine-time; yield: good out of started; "
                  "good/h per operating hour in the step's unit; WIP in machines and the "
                  "buffer after the step; " + (
                      "± half the 95 % interval, or (its ends) for fractions, which it keeps "
                      "inside [0, 100 %]" if wide else
                      f"means over {s.reps} replications (--wide: options and 95 % intervals)"))
    d = s.dry_room
    notes = [f"{name}: {e.note}" for name, e in (
        ("excursion h/yr", d.excursion_hours), ("sulfide exposure", d.sulfide_exposure_kg_h),
        ("H2S", d.h2s_estimate)) if e.note]
    line = [("good cells per year", s.good_cells_per_year),
            ("good GWh per year", s.good_gwh_per_year),
            ("overall yield (worst branch)", s.overall_yield),
            ("lead time, h of operation", s.lead_time_h),
            ("dry-room excursion h/yr", d.excursion_hours),
            ("sulfide exposure kg·h/yr", d.sulfide_exposure_kg_h),
            ("H2S estimate L/yr", d.h2s_estimate)]
    rows = [[name, _fmt(e, ci=False), _interval(e)] for name, e in line]
    rows.insert(4, ["bottleneck", s.bottleneck, ""])
    rows += [["kernel events", f"{s.events:,}", ""], ["wall time s", f"{s.wall_s:.1f}", ""]]
    table("line", ["quantity", "value", "95 % interval"], rows, wide=wide,
          caption="; ".join(["95 %: ± half the interval, or its ends"] + notes))
