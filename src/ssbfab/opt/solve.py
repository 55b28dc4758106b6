"""Solve the MILP with HiGHS (pyomo.contrib.solver's persistent `highs`) and read
the answer back into a Plan.

`OptModel` builds the model once per route structure and re-solves it after
pushing new numbers (target, statistics, derates, prices, economics, or a route
with the same steps/options/levels but other numbers): the persistent interface
sends HiGHS only the changed coefficients. `optimize` is the one-shot form.

The returned plan is "polished": machines sit at the chosen level, and the
dispatch among several options is the merit order (least energy per unit first),
which is the LP optimum for the chosen machines; the reported objective is the
model's objective at that point, and `evaluate` of the plan's configuration must
equal it (the tests check 1e-6).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from .. import cost
from ..config import PlantConfig, StepChoice
from ..data.schema import Economics, Route
from ..graph import LineGraph
from .data import ANY, Numbers, Structure, numbers
from .plan import Plan, SolveStatus, StepRow


class OptModel:
    """A built MILP for one route, for repeated solves (sweeps, the closed loop)
    without rebuilding.

    `builds` counts the Pyomo models built so far: 1 after any number of solves that
    only change numbers, one more for each solve whose route has another structure."""

    def __init__(self, route: Route, costing: str = "batpac5"):
        cost.check_costing(costing)
        self.route = route
        self.costing = costing
        self.structure = Structure.of(route)
        self.model = None
        self.builds = 0
        self._solver = None

    # ---------------------------------------------------------------- solve
    def solve(self, capacity_gwh: float, *, stats=None, derate: Mapping[str, float] | None = None,
              economics: Economics | None = None, prices: Mapping[str, float] | None = None,
              route: Route | None = None, costing: str | None = None, time_limit: float = 60,
              gap: float = 1e-4, threads: int | None = None) -> Plan:
        """Optimise for `capacity_gwh` good GWh/yr, re-using the built model: only the
        numbers change. `route` may be another version of the route with other data
        (e.g. from a study's overrides); if its steps, options, levels or classes
        differ, the model is rebuilt on this solve (its `build_s` shows it)."""
        # imported before the clock starts: a first import of Pyomo is not model building
        from pyomo.contrib.solver.solvers.highs import Highs  # noqa: F401

        from .build import build_model, set_parameters

        route = route or self.route
        costing = costing or self.costing
        if route is not self.route:
            structure = Structure.of(route)
            if structure != self.structure:
                # other steps, options, levels or classes (or options no longer
                # identical): a new model, built on this solve
                self.structure, self.model, self._solver = structure, None, None
            self.route = route
        t0 = time.perf_counter()
        nb = numbers(route, self.structure, capacity_gwh, stats=stats, costing=costing,
                     economics=economics, prices=prices, derate=derate)
        t_numbers = time.perf_counter() - t0
        derate_d = {k: float(v) for k, v in (derate or {}).items()}
        if nb.infeasible:
            return Plan(route.name, capacity_gwh, costing, derate=derate_d, status=SolveStatus(
                "infeasible", "; ".join(nb.infeasible), None, t_numbers, 0.0, None))
        t0 = time.perf_counter()
        first = self.model is None
        if first:
            self.model = build_model(self.structure, nb)
            self.builds += 1
        else:
            set_parameters(self.model, self.structure, nb)
        t_build = time.perf_counter() - t0 + t_numbers
        results, t_handoff, t_solve = self._run(time_limit, gap, threads)
        return self._read(route, nb, results, capacity_gwh, stats, costing, economics, prices,
                          derate_d, t_build + t_handoff, t_solve)

    def _run(self, time_limit, gap, threads):
        from pyomo.common.timing import HierarchicalTimer
        from pyomo.contrib.solver.solvers.highs import Highs

        if self._solver is None:
            self._solver = Highs()
        opt = self._solver
        _use_threads(threads)
        timer = HierarchicalTimer()
        t0 = time.perf_counter()
        # The first solve hands the whole model to HiGHS; later ones only push the
        # changed numbers (only parameters change, so nothing else is checked). HiGHS
        # stays quiet: stdout may carry a JSON document.
        results = opt.solve(self.model, time_limit=time_limit, rel_gap=gap, threads=threads,
                            load_solutions=False, raise_exception_on_nonoptimal_result=False,
                            tee=False, timer=timer, solver_options={"output_flag": False})
        total = time.perf_counter() - t0
        au = opt.config.auto_updates
        for flag in ("check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
                     "check_for_new_or_removed_params", "check_for_new_objective",
                     "update_constraints", "update_named_expressions", "update_objective"):
            setattr(au, flag, False)
        handoff = 0.0
        for name in ("set_instance", "update"):
            try:
                handoff += timer.get_total_time(name)
            except (KeyError, RuntimeError):
                pass
        return results, handoff, total - handoff

    # ---------------------------------------------------------------- results
    def _read(self, route, nb: Numbers, results, capacity_gwh, stats, costing, economics, prices,
              derate, build_s, solve_s) -> Plan:
        from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

        tc = results.termination_condition
        has_solution = results.solution_status in (SolutionStatus.feasible, SolutionStatus.optimal)
        bound = results.objective_bound
        incumbent = results.incumbent_objective
        nodes = getattr(results.extra_info, "mip_node_count", None)

        def status(kind, reason, objective=None, gap=None):
            return SolveStatus(kind, reason, gap, build_s, solve_s, objective,
                               bound if bound is not None and math.isfinite(bound) else None,
                               incumbent, nodes)

        if tc in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded):
            from .explain import explain_iis

            why = explain_iis(self._solver, self.model) or (
                "HiGHS proved that no combination of whole machines, levels and dry-room class "
                "meets the target within the route's limits (the continuous relaxation is "
                "feasible, so the conflict is in the rounding to whole machines)")
            return Plan(route.name, capacity_gwh, costing, derate=derate,
                        status=status("infeasible", f"no plan for {capacity_gwh:g} GWh/yr: {why}"))
        if not has_solution:
            kind = "time_limit" if tc == TerminationCondition.maxTimeLimit else "error"
            return Plan(route.name, capacity_gwh, costing, derate=derate, status=status(
                kind, f"HiGHS stopped ({tc.name}) without a feasible plan; not proven impossible"))
        results.solution_loader.load_vars()
        config, objective = self._polish(route, nb, capacity_gwh, costing, derate)
        breakdown = cost.evaluate(config, stats, costing, economics, prices=prices)
        gap = None
        if bound is not None and math.isfinite(bound) and objective:
            gap = max(0.0, (objective - bound) / abs(objective))
        if tc == TerminationCondition.convergenceCriteriaSatisfied:
            kind, reason = "optimal", "optimal within the requested gap"
        elif tc == TerminationCondition.maxTimeLimit:
            kind = "feasible"
            reason = (f"time limit reached; best plan found, {100 * gap:.3g} % from the bound"
                      if gap is not None else "time limit reached; best plan found")
        else:
            kind, reason = "feasible", f"HiGHS stopped ({tc.name}) with a feasible plan"
        rows = _rows(route, self.structure, nb, config, breakdown, derate)
        return Plan(route.name, capacity_gwh, costing, status=status(kind, reason, objective, gap),
                    config=config, cost=breakdown, rows=tuple(rows), derate=derate)

    def _polish(self, route, nb: Numbers, capacity_gwh, costing, derate):
        """Read levels, class and machines; put every machine at the chosen level and
        dispatch by merit order; return the configuration and the objective there."""
        import pyomo.environ as pyo

        m, st = self.model, self.structure
        levels = {s: max(st.levels[s], key=lambda lv: pyo.value(m.z[s, lv])) for s in st.steps}
        dpc = max(st.classes, key=lambda d: pyo.value(m.w[d]))
        machines = {s: {e: int(round(pyo.value(m.n[s, e]))) for e in st.options[s]}
                    for s in st.steps}
        for (s, e), v in machines_items(machines):
            m.n[s, e].set_value(v, skip_validation=True)
        for k in m.z:
            m.z[k].set_value(1.0 if levels[k[0]] == k[1] else 0.0, skip_validation=True)
        for d in m.w:
            m.w[d].set_value(1.0 if d == dpc else 0.0, skip_validation=True)
        # flows exactly as the chosen levels and class give them
        started = {}
        for s in reversed(st.steps):
            lv = levels[s]
            d = dpc if st.flow_classes[s][0] != ANY else ANY
            good = 1.0 if not st.consumers[s] else sum(
                started[c] * nb.ratio[(s, c)] for c in st.consumers[s])
            started[s] = good * nb.inv_y[(s, lv, d)]
            for key in st.levels[s]:
                for dd in st.flow_classes[s]:
                    m.g[s, key, dd].set_value(good if (key, dd) == (lv, d) else 0.0,
                                              skip_validation=True)
        for s in st.multi:
            lv = levels[s]
            opts = [(e, machines[s][e] * nb.cap[(s, e)] / nb.inv_rf[(s, lv)],
                     nb.c_x[(s, e, lv)]) for e in st.options[s]]
            share = cost.dispatch(started[s], opts)
            for e in st.options[s]:
                for key in st.levels[s]:
                    m.x[s, e, key].set_value(share[e] * nb.inv_rf[(s, lv)] if key == lv else 0.0,
                                             skip_validation=True)  # work at the nominal rate
        area = sum(nb.footprint[(s, e)] * machines[s][e] for s in st.dry_steps
                   for e in st.options[s]) / nb.amax
        for d in m.D:
            if not m.a[d].fixed:
                m.a[d].set_value(area if d == dpc else 0.0, skip_validation=True)
        objective = pyo.value(m.cost)
        steps = {}
        for node in LineGraph.of(route).in_file_order():
            s = node.spec
            chosen = {e: v for e, v in machines[s.name].items() if v > 0}
            lot = s.lot
            for o in s.options:
                if o.is_batch and chosen.get(o.name):
                    lot = min(lot, o.batch_size)  # a lot never exceeds the batch it rides in
            steps[s.name] = StepChoice(level=levels[s.name], machines=chosen, lot_size=lot)
        meta = {"sized_by": "optimize", "costing": costing}
        if derate:
            meta["derate"] = dict(derate)
        config = PlantConfig(route=route, steps=steps, dew_point_class=dpc,
                             capacity_gwh=capacity_gwh, meta=meta)
        return config, objective


_SCHEDULER = {"threads": None}  # HiGHS's thread pool is global to the process


def _use_threads(threads: int | None) -> None:
    """HiGHS refuses a new thread count once its global scheduler runs; restart the
    scheduler when a solve asks for a different count (no other solve is running:
    ssbfab solves one model at a time per process)."""
    if threads is None or threads == _SCHEDULER["threads"]:
        return
    import highspy

    highspy.Highs.resetGlobalScheduler(True)
    _SCHEDULER["threads"] = threads


def machines_items(machines: dict[str, dict[str, int]]):
    for s, per in machines.items():
        for e, v in per.items():
            yield (s, e), v


def _rows(route: Route, st: Structure, nb: Numbers, config: PlantConfig,
          breakdown: cost.CostBreakdown, derate) -> list[StepRow]:
    out = []
    for node in LineGraph.of(route).in_file_order():
        s = node.spec
        ch = config.steps[s.name]
        lv = node.level(ch.level)
        required = breakdown.started_per_year[s.name]
        capacity = sum(ch.machines.get(e, 0) * nb.cap[(s.name, e)] * nb.derate[s.name]
                       for e in st.options[s.name]) * nb.cells_per_year * lv.rate_factor
        slack = capacity - required
        limit = ""
        for o in s.options:
            n = ch.machines.get(o.name, 0)
            if n and n >= o.max_count:
                limit = f"max_count {o.name}"
            elif n and n <= o.min_count and capacity > 0 and slack > 0.02 * capacity:
                limit = f"min_count {o.name}"
        if not limit and capacity > 0 and slack <= 0.02 * capacity:
            limit = "capacity"
        out.append(StepRow(
            step=s.name, option="+".join(ch.machines), count=ch.count, machines=dict(ch.machines),
            level=ch.level, required_per_year=required, capacity_per_year=capacity,
            unit=s.unit, lot_size=ch.lot_size, slack=slack,
            binding=limit in ("capacity",) or limit.startswith("max_count"), limit=limit))
    return out


def optimize(route: Route, capacity_gwh: float, stats=None, costing: str = "batpac5",
             time_limit: float = 60, gap: float = 1e-4, threads: int | None = None,
             derate: Mapping[str, float] | None = None, *, economics: Economics | None = None,
             prices: Mapping[str, float] | None = None) -> Plan:
    """The cheapest plant per kWh of good cells for `capacity_gwh` good GWh/yr.

    `stats`: a LineStats (or None for nominal data) giving availability and yields;
    `derate[step]`: an extra factor (≤ 1 normally) on a step's capacity, e.g. for
    blocking and starving seen in simulation; `time_limit` in seconds, `gap` the
    relative MIP gap, `threads` for HiGHS. Returns a Plan; when there is no plan, its
    status says why (naming the step and limit) and its config is None."""
    return OptModel(route, costing).solve(capacity_gwh, stats=stats, derate=derate,
                                          economics=economics, prices=prices,
                                          time_limit=time_limit, gap=gap, threads=threads)
