"""Decisions under uncertainty: the stochastic programme of a roadmap's scenario tree.

Each scenario's MILP is the deterministic planner's (`model.build_model`) on the
scenario's `PlanningData`; the extensive form puts one as a block per scenario into one
Pyomo model and adds

- non-anticipativity: the integer decisions (lines built, converted, retired) of the
  periods of stage t are equal in all scenarios that share their node at stage t (a
  decision a sibling cannot make — its cohort does not exist there, e.g. the route is
  not yet available — is zero in all of them); production and sales are recourse: they
  adapt to each scenario's data in every period;
- the objective max E[NPV] + weight·CVaR_alpha(NPV), with CVaR in the Rockafellar–
  Uryasev form  CVaR = max_eta eta − E[(eta − NPV)+]/(1 − alpha)  (linear: one free
  variable and one shortfall per scenario).

The answers (`ssbfab.roadmap.decide.solve_stochastic`): the here-and-now decision (first stage) and the
objective's parts; VSS = RP − EEV (the stochastic solution against the first stage of
the expected-value plan, fixed); EVPI = WS − RP (wait-and-see: each scenario planned
alone) and per uncertain input (the tree with that input known from the start); the
value of the strategic reserve (a line of the reserve route forced in the first stage
against none of that route there); per scenario, the path and the cost per kWh of each
route, and the probability that all-solid is cheaper than semi-solid by each year. All
values are in the objective's terms (E[NPV] + weight·CVaR), USD.

Progressive hedging with mpi-sppy runs the same jobs across MPI ranks (`ph.py`).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo

from ..errors import NoPlanError
from .data import PlanningData, compile_data
from .load import LoadedRoadmap
from .model import build_model, line_bound
from .tree import (
    Tree,
    base_state,
    build_tree,
    roadmap_for,
    scenario_state,
    stage_of_periods,
    with_yields,
)

Key = tuple  # ("build", cohort) | ("convert", source, target, p) | ("retire", cohort, p)


def scenario_data(lr, designs, state: dict[str, Any]):
    """PlanningData of one scenario: the roadmap with its inputs, the same line designs."""
    lr_s, yields = roadmap_for(lr, state)
    return with_yields(compile_data(lr_s, designs), yields)


# ----------------------------------------------------------------------------- the problem


@dataclass
class Case:
    """One scenario's data for the solvers (picklable: sent to MPI ranks as is)."""

    name: str
    probability: float
    data: PlanningData
    yields: dict[str, float]  # mature-yield share per route (1 when not changed)


@dataclass
class Problem:
    cases: list[Case]
    stages: list[int]
    alpha: float
    weight: float
    reserve: tuple[str, float] | None  # (route, size GWh/yr)
    time_limit: float
    gap: float
    lr: LoadedRoadmap  # for the planner's reader (route data, currency year)

    @property
    def stage_of(self) -> list[int]:
        return stage_of_periods(self.cases[0].data.years, self.stages)


@dataclass
class Job:
    """One stochastic programme over the problem's scenarios."""

    label: str
    groups: list[list[Hashable]]  # [stage][scenario] -> node: decisions equal within a node
    fix: dict[Key, int] | None = None  # first-stage decisions held (EEV)
    reserve: str | None = None  # "force" | "forbid" the reserve line in the first stage


@dataclass
class JobResult:
    label: str
    ok: bool
    status: str
    gap: float | None
    objective: float | None  # USD: E[V] + weight·CVaR(V)
    values: list[float] | None  # USD per scenario (V: NPV, or minus the cost)
    first: dict[Key, int] = field(default_factory=dict)  # first-stage decisions
    solve_s: float = 0.0
    reason: str = ""
    reports: list[dict] | None = None  # per scenario (RP only): path and costs
    extra: dict = field(default_factory=dict)  # solver details (PH: iterations, bounds)
    bound: float | None = None  # USD: the solver's bound on the objective (>= objective)

    @property
    def obj(self) -> float:
        """The objective of a job that succeeded (USD)."""
        assert self.ok and self.objective is not None, self.label
        return self.objective

    @property
    def vals(self) -> list[float]:
        assert self.ok and self.values is not None, self.label
        return self.values


def decisions(m) -> dict[Key, tuple[int, Any]]:
    """The integer decisions of a scenario model: key -> (period, variable)."""
    coh = m._coh
    out: dict[Key, tuple[int, Any]] = {}
    for k in m.build:
        out[("build", k)] = (coh[k].decided, m.build[k])
    for a in m.convert:
        out[("convert", *a)] = (a[2], m.convert[a])
    for kp in m.retire:
        out[("retire", *kp)] = (kp[1], m.retire[kp])
    return out


def decision_keys(d: PlanningData, with_period: bool = False):
    """The keys of `decisions(build_model(d))` from the data alone (key -> period with
    `with_period`, else a set), so that PH ranks know every scenario's decisions without
    building its model. ph.py checks that the two agree on every model it builds."""
    P = len(d.years)
    coh = {c.key: c for c in d.cohorts if c.decided < P and c.start < P}
    out: dict[Key, int] = {}
    for k, c in coh.items():
        if c.kind == "new":
            out[("build", k)] = c.decided
    for s, lst in d.conversions.items():
        if s in coh:
            for t, p in lst:
                if t in coh and p < P:
                    out[("convert", s, t, p)] = p
    for k, c in coh.items():  # early retirement: every cohort, or only the lines owned
        if d.retire == "all" or c.kind == "owned":
            for p in range(P):
                if c.produces_in(p):
                    out[("retire", k, p)] = p
    return out if with_period else set(out)


def build_bound(d: PlanningData, k: str) -> int:
    """The upper bound `build_model` gives the lines of new cohort k: no more than the
    largest demand of the route's segments could use *in this scenario*."""
    c = next(x for x in d.cohorts if x.key == k)
    return line_bound(d, c, range(len(d.years)))


def shared_bounds(cases: list[Case]) -> dict[str, int]:
    """Per new cohort, the largest of the scenarios' bounds. A decision shared by
    scenarios must be free to serve the one with the most demand: a scenario's own bound
    (valid when it is planned alone) would cut the stochastic optimum."""
    out: dict[str, int] = {}
    for c in cases:
        for k in (x.key for x in c.data.cohorts if x.kind == "new" and
                  (x.key, x.start) in c.data.ramp):
            out[k] = max(out.get(k, 0), build_bound(c.data, k))
    return out


def widen(m, bounds: dict[str, int]) -> None:
    """Set the build bounds of a scenario model to the shared ones (checking first that
    `build_bound` still mirrors the model's own)."""
    for k in m.build:
        assert m.build[k].ub is None or m.build[k].ub <= bounds[k], \
            "build_bound() no longer mirrors build_model's bound"
        m.build[k].setub(bounds[k])


def value_expr(m, d: PlanningData):
    """A scenario's value in MUSD as an expression: NPV (objective npv) or minus the
    discounted cost (objective cost), so that more is always better."""
    return m.obj.expr if d.objective == "npv" else -m.obj.expr


def restrict(m, d: PlanningData, problem: Problem, job: Job, dec=None) -> str:
    """Apply a job's first-stage restrictions to one scenario model; '' or why the
    restriction cannot hold in this scenario."""
    dec = dec if dec is not None else decisions(m)
    stage_of = problem.stage_of
    first = {k: v for k, (p, v) in dec.items() if stage_of[p] == 0}
    if job.fix is not None:
        for k, var in first.items():
            var.fix(job.fix.get(k, 0))
        lost = [k for k, v in job.fix.items() if v and k not in first]
        if lost:
            return f"the fixed first stage has {lost[0]} which this scenario cannot make"
    if job.reserve and problem.reserve:
        route, size = problem.reserve
        coh = m._coh
        mine = [var for k, var in first.items() if _into(k, coh) is not None
                and _into(k, coh).route == route
                and (job.reserve == "forbid" or abs(_into(k, coh).size - size) < 1e-9)]
        if job.reserve == "forbid":
            for var in mine:
                var.fix(0)
        else:
            if not mine:
                return f"no first-stage period can start a {size:g} GWh/yr line of {route}"
            m.reserve_line = pyo.Constraint(expr=sum(mine) >= 1)
    return ""


def _into(key: Key, coh):
    """The cohort a decision adds lines to (build, convert), else None."""
    if key[0] == "build":
        return coh[key[1]]
    if key[0] == "convert":
        return coh[key[2]]
    return None


def cvar(values: list[float], probs: list[float], alpha: float) -> float:
    """CVaR_alpha of a discrete distribution of values (more is better): the expected
    value of its worst (1 − alpha) probability mass; alpha = 0 gives the mean."""
    tail = 1.0 - alpha
    left, acc = tail, 0.0
    for v, p in sorted(zip(values, probs, strict=True)):
        take = min(p, left)
        acc += take * v
        left -= take
        if left <= 1e-15:
            break
    return acc / tail


def risk_objective(values: list[float], probs: list[float], alpha: float, weight: float
                   ) -> float:
    """E[V] + weight·CVaR_alpha(V)."""
    mean = sum(p * v for p, v in zip(probs, values, strict=True))
    return mean + (weight * cvar(values, probs, alpha) if weight else 0.0)


def first_stage_key(first: dict[Key, int]) -> tuple:
    return tuple(sorted((k, v) for k, v in first.items() if v))


# ----------------------------------------------------------------------------- extensive form


def build_extensive(problem: Problem, job: Job):
    """The extensive form of a job: (model, scenario blocks, value expressions), or
    (None, [], reason) when a restriction cannot hold."""
    ef = pyo.ConcreteModel(name="roadmap-stochastic")
    blocks, decs, vals = [], [], []
    bounds = shared_bounds(problem.cases)
    for i, c in enumerate(problem.cases):
        m = build_model(c.data)
        widen(m, bounds)
        m.obj.deactivate()
        why = restrict(m, c.data, problem, job)
        if why:
            return None, [], f"scenario {c.name}: {why}"
        ef.add_component(f"s{i}", m)
        blocks.append(m)
        decs.append(decisions(m))
        vals.append(value_expr(m, c.data))
    stage_of = problem.stage_of
    ef.nonanticipativity = pyo.ConstraintList()
    for t, groups in enumerate(job.groups):
        members: dict[Hashable, list[int]] = defaultdict(list)
        for i, g in enumerate(groups):
            members[g].append(i)
        for idx in members.values():
            if len(idx) < 2:
                continue
            keys = dict.fromkeys(k for i in idx for k, (p, _) in decs[i].items()
                                 if stage_of[p] == t)
            ref = idx[0]
            for k in keys:
                a = decs[ref].get(k)
                for i in idx[1:]:
                    b = decs[i].get(k)
                    if a is None and b is None:  # neither scenario could make it
                        continue
                    ef.nonanticipativity.add((b[1] if b else 0) == (a[1] if a else 0))
    probs = [c.probability for c in problem.cases]
    mean = sum(p * v for p, v in zip(probs, vals, strict=True))
    if problem.weight > 0:
        S = range(len(vals))
        ef.eta = pyo.Var()  # MUSD: the value at risk at level alpha
        ef.shortfall = pyo.Var(S, domain=pyo.NonNegativeReals)
        ef.tail = pyo.Constraint(S, rule=lambda e, i: e.shortfall[i] >= e.eta - vals[i])
        ef.cvar = pyo.Expression(expr=ef.eta - sum(p * ef.shortfall[i] for i, p in
                                                  enumerate(probs)) / (1 - problem.alpha))
        ef.obj = pyo.Objective(expr=mean + problem.weight * ef.cvar, sense=pyo.maximize)
    else:
        ef.obj = pyo.Objective(expr=mean, sense=pyo.maximize)
    return ef, blocks, vals


def solve_job_extensive(problem: Problem, job: Job, report: bool = False) -> JobResult:
    """Build and solve one job's extensive form on HiGHS."""
    from .solve import _solve

    t0 = time.perf_counter()
    ef, blocks, vals = build_extensive(problem, job)
    if ef is None:
        return JobResult(job.label, False, "infeasible", None, None, None, reason=vals)
    status, ok, gap = _solve(ef, problem.time_limit, problem.gap)
    dt = time.perf_counter() - t0
    if not ok:
        return JobResult(job.label, False, status, None, None, None, solve_s=dt,
                         reason=f"the extensive form is {status}")
    values = [1e6 * pyo.value(v) for v in vals]
    probs = [c.probability for c in problem.cases]
    stage_of = problem.stage_of
    first = {k: round(pyo.value(var)) for k, (p, var) in decisions(blocks[0]).items()
             if stage_of[p] == 0}
    reports = None
    if report:
        reports = [scenario_report(problem, c, m, status, gap)
                   for c, m in zip(problem.cases, blocks, strict=True)]
    obj = risk_objective(values, probs, problem.alpha, problem.weight)
    return JobResult(job.label, True, status, gap, obj, values, first, dt, reports=reports,
                     bound=upper_bound(1e6 * pyo.value(ef.obj), gap))


@dataclass
class Alone:
    """One scenario planned on its own."""

    ok: bool
    status: str
    value: float | None = None  # USD
    first: dict[Key, int] = field(default_factory=dict)
    gap: float | None = None
    bound: float | None = None  # USD: the solver's bound on the value

    @property
    def val(self) -> float:
        assert self.ok and self.value is not None
        return self.value


def solve_alone(case: Case, problem: Problem, job: Job | None = None) -> Alone:
    """One scenario planned alone (deterministic), optionally under a job's first-stage
    restrictions (a first stage held, the reserve forced or forbidden)."""
    from .solve import _solve

    m = build_model(case.data)
    if job is not None:
        widen(m, shared_bounds(problem.cases))  # a held first stage may exceed its own
        why = restrict(m, case.data, problem, job)
        if why:
            return Alone(False, "infeasible")
    status, ok, gap = _solve(m, problem.time_limit, problem.gap)
    if not ok:
        return Alone(False, status)
    stage_of = problem.stage_of
    first = {k: round(pyo.value(var)) for k, (p, var) in decisions(m).items()
             if stage_of[p] == 0}
    value = 1e6 * pyo.value(value_expr(m, case.data))
    return Alone(True, status, value, first, gap, upper_bound(value, gap))


def upper_bound(value: float, gap: float | None) -> float | None:
    """The solver's bound on a maximised value, from its relative gap (to the incumbent)."""
    return None if gap is None else value + gap * abs(value)


# ----------------------------------------------------------------------------- reading


def scenario_report(problem: Problem, case: Case, m, status: str, gap) -> dict:
    """A solved scenario block: its periods (the deterministic contract's form, read by
    the planner's own reader), its value, and the cost per kWh of each route per year."""
    from .solve import _read

    d = case.data
    res = _read(d, problem.lr, m, status, gap, 0.0, "stochastic")
    return {"name": case.name, "probability": case.probability,
            "value": 1e6 * pyo.value(value_expr(m, d)), "npv": res.npv,
            "periods": res.periods, "unit_cost": unit_costs(case, m)}


def unit_costs(case: Case, m) -> dict[int, dict[str, float]]:
    """Per year, USD per good kWh of the cheapest line of each route that could stand
    then, at full maturity: capital charge (annuity, as the planner's table) + fixed +
    materials and energy at the scenario's prices and yields, with learning at the
    company's cumulative output of the route when the year starts (endogenous) or the
    route's exogenous path. Routes with no line possible that year are left out."""
    d = case.data
    v = pyo.value
    coh = m._coh
    out: dict[int, dict[str, float]] = {}
    made_before: dict[str, float] = defaultdict(float)  # GWh/yr summed over past periods
    for p, year in enumerate(d.years):
        row: dict[str, float] = {}
        for r in d.routes:
            f = case.yields.get(r, 1.0)
            ce, cb = d.crf[r]
            best = math.inf
            for c in d.cohorts:
                if c.route != r or (c.key, p) not in d.variable:
                    continue
                des = d.designs[(r, c.size)]
                mult = d.fixed[(c.key, p)] / des.fixed_usd_per_year if des.fixed_usd_per_year \
                    else 1.0
                charge = (sum(des.equipment_by_step.values()) + des.dry_room_usd) * ce + \
                    des.building_usd * cb
                kwh = c.size * 1e6 * f
                var = d.variable[(c.key, p)] * d.ramp[(c.key, p)] / f  # mature, per good GWh
                cost = (charge * mult + des.fixed_usd_per_year * mult) / kwh + var / 1e6
                best = min(best, cost)
            if not math.isfinite(best):
                continue
            if r in d.learning_curve:
                xs, es, q0 = d.learning_curve[r]
                q = q0 + 1e6 * d.step * made_before[r]
                best += _slope(xs, es, q)
            row[r] = best
        out[year] = row
        for k, c in coh.items():
            if (k, p) in m.prod:
                made_before[c.route] += v(m.prod[k, p])
    return out


def _slope(xs: list[float], es: list[float], q: float) -> float:
    """USD/kWh: the learning premium's marginal cost at cumulative output q (kWh)."""
    for j in range(len(xs) - 1):
        if q <= xs[j + 1] or j == len(xs) - 2:
            w = xs[j + 1] - xs[j]
            return (es[j + 1] - es[j]) / w if w > 0 else 0.0
    return 0.0


# ----------------------------------------------------------------------------- the answers


@dataclass
class StochasticResult:
    name: str
    objective: str  # npv | cost (then NPV means minus the discounted cost)
    currency: str
    stages: list[int]
    scenarios: list[dict]  # per scenario: name, probability, inputs, value, periods, unit_cost
    expected_npv: float  # USD
    cvar: dict  # alpha, weight, value (USD)
    objective_value: float  # USD: E[NPV] + weight·CVaR
    vss: float | None
    evpi: float
    evpi_by_input: dict[str, float | None]  # None: that job found no plan
    reserve: dict | None  # route, size, with, without, value, in_solution
    first_stage: list[dict]  # [{year, lines: {route: {built, converted_in, ...}}}]
    allsolid_cheaper: list[dict]  # [{year, probability}]
    solver: dict  # name, status, gap, solve_s (+ ranks, iterations for ph)
    values: dict  # RP, EEV, WS, EV (USD) and the EV plan's first stage
    notes: list[str] = field(default_factory=list)

    @property
    def reserve_value(self) -> float | None:
        return None if self.reserve is None else self.reserve["value"]

    @property
    def paths(self):
        """DataFrame: scenario, probability, year, route, built, converted_in,
        converted_out, retired, operating."""
        import pandas as pd

        rows = [{"scenario": s["name"], "probability": s["probability"], "year": p["year"],
                 "route": r, **x} for s in self.scenarios for p in s["periods"]
                for r, x in p["lines"].items()]
        return pd.DataFrame(rows)

    @property
    def unit_cost(self):
        """DataFrame: scenario, probability, year, route, usd_per_kwh."""
        import pandas as pd

        rows = [{"scenario": s["name"], "probability": s["probability"], "year": int(y),
                 "route": r, "usd_per_kwh": c} for s in self.scenarios
                for y, row in s["unit_cost"].items() for r, c in row.items()]
        return pd.DataFrame(rows)

    @property
    def scenario_table(self):
        """DataFrame per scenario: name, probability, npv (USD), value (USD)."""
        import pandas as pd

        return pd.DataFrame([{"scenario": s["name"], "probability": s["probability"],
                              "npv": s["npv"], "value": s["value"],
                              **{f"input:{k}": v for k, v in s["inputs"].items()}}
                             for s in self.scenarios])

    def rows(self) -> list[tuple[str, str]]:
        """The answers as (item, value) rows for a printed table (MUSD; the first stage
        one decision a line)."""
        def m(v: float | None) -> str:
            return "-" if v is None else f"{v / 1e6:,.1f}"

        years = [p["year"] for p in self.scenarios[0]["periods"]]
        first = "\n".join(decision_text(k, n, years)
                          for k, n in self.values["rp_first_stage"].items()) or "nothing"
        out = [("here-and-now (first stage)", first),
               ("expected NPV", m(self.expected_npv)),
               (f"CVaR {self.cvar['alpha']:.0%} of NPV", m(self.cvar["value"])),
               ("VSS (vs the expected-value plan)", m(self.vss)),
               ("EVPI", m(self.evpi))]
        out += [(f"EVPI of {k}", m(v)) for k, v in self.evpi_by_input.items()]
        if self.reserve is not None:
            r = self.reserve
            out.append(("reserve value", m(r["value"]) + f" ({_short(r['route'])} "
                        f"{r['size_gwh']:g} GWh/yr in the first stage; "
                        f"{'in' if r['in_solution'] else 'not in'} the plan)"))
        out.append(("solver", f"{self.solver['name']}, {self.solver['status']}, gap "
                              + ("-" if self.solver["gap"] is None
                                 else f"{self.solver['gap']:.2%}")))
        return out

    def to_dict(self) -> dict:
        """The `stochastic` object of `ssbfab roadmap --json`."""
        return {"scenarios": len(self.scenarios), "stages": self.stages,
                "objective": self.objective, "currency": self.currency,
                "expected_npv": self.expected_npv, "cvar": dict(self.cvar),
                "objective_value": self.objective_value, "vss": self.vss, "evpi": self.evpi,
                "evpi_by_input": dict(self.evpi_by_input),
                "reserve_value": self.reserve_value, "reserve": self.reserve,
                "first_stage": self.first_stage, "allsolid_cheaper": self.allsolid_cheaper,
                "solver": dict(self.solver), "values": dict(self.values),
                "paths": [{k: v for k, v in s.items()} for s in self.scenarios],
                "notes": list(self.notes)}


def make_problem(lr: LoadedRoadmap, designs: dict, tree: Tree | None = None) -> tuple[
        Problem, Tree, list[dict]]:
    """The scenarios' data (line designs shared), and their input states."""
    tree = tree or build_tree(lr)
    rm = lr.roadmap
    u = rm.uncertainty
    base = base_state(lr, tree.inputs)
    states = [scenario_state(lr, s.changes, base) for s in tree.scenarios]
    cases = []
    for s, st in zip(tree.scenarios, states, strict=True):
        d = scenario_data(lr, designs, st)
        yields = {k.split(".")[1]: v for k, v in st.items() if k.endswith(".yield")}
        cases.append(Case(s.name, s.probability, d, yields))
    risk = u.risk if u is not None else None
    reserve = (u.reserve.route, u.reserve.size) if u is not None and u.reserve else None
    problem = Problem(cases, tree.stages, risk.alpha if risk else 0.0,
                      risk.weight if risk else 0.0, reserve,
                      (u.time_limit if u and u.time_limit else rm.time_limit),
                      (u.gap if u and u.gap is not None else rm.gap), lr)
    return problem, tree, states


def rp_groups(tree: Tree) -> list[list[Hashable]]:
    return [[s.nodes[t] for s in tree.scenarios] for t in range(len(tree.stages))]


def informed_groups(tree: Tree, name: str) -> list[list[Hashable]]:
    """Nodes of the tree in which input `name` is known from the start."""
    return [[(s.nodes[t], tree.signature(s, name)) for s in tree.scenarios]
            for t in range(len(tree.stages))]


def run_extensive(problem: Problem, jobs: list[Job], say) -> tuple[dict[str, JobResult],
                                                                    list]:
    """Jobs on the extensive form, skipping those the RP answers already: EEV when the
    EV plan's first stage is the RP's, a reserve case the RP's first stage satisfies."""
    results: dict[str, JobResult] = {}
    rp = jobs[0]
    say(f"extensive form: {len(problem.cases)} scenarios")
    results["rp"] = solve_job_extensive(problem, rp, report=True)
    if not results["rp"].ok:
        return results, []
    first = results["rp"].first
    for job in jobs[1:]:
        same = None
        if job.fix is not None and first_stage_key(job.fix) == first_stage_key(first):
            same = "the EV plan's first stage is the stochastic one"
        elif job.reserve and _reserve_holds(problem, first, job.reserve):
            same = "the stochastic first stage already satisfies it"
        if same:
            r = results["rp"]
            results[job.label] = JobResult(job.label, True, r.status, r.gap, r.objective,
                                           r.values, r.first, 0.0, reason=same, bound=r.bound)
            continue
        say(f"extensive form: {job.label}")
        results[job.label] = solve_job_extensive(problem, job)
    say("wait-and-see: each scenario alone")
    ws = [solve_alone(c, problem) for c in problem.cases]
    return results, ws


def _reserve_holds(problem: Problem, first: dict[Key, int], how: str) -> bool:
    """Whether a first stage has a reserve line (force) or no line of its route (forbid)."""
    assert problem.reserve is not None
    route, size = problem.reserve
    lines = [(k, v) for k, v in first.items() if k[0] in ("build", "convert")]
    ours = [(k, v) for k, v in lines if _key_route(k) == route]
    if how == "forbid":
        return not any(v for _, v in ours)
    return any(v and abs(_key_size(k) - size) < 1e-9 for k, v in ours)


def _key_route(k: Key) -> str:
    coh = k[1] if k[0] == "build" else k[2]  # new:ROUTE:SIZE:YEAR, conv:A>B:SIZE:YEAR
    part = coh.split(":")[1]
    return part.split(">")[1] if ">" in part else part


def _key_size(k: Key) -> float:
    coh = k[1] if k[0] == "build" else k[2]
    return float(coh.split(":")[2])


def answers(lr, tree: Tree, problem: Problem, results: dict[str, JobResult],
             ws: list[Alone], ev: Alone, solver: str, ranks: int) -> StochasticResult:
    rp = results["rp"]
    if not rp.ok:
        raise NoPlanError(f"{lr.file}: {_why(lr, problem, rp)}")
    probs = [c.probability for c in problem.cases]
    a, w = problem.alpha, problem.weight
    notes: list[str] = []
    _best_restricted(results, notes)
    rp = results["rp"]
    _no_worse_than_rp(problem, results, notes)
    # EVPI from each scenario's own optimum
    if not all(x.ok for x in ws):
        bad = [c.name for c, x in zip(problem.cases, ws, strict=True) if not x.ok]
        raise NoPlanError(f"{lr.file}: scenario {bad[0]} alone has no feasible roadmap")
    ws_obj = risk_objective([x.val for x in ws], probs, a, w)
    ups = [x.bound for x in ws]
    ws_up = None if any(u is None for u in ups) else \
        risk_objective([u for u in ups if u is not None], probs, a, w)
    ws_job = JobResult("ws", True, "optimal", None, ws_obj, [x.val for x in ws], bound=ws_up)
    evpi = ws_obj - rp.obj
    ranges: dict[str, Any] = {"evpi": _range_of(ws_job, rp), "evpi_by_input": {}}
    by_input: dict[str, float | None] = {}
    for name in tree.inputs:
        r = results.get(f"evpi:{name}")
        by_input[name] = 0.0 if r is None else (r.obj - rp.obj if r.ok else None)
        ranges["evpi_by_input"][name] = [0.0, 0.0] if r is None else _range_of(r, rp)
    eev = results.get("eev")
    vss = None
    if not ev.ok:
        notes.append(f"the expected-value plan is {ev.status}: no VSS")
    elif eev is None or not eev.ok:
        notes.append("the expected-value plan's first stage is infeasible in some scenario "
                     f"({eev.reason if eev else ''}): its VSS is unbounded")
    else:
        vss = rp.obj - eev.obj
        ranges["vss"] = _range_of(rp, eev)
    reserve = None
    if problem.reserve:
        f, nf = results["reserve:force"], results["reserve:forbid"]
        route, size = problem.reserve
        reserve = {"route": route, "size_gwh": size,
                   "with": f.objective if f.ok else None,
                   "without": nf.objective if nf.ok else None,
                   "value": (f.obj - nf.obj) if f.ok and nf.ok else None,
                   "in_solution": _reserve_holds(problem, rp.first, "force")}
        if f.ok and nf.ok:
            ranges["reserve_value"] = _range_of(f, nf)
        if not f.ok:
            notes.append(f"forcing the reserve line is infeasible: {f.reason}")
    gaps = [r.gap for r in results.values() if r.ok and r.gap is not None] + \
        [x.gap for x in ws if x.gap is not None]  # the wait-and-see solves' too
    reports = rp.reports
    assert reports is not None  # the RP job always reads its scenarios back
    stage0 = [y for y, t in zip(problem.cases[0].data.years, problem.stage_of, strict=True)
              if t == 0]
    first_stage = [{"year": p["year"], "lines": p["lines"]} for p in reports[0]["periods"]
                   if p["year"] in stage0]
    scen = []
    for s, rep in zip(tree.scenarios, reports, strict=True):
        inputs = {}
        for c in s.changes:
            inputs[c.input] = c.value[1] if isinstance(c.value, tuple) else c.value
        scen.append({**rep, "branches": list(s.nodes[1:]), "inputs": _plain(inputs)})
    values = {"rp": rp.objective, "eev": eev.objective if eev and eev.ok else None,
              "ws": ws_obj, "ev": ev.value, "ev_first_stage": lines_of(ev.first),
              "rp_first_stage": lines_of(rp.first),
              "ranges": ranges,
              "jobs": {k: {"objective": r.objective, "status": r.status, "gap": r.gap,
                           "solve_s": r.solve_s, **({"note": r.reason} if r.reason else {})}
                       for k, r in results.items()}}
    solver_doc = {"name": solver, "status": rp.status, "gap": rp.gap,
                  "max_gap": max(gaps) if gaps else None,
                  "solve_s": sum(r.solve_s for r in results.values())}
    if solver == "ph":
        solver_doc["ranks"] = ranks
        solver_doc.update(rp.extra)
    return StochasticResult(
        name=lr.roadmap.name, objective=lr.roadmap.objective, currency="USD",
        stages=tree.stages, scenarios=scen,
        expected_npv=sum(p * v for p, v in zip(probs, rp.vals, strict=True)),
        cvar={"alpha": a, "weight": w, "value": cvar(rp.vals, probs, a)},
        objective_value=rp.obj, vss=vss, evpi=evpi, evpi_by_input=by_input,
        reserve=reserve, first_stage=first_stage,
        allsolid_cheaper=allsolid_cheaper(lr, scen), solver=solver_doc, values=values,
        notes=notes)


RESTRICTED = ("eev", "reserve:force", "reserve:forbid")  # jobs whose plans the RP may take


def reads_back(label: str) -> bool:
    """Whether a job's scenarios are read back (paths, unit costs): the RP's, and those
    of the jobs that restrict it, whose plan a heuristic RP may have to take."""
    return label == "rp" or label in RESTRICTED


def _best_restricted(results: dict[str, JobResult], notes: list[str]) -> None:
    """A job that restricts the stochastic programme (EEV: the first stage held; the
    reserve forced or forbidden) found a plan the programme could take as it is. A
    heuristic RP (PH) worse than that plan takes it, keeping its own outer bound (a
    bound on the programme, whatever plan is found), and says so."""
    rp = results["rp"]
    better = [r for k, r in results.items() if k in RESTRICTED and r.ok and
              r.reports is not None and r.obj > rp.obj]
    if not better:
        return
    b = max(better, key=lambda r: r.obj)
    notes.append(f"rp: the plan of {b.label} is better ({b.obj / 1e6:,.1f} against "
                 f"{rp.obj / 1e6:,.1f} MUSD) and non-anticipative; using it")
    gap = None if rp.bound is None else max(0.0, rp.bound - b.obj) / max(abs(b.obj), 1e-9)
    results["rp"] = JobResult("rp", True, rp.status, gap, b.objective, b.values, b.first,
                              rp.solve_s, reason=f"the plan of {b.label}", reports=b.reports,
                              extra={**rp.extra, "inner_bound": b.objective,
                                     "plan": f"from {b.label}"}, bound=rp.bound)


def _no_worse_than_rp(problem: Problem, results: dict[str, JobResult], notes: list[str]
                      ) -> None:
    """The stochastic plan is feasible for a job that knows more (EVPI of an input) and
    for a reserve case its first stage satisfies: such a job is worth at least the RP.
    A heuristic solve (PH) that found less takes the RP's plan instead, and says so."""
    rp = results["rp"]
    for label, r in list(results.items()):
        fits = label.startswith("evpi:") or (label.startswith("reserve:") and _reserve_holds(
            problem, rp.first, label.split(":")[1]))
        if fits and (not r.ok or r.obj < rp.obj):
            notes.append(f"{label}: the solver's plan ({'none' if not r.ok else r.status}) was "
                         f"worse than the stochastic plan, which is feasible for it; using it")
            results[label] = JobResult(label, True, r.status if r.ok else rp.status, r.gap,
                                       rp.objective, rp.values, rp.first, r.solve_s,
                                       reason="the stochastic plan", extra=r.extra,
                                       bound=r.bound if r.ok and r.bound is not None
                                       and r.bound >= rp.obj else rp.bound)


def _range_of(hi: JobResult, lo: JobResult) -> list[float | None]:
    """[least, most] of hi − lo given both solvers' bounds (maximised objectives):
    the difference is certain to lie in it; its width is what the gaps leave open."""
    least = hi.obj - lo.bound if lo.bound is not None else None
    most = hi.bound - lo.obj if hi.bound is not None else None
    return [least, most]


def _why(lr, problem: Problem, rp: JobResult) -> str:
    """Which scenario alone has no roadmap, and why (the planner's own diagnosis)."""
    from .solve import _solve, _why_infeasible

    for c in problem.cases:
        m = build_model(c.data)
        _, ok, _ = _solve(m, problem.time_limit, 1e-2)
        if not ok:
            return f"scenario {c.name}: {_why_infeasible(c.data, None, None, problem.time_limit)}"
    return (f"no first-stage decision serves every scenario ({rp.reason or rp.status}); "
            f"each scenario alone has a roadmap")


def lines_of(first: dict[Key, int]) -> dict[str, int]:
    """A first stage as {decision: count} with readable keys (only non-zero)."""
    out = {}
    for k, v in sorted(first.items()):
        if v:
            out[":".join(str(x) for x in k)] = v
    return out


def decision_text(key: str, n: int, years: list[int]) -> str:
    """A first-stage decision of `values["rp_first_stage"]` in words: "2 x 10 GWh/yr
    semisolid built (2026)". Keys: build:new:ROUTE:SIZE:YEAR,
    convert:SOURCE-COHORT:conv:A>B:SIZE:YEAR:PERIOD, retire:COHORT:PERIOD."""
    t = key.split(":")
    if t[0] == "build":
        return f"{n} x {t[3]} GWh/yr {_short(t[2])} built ({t[4]})"
    if t[0] == "convert":
        a, b = t[-4].split(">")
        return f"{n} x {t[-3]} GWh/yr converted {_short(a)} > {_short(b)} ({years[int(t[-1])]})"
    if t[0] == "retire":  # the cohort's route and size follow its kind
        return f"{n} x {t[3]} GWh/yr {_short(t[2].split('>')[-1])} retired ({years[int(t[-1])]})"
    return f"{n} x {key}"


def _short(route: str) -> str:
    """The first word of a route's name (sulfide-lpscl: sulfide), as the CLI's tables."""
    return route.split("-")[0]


def _plain(x):
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, tuple):
        return [_plain(v) for v in x]
    return x


def allsolid_cheaper(lr, scenarios: list[dict]) -> list[dict]:
    """Per year, the probability that by then the cheapest all-solid route has been
    cheaper per kWh than the cheapest semi-solid route (unit costs of the scenario)."""
    forms = {r: route.form for r, route in lr.routes.items()}
    alls = [r for r, f in forms.items() if f == "all-solid"]
    semi = [r for r, f in forms.items() if f == "semi-solid"]
    if not alls or not semi:
        return []
    years = sorted({int(y) for s in scenarios for y in s["unit_cost"]})
    out = []
    crossed = [False] * len(scenarios)
    for y in years:
        for i, s in enumerate(scenarios):
            row = s["unit_cost"].get(y, {})
            a = [row[r] for r in alls if r in row]
            b = [row[r] for r in semi if r in row]
            if a and b and min(a) < min(b):
                crossed[i] = True
        out.append({"year": y, "probability": sum(s["probability"] for s, c in
                                                  zip(scenarios, crossed, strict=True) if c)})
    return out


__all__ = ["StochasticResult", "run_extensive", "answers", "Problem", "Job", "JobResult", "Case",
           "Alone", "build_extensive", "solve_job_extensive", "cvar", "risk_objective", "make_problem",
           "rp_groups", "informed_groups", "decisions", "restrict", "value_expr",
           "scenario_report", "lines_of", "decision_text"]
