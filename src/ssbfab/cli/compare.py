"""`ssbfab compare`: the main job — every route through the closed loop, one table,
result files and a report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from .app import JsonOpt, LinesOpt, app, emit_json, handle_errors, table


@app.command()
@handle_errors
def compare(
    routes: Annotated[str | None, typer.Option(
        "--routes", help="Comma-separated route names or files (default: all shipped)")] = None,
    capacity_gwh: Annotated[float | None, typer.Option(
        "--capacity-gwh", help="Target good GWh/yr for every route")] = 2.0,
    days: Annotated[float, typer.Option(help="Simulated days per replication")] = 120.0,
    warmup_days: Annotated[float, typer.Option("--warmup-days", help="Warm-up discarded")] = 20.0,
    reps: Annotated[int, typer.Option(help="Replications per simulation")] = 4,
    seed: Annotated[int, typer.Option(help="Random seed")] = 1,
    costing: Annotated[str, typer.Option(help="batpac5 or annuity")] = "batpac5",
    workers: Annotated[int | None, typer.Option(help="Processes for replications")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output folder (default: results/<date-time>/)")] = None,
    json_: JsonOpt = False,
    lines: LinesOpt = None,
):
    """Compare routes: cost per good kWh confirmed by simulation, with a report."""
    from rich.console import Console

    from ..comparison import compare as run_compare
    from ..errors import InputError

    if costing not in ("batpac5", "annuity"):
        raise InputError(f"--costing: expected batpac5 or annuity, found {costing!r}")
    if reps < 1:
        raise InputError(f"--reps: expected at least 1, found {reps}")
    if days <= warmup_days:
        raise InputError(f"--days ({days:g}) must be longer than --warmup-days ({warmup_days:g})")
    if capacity_gwh is not None and capacity_gwh <= 0:
        raise InputError(f"--capacity-gwh: expected a positive number, found {capacity_gwh:g}")
    out = out or Path("results") / time.strftime("%Y%m%d-%H%M%S")
    console = Console(stderr=True)
    names = [r.strip() for r in routes.split(",")] if routes else None
    t0 = time.perf_counter()
    with console.status("starting") as status:
        def progress(msg: str) -> None:
            status.update(msg)
            console.log(msg)

        result = run_compare(names, capacity_gwh, days=days, warmup_days=warmup_days, reps=reps,
                             seed=seed, costing=costing, workers=workers, out=out, lines=lines,
                             progress=progress)
    t = result.table
    if json_:
        import json

        emit_json({"out": str(result.out), "wall_s": time.perf_counter() - t0,
                   "routes": json.loads(t.to_json(orient="records"))})
        return
    nan = float("nan")

    def f(r, key, fmt):
        v = r.get(key, nan)
        return "-" if v != v else format(v, fmt)

    cats = [c for c in t.columns if c.startswith("cost_") and c != "cost_per_kwh"]
    table(f"ssbfab compare: {t['capacity_gwh'].iloc[0]:g} GWh/yr of good cells per route, "
          f"{costing} costing, seed {seed} (USD per kWh of good cells)",
          ["route", "$/kWh"] + [c.removeprefix("cost_") for c in cats],
          [[r["route"], f(r, "cost_per_kwh", ".1f"), *[f(r, c, ".1f") for c in cats]]
           for _, r in t.iterrows()])
    table("simulated plant", ["route", "Wh/kg", "Wh/L", "good GWh/yr [95 % CI]", "sim/target",
                              "yield", "capex M$", "dry room m² (class)", "sulfide kg·h",
                              "H2S L", "iterations", "converged"],
          [[r["route"], f(r, "wh_per_kg", ".0f"), f(r, "wh_per_l", ".0f"),
            f"{f(r, 'sim_gwh_mean', '.3f')} [{f(r, 'sim_gwh_ci95_low', '.3f')}, "
            f"{f(r, 'sim_gwh_ci95_high', '.3f')}]",
            f(r, "sim_to_target_ratio", ".3f"), f(r, "overall_yield", ".3f"),
            f(r, "capex_total_musd", ",.0f"),
            f"{f(r, 'dry_room_area_m2', ',.0f')} ({r.get('dew_point_class', '-')})",
            f(r, "sulfide_exposure_kg_h", ".3g"), f(r, "h2s_estimate", ".3g"),
            str(r["iterations"]), "yes" if r["converged"] else "NO"] for _, r in t.iterrows()],
          caption=f"results in {result.out}/ (report.html)")
    for _, r in t[~t["converged"]].iterrows():
        print(f"not converged: {r['route']}: {r['reason']}")
