"""The closed loop: optimise on nominal data, simulate the plan, feed the simulated
availability, yields and losses back, re-optimise, until the simulated good output
meets the target.

Why derates as well as the stats: availability and yields from the simulation fix
the optimiser's *average* capacity, but a line with variability, finite buffers and
batch steps also loses output to blocking and starving, which no per-step average
shows. Two derates carry it back (docs/certification.md, "What the loop feeds back"):
a line-wide one, the share of the goal the lower bound reached, on every step (a loss
spread over many nearly saturated steps), and at the bottleneck (`LineStats.bottleneck`)
the capacity the simulation saw it reach, so that the next plan buys machines where
the line waited. When the optimiser answers with a plan it has already simulated, the
bottleneck is derated a little further until it buys something new.

A plan is accepted when the simulation *certifies* it (`ssbfab.certify`): the
one-sided lower confidence bound (default 95 %) of the plant's expected good GWh/yr
is at least the target, with replications added on a fixed doubling schedule up to
`max_reps` until the bound decides (or the mean falls below the target at a look),
Bonferroni-corrected over the looks. A plan not certified is fed back by the
shortfall of its lower bound, so that the next plan buys the missing margin as well
as the missing mean. Every plan is simulated with the same seed (common random
numbers). Once a plan is certified, the other numbers of lines the optimiser tried
whose cost is within `cost_tol` of it are re-optimised with that number of lines,
simulated on the same streams, and the certified plan of lowest confirmed cost is
kept. If the plans still oscillate, the loop stalls or the iteration limit is
reached first, the result keeps the plan that came closest to the target, and
says why.

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

from .certify import DEFAULT_CONFIDENCE, DEFAULT_MAX_REPS, Certificate
from .data.schema import Route
from .stats import LineStats

if TYPE_CHECKING:
    from .cost import CostBreakdown
    from .opt.plan import Plan

PROGRESS_TOL = 1e-3  # relative: of the target output, and of the cheapest cost so far
STALL_ITERATIONS = 3  # iterations in a row without progress before the loop stops
# GWh/yr of good cells per line at most in the loop's plans. Why: the loop simulates one
# line and scales it by the number of identical lines, so simulation time grows with
# the line, not the plant; real gigafactories are built as several lines of a few
# GWh/yr. Measured on sulfide-lpscl at 50 GWh/yr: 10 lines of 5 GWh/yr cost 0.6 % more
# per kWh than the optimiser's single line (whole machines round per line), and one
# replication-year takes 3.6 s instead of 146 s, with the plant's simulated output
# within 0.1 % of the single line's (47.95 against 48.00 GWh/yr).
MAX_LINE_GWH = 5.0


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
    # the certification (`ssbfab.certify`): plant GWh/yr bound, replications, decision
    sim_gwh_lcb: float = math.nan
    reps: int = 0
    decision: str = ""
    lines: int = 1
    line_derate: float = 1.0  # the line-wide derate this plan was optimised with
    # the bottleneck's units started over what its machines can start per year at the
    # observed availability (`_capacity_factor`; NaN: not measured)
    capacity_factor: float = math.nan

    def row(self) -> dict:
        return {
            "iteration": self.index, "cost_per_kwh": self.cost_per_kwh,
            "optimiser_cost_per_kwh": self.optimiser_cost_per_kwh,
            "target_gwh": self.target_gwh, "sim_gwh_mean": self.sim_gwh_mean,
            "sim_gwh_ci95_low": self.sim_gwh_low, "sim_gwh_ci95_high": self.sim_gwh_high,
            "sim_to_target_ratio": self.ratio, "bottleneck": self.bottleneck,
            "derated_steps": ";".join(f"{k}={v:.4f}" for k, v in sorted(self.derate.items())),
            "machines": self.machines, "meets_target": self.meets_target,
            "sim_gwh_lcb": self.sim_gwh_lcb, "reps": self.reps, "decision": self.decision,
            "lines": self.lines, "line_derate": self.line_derate,
            "capacity_factor": self.capacity_factor,
            "opt_s": self.opt_s, "sim_s": self.sim_s,
        }


@dataclass(frozen=True)
class LoopResult:
    route: str
    capacity_gwh: float
    converged: bool
    reason: str
    iterations: list[Iteration]
    final: Iteration | None  # the accepted iteration (a certified plan), or the best seen
    nominal_cost_per_kwh: float  # optimiser on nominal data (iteration 0's objective)
    confidence: float = 0.95  # the certification's confidence level

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
             workers: int | None = None, tol: float = 0.0, max_iter: int = 8,
             time_limit: float = 60.0, gap: float = 1e-4, max_tighten: int = 8,
             tighten_step: float = 0.02, confidence: float = DEFAULT_CONFIDENCE,
             max_reps: int = DEFAULT_MAX_REPS, cost_tol: float = 0.01,
             max_line_gwh: float | None = MAX_LINE_GWH,
             progress: Callable[[str], None] | None = None) -> LoopResult:
    """Optimise → simulate → re-optimise for one route until the simulation certifies
    the plan: the one-sided lower bound at `confidence` of the plant's expected good
    GWh/yr is at least (1 - `tol`) x the target, replications added from `reps` up to
    `max_reps` (`ssbfab.certify`). `cost_tol`: relative; other numbers of lines the
    optimiser found within it of the chosen plan's cost are certified too, and the
    certified plan of lowest confirmed cost is kept. `max_line_gwh`: a plant larger
    than this is planned as at least ceil(capacity / max_line_gwh) identical lines
    (None: as many as the optimiser finds cheapest), see MAX_LINE_GWH."""
    from .certify import check_options
    from .errors import NoPlanError
    from .opt import OptModel

    check_options(confidence, max_reps, reps)
    say = progress or (lambda msg: None)
    # one model for the whole loop: each iteration pushes new statistics and derates
    # into it and re-solves (only numbers change between iterations)
    model = OptModel(route, costing)
    goal = (1.0 - tol) * capacity_gwh  # what the lower bound must reach
    run = _Certifier(route, capacity_gwh, goal, costing, days, warmup_days, reps, max_reps,
                     seed, workers, confidence, say)

    fewest = (math.ceil(capacity_gwh / max_line_gwh - 1e-9)
              if max_line_gwh is not None and capacity_gwh > max_line_gwh else 1)

    def optimize(stats, derate, lines=None):
        if lines is None and fewest > 1:
            plan = model.solve(capacity_gwh, stats=stats, derate=derate,
                               time_limit=time_limit, gap=gap, lines=fewest)
            if plan.config is not None:
                return plan  # else: as many lines as the optimiser finds a plan with
        kw = {} if lines is None else {"lines": lines}
        return model.solve(capacity_gwh, stats=stats, derate=derate, time_limit=time_limit,
                           gap=gap, **kw)

    derate: dict[str, float] = {}  # what the optimiser gets: per step, min(line, step_derate)
    step_derate: dict[str, float] = {}  # per step: measured at the bottleneck, or tightened
    line = 1.0  # the line-wide derate: the share of the goal the bounds reached, compounded
    stats: LineStats | None = None
    iterations: list[Iteration] = []
    seen_plans: dict[str, int] = {}
    nominal_cost = float("nan")
    reason = ""
    stalled = 0  # iterations in a row without progress (see the module's docstring)

    def done(ok: bool, why: str, final: Iteration | None) -> LoopResult:
        return LoopResult(route.name, capacity_gwh, ok, _with(why, run.notes), iterations,
                          final, nominal_cost, confidence)

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
            derate[b] = step_derate[b] = derate.get(b, 1.0) * (1.0 - tighten_step)
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
        it = run.iteration(k, plan, derate, opt_s, line)
        iterations.append(it)
        if it.meets_target:
            best = it
            # plans of other numbers of lines the optimiser found about as cheap: certify
            # them on the same streams and keep the certified plan of least confirmed cost
            for n in _near_line_counts(plan, cost_tol):
                say(f"{route.name}: certify the plan of {n} lines (within "
                    f"{100 * cost_tol:g} % of the cost)")
                t0 = time.perf_counter()
                alt = optimize(stats, derate or None, lines=n)
                alt_s = time.perf_counter() - t0
                if alt.config is None or alt.cost is None:
                    continue
                alt_it = run.iteration(len(iterations), alt, derate, alt_s, line)
                iterations.append(alt_it)
                if alt_it.meets_target and alt_it.cost_per_kwh < best.cost_per_kwh:
                    best = alt_it
            why = run.certificates[best.index].describe(capacity_gwh)
            if best is not it:
                why += (f"; {best.lines} lines certified cheaper than the {it.lines} of "
                        f"iteration {it.index}")
            return done(True, why, best)
        stalled = 0 if _progress(it, iterations[:-1], capacity_gwh) else stalled + 1
        if stalled >= STALL_ITERATIONS:
            best_gwh = max(i.sim_gwh_mean for i in iterations[:-STALL_ITERATIONS])
            reason = (f"stopped early at iteration {k}: {STALL_ITERATIONS} iterations in a row "
                      f"made no progress (simulated output never rose above {best_gwh:.3f} "
                      f"GWh/yr by more than {100 * PROGRESS_TOL:g} % of the target, nor did the "
                      "cost per kWh fall)")
            say(f"{route.name}: {reason}")
            break
        # Feed back: observed availability and yields (via stats); the share of the goal
        # the lower bound reached as a derate of every step (the line-wide loss); and
        # the capacity the bottleneck was seen to reach as its own derate.
        assert it.stats is not None  # every simulated iteration has its statistics
        stats = it.stats
        line *= _line_share(it, goal)
        b = it.bottleneck
        if b:
            step_derate[b] = _derate_at(it, goal, step_derate.get(b, 1.0))
        derate = {s: d for s in {*plan.config.steps, *step_derate}
                  if (d := min(line, step_derate.get(s, 1.0))) < 1.0}
    else:
        reason = f"iteration limit ({max_iter}) reached"
    # every iteration that was certified has returned above: none here was
    closest = max(iterations, key=lambda it: it.ratio) if iterations else None
    if closest is not None:
        reason += (f"; no plan was certified; the best reached {100 * closest.ratio:.1f} % "
                   f"(iteration {closest.index}, bottleneck {closest.bottleneck}; "
                   f"{run.certificates[closest.index].describe(capacity_gwh)})")
    return done(False, reason, closest)


class _Certifier:
    """Simulates plans for the loop, lengthening the warm-up when the line has not
    filled, and certifies each (`ssbfab.certify`) with replications added on the
    sequential schedule; every plan on the same seed (common random numbers)."""

    def __init__(self, route: Route, capacity_gwh: float, goal: float, costing: str,
                 days: float, warmup_days: float, reps: int, max_reps: int, seed: int,
                 workers: int | None, confidence: float, say: Callable[[str], None]):
        self.route, self.capacity_gwh, self.goal, self.costing = route, capacity_gwh, goal, costing
        self.days, self.warmup_days, self.reps, self.seed = days, warmup_days, reps, seed
        self.workers, self.confidence, self.say = workers, confidence, say
        self.max_reps = max_reps
        self.notes: list[str] = []
        self.certificates: dict[int, Certificate] = {}

    def iteration(self, index: int, plan: Plan, derate: dict[str, float],
                  opt_s: float, line: float = 1.0) -> Iteration:
        """Simulate and certify `plan` (optimised with `derate`, of which `line` is the
        line-wide part); its iteration record."""
        from .certify import certify
        from .cost import evaluate
        from .sim import simulate

        name = self.route.name
        assert plan.config is not None and plan.cost is not None  # a plan to simulate
        self.say(f"{name}: simulate (iteration {index}, {self.reps} replications)")
        t0 = time.perf_counter()
        sim = simulate(plan.config, days=self.days, warmup_days=self.warmup_days,
                       reps=self.reps, seed=self.seed, workers=self.workers)
        # Statistics of a line that has not filled yet understate its output: if the
        # warm-up is shorter than the lead time the simulation saw, lengthen it (and
        # the horizon by as much) and simulate the same plan again.
        longer = _warmup_for(sim.stats, self.warmup_days, self.route)
        if longer is not None:
            self.say(f"{name}: lead time {sim.stats.lead_time_h.mean:.0f} h exceeds the "
                     f"warm-up; warm-up now {longer:.0f} days")
            self.days += longer - self.warmup_days
            self.warmup_days = longer
            self.notes.append(f"warm-up lengthened to {longer:.0f} days to cover the lead time")
            sim = simulate(plan.config, days=self.days, warmup_days=self.warmup_days,
                           reps=self.reps, seed=self.seed, workers=self.workers)
        # the simulator runs one line of the plan; a plant of N identical lines makes N
        # times its output, so the plant's target is compared with N x one line
        n = plan.lines
        sim, cert = certify(sim, self.goal, lines=n, confidence=self.confidence,
                            max_reps=self.max_reps, workers=self.workers,
                            progress=lambda msg: self.say(f"{name}: iteration {index} {msg}"))
        sim_s = time.perf_counter() - t0
        st = sim.stats
        achieved = st.good_gwh_per_year
        ratio = n * achieved.mean / self.capacity_gwh
        cost = evaluate(plan.config, st, costing=self.costing)
        self.certificates[index] = cert
        self.say(f"{name}: iteration {index}: {n * achieved.mean:.3f} GWh/yr simulated "
                 f"({100 * ratio:.1f} % of target; {cert.decision} at {cert.reps} "
                 f"replications), {cost.cost_per_kwh:.1f} $/kWh")
        return Iteration(
            index=index, cost_per_kwh=cost.cost_per_kwh,
            optimiser_cost_per_kwh=plan.cost.cost_per_kwh, target_gwh=self.capacity_gwh,
            sim_gwh_mean=n * achieved.mean, sim_gwh_low=n * achieved.ci95_low,
            sim_gwh_high=n * achieved.ci95_high, ratio=ratio, bottleneck=st.bottleneck,
            derate=dict(derate), machines=sum(c.count for c in plan.config.steps.values()),
            meets_target=cert.certified, opt_s=opt_s, sim_s=sim_s, plan=plan, stats=st,
            sim_gwh_lcb=cert.lcb_gwh, reps=cert.reps, decision=cert.decision, lines=n,
            line_derate=line, capacity_factor=_capacity_factor(st, cost, st.bottleneck))


def _line_share(it: Iteration, goal: float) -> float:
    """The factor on the line-wide derate after `it`: the share of the goal the lower
    bound reached (the mean's share when there is no bound, one replication), at most
    1 and at least 0.5 (one simulation never halves the line's capacity).

    Why line-wide: a line of many steps each sized with little spare capacity loses
    output to blocking and starving between them (finite buffers, variable process
    times, batches filling and draining) that no one step's capacity explains
    (measured on halide-catholyte at 50 GWh/yr, lines of 5 GWh/yr: 2.5 % short with
    six steps within 2.8 % of their need, each busy about 2 % less than the plan
    needs); planning every step at that share of its capacity buys spare capacity
    where there is less than the loss, all in one iteration."""
    share = it.sim_gwh_lcb / goal
    if not math.isfinite(share):
        share = it.ratio
    return max(min(share, 1.0), 0.5)


def _derate_at(it: Iteration, goal: float, current: float) -> float:
    """The derate of `it`'s bottleneck for the next plan (a factor on its capacity).

    Measured (`it.capacity_factor`): what the constraint started per year over what
    its machines can start at the observed availability, less the certification's
    margin, the relative half-width (mean - lower bound) / goal of the bound that
    decided the plan: a plan whose constraint makes exactly the target would sit at
    the target and stay undecided. The derated capacity at today's machines is then
    what the simulation saw the step make, so the optimiser buys machines until that
    rate covers the need (plus the margin). Never less derated than before (the
    derates only tighten, so plans cannot oscillate between two derates).

    Not measured (statistics without the step's counts): the current derate (the
    line-wide derate, `_line_share`, carries the shortfall). Floor 0.5: one simulation
    never halves a step's capacity."""
    f = it.capacity_factor
    if not (math.isfinite(f) and f > 0):
        return current
    margin = (it.sim_gwh_mean - it.sim_gwh_lcb) / goal
    margin = margin if math.isfinite(margin) and margin > 0 else 0.0
    return max(min(current, f * (1.0 - margin)), 0.5)


def _capacity_factor(stats: LineStats, cost: CostBreakdown, step: str) -> float:
    """Units `step` started per operating year in the simulation over the units its
    installed machines can start per year at the observed availability
    (`CostBreakdown.capacity_per_year`); NaN when the statistics lack the step's
    counts or the window's hours (not measured)."""
    st = stats.steps.get(step)
    cap = cost.capacity_per_year.get(step, math.nan)
    window_h = stats.simulated_hours - stats.warmup_hours
    started = st.per_rep.get("started") if st is not None else None
    if not started or not (cap > 0 and window_h > 0):
        return math.nan
    per_year = sum(started) / len(started) * stats.operating_hours_per_year / window_h
    return per_year / cap


def _near_line_counts(plan: Plan, cost_tol: float) -> list[int]:
    """Other numbers of lines the optimiser's line search found a plan for, costing
    within `cost_tol` (relative) of the chosen plan's, cheapest first."""
    assert plan.cost is not None  # a chosen plan has its cost
    limit = plan.cost.cost_per_kwh * (1.0 + cost_tol)
    near = [t for t in getattr(plan, "line_search", ())
            if t.lines != plan.lines and t.cost_per_kwh is not None
            and t.cost_per_kwh <= limit]
    return [t.lines for t in sorted(near, key=lambda t: t.cost_per_kwh)]


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
    parts = [config.dew_point_class, *(f"{z}={c}" for z, c in sorted(config.zone_classes.items()))]
    for name, c in config.steps.items():
        parts.append(f"{name}:{c.level}:" + ",".join(f"{o}={n}" for o, n in sorted(c.machines.items())))
    return "|".join(parts)
