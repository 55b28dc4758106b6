"""Run the transition planner: load, design the lines, build and solve the MILP (perfect
foresight or a myopic rolling horizon), and read the roadmap back as tables.

`plan_roadmap(path)` returns a `RoadmapResult` whose tables are pandas DataFrames and
whose `to_dict()` is the `ssbfab roadmap --json` document (see docs/roadmap.md)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyomo.environ as pyo

from ..errors import NoPlanError
from .data import PlanningData, compile_data
from .designs import LineDesign, line_design
from .load import LoadedRoadmap, load_roadmap
from .model import Fixed, build_model
from .schema import Myopic

# `--mode myopic` on a file without a `myopic:` section: five years in view, one kept
DEFAULT_MYOPIC = Myopic(foresight=5, step=1)


@dataclass
class RoadmapResult:
    name: str
    status: str
    objective: str
    npv: float  # USD, present value at the first year
    breakdown: dict[str, float]  # USD, present values (revenue, capex, ...; salvage > 0)
    periods: list[dict]  # one entry per period (the JSON contract)
    designs: dict[str, dict]  # "route@size" -> the line design used
    currency: str
    currency_year: int
    gap: float | None
    solve_s: float
    mode: str  # perfect_foresight | myopic
    notes: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- tables
    @property
    def lines(self):
        """DataFrame: year, route, built, converted_in, converted_out, retired, operating."""
        import pandas as pd

        rows = [{"year": p["year"], "route": r, **v} for p in self.periods
                for r, v in p["lines"].items()]
        return pd.DataFrame(rows)

    @property
    def production(self):
        """DataFrame: year, segment, route, gwh (good GWh/yr sold)."""
        import pandas as pd

        rows = [{"year": p["year"], "segment": g, "route": r, "gwh": v}
                for p in self.periods for g, per in p["production_gwh"].items()
                for r, v in per.items()]
        return pd.DataFrame(rows, columns=["year", "segment", "route", "gwh"])

    @property
    def summary(self):
        """DataFrame per year: capex (USD in the period), opex (USD/yr), demand and
        production (GWh/yr), cost per kWh of each operating route (USD/kWh)."""
        import pandas as pd

        rows = []
        for p in self.periods:
            row = {"year": p["year"], "capex_usd": p["capex"], "opex_usd_per_year": p["opex"],
                   "demand_gwh": sum(p["demand_gwh"].values()),
                   "production_gwh": sum(v for per in p["production_gwh"].values()
                                         for v in per.values())}
            for r, c in p["cost_per_kwh"].items():
                row[f"cost_per_kwh:{r}"] = c
            rows.append(row)
        return pd.DataFrame(rows)

    def overtake_year(self, challenger: str, incumbent: str) -> int | None:
        """First year the challenger route's cost per kWh is below the incumbent's."""
        for p in self.periods:
            c = p["cost_per_kwh"]
            if challenger in c and incumbent in c and c[challenger] < c[incumbent]:
                return p["year"]
        return None

    def to_dict(self) -> dict:
        return {"roadmap": self.name, "status": self.status, "objective": self.objective,
                "mode": self.mode, "npv": self.npv, "npv_breakdown": dict(self.breakdown),
                "currency": self.currency, "currency_year": self.currency_year,
                "gap": self.gap, "solve_s": self.solve_s, "periods": self.periods,
                "designs": self.designs, "notes": list(self.notes)}


def designs_for(lr: LoadedRoadmap, progress: Callable[[str], None] | None = None,
                confirm: dict | None = None) -> dict[tuple[str, float], LineDesign]:
    """The line design of every (route, size) the roadmap may use, from the plant
    optimiser (cached); owned lines' sizes included."""
    rm = lr.roadmap
    need: set[tuple[str, float]] = set()
    for r, e in rm.routes.items():
        for k in (e.sizes or rm.line_sizes):
            need.add((r, k))
    for o in rm.owned:
        need.add((o.route, o.size))
    # a converted line keeps its size: the target route needs a design at that size
    for a, b in lr.conversions:
        need |= {(b, k) for r, k in list(need) if r == a}
    out = {}
    for r, k in sorted(need):
        if progress:
            progress(f"line design: {r} at {k:g} GWh/yr")
        out[(r, k)] = line_design(lr.routes[r], k, costing=rm.costing, confirm=confirm)
    return out


def _solver():
    from pyomo.contrib.solver.solvers.highs import Highs

    return Highs()


def _solve(m, time_limit: float, gap: float):
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

    res = _solver().solve(m, time_limit=time_limit, rel_gap=gap, load_solutions=False,
                          raise_exception_on_nonoptimal_result=False, tee=False,
                          solver_options={"output_flag": False})
    tc = res.termination_condition
    ok = res.solution_status in (SolutionStatus.feasible, SolutionStatus.optimal)
    if ok:
        res.solution_loader.load_vars()
    if tc == TerminationCondition.convergenceCriteriaSatisfied:
        status = "optimal"
    elif tc in (TerminationCondition.provenInfeasible,
                TerminationCondition.infeasibleOrUnbounded):
        status = "infeasible"
    elif ok:
        status = "feasible"
    else:
        status = tc.name
    bound, inc = res.objective_bound, res.incumbent_objective
    g = None
    if ok and bound is not None and inc is not None and math.isfinite(bound) and inc:
        g = abs(inc - bound) / max(abs(inc), 1e-9)
    return status, ok, g


def _why_infeasible(d: PlanningData, last: int | None, fixed: Fixed | None,
                    time_limit: float) -> str:
    """Re-solve with priced unmet demand and name the segments and years left short."""
    m = build_model(d, last, fixed, slack=True)
    status, ok, _ = _solve(m, time_limit, 1e-2)
    if not ok:
        extra = " (with the budget, even serving nothing)" if d.budget else ""
        return f"no roadmap is feasible{extra}; the solver said {status}"
    short = [(g, d.years[p], pyo.value(m.unmet[g, p])) for (g, p) in m.unmet
             if pyo.value(m.unmet[g, p]) > 1e-6]
    if not short:
        return "no roadmap meets every constraint (the budget or a limit binds)"
    g, y, v = short[0]
    more = f"; also {', '.join(f'{a} in {b}' for a, b, _ in short[1:4])}" if len(short) > 1 else ""
    able = [r for r in d.routes if d.qualifies[(r, g)]]
    return (f"segment {g!r} in {y}: {v:.3g} of {d.demand[(g, d.years.index(y))]:.3g} GWh/yr "
            f"cannot be served by any allowed build of {', '.join(able)} (lead times, "
            f"availability years, budget){more}")


def plan_roadmap(path: str | Path | LoadedRoadmap, *, progress: Callable[[str], None] | None = None,
                 confirm: dict | None = None, mode: str | None = None) -> RoadmapResult:
    """Plan the roadmap of a roadmap file. `mode`: None (the file's: myopic if it has a
    `myopic:` section), "perfect_foresight" or "myopic". Raises InputError (bad file)
    or NoPlanError (no feasible roadmap; the message names the segment and year)."""
    lr = path if isinstance(path, LoadedRoadmap) else load_roadmap(path)
    rm = lr.roadmap
    designs = designs_for(lr, progress, confirm)
    d = compile_data(lr, designs)
    mode = mode or ("myopic" if rm.myopic else "perfect_foresight")
    t0 = time.perf_counter()
    if mode == "myopic":
        m, status, g = _myopic(d, lr, progress)
    else:
        if progress:
            progress(f"planner: {len(d.cohorts)} cohorts over {len(d.years)} periods")
        m = build_model(d)
        status, ok, g = _solve(m, rm.time_limit, rm.gap)
        if not ok:
            raise NoPlanError(f"{lr.file}: {_why_infeasible(d, None, None, rm.time_limit)}")
    solve_s = time.perf_counter() - t0
    return _read(d, lr, m, status, g, solve_s, mode)


def _decisions(m) -> Fixed:
    return Fixed(build={k: round(pyo.value(m.build[k])) for k in m.build},
                 convert={a: round(pyo.value(m.convert[a])) for a in m.convert},
                 retire={kp: round(pyo.value(m.retire[kp])) for kp in m.retire})


def _myopic(d: PlanningData, lr: LoadedRoadmap, progress):
    """Rolling horizon: each window sees `foresight` years (book value counted at its
    end), keeps the decisions of its first `step` years, and moves on; the last solve
    fixes every decision and re-dispatches over the whole horizon."""
    rm = lr.roadmap
    P = len(d.years)
    my = rm.myopic or DEFAULT_MYOPIC
    look = max(1, math.ceil(my.foresight / d.step))
    keep = max(1, math.ceil(my.step / d.step))
    fixed = Fixed({}, {}, {})
    start = 0
    while start < P:
        last = min(P - 1, start + look - 1)
        if progress:
            progress(f"myopic window {d.years[start]}-{d.years[last] + d.step - 1}")
        m = build_model(d, last, fixed)
        status, ok, _ = _solve(m, rm.time_limit, rm.gap)
        if not ok:
            raise NoPlanError(f"{lr.file}: myopic window {d.years[start]}–{d.years[last]}: "
                              f"{_why_infeasible(d, last, fixed, rm.time_limit)}")
        dec = _decisions(m)
        c = m._coh
        for k, v in dec.build.items():
            if start <= c[k].decided < start + keep:
                fixed.build[k] = v
        for a, v in dec.convert.items():
            if start <= a[2] < start + keep:
                fixed.convert[a] = v
        for (k, p), v in dec.retire.items():
            if start <= p < start + keep:
                fixed.retire[(k, p)] = v
        start += keep
    m = build_model(d, None, fixed)
    # builds the windows never saw are not made: fix what is left to zero
    for k in m.build:
        if not m.build[k].fixed:
            m.build[k].fix(0)
    for a in m.convert:
        if not m.convert[a].fixed:
            m.convert[a].fix(0)
    for kp in m.retire:
        if not m.retire[kp].fixed:
            m.retire[kp].fix(0)
    status, ok, g = _solve(m, rm.time_limit, rm.gap)
    if not ok:
        raise NoPlanError(f"{lr.file}: the myopic decisions leave the full horizon infeasible: "
                          f"{_why_infeasible(d, None, fixed, rm.time_limit)}")
    return m, status, g


def _read(d: PlanningData, lr: LoadedRoadmap, m, status: str, gap, solve_s: float,
          mode: str) -> RoadmapResult:
    v = pyo.value
    coh = m._coh
    periods = []
    P = len(d.years)
    for p in range(P):
        lines = {r: {"built": 0, "converted_in": 0, "converted_out": 0, "retired": 0,
                     "operating": 0} for r in d.routes}
        for k, c in coh.items():
            if c.kind == "new" and c.decided == p:
                lines[c.route]["built"] += round(v(m.build[k]))
            if (k, p) in m.retire:
                lines[c.route]["retired"] += round(v(m.retire[k, p]))
            if (k, p) in m.prod:
                lines[c.route]["operating"] += round(v(m._operating(k, p)))
            if (k, p - 1) in m.prod and c.last == p - 1:  # end of life
                lines[c.route]["retired"] += round(v(m._operating(k, p - 1)))
        for a in m.convert:
            if a[2] == p:
                n = round(v(m.convert[a]))
                lines[coh[a[1]].route]["converted_in"] += n
                lines[coh[a[0]].route]["converted_out"] += n
        prod = {g: {r: v(m.sell[r, g, p]) for r in d.routes if (r, g, p) in m.sell}
                for g in d.segments}
        cost = {}
        for r in d.routes:
            made = sum(v(m.prod[k, p]) for k, c in coh.items() if c.route == r
                       and (k, p) in m.prod)
            if made <= 1e-9:
                continue
            total = 0.0
            for k, c in coh.items():
                if c.route != r or (k, p) not in m.prod:
                    continue
                n = v(m._operating(k, p))
                des = d.designs[(r, c.size)]
                ce, cb = d.crf[r]
                charge = (sum(des.equipment_by_step.values()) + des.dry_room_usd) * ce + \
                    des.building_usd * cb
                total += n * (charge + d.fixed[(k, p)]) + d.variable[(k, p)] * v(m.gross[k, p])
            cost[r] = total / (made * 1e6)
        capacity = {r: 0.0 for r in d.routes}
        for k, c in coh.items():
            if (k, p) in m.prod:
                capacity[c.route] += c.size * v(m._operating(k, p))
        opex = v(m.fixed_cost[p]) + v(m.variable_cost[p]) + v(m.premium[p]) / d.step
        periods.append({"year": d.years[p], "lines": lines,
                        "demand_gwh": {g: d.demand[(g, p)] for g in d.segments},
                        "production_gwh": prod, "capex": v(m.capex[p]), "opex": opex,
                        "revenue": v(m.revenue[p]), "cost_per_kwh": cost,
                        "capacity_gwh": {r: x for r, x in capacity.items() if x > 0}})
    pv_rev = sum(d.flow_discount(p) * v(m.revenue[p]) for p in range(P))
    pv_capex = sum(d.capex_discount(p) * v(m.capex[p]) for p in range(P))
    pv_fixed = sum(d.flow_discount(p) * v(m.fixed_cost[p]) for p in range(P))
    pv_var = sum(d.flow_discount(p) * v(m.variable_cost[p]) for p in range(P))
    pv_prem = sum(d.flow_discount(p) / d.step * v(m.premium[p]) for p in range(P))
    pv_unmet = sum(d.flow_discount(p) * v(m.unmet_cost[p]) for p in range(P))
    salvage = v(m.salvage)
    breakdown = {"revenue": pv_rev, "capex": -pv_capex, "fixed_opex": -pv_fixed,
                 "variable_opex": -pv_var, "learning_premium": -pv_prem,
                 "unmet_demand": -pv_unmet, "salvage": salvage}
    econ = next(iter(lr.routes.values())).economics
    designs = {f"{r}@{k:g}": {"cost_per_kwh": des.cost_per_kwh, "costing": des.costing,
                              "capex_usd": des.capex_usd, "fixed_usd_per_year": des.fixed_usd_per_year,
                              "materials_usd_per_gwh": des.materials_usd_per_gwh,
                              "machines": des.machines, "confirmed": des.confirmed,
                              "output_share": des.output_share}
               for (r, k), des in d.designs.items()}
    notes = list(d.notes) + sorted({f"{r}: {des.confirmed}" for (r, _), des in d.designs.items()})
    return RoadmapResult(lr.roadmap.name, status, d.objective, sum(breakdown.values()),
                         breakdown, periods, designs, "USD", econ.currency_year, gap, solve_s,
                         mode, notes)
