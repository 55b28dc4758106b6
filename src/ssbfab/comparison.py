"""Compare routes honestly: the closed loop per route, one table, files and a report.

`compare(...)` is the Python API behind `ssbfab compare` (and `make run`): for each
route it runs the simulate–optimise loop at the same target, gathers cost per kWh
and its breakdown, cell energy densities, simulated output with its confidence
interval, yields, capex, dry room and sulfide exposure into one pandas table, adds
a cost-against-plant-size curve from the optimiser, and (with `out`) writes
comparison.csv/json, per-route plan.json, stats.json and iterations.csv, a
self-contained report.html and a manifest.json that lets the result be traced.

`out` is checked before any work (a folder that can be written, new, empty or an
earlier run) and every route name before it becomes a folder name; the files are
written into a fresh folder that replaces `out` whole at the end.
"""

from __future__ import annotations

import hashlib
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from .cell import design
from .certify import DEFAULT_CONFIDENCE, DEFAULT_MAX_REPS, check_options
from .data.loader import load_shared, resolve_route, route_files
from .data.schema import Route
from .errors import InputError, NoPlanError, Problem
from .io import check_out_dir, plain_name, replacing_dir, run_marker
from .loop import LoopResult, run_loop

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_SIZES_GWH = (0.2, 1.0, 5.0, 20.0)
# A first all-solid plant of a few GWh/yr; big enough to show scale effects, small
# enough that the default comparison of six routes runs in well under 3 minutes.
DEFAULT_CAPACITY_GWH = 2.0


@dataclass
class Comparison:
    table: pd.DataFrame  # one row per route
    size_curve: pd.DataFrame  # route, capacity_gwh, cost_per_kwh, status
    loops: dict[str, LoopResult]
    figures: dict[str, object] = field(default_factory=dict)  # name -> matplotlib Figure
    out: Path | None = None
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    # what the numbers are: capacity, costing, currency and year, seed, key prices,
    # version, date, data hash (the head of report.html and of manifest.json)
    meta: dict = field(default_factory=dict)

    @property
    def without_plan(self) -> list[str]:
        """Routes for which no plan was found (no row of costs)."""
        return [name for name, loop in self.loops.items() if loop.plan is None]

    @property
    def not_confirmed(self) -> list[str]:
        """Routes with a plan that the simulation did not confirm (loop not converged)."""
        return [name for name, loop in self.loops.items()
                if loop.plan is not None and not loop.converged]


def compare(routes: Sequence[str] | None = None,
            capacity_gwh: float | None = DEFAULT_CAPACITY_GWH, *,
            days: float = 120.0, warmup_days: float = 20.0, reps: int = 4, seed: int = 1,
            costing: str = "batpac5", workers: int | None = None,
            confidence: float = DEFAULT_CONFIDENCE, max_reps: int = DEFAULT_MAX_REPS,
            sizes_gwh: Sequence[float] = DEFAULT_SIZES_GWH, out: str | Path | None = None,
            lines: str | Path | None = None, command: str | None = None,
            progress: Callable[[str], None] | None = None, figures: bool = True,
            overrides=None) -> Comparison:
    """Run the closed loop for each route at `capacity_gwh` (GWh/yr of good cells;
    None: each route's plant default) and assemble the comparison: a route converges when
    the simulation certifies its plan (`ssbfab.certify`: the one-sided lower bound at
    `confidence` of the plant's good GWh/yr reaches the target, from `reps` up to
    `max_reps` replications). Returns tables and figures; with
    `out`, writes the result files there (replacing an earlier run there whole).
    `overrides` (path -> value, as studies and `--set` give them) change inputs."""
    import pandas as pd

    from .data.overrides import as_overrides

    say = progress or (lambda msg: None)
    overrides = as_overrides(overrides)
    check_options(confidence, max_reps, reps)
    if out is not None:
        check_out_dir(out, run=True)
    shared = load_shared(lines, overrides)
    names = list(routes) if routes else [f.stem for f in route_files(lines)]
    loaded: list[Route] = [resolve_route(n, lines, shared=shared, overrides=overrides)
                           for n in names]
    for route in loaded:  # names become folder names of the output
        plain_name(route.name, file=route.file, line=route.line_of("name"), field="name")
    seen: dict[str, str] = {}
    for route in loaded:
        if route.name in seen:
            raise InputError(Problem(route.file, route.line_of("name"), "name",
                                     f"route {route.name!r} is also the name in "
                                     f"{seen[route.name]}; compared routes need distinct names"))
        seen[route.name] = route.file
    rows, loops, curves, timings = [], {}, [], {}
    for route in loaded:
        if capacity_gwh is not None:
            cap = capacity_gwh
        else:
            assert route.plant is not None, "a bare line (form: line) has no default capacity"
            cap = route.plant.default_capacity
        t0 = time.perf_counter()
        try:
            loop = run_loop(route, cap, costing=costing, days=days, warmup_days=warmup_days,
                            reps=reps, seed=seed, workers=workers, confidence=confidence,
                            max_reps=max_reps, progress=say)
        except NoPlanError as exc:
            # One route that cannot reach the target must not hide the others: it
            # stays in the table, not converged, with the optimiser's explanation.
            say(f"{route.name}: no plan: {exc}")
            loop = LoopResult(route.name, cap, False, f"no plan: {exc}", [], None, float("nan"),
                              confidence)
        t_loop = time.perf_counter() - t0
        loops[route.name] = loop
        rows.append(_row(route, loop, costing))
        t0 = time.perf_counter()
        say(f"{route.name}: cost against plant size ({len(sizes_gwh)} sizes)")
        curves.extend(_size_curve(route, sizes_gwh, costing))
        t_curve = time.perf_counter() - t0
        timings[route.name] = {
            "optimise_s": sum(it.opt_s for it in loop.iterations) + t_curve,
            "simulate_s": sum(it.sim_s for it in loop.iterations),
            "loop_s": t_loop, "size_curve_s": t_curve,
        }
    table = pd.DataFrame(rows)
    curve = pd.DataFrame(curves)
    files = _input_hashes(loaded, shared)
    result = Comparison(table=table, size_curve=curve, loops=loops, timings=timings,
                        meta=_meta(capacity_gwh, costing, seed, shared, files, overrides)
                        | {"confidence": confidence, "max_reps": max_reps})
    if figures or out is not None:
        from .report import make_figures

        say("report: figures")
        result.figures = make_figures(result)
    if out is not None:
        from .report import write_outputs

        t0 = time.perf_counter()
        say(f"report: writing {out}")
        manifest = _manifest(command, seed, files, result.meta,
                             dict(days=days, warmup_days=warmup_days, reps=reps,
                                  max_reps=max_reps, confidence=confidence, costing=costing, capacity_gwh=capacity_gwh,
                                  sizes_gwh=list(sizes_gwh)))
        with replacing_dir(out) as staging:
            write_outputs(result, staging, manifest=manifest)
        result.out = Path(out)
        for t in timings.values():
            t["report_s"] = (time.perf_counter() - t0) / max(1, len(timings))
    return result


def _row(route: Route, loop: LoopResult, costing: str) -> dict:
    cell = design(route)
    row = {"route": route.name, "form": route.form, "electrolyte": route.electrolyte,
           "capacity_gwh": loop.capacity_gwh, "costing": costing}
    it = loop.final
    plan = it.plan if it else None
    stats = it.stats if it else None
    if plan is not None and plan.config is not None:
        from .cost import evaluate

        cost = evaluate(plan.config, stats, costing=costing)
        row["cost_per_kwh"] = cost.cost_per_kwh
        row["currency"] = cost.currency
        for cat, v in cost.by_category.items():
            row[f"cost_{cat}"] = v
        # the cost is one line's; the plant is plan.lines identical lines
        row["lines"] = plan.lines
        row["capex_total_musd"] = plan.lines * cost.capex_total / 1e6
        row["dry_room_area_m2"] = plan.lines * cost.dry_room_area_m2
        row["dew_point_class"] = plan.config.dew_point_class
        if cost.zones:  # a zoned plant: each zone's class (the plant's own last)
            row["zones"] = "; ".join(f"{z} {v['class']}" for z, v in cost.zones.items())
    row["nominal_cost_per_kwh"] = loop.nominal_cost_per_kwh
    row["wh_per_kg"] = cell.wh_per_kg
    row["wh_per_l"] = cell.wh_per_l
    row["cell_kwh"] = cell.energy_kwh
    if it is not None and stats is not None:
        # the plant's output: the iteration's figures are `lines` times one line's
        row.update({
            "sim_gwh_mean": it.sim_gwh_mean, "sim_gwh_ci95_low": it.sim_gwh_low,
            "sim_gwh_ci95_high": it.sim_gwh_high, "sim_to_target_ratio": it.ratio,
            # the certification's bound (plant GWh/yr) at `confidence`, and its replications
            "sim_gwh_lcb95": it.sim_gwh_lcb, "confidence": loop.confidence, "sim_reps": it.reps,
            "overall_yield": stats.overall_yield.mean, "bottleneck": stats.bottleneck,
            "lead_time_h": stats.lead_time_h.mean,
            "sulfide_exposure_kg_h": stats.dry_room.sulfide_exposure_kg_h.mean,
            "h2s_estimate": stats.dry_room.h2s_estimate.mean,
        })
    row["iterations"] = len(loop.iterations)
    row["converged"] = loop.converged
    row["reason"] = loop.reason
    return row


def _size_curve(route: Route, sizes: Sequence[float], costing: str) -> list[dict]:
    from .opt import OptModel

    model = OptModel(route, costing)  # built once; each size only changes numbers
    out = []
    for cap in sizes:
        plan = model.solve(cap)
        ok = plan.config is not None  # a plan has a config and its cost, or neither
        out.append({"route": route.name, "capacity_gwh": cap,
                    "cost_per_kwh": plan.cost.cost_per_kwh if plan.cost else float("nan"),
                    "status": plan.status.status, "reason": "" if ok else plan.status.reason})
    return out


def _sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _input_hashes(routes: list[Route], shared) -> dict[str, str]:
    files = {str(p): _sha256(p) for p in shared.files.values()}
    files.update({r.file: _sha256(r.file) for r in routes})
    return files


def _version() -> str:
    try:
        return metadata.version("ssbfab")
    except metadata.PackageNotFoundError:
        return "unknown"


def _meta(capacity_gwh, costing: str, seed: int, shared, files: dict[str, str],
          overrides) -> dict:
    """What a comparison reports, for the head of report.html and manifest.json.
    The date is today's (UTC), or that of $SOURCE_DATE_EPOCH when set, so that a
    rebuild can be byte-identical (the reproducible-builds convention)."""
    import os

    econ = shared.economics
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = time.gmtime(int(epoch)) if epoch.isdigit() else time.gmtime()
    prices = {}
    li2s = shared.materials.get("Li2S")
    if li2s is not None and li2s.price is not None:
        usd, basis = li2s.price_per_unit
        prices["Li2S"] = f"{li2s.price_text} ({usd:,.1f} USD/{basis})"
    prices["electricity"] = f"{econ.electricity_price:.3f} USD/kWh"
    prices["labour"] = f"{econ.labour_rate:.2f} USD/h"
    # one hash of all input files: names and contents, in a fixed order
    digest = hashlib.sha256("".join(f"{Path(k).name}:{v}\n" for k, v in sorted(
        files.items(), key=lambda kv: Path(kv[0]).name)).encode()).hexdigest()
    return {
        "capacity_gwh": capacity_gwh, "costing": costing, "currency": "USD",
        "currency_year": econ.currency_year, "seed": seed, "key_prices": prices,
        "ssbfab_version": _version(), "date_utc": time.strftime("%Y-%m-%d", when),
        "data_sha256": digest,
        "overrides": {p: str(v) for p, v in overrides.values.items()} if overrides else {},
    }


def _manifest(command, seed, files: dict[str, str], meta: dict, options: dict) -> dict:
    deps: dict[str, str | None] = {}
    for pkg in ("ssbfab", "pyomo", "highspy", "simpy", "pandas", "numpy", "scipy", "pint",
                "pydantic", "matplotlib"):
        try:
            deps[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            deps[pkg] = None
    return {
        **run_marker(),
        "command": command or " ".join(["ssbfab"] + sys.argv[1:]),
        "seed": seed,
        "options": options,
        "overrides": meta["overrides"],
        "key_prices": meta["key_prices"],
        "versions": deps,
        "python": platform.python_version(),
        "input_files_sha256": files,
        "data_sha256": meta["data_sha256"],
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
