"""The closed loop: optimise on nominal data, simulate the plan, feed the simulated
availability, yields and bottleneck losses back, re-optimise, until the simulated
good output meets the target.

Why a derate as well as the stats: availability and yields from the simulation fix
the optimiser's *average* capacity, but a line with variability, finite buffers and
batch steps also loses output to blocking and starving, which no per-step average
shows. The loop therefore derates the step the simulation names as the bottleneck
by the shortfall it saw, so the next plan buys capacity exactly where the line
starved. When the optimiser answers with a plan it has already simulated, the
bottleneck is derated a little further until it buys something new. A plan is
accepted when the simulated mean good output is at least (1 - tol) of the target;
if the plans still oscillate, the loop stalls or the iteration limit is reached first,
the result keeps the plan that came closest to the target, and says why.

Stalling: an iteration makes progress when its simulated good output exceeds the
best so far by more than PROGRESS_TOL of the target, or its cost per kWh falls below
the cheapest so far by more than PROGRESS_TOL. After STALL_ITERATIONS iterations in a
row without progress the loop stops early: more derating would only buy machines
that the simulation shows do not help.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .data.schema import Route
from .stats import LineStats

if TYPE_CHECKING:
    from .opt.plan import Plan

PROGRESS_TOL = 1e-3  # relative: of the target output, and of the cheapest cost so far
STALL_ITERATIONS = 3  # iterations in a row without progress before the loop stops


@dataclass(frozen=True)
class Iteration:
    index: int
    cost_per_kwh: float  # evaluate(plan, stats of this plan's simulation)
    optimiser_cost_per_kwh: float  # the MILP's own objective for this plan
    target_gwh: float
    sim_gwh_mean: float
    sim_gwh_low: float
    sim_gwh_high: float
    ratio: float  # simulated mean / target
    bottleneck: str
    derate: dict[str, float]
    machines: int
    meets_target: bool
    opt_s: float
    sim_s: float
    plan: Plan | None = field(repr=False, compare=False, default=None)
    stats: LineStats | None = field(repr=False, compare=False, default=None)

    def row(self) -> dict:
        return {
            "iteration": self.index, "cost_per_kwh": self.cost_per_kwh,
            "optimiser_cost_per_kwh": self.optimiser_cost_per_kwh,
            "target_gwh": self.target_gwh, "sim_gwh_mean": self.sim_gwh_mean,
            "sim_gwh_ci95_low": self.sim_gwh_low, "sim_gwh_ci95_high": self.sim_gwh_high,
            "sim_to_target_ratio": self.ratio, "bottleneck": self.bottleneck,
            "derated_steps": ";".join(f"{k}={v:.4f}" for k, v in sorted(self.derate.items())),
            "machines": self.machines, "meets_target": self.meets_target,
            "opt_s": self.opt_s, "sim_s": self.sim_s,
        }


@dataclass(frozen=True)
class LoopResult:
    route: str
    capacity_gwh: float
    converged: bool
    reason: str
    iterations: list[Iteration]
    final: Iteration | None  # the accepted iteration (a confirmed plan), or the best seen
    nominal_cost_per_kwh: float  # optimiser on nominal data (iteration 0's objective)

    @property
    def plan(self):
        return self.final.plan if self.final else None

    @property
    def stats(self) -> LineStats | None:
        return self.final.stats if self.final else None

    def iterations_frame(self):
        import pandas as pd

        return pd.DataFrame([it.row() for it in self.iterations])


def run_loop(route: Route, capacity_gwh: float, *, costing: str = "batpac5",
             days: float = 365.0, warmup_days: float = 30.0, reps: int = 4, seed: int = 1,
             workers: int | None = None, tol: float = 0.01, max_iter: int = 8,
             time_limit: float = 60.0, gap: float = 1e-4, max_tighten: int = 8,
             tighten_step: float = 0.02,
             progress: Callable[[str], None] | None = None) -> LoopResult:
    """Optimise → simulate → re-optimise for one route until the simulation confirms
    the target (good GWh/yr, mean over replications, within `tol`)."""
    from .cost import evaluate
    from .errors import NoPlanError
    from .opt import OptModel
    from .sim import simulate

    say = progress or (lambda msg: None)
    # one model for the whole loop: each iteration pushes new statistics and derates
    # into it and re-solves (only numbers change between iterations)
    model = OptModel(route, costing)

    def optimize(stats, derate):
        return model.solve(capacity_gwh, stats=stats, derate=derate, time_limit=time_limit,
                           gap=gap)

    derate: dict[str, float] = {}
    stats: LineStats | None = None
    iterations: list[Iteration] = []
    seen_plans: dict[str, int] = {}
    nominal_cost = float("nan")
    reason = ""
    notes: list[str] = []
    stalled = 0  # iterations in a row without progress (see the module's docstring)
    for k in range(max_iter):
        say(f"{route.name}: optimise (iteration {k})")
        t0 = time.perf_counter()
        plan = optimize(stats, derate or None)
        opt_s = time.perf_counter() - t0
        if plan.config is None or plan.cost is None:  # (a plan has both, or neither)
            if k == 0:
                raise NoPlanError(f"{route.name}: {plan.status.reason}")
            reason = f"re-optimisation found no plan at iteration {k}: {plan.status.reason}"
            break
        if k == 0:
            nominal_cost = plan.cost.cost_per_kwh
        key = _plan_key(plan.config)
        # A plan already simulated would only repeat its shortfall: tighten the derate
        # of the last bottleneck until the optimiser buys something new.
        tighten = 0
        while key in seen_plans and stats is not None and tighten < max_tighten:
            tighten += 1
            b = stats.bottleneck
            derate[b] = derate.get(b, 1.0) * (1.0 - tighten_step)
            say(f"{route.name}: same plan as iteration {seen_plans[key]}; derating {b} "
                f"to {derate[b]:.3f}")
            t0 = time.perf_counter()
            plan = optimize(stats, derate)
            opt_s += time.perf_counter() - t0
            if plan.config is None:
                break
            key = _plan_key(plan.config)
        if plan.config is None or plan.cost is None:
            reason = f"re-optimisation found no plan at iteration {k}: {plan.status.reason}"
            break
        if key in seen_plans:
            reason = (f"plans oscillate: iteration {k} chose the same plan as iteration "
                      f"{seen_plans[key]} even with the bottleneck derated")
            break
        seen_plans[key] = k
        say(f"{route.name}: simulate (iteration {k}, {reps} replications)")
        t0 = time.perf_counter()
        sim = simulate(plan.config, days=days, warmup_days=warmup_days, reps=reps, seed=seed,
                       workers=workers)
        new_stats = sim.stats
        # Statistics of a line that has not filled yet understate its output: if the
        # warm-up is shorter than the lead time the simulation saw, lengthen it (and
        # the horizon by as much) and simulate the same plan again.
        longer = _warmup_for(new_stats, warmup_days, route)
        if longer is not None:
            say(f"{route.name}: lead time {new_stats.lead_time_h.mean:.0f} h exceeds the "
                f"warm-up; warm-up now {longer:.0f} days")
            days += longer - warmup_days
            warmup_days = longer
            notes.append(f"warm-up lengthened to {longer:.0f} days to cover the lead time")
            sim = simulate(plan.config, days=days, warmup_days=warmup_days, reps=reps,
                           seed=seed, workers=workers)
            new_stats = sim.stats
        sim_s = time.perf_counter() - t0
        # the simulator runs one line of the plan; a plant of N identical lines makes N times
        # its output, so the plant's target is compared with N × one line
        n = plan.lines
        achieved = new_stats.good_gwh_per_year
        ratio = n * achieved.mean / capacity_gwh
        cost = evaluate(plan.config, new_stats, costing=costing)
        it = Iteration(
            index=k, cost_per_kwh=cost.cost_per_kwh,
            optimiser_cost_per_kwh=plan.cost.cost_per_kwh, target_gwh=capacity_gwh,
            sim_gwh_mean=n * achieved.mean, sim_gwh_low=n * achieved.ci95_low,
            sim_gwh_high=n * achieved.ci95_high, ratio=ratio, bottleneck=new_stats.bottleneck,
            derate=dict(derate), machines=sum(c.count for c in plan.config.steps.values()),
            meets_target=ratio >= 1.0 - tol, opt_s=opt_s, sim_s=sim_s, plan=plan,
            stats=new_stats,
        )
        iterations.append(it)
        say(f"{route.name}: iteration {k}: {n * achieved.mean:.3f} GWh/yr simulated "
            f"({100 * ratio:.1f} % of target), {cost.cost_per_kwh:.1f} $/kWh")
        if it.meets_target:
            reason = f"simulated output is {100 * ratio:.1f} % of the target"
            return LoopResult(route.name, capacity_gwh, True, _with(reason, notes), iterations,
                              it, nominal_cost)
        stalled = 0 if _progress(it, iterations[:-1], capacity_gwh) else stalled + 1
        if stalled >= STALL_ITERATIONS:
            best_gwh = max(i.sim_gwh_mean for i in iterations[:-STALL_ITERATIONS])
            reason = (f"stopped early at iteration {k}: {STALL_ITERATIONS} iterations in a row "
                      f"made no progress (simulated output never rose above {best_gwh:.3f} "
                      f"GWh/yr by more than {100 * PROGRESS_TOL:g} % of the target, nor did the "
                      "cost per kWh fall)")
            say(f"{route.name}: {reason}")
            break
        # Feed back: observed availability and yields (via stats), and the shortfall
        # at the bottleneck as a derate of that step's capacity.
        stats = new_stats
        b = new_stats.bottleneck
        if b:
            derate[b] = derate.get(b, 1.0) * max(ratio, 0.5)
    else:
        reason = f"iteration limit ({max_iter}) reached"
    # every iteration that met the target has returned above: none here did
    best = max(iterations, key=lambda it: it.ratio) if iterations else None
    if best is not None:
        reason += (f"; no plan met the target; the best reached {100 * best.ratio:.1f} % "
                   f"(iteration {best.index}, bottleneck {best.bottleneck})")
    return LoopResult(route.name, capacity_gwh, False, _with(reason, notes), iterations, best,
                      nominal_cost)


def _progress(it: Iteration, before: list[Iteration], capacity_gwh: float) -> bool:
    """Whether `it` improved on every earlier iteration: more simulated good output
    (by more than PROGRESS_TOL of the target), or a lower cost per kWh."""
    if not before:
        return True
    best_gwh = max(i.sim_gwh_mean for i in before)
    best_cost = min(i.cost_per_kwh for i in before)
    return (it.sim_gwh_mean > best_gwh + PROGRESS_TOL * capacity_gwh
            or it.cost_per_kwh < best_cost * (1.0 - PROGRESS_TOL))


def _warmup_for(stats: LineStats, warmup_days: float, route: Route) -> float | None:
    """A warm-up (calendar days) of 1.5 lead times if the current one is shorter
    than the simulated lead time; None if it already covers it."""
    lead_h = stats.lead_time_h.mean
    op_h_per_day = route.economics.operating_hours_per_year / 365.0
    if not lead_h == lead_h or lead_h <= warmup_days * op_h_per_day:
        return None
    return float(math.ceil(1.5 * lead_h / op_h_per_day))


def _with(reason: str, notes: list[str]) -> str:
    return "; ".join([reason, *notes]) if notes else reason


def _plan_key(config) -> str:
    parts = [config.dew_point_class]
    for name, c in config.steps.items():
        parts.append(f"{name}:{c.level}:" + ",".join(f"{o}={n}" for o, n in sorted(c.machines.items())))
    return "|".join(parts)
