"""`ssbfab optimize`: the cheapest plant per good kWh for a route and a target.

Exit codes: 0 a plan (optimal, or the best found within the time limit), 2 bad
input (nothing is solved), 3 no plan exists (the message names the step and the limit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import (
    COSTING_HELP,
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


@app.command()
@handle_errors
def optimize(
    route: Annotated[str, typer.Argument(help="Route name or path to a route file")],
    capacity_gwh: Annotated[float, typer.Option("--capacity-gwh", help="Target of good GWh per year")],
    stats: Annotated[Path | None, typer.Option(
        "--stats", help="Statistics of a simulation (stats.json or the folder written by "
                        "`ssbfab simulate --out`): observed availability and yields")] = None,
    costing: Annotated[str, typer.Option("--costing", help=COSTING_HELP)] = "batpac5",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver time limit, s")] = 60.0,
    gap: Annotated[float, typer.Option("--gap", help="Relative MIP gap")] = 1e-4,
    threads: Annotated[int | None, typer.Option("--threads", help="HiGHS threads")] = None,
    json_: JsonOpt = False,
    out: Annotated[Path | None, typer.Option("--out", help="Folder to write plan.json to")] = None,
    set_: SetOpt = None,
    wide: WideOpt = False,
    lines: LinesOpt = None,
):
    """Choose machines, setting levels and dry-room class that minimise cost per good kWh."""
    from ..cost import check_costing
    from ..data.loader import resolve_route
    from ..errors import InputError, NoPlanError, Problem
    from ..io import check_out_dir

    check_costing(costing)
    if not gap >= 0:
        raise InputError(Problem("arguments", None, "--gap", f"expected a relative gap >= 0, found {gap}"))
    if not time_limit > 0:
        raise InputError(Problem("arguments", None, "--time-limit", f"expected seconds > 0, found {time_limit}"))
    if threads is not None and threads < 1:
        raise InputError(Problem("arguments", None, "--threads", f"expected at least 1, found {threads}"))
    if out is not None:
        check_out_dir(out)
    r = resolve_route(route, lines, overrides=overrides_from(set_))
    line_stats = None
    if stats is not None:
        from ..stats import LineStats

        line_stats = LineStats.read(stats, route=r)
        # a supply option's steps count only where the statistics simulated them
        member = r.full.supply_member()
        steps = [s for s in r.full.order if s not in member or s in line_stats.steps]
        observed = [s for s in steps if s in line_stats.steps]
        nominal = [s for s in steps if s not in line_stats.steps]
        if nominal:
            err(f"note: simulated statistics for {len(observed)} of {len(steps)} steps "
                f"({', '.join(observed)}); nominal data for {', '.join(nominal)}")
    from ..opt import optimize as run

    plan = run(r, capacity_gwh, stats=line_stats, costing=costing, time_limit=time_limit,
               gap=gap, threads=threads)
    if plan.config is None:
        raise NoPlanError(f"{r.name}: {plan.status.reason}")
    doc = plan.to_dict()
    if out is not None:
        from ..io import write_json

        write_json(Path(out) / "plan.json", doc)
    if json_:
        emit_json(doc)
        return
    _print(plan, out, wide)


def _print(plan, out, wide: bool) -> None:
    from ..categories import line

    c = plan.cost
    s = plan.status
    rows = []
    for r in plan.rows:
        # one line per option in a cell, so that no option name is cut or joined
        opts = [o for o, n in r.machines.items() if n] or [r.option]
        limit = r.limit
        for o in opts:  # "max_count <option>": the mark goes on that option's line
            limit = limit.replace(f" {o}", "")
        row = [r.step, "\n".join(opts), r.level, "\n".join(str(r.machines.get(o, r.count))
                                                         for o in opts),
               f"{100 * r.required_per_year / r.capacity_per_year:.1f}"
               if r.capacity_per_year else "-", limit or "-"]
        if wide:
            row += [f"{r.required_per_year:,.0f}", f"{r.capacity_per_year:,.0f}", r.unit]
        rows.append(row)
    lines = (f" as {plan.lines} identical lines of {plan.line_capacity_gwh:g} GWh/yr (machines "
             "per line)" if plan.lines > 1 else "")
    table(f"{plan.route}: {plan.capacity_gwh:g} GWh/yr of good cells{lines}, dry room "
          f"{plan.dew_point_class}" + (" (the plant's zone; the zones below)" if plan.zone_costs else ""),
          ["step", "option", "level", "count", "load %", "binding"]
          + (["required/yr", "capacity/yr", "unit"] if wide else []),
          rows, names=3, wide=wide,
          caption="load: units the step must start per year over what its machines can "
                  "start" + ("" if wide else "; --wide for both, per year"))
    if plan.zone_costs:  # a zoned plant: each zone's class, area and what it adds
        table("zones of the dry room (the plant's: the dry-room steps in no zone)",
              ["zone", "class", "steps", "area m²", "enclosed", f"{c.currency}/kWh"],
              [[z, str(v["class"]), str(len(v["steps"])), f"{v['area_m2']:,.0f}",
                str(v["enclosed_machines"]), f"{v['usd_per_kwh']:.3f}"]
               for z, v in plan.zone_costs.items()],
              caption="USD/kWh: what the zone's dry room (or its argon enclosures and argon) "
                      "adds over plain floor, with its overheads")
    # labels from the cost registry; `field` is the key in plan.json and comparison.csv
    rows = [[line(k).label, f"{v:.2f}", f"{100 * v / c.cost_per_kwh:.1f}", k]
            for k, v in c.by_category.items()]
    rows += [[f"  ({line(k).label})", f"{v:.2f}", f"{100 * v / c.cost_per_kwh:.1f}", k]
             for k, v in c.overhead_items.items()]
    rows.append(["total", f"{c.cost_per_kwh:.2f}", "100.0", "cost_per_kwh"])
    table(f"cost per kWh of good cells ({plan.costing}, {c.currency} {c.currency_year})",
          ["category", f"{c.currency}/kWh", "%", "field"], rows,
          caption=f"{plan.lines} line{'s' if plan.lines > 1 else ''}: capex "
                  f"{plan.capex_total / 1e6:,.0f} M{c.currency}; floor {plan.floor_area_m2:,.0f} m², "
                  f"dry room {plan.dry_room_area_m2:,.0f} m² (lines tried: "
                  + ", ".join(f"{t.lines} {t.cost_per_kwh:.2f}" if t.cost_per_kwh is not None
                              else f"{t.lines} {t.status}" for t in plan.line_search)
                  + f"); solver {s.status}"
                  f"{'' if s.gap is None else f', gap {s.gap:.2g}'}, build {s.build_s:.2f} s, "
                  f"solve {s.solve_s:.2f} s")
    if out is not None:
        print(f"wrote {Path(out) / 'plan.json'}")
