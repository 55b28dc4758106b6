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
from dataclasses import replace
from pathlib import Path

from .. import categories, cost
from ..config import PlantConfig, StepChoice
from ..data.schema import ARGON, PLANT_ZONE, Economics, Route
from ..graph import LineGraph
from .data import ANY, Numbers, Structure, _ceil, numbers
from .plan import LineTry, Plan, SolveStatus, StepRow

# numbers of lines tried beyond the fewest the machine limits allow (the search also
# stops at the count whose machines carry the target at the worst yields)
_MAX_LINE_SEARCH = 10
_PAST_ENOUGH = 2  # numbers of lines tried past the count the machine limits call enough


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
        self._built_for = route  # the (line) route the model's numbers were last set from
        self.model = None
        self.builds = 0
        self._solver = None
        # (id of the route, lines, site limits on) -> (route, the route of one line)
        self._lines: dict[tuple[int, int, bool], tuple[Route, Route]] = {}

    # ---------------------------------------------------------------- solve
    def solve(self, capacity_gwh: float, *, stats=None, derate: Mapping[str, float] | None = None,
              economics: Economics | None = None, prices: Mapping[str, float] | None = None,
              route: Route | None = None, costing: str | None = None, time_limit: float = 60,
              gap: float = 1e-4, threads: int | None = None, lines: int | None = None,
              extra_lines: int = 2) -> Plan:
        """Optimise a plant of `capacity_gwh` good GWh/yr built as N identical lines of
        `capacity_gwh`/N each, re-using the built model: only the numbers change.

        Each line keeps the per-line limits of the route (every option's `min_count` and
        `max_count`) and gets 1/N of the site (`plant.floor_area`, `plant.dry_room_area`).
        `lines` fixes N; by default N is the fewest lines that have a plan, or a few more
        when that is cheaper: the cheapest of N..N+`extra_lines` (a plan with more lines
        must be cheaper by more than the MIP `gap` to be preferred). The plan's config,
        cost and rows are one line's; `Plan.lines` says how many (see `Plan`).

        `route` may be another version of the route with other data (e.g. from a study's
        overrides); if its steps, options, levels or classes differ, the model is rebuilt
        on this solve (its `build_s` shows it). `time_limit` is in seconds per solve; the
        line search solves once per number of lines it tries."""
        from ..errors import InputError, Problem

        if route is not None:
            self.route = route  # another version of the route: the model's route from now on
        base = self.route
        costing = costing or self.costing
        if lines is not None and (isinstance(lines, bool) or not isinstance(lines, int) or lines < 1):
            raise InputError(Problem("arguments", None, "lines",
                                     f"expected a whole number of lines >= 1, found {lines!r}"))
        if isinstance(extra_lines, bool) or not isinstance(extra_lines, int) or extra_lines < 0:
            raise InputError(Problem("arguments", None, "extra_lines",
                                     f"expected a whole number >= 0, found {extra_lines!r}"))
        one = dict(stats=stats, derate=derate, economics=economics, prices=prices,
                   costing=costing, time_limit=time_limit, gap=gap, threads=threads)
        tries: list[Plan] = []

        def attempt(n: int, site: bool = True) -> tuple[Plan, Numbers]:
            plan, nb = self._solve_line(self._line_route(base, n, site), capacity_gwh / n, n,
                                        **one)
            if site:
                tries.append(plan)
            return plan, nb

        if lines is not None:
            first = fewest = lines
            window = range(lines, lines + 1)
            plan, _ = attempt(lines)
            found = plan.config is not None
        else:
            plan, nb = attempt(1)
            found = plan.config is not None
            first = fewest = 1
            if not found:
                # the per-line machine limits bound the number of lines from both sides:
                # fewer than `lo` cannot carry the target even at the best yields, `hi`
                # carry it at the worst ones, so beyond `hi` machines are not what fails
                lo, hi = _line_count_bounds(base, self.structure, nb)
                fewest = lo
                # and a few more: more, smaller lines can round into a site that fewer
                # could not fit
                for n in range(max(2, lo), min(hi, lo + _MAX_LINE_SEARCH) + _PAST_ENOUGH + 1):
                    plan, _ = attempt(n)
                    if plan.config is not None:
                        first, found = n, True
                        break
                    first = n
            window = range(first, first + extra_lines + 1)
        if not found:
            return self._no_plan(base, capacity_gwh, fewest, tries, attempt, costing)
        for n in window:
            if n not in {p.lines for p in tries}:
                attempt(n)
        best: Plan | None = None
        for p in sorted((p for p in tries if p.config is not None and p.lines in window),
                        key=lambda p: p.lines):
            if best is None or _cost_per_kwh(p) < _cost_per_kwh(best) * (1 - gap):
                best = p
        assert best is not None  # the window starts at a number of lines with a plan
        return self._as_plant(best, base, capacity_gwh, tries)

    def _line_route(self, base: Route, n: int, site: bool) -> Route:
        """The route of one of `n` identical lines: 1/n of the site's floor and dry room
        (`site=False`: no site limits, to tell whether they are what stops a plan)."""
        if n == 1 and site:
            return base
        key = (id(base), n, site)
        hit = self._lines.get(key)
        if hit is not None and hit[0] is base:
            return hit[1]
        p = base.plant
        assert p is not None  # the optimiser plans routes with a plant (not bare lines)
        if site:
            share = {"floor_area": p.floor_area / n, "dry_room_area": p.dry_room_area / n,
                     "h2s_limit": p.h2s_limit / n if p.h2s_limit is not None else None}
        else:
            # lifted: the area of every machine a line may have (max_count of each option),
            # so that the limit cannot bind; finite and of the data's order of magnitude
            # because the model's area rows are scaled by the limit
            def most(steps):
                return sum(o.footprint * o.max_count for s in steps for o in s.options)

            dry = [s for s in base.full.line if s.environment == "dry_room"]
            share = {"floor_area": max(p.floor_area, most(base.full.line)) * 1.01,
                     "dry_room_area": max(p.dry_room_area, most(dry), 1.0) * 1.01,
                     "h2s_limit": None}
        line = base.model_copy(update={"plant": p.model_copy(update=share)})
        if len(self._lines) > 64:
            self._lines.clear()
        self._lines[key] = (base, line)
        return line

    def _as_plant(self, plan: Plan, base: Route, capacity_gwh: float, tries: list[Plan]) -> Plan:
        """The chosen line's plan as the plant's: the route as given, the plant target,
        the number of lines, and what the line search tried."""
        n = plan.lines
        assert plan.config is not None  # the chosen line count has a plan
        meta = dict(plan.config.meta, lines=n, plant_capacity_gwh=capacity_gwh)
        # the route as given, running the supply options the plan chose
        config = replace(plan.config, route=base.with_supply(plan.config.route.supply_choice),
                         meta=meta)
        status = replace(plan.status, build_s=sum(p.status.build_s for p in tries),
                         solve_s=sum(p.status.solve_s for p in tries))
        return replace(plan, capacity_gwh=capacity_gwh, config=config, status=status,
                       line_search=tuple(_tried(p) for p in tries))

    def _no_plan(self, base: Route, capacity_gwh: float, fewest: int, tries: list[Plan],
                 attempt, costing: str) -> Plan:
        """No number of lines tried has a plan: say why with the fewest lines the machine
        limits allow and, when lifting the site's limits gives a plan, which site field
        to raise and to what (the least area the cheapest such plan takes over the last
        few numbers of lines tried)."""
        last = next((p for p in tries if p.lines >= fewest), tries[-1])
        n = last.lines
        ns = sorted({p.lines for p in tries})
        span = f"{_counts(ns)} line{'s' if ns != [1] else ''}"
        why = last.status.reason.removeprefix(f"no plan for {last.capacity_gwh:g} GWh/yr: ")
        share = ""
        if n > 1:
            p = base.plant
            assert p is not None  # the optimiser plans routes with a plant (not bare lines)
            share = (f"; with {n} lines of {capacity_gwh / n:g} GWh/yr, each with 1/{n} of the "
                     f"site ({p.floor_area / n:,.0f} m² of floor, {p.dry_room_area / n:,.0f} m² "
                     "of dry room)")
        reason = f"no plan for {capacity_gwh:g} GWh/yr as {span}{share}: {why}"
        free = [attempt(k, site=False)[0] for k in ns[-(_PAST_ENOUGH + 1):]]
        fields = _site_fields(base, [f for f in free if f.config is not None])
        if fields:
            reason += "; " + fields
        spent = tries + free
        status = replace(last.status, reason=reason,
                         build_s=sum(p.status.build_s for p in spent),
                         solve_s=sum(p.status.solve_s for p in spent))
        return Plan(base.name, capacity_gwh, costing, status=status, derate=dict(last.derate),
                    lines=n, line_search=tuple(_tried(p) for p in tries))

    def _solve_line(self, route: Route, capacity_gwh: float, n: int, *, stats, derate, economics,
                    prices, costing, time_limit, gap, threads) -> tuple[Plan, Numbers]:
        """One of `n` lines, of `capacity_gwh` GWh/yr under `route`'s limits (the route
        of one line): its Plan and the numbers used."""
        # imported before the clock starts: a first import of Pyomo is not model building
        from pyomo.contrib.solver.solvers.highs import Highs  # noqa: F401

        from .build import build_model, set_parameters

        if route is not self._built_for:
            structure = Structure.of(route)
            if structure != self.structure:
                # other steps, options, levels or classes (or options no longer
                # identical): a new model, built on this solve
                self.structure, self.model, self._solver = structure, None, None
            self._built_for = route
        t0 = time.perf_counter()
        nb = numbers(route, self.structure, capacity_gwh, stats=stats, costing=costing,
                     economics=economics, prices=prices, derate=derate, lines=n)
        t_numbers = time.perf_counter() - t0
        derate_d = {k: float(v) for k, v in (derate or {}).items()}
        if nb.infeasible:
            return Plan(route.name, capacity_gwh, costing, derate=derate_d, lines=n,
                        status=SolveStatus("infeasible", "; ".join(nb.infeasible), None,
                                           t_numbers, 0.0, None)), nb
        t0 = time.perf_counter()
        first = self.model is None
        if first:
            self.model = build_model(self.structure, nb)
            self.builds += 1
        else:
            set_parameters(self.model, self.structure, nb)
        t_build = time.perf_counter() - t0 + t_numbers
        results, t_handoff, t_solve = self._run(time_limit, gap, threads)
        plan = self._read(route, nb, results, capacity_gwh, stats, costing, economics, prices,
                          derate_d, t_build + t_handoff, t_solve, n)
        return replace(plan, lines=n), nb

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
              derate, build_s, solve_s, n: int = 1) -> Plan:
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
            # the IIS search leaves HiGHS's copy of the model changed, and pushing new
            # numbers into it then makes HiGHS warn on stdout: hand the model over afresh
            self._solver = None
            return Plan(route.name, capacity_gwh, costing, derate=derate,
                        status=status("infeasible", f"no plan for {capacity_gwh:g} GWh/yr: {why}"))
        if not has_solution:
            kind = "time_limit" if tc == TerminationCondition.maxTimeLimit else "error"
            return Plan(route.name, capacity_gwh, costing, derate=derate, status=status(
                kind, f"HiGHS stopped ({tc.name}) without a feasible plan; not proven impossible"))
        results.solution_loader.load_vars()
        config, objective = self._polish(route, nb, capacity_gwh, costing, derate, n)
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
        rows = _rows(config.route, self.structure, nb, config, breakdown, derate)
        return Plan(route.name, capacity_gwh, costing, status=status(kind, reason, objective, gap),
                    config=config, cost=breakdown, rows=tuple(rows), derate=derate)

    def _polish(self, route, nb: Numbers, capacity_gwh, costing, derate, n: int = 1):
        """Read levels, class and machines; put every machine at the chosen level and
        dispatch by merit order; return the configuration and the objective there.
        Under a volume-scaled costing machines cost nothing in the objective, so the
        solver may leave spare ones: each option keeps only the machines its dispatched
        share needs (the dispatch, hence the objective, does not change)."""
        import pyomo.environ as pyo

        m, st = self.model, self.structure
        assert m is not None  # polished after a solve, which builds the model
        levels = {s: max(st.levels[s], key=lambda lv: pyo.value(m.z[s, lv])) for s in st.steps}
        # each zone's class; the plant's zone is the plan's dew_point_class
        chosen_class = {z: max(cs, key=lambda d, z=z: pyo.value(m.w[z, d]))
                        for z, cs in st.zones.items()}
        dpc = chosen_class[PLANT_ZONE]
        zone_classes = {z: c for z, c in chosen_class.items() if z != PLANT_ZONE}
        # make or buy: the chosen option of each material; the plan's route runs it
        choice = {mat: max(opts, key=lambda o: pyo.value(m.u[mat, o]))
                  for mat, opts in st.supply.items()}
        route = route.with_supply(choice)
        active = set(route.order)
        for k in m.u:
            m.u[k].set_value(1.0 if choice[k[0]] == k[1] else 0.0, skip_validation=True)
        machines = {s: {e: int(round(pyo.value(m.n[s, e]))) if s in active else 0
                        for e in st.options[s]} for s in st.steps}
        for (s, e), v in machines_items(machines):
            m.n[s, e].set_value(v, skip_validation=True)
        for k in m.z:
            on = levels[k[0]] == k[1] and k[0] in active
            m.z[k].set_value(1.0 if on else 0.0, skip_validation=True)
        for z, d in m.w:
            m.w[z, d].set_value(1.0 if d == chosen_class[z] else 0.0, skip_validation=True)
        # the capacity pair: the energy step's level and the class of the dose zone
        pair = (levels[st.energy_step] if st.energy_step else "", chosen_class[st.dose_zone])
        for k in m.p:
            m.p[k].set_value(1.0 if k == pair else 0.0, skip_validation=True)
        # flows exactly as the chosen levels and classes give them
        started: dict[str, float] = {}  # units started per good cell
        for s in reversed(st.steps):
            lv = levels[s]
            d = chosen_class[st.zone_of[s]] if st.flow_classes[s][0] != ANY else ANY
            if st.dose_capacity:
                final_good = nb.cells_ld[pair]
            else:
                final_good = nb.cells_at[levels[st.energy_step]] if st.energy_step else 1.0
            good = final_good if not st.consumers[s] else sum(
                started[c] * nb.ratio[(s, c)] for c in st.consumers[s])
            if s not in active:
                good = 0.0  # an unchosen supply option
            started[s] = good * nb.inv_y[(s, lv, d)]
            for key in st.levels[s]:
                for dd in st.flow_classes[s]:
                    m.g[s, key, dd].set_value(good if (key, dd) == (lv, d) else 0.0,
                                              skip_validation=True)
        if categories.costing_parts(costing)[1]:
            for s in st.steps:
                _trim(machines[s], started[s], nb, s, levels[s])
        for s in st.multi:
            lv = levels[s]
            opts = [(e, machines[s][e] * nb.cap[(s, e)] / nb.inv_rf[(s, lv)],
                     nb.c_x[(s, e, lv)]) for e in st.options[s]]
            share = cost.dispatch(started[s], opts)
            for e in st.options[s]:
                for key in st.levels[s]:
                    m.x[s, e, key].set_value(share[e] * nb.inv_rf[(s, lv)] if key == lv else 0.0,
                                             skip_validation=True)  # work at the nominal rate
        for z in st.zones:
            area = sum(nb.footprint[(s, e)] * machines[s][e] for s in st.dry_steps
                       if st.zone_of[s] == z for e in st.options[s]) / nb.amax
            for d in st.zones[z]:
                if not m.a[z, d].fixed:
                    m.a[z, d].set_value(area if d == chosen_class[z] else 0.0,
                                        skip_validation=True)
        for s, e in m.v:  # machines enclosed in argon
            m.v[s, e].set_value(machines[s][e] if chosen_class[st.zone_of[s]] == ARGON else 0.0,
                                skip_validation=True)
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
        meta = {"sized_by": "optimize", "costing": costing, "lines": n}
        if derate:
            meta["derate"] = dict(derate)
        config = PlantConfig(route=route, steps=steps, dew_point_class=dpc,
                             capacity_gwh=capacity_gwh, meta=meta, zone_classes=zone_classes)
        return config, objective


def _trim(machines: dict[str, int], started: float, nb: Numbers, s: str, lv: str) -> None:
    """Fewest machines at step `s` that carry what it starts per good cell at level
    `lv` (derated, as the model's capacity row), option by option in merit order of
    process energy (the dispatch's), never below an option's min_count."""
    left = started
    for e in sorted(machines, key=lambda e: nb.c_x.get((s, e, lv), 0.0)):
        per = nb.cap[(s, e)] * nb.derate[s] / nb.inv_rf[(s, lv)]  # one machine, started units
        k = machines[e]
        need = min(k, max(nb.nlb[(s, e)], _ceil(max(left, 0.0) / per))) if per > 0 else k
        machines[e] = need
        left -= need * per


_SCHEDULER: dict[str, int | None] = {"threads": None}  # HiGHS's thread pool is global to the process


def _use_threads(threads: int | None) -> None:
    """HiGHS refuses a new thread count once its global scheduler runs; restart the
    scheduler when a solve asks for a different count (no other solve is running:
    ssbfab solves one model at a time per process)."""
    if threads is None or threads == _SCHEDULER["threads"]:
        return
    import highspy

    highspy.Highs.resetGlobalScheduler(True)
    _SCHEDULER["threads"] = threads


def _line_count_bounds(route: Route, st: Structure, nb: Numbers) -> tuple[int, int]:
    """(fewest, enough): the fewest identical lines whose machine limits (Σ max_count ×
    capacity per step) can carry the target `nb` is for at the best yields downstream,
    and a number of lines that carries it at the worst yields (each step at its best
    open level), so that machine limits cannot be what stops a plan with that many."""
    best = worst = math.inf  # largest share of the target one line can carry
    for s in st.steps:
        if s in st.member:
            continue  # a supply option's step: another option may carry the material
        step = route.full.step(s)
        per_level_best, per_level_worst = [], []
        for lv in st.levels[s]:
            if nb.zub[(s, lv)] <= 0:
                continue
            room = (sum(o.max_count * nb.cap[(s, o.name)] for o in step.options)
                    * nb.derate[s] / nb.inv_rf[(s, lv)])
            if 0 < nb.smin[(s, lv)] < math.inf:
                per_level_best.append(room / nb.smin[(s, lv)])
            if nb.smax[(s, lv)] > 0:
                per_level_worst.append(room / nb.smax[(s, lv)])
        best = min(best, max(per_level_best, default=math.inf))
        worst = min(worst, max(per_level_worst, default=math.inf))

    def count(share: float) -> int:
        if share <= 0:
            return 1  # a step with no machines at all: more lines do not help
        return max(1, math.ceil((1 - 1e-9) / share)) if math.isfinite(share) else 1

    lo = count(best)
    return lo, max(lo, count(worst))


def _site_fields(route: Route, free: list[Plan]) -> str:
    """The site limits that every plan of `free` (the cheapest plans without site limits,
    one per number of lines) exceeds, as fields to raise with the file and line they are
    given on, and the least area those plans take."""
    out = []
    for name, what in (("floor_area", "floor"), ("dry_room_area", "dry room")):
        limit = getattr(route.plant, name)
        need = [(getattr(p, f"{name}_m2"), p.lines) for p in free]
        if not need or min(need)[0] <= limit * (1 + 1e-9):
            continue
        area, n = min(need)
        line = route.line_of("plant", name)
        where = _shown(route.file) + (f" line {line}" if line else "")
        out.append(f"raise plant.{name} ({where}) from {limit:,.0f} m² to at least "
                   f"{area:,.0f} m²: the cheapest plan without the site limits takes that "
                   f"much {what} with {n} line{'s' if n > 1 else ''}")
    return "; ".join(out)


def _counts(ns: list[int]) -> str:
    """Sorted whole numbers in words: [1, 4, 5, 6] -> '1 or 4 to 6'."""
    runs: list[list[int]] = []
    for n in ns:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    words = [f"{r[0]}" if len(r) == 1 else f"{r[0]} to {r[-1]}" for r in runs]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _shown(file: str) -> str:
    """A route file as a user would type it: relative to the working folder when inside it."""
    if not file:
        return "the route file"
    try:
        return str(Path(file).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return file


def _tried(plan: Plan) -> LineTry:
    return LineTry(plan.lines, plan.status.status,
                   plan.cost.cost_per_kwh if plan.cost is not None else None)


def _cost_per_kwh(plan: Plan) -> float:
    """A plan's cost (currency/kWh): a plan with a config has its cost breakdown."""
    assert plan.cost is not None
    return plan.cost.cost_per_kwh


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
             prices: Mapping[str, float] | None = None, lines: int | None = None,
             extra_lines: int = 2) -> Plan:
    """The cheapest plant per kWh of good cells for `capacity_gwh` good GWh/yr, as one
    line or several identical lines (`lines` fixes their number; see `OptModel.solve`).

    `stats`: a LineStats (or None for nominal data) giving availability and yields;
    `derate[step]`: an extra factor (≤ 1 normally) on a step's capacity, e.g. for
    blocking and starving seen in simulation; `time_limit` in seconds per solve, `gap`
    the relative MIP gap, `threads` for HiGHS. Returns a Plan; when there is no plan,
    its status says why (naming the step and limit, and the site field to raise when
    the site is what is too small) and its config is None."""
    return OptModel(route, costing).solve(capacity_gwh, stats=stats, derate=derate,
                                          economics=economics, prices=prices,
                                          time_limit=time_limit, gap=gap, threads=threads,
                                          lines=lines, extra_lines=extra_lines)
