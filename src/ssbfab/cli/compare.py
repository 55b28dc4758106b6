"""`ssbfab compare`: the main job — every route through the closed loop, one table,
result files and a report.

Exit codes: 0 every route has a plan the simulation confirmed; 2 bad input (checked,
with `--out`, before anything runs); 3 some route has no plan; 5 some route has a
plan the simulation did not confirm (3 wins when both happen). With 3 and 5 every
result file is still written. 130 interrupted (nothing written).
"""

from __future__ import annotations

import math
import time
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

NOT_CONFIRMED_EXIT = 5  # some route's plan was not confirmed by simulation


@app.command()
@handle_errors
def compare(
    routes: Annotated[str | None, typer.Option(
        "--routes", help="Comma-separated route names or files (default: all shipped)")] = None,
    capacity_gwh: Annotated[float | None, typer.Option(
        "--capacity-gwh", help="Target good GWh/yr for every route")] = 2.0,
    days: Annotated[float, typer.Option(help="Simulated days per replication")] = 120.0,
    warmup_days: Annotated[float, typer.Option("--warmup-days", help="Warm-up discarded")] = 20.0,
    reps: Annotated[int, typer.Option(
        help="Replications at the first look of the certification")] = 4,
    max_reps: Annotated[int, typer.Option(
        "--max-reps", help="Replications at most per plan: a plan the bound has not "
                           "decided by then is not certified")] = 32,
    confidence: Annotated[float, typer.Option(
        help="Confidence of the one-sided lower bound of good GWh/yr that must reach "
             "the target (0.5 to < 1)")] = 0.95,
    seed: Annotated[int, typer.Option(help="Random seed")] = 1,
    costing: Annotated[str, typer.Option(help=COSTING_HELP)] = "batpac5",
    workers: Annotated[int | None, typer.Option(help="Processes for replications")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output folder: new, empty, or an earlier run, which is replaced "
                      "whole (default: results/<date-time>/)")] = None,
    json_: JsonOpt = False,
    set_: SetOpt = None,
    wide: WideOpt = False,
    lines: LinesOpt = None,
):
    """Compare routes: cost per good kWh of plans certified by simulation, with a report."""
    from rich.console import Console

    from ..comparison import compare as run_compare
    from ..cost import check_costing
    from ..errors import InputError, NoPlanError

    check_costing(costing)
    if reps < 1:
        raise InputError(f"--reps: expected at least 1, found {reps}")
    if not (math.isfinite(confidence) and 0.5 <= confidence < 1.0):
        raise InputError(f"--confidence: expected a level in [0.5, 1), e.g. 0.95, found "
                         f"{confidence:g}")
    if max_reps < max(2, reps):
        raise InputError(f"--max-reps: expected at least --reps ({reps}) and at least 2, "
                         f"found {max_reps}")
    if days <= warmup_days:
        raise InputError(f"--days ({days:g}) must be longer than --warmup-days ({warmup_days:g})")
    if capacity_gwh is not None and not capacity_gwh > 0:
        raise InputError(f"--capacity-gwh: expected a positive number, found {capacity_gwh:g}")
    out = out or Path("results") / time.strftime("%Y%m%d-%H%M%S")
    overrides = overrides_from(set_)
    console = Console(stderr=True)
    names = [r.strip() for r in routes.split(",")] if routes else None
    t0 = time.perf_counter()
    with console.status("starting") as status:
        def progress(msg: str) -> None:
            status.update(msg)
            console.log(msg)

        result = run_compare(names, capacity_gwh, days=days, warmup_days=warmup_days, reps=reps,
                             max_reps=max_reps, confidence=confidence, seed=seed, costing=costing, workers=workers, out=out, lines=lines,
                             progress=progress, overrides=overrides)
    code = (NoPlanError.exit_code if result.without_plan
            else NOT_CONFIRMED_EXIT if result.not_confirmed else 0)
    t = result.table
    if json_:
        import json

        emit_json({"out": str(result.out), "wall_s": time.perf_counter() - t0,
                   "exit_code": code, "without_plan": result.without_plan,
                   "not_confirmed": result.not_confirmed,
                   "routes": json.loads(t.to_json(orient="records"))})
    else:
        _print(result, wide)
    if result.without_plan:
        err(f"no plan: {', '.join(result.without_plan)} (see report.html); exit code {code}")
    if result.not_confirmed:
        err(f"not confirmed by simulation: {', '.join(result.not_confirmed)}; exit code {code}")
    if code:
        raise typer.Exit(code)


def _print(result, wide: bool) -> None:
    t = result.table
    m = result.meta
    nan = float("nan")

    def num(v, fmt: str) -> str:
        return format(v, fmt) if isinstance(v, (int, float)) and math.isfinite(v) else "-"

    def f(r, key, fmt):
        return num(r.get(key, nan), fmt)

    def total(r, *keys):
        vals = [r.get(f"cost_{k}", nan) for k in keys]
        return sum(vals) if all(math.isfinite(v) for v in vals) else nan

    cur = m.get("currency", "USD")
    if wide:
        cats = [c.removeprefix("cost_") for c in t.columns
                if c.startswith("cost_") and c != "cost_per_kwh"]
        heads = [c.replace("_", " ").replace("dry room ", "dry-room\n") for c in cats]
        cells = [[f(r, f"cost_{c}", ",.1f") for c in cats] for _, r in t.iterrows()]
        note = ""
    else:  # the two smallest pairs merged, so that the table fits 100 columns
        heads = ["materials", "equipment", "buildings", "energy", "labour", "overheads"]
        cells = [[f(r, "cost_materials", ",.1f"), f(r, "cost_equipment", ",.1f"),
                  num(total(r, "building", "dry_room"), ",.1f"),
                  num(total(r, "process_energy", "dry_room_energy"), ",.1f"),
                  f(r, "cost_labour", ",.1f"), f(r, "cost_overheads", ",.1f")]
                 for _, r in t.iterrows()]
        note = ("; buildings = building + dry room, energy = process + dry-room energy "
                "(--wide: every category)")
    cap = m.get("capacity_gwh")
    size = "each route's default size" if cap is None else f"{cap:g} GWh/yr"
    table(f"ssbfab compare: {size} of good cells per route, {m.get('costing')} costing, "
          f"seed {m.get('seed')}: {cur} of {m.get('currency_year')} per kWh of good cells",
          ["route", "total"] + heads,
          [[r["route"], f(r, "cost_per_kwh", ",.1f"), *c] for (_, r), c in zip(
              t.iterrows(), cells, strict=True)],
          caption="-: no plan, or not computable" + note, wide=wide)
    heads = ["route", "good\nGWh/yr", "± 95 %", "sim/\ntarget", "yield %", "capex\nM$",
             "dry room\nm²", "class", "confirmed"]
    rows = []
    for _, r in t.iterrows():
        lo, hi = r.get("sim_gwh_ci95_low", nan), r.get("sim_gwh_ci95_high", nan)
        half = (hi - lo) / 2 if isinstance(lo, float) and isinstance(hi, float) else nan
        rows.append([r["route"], f(r, "sim_gwh_mean", ".3f"), num(half, ".3f"),
                     f(r, "sim_to_target_ratio", ".3f"),
                     num(100 * r.get("overall_yield", nan), ".1f"),
                     f(r, "capex_total_musd", ",.0f"), f(r, "dry_room_area_m2", ",.0f"),
                     r["dew_point_class"] if isinstance(r.get("dew_point_class"), str) else "-",
                     "yes" if r["converged"] else "NO"])
    if wide:
        heads += ["Wh/kg", "Wh/L", "sulfide\nkg·h/yr", "H2S\nL/yr", "iterations"]
        for row, (_, r) in zip(rows, t.iterrows(), strict=True):
            row += [f(r, "wh_per_kg", ".0f"), f(r, "wh_per_l", ".0f"),
                    f(r, "sulfide_exposure_kg_h", ",.1f"), f(r, "h2s_estimate", ",.0f"),
                    str(r["iterations"])]
    table("simulated plant", heads, rows, wide=wide,
          caption="good GWh/yr: mean over replications ± half its 95 % interval; confirmed: "
                  f"certified ({100 * m.get('confidence', 0.95):g} % lower bound ≥ target)"
                  + ("" if wide else
                                                     " (--wide: energy densities, sulfide "
                                                     "exposure, H2S, iterations)"))
    if not wide:
        table("cells and dry-room safety", ["route", "Wh/kg", "Wh/L", "sulfide kg·h/yr",
                                            "H2S L/yr", "iterations"],
              [[r["route"], f(r, "wh_per_kg", ".0f"), f(r, "wh_per_l", ".0f"),
                f(r, "sulfide_exposure_kg_h", ",.1f"), f(r, "h2s_estimate", ",.0f"),
                str(r["iterations"])] for _, r in t.iterrows()])
    print(f"results in {result.out}/ (report.html)")
    for _, r in t[~t["converged"].astype(bool)].iterrows():
        print(f"not confirmed: {r['route']}: {r['reason']}")
