"""Jobs: what a study does with one route under one scenario's overrides.

A job is a small adapter `job(route, options, seed) -> JobResult` around the
project's own APIs (the optimiser, the simulator, the closed loop, the bill of
materials). It receives a freshly loaded, overridden `Route` and returns numbers;
it never sees the study machinery.

A scenario file names its job from a fixed list: the built-in jobs below and those
registered from Python with `register(name, function)` before the study is loaded.
A data file never names a module or a function to import: reading a file must not
run code. The function itself travels to the workers with each task (Dask pickles a
module-level function by reference, so its module must be importable there).

A job signals "this scenario has no answer" (an infeasible target, a plan that is
not optimal) by raising `InputError`/`NoPlanError` or by returning a `JobResult`
with status 'failed' and a reason; anything else that raises is treated as a bug.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..data.schema import Route
from .options import JobOptions


@dataclass(frozen=True)
class JobResult:
    """Outputs of one scenario. Costs in USD of the economics' currency year."""

    status: str = "ok"  # 'ok', or 'failed' with `reason`
    reason: str | None = None
    cost_per_kwh: float | None = None  # USD per good kWh
    breakdown: dict[str, float] = field(default_factory=dict)  # USD/kWh by category
    capex: float | None = None  # USD, total installed
    good_gwh: float | None = None  # simulated good GWh/yr (mean over replications)
    good_gwh_ci95: tuple[float, float] | None = None
    line_yield: float | None = None  # good cells / cells started, end to end
    bottleneck: str | None = None  # the simulation's bottleneck step
    h2s_estimate: float | None = None  # litres of H2S released per year (simulated estimate)
    sulfide_exposure_kg_h: float | None = None  # kg x h of sulfide exposed above the threshold
    yields: dict[str, float] = field(default_factory=dict)  # per step
    dew_point_class: str | None = None
    capacity_gwh: float | None = None  # the target the job worked to, GWh/yr
    solver_status: str | None = None
    plan: dict | None = None  # the chosen configuration (PlantConfig.to_dict())
    sim: dict | None = None  # LineStats.to_dict() or a summary of it
    extra: dict[str, Any] = field(default_factory=dict)


def _capacity(route: Route, options: JobOptions) -> float:
    if options.capacity_gwh is not None:
        return options.capacity_gwh
    assert route.plant is not None, "a bare line (form: line) has no default capacity"
    return route.plant.default_capacity


def materials(route: Route, options: JobOptions, seed: int) -> JobResult:
    """Materials cost per good kWh at nominal yields (first setting levels, the forced
    or else the driest allowed dry room). Cheap: used to exercise the machinery."""
    from .. import bom, flow
    from ..cell import design
    from ..graph import LineGraph

    graph = LineGraph.of(route)
    dpc = options.dew_point_class or graph.driest
    # a forced class is every zone's; else each zone in its driest class
    yields = flow.nominal_yields(route, dpc, zone_classes=None if options.dew_point_class
                                 else graph.driest_zones)
    cell = design(route)
    lines = bom.bill_of_materials(route, yields, cell)
    kwh = bom.delivered_energy_kwh(  # per kWh delivered, in the yields' classes
        route, cell, dew_point_class=dpc,
        zone_classes=None if options.dew_point_class else graph.driest_zones)
    per_kwh = {b.material: b.cost_per_cell / kwh for b in lines}
    total = sum(per_kwh.values())
    req = flow.requirements(route, yields, cell.refs)
    final = graph.final.name
    # cells started at the final step per good cell, times the cell-unit steps before it,
    # is not defined for a branched line; report the end-of-line step's yield product
    # along the cell-unit chain instead (cells started at the first cell step / good)
    cell_steps = [n.name for n in graph.steps if n.unit == "cell"]
    line_yield = 1.0 / req.started[cell_steps[0]] if cell_steps else yields[final]
    return JobResult(cost_per_kwh=total, breakdown={"materials": total}, yields=yields,
                     line_yield=line_yield, dew_point_class=dpc,
                     capacity_gwh=_capacity(route, options),
                     extra={"materials_per_kwh": per_kwh})


def optimize(route: Route, options: JobOptions, seed: int) -> JobResult:
    """The optimiser alone, on nominal data: the cheapest plan per good kWh."""
    from ..opt import optimize as run

    capacity = _capacity(route, options)
    # threads=1: a study runs one scenario per process, one process per core
    plan = run(route, capacity, costing=options.costing, threads=1, **_solver(options))
    if plan.config is None or plan.cost is None:  # (a plan has both, or neither)
        return JobResult(status="failed", reason=f"no plan ({plan.status.status}): "
                         f"{plan.status.reason}", solver_status=plan.status.status,
                         capacity_gwh=capacity)
    out = _from_cost(plan.cost, plan.config, capacity, solver_status=plan.status.status)
    # plant-level figures: the plan is plan.lines identical lines of plan.cost each
    return replace(out, capex=_num(plan.capex_total),
                   extra={"gap": plan.status.gap, "objective": plan.status.objective,
                          "binding_steps": plan.binding_steps, "lines": plan.lines,
                          "floor_area_m2": plan.floor_area_m2,
                          "dry_room_area_m2": plan.dry_room_area_m2})


def simulate(route: Route, options: JobOptions, seed: int) -> JobResult:
    """The simulator alone, on the simple sized configuration of the route
    (`config.size_for_capacity`), costed with the simulated statistics."""
    from ..config import size_for_capacity
    from ..cost import evaluate
    from ..sim import simulate as run

    capacity = _capacity(route, options)
    config = size_for_capacity(route, capacity, options.dew_point_class)
    res = run(config, seed=seed, **_sim(options))
    cost = evaluate(config, res.stats, costing=options.costing)
    return _with_stats(_from_cost(cost, config, capacity), res.stats)


def loop(route: Route, options: JobOptions, seed: int) -> JobResult:
    """The closed loop: optimise, simulate the plan, feed its statistics back, repeat.
    A loop that does not confirm the target is a failed scenario (its numbers kept)."""
    from ..cost import evaluate
    from ..loop import run_loop

    capacity = _capacity(route, options)
    kw = {**_solver(options), **_sim(options)}
    if options.max_iterations is not None:
        kw["max_iter"] = options.max_iterations
    if options.tol is not None:
        kw["tol"] = options.tol
    res = run_loop(route, capacity, costing=options.costing, seed=seed, **kw)
    final = res.final
    if final is None or final.plan is None or final.plan.config is None:
        return JobResult(status="failed", reason=res.reason, capacity_gwh=capacity)
    cost = evaluate(final.plan.config, final.stats, costing=options.costing)
    out = _with_stats(_from_cost(cost, final.plan.config, capacity,
                                 solver_status=final.plan.status.status), final.stats)
    extra = {**out.extra, "iterations": len(res.iterations), "converged": res.converged,
             "nominal_cost_per_kwh": res.nominal_cost_per_kwh, "reason": res.reason}
    return replace(out, status="ok" if res.converged else "failed",
                   reason=None if res.converged else res.reason, extra=extra)


def _solver(options: JobOptions) -> dict:
    kw: dict[str, Any] = {}
    if options.time_limit is not None:
        kw["time_limit"] = options.time_limit
    if options.mip_gap is not None:
        kw["gap"] = options.mip_gap
    return kw


def _sim(options: JobOptions) -> dict:
    # workers=1: a study already runs one scenario per process; nested pools would fight
    kw: dict[str, Any] = {"workers": 1}
    if options.replications is not None:
        kw["reps"] = options.replications
    if options.days is not None:
        kw["days"] = options.days
    if options.warmup_days is not None:
        kw["warmup_days"] = options.warmup_days
    return kw


def _from_cost(cost, config, capacity: float, solver_status: str | None = None) -> JobResult:
    return JobResult(
        cost_per_kwh=_num(cost.cost_per_kwh),
        breakdown={str(k): float(v) for k, v in dict(cost.by_category).items()},
        capex=_num(cost.capex_total), solver_status=solver_status, plan=config.to_dict(),
        dew_point_class=config.dew_point_class, capacity_gwh=capacity,
        yields=config.yields())


def _with_stats(r: JobResult, stats) -> JobResult:
    g = stats.good_gwh_per_year
    return replace(r, good_gwh=g.mean, good_gwh_ci95=(g.ci95_low, g.ci95_high),
                   line_yield=stats.overall_yield.mean, bottleneck=stats.bottleneck or None,
                   h2s_estimate=stats.dry_room.h2s_estimate.mean,
                   sulfide_exposure_kg_h=stats.dry_room.sulfide_exposure_kg_h.mean,
                   yields={s: st.yield_.mean for s, st in stats.steps.items()},
                   sim=stats.to_dict())


def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


Job = Callable[[Route, JobOptions, int], JobResult]

BUILTIN: dict[str, Job] = {"materials": materials, "optimize": optimize, "simulate": simulate,
                           "loop": loop}
_registry: dict[str, Job] = dict(BUILTIN)
# the module each built-in job needs: a study fails early (exit 2) when it is missing
NEEDS = {"optimize": "ssbfab.opt", "simulate": "ssbfab.sim", "loop": "ssbfab.loop"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def register(name: str, fn: Job, *, replace: bool = False) -> Job:
    """Make `fn(route, options, seed) -> JobResult` available to scenario files of this
    process as `job: NAME`. A name is letters, digits, '_' and '-'; a built-in job is
    never replaced, another registered name only with `replace=True`. Returns `fn`."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"a job name is letters, digits, '_' and '-', starting with a letter; "
                         f"found {name!r}")
    if not callable(fn):
        raise TypeError(f"job {name!r}: expected a function (route, options, seed), found "
                        f"{type(fn).__name__}")
    if name in BUILTIN:
        raise ValueError(f"{name!r} is a built-in job; register yours under another name")
    if name in _registry and _registry[name] is not fn and not replace:
        raise ValueError(f"a job {name!r} is registered already; pass replace=True to replace it")
    _registry[name] = fn
    return fn


def job_names() -> list[str]:
    """Names a scenario file may give as `job:` in this process, sorted."""
    return sorted(_registry)


def get_job(name: str) -> Job:
    """The function registered as `name` (KeyError if none)."""
    return _registry[name]
