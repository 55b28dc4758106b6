"""The MILP finds the true optimum: on small random routes its plan costs exactly the
minimum that brute-force enumeration of every configuration finds with `evaluate`.

Brute force: every dry-room class × every combination of levels × every machine
count of every option from its min_count up to the count that alone would carry the
step (more machines of an option than that only add cost), kept when the installed
capacity — computed here by hand from rate × rate_factor × availability × hours —
covers what the step must start (from `flow.requirements`, the foundation's flow)
and the plant's areas fit. Each kept configuration is priced by `evaluate`.
"""

from __future__ import annotations

import itertools
import math

import pytest

from ssbfab import flow
from ssbfab.cell import design
from ssbfab.config import PlantConfig, StepChoice
from ssbfab.cost import evaluate
from ssbfab.opt import optimize
from ssbfab.opt.synthetic import capacity_for, synthetic_route

# (seed, steps, levels per step (low, high), count limits, scrap credit): 20 instances
# in the default run (about a thousand configurations each), more under `make test-slow`
CASES = [(s, 3, (2, 3), s % 3 == 0, s % 2 == 0) for s in range(100, 116)] + \
        [(s, 4, (2, 2), s % 3 == 0, s % 2 == 1) for s in (201, 204, 206, 207)]
SLOW = [pytest.param(s, 4, (2, 2), s % 3 == 0, s % 2 == 1, marks=pytest.mark.slow)
        for s in (200, 202, 203, 205, 208, 209)] + \
       [pytest.param(s, 3, (2, 3), s % 3 == 0, s % 2 == 0, marks=pytest.mark.slow)
        for s in range(116, 140)]


def brute_force(route, capacity_gwh):
    """The cheapest configuration by enumeration: (cost per kWh, steps)."""
    econ = route.economics
    hours = econ.operating_days_per_year * econ.shifts_per_day * econ.shift_length
    names = [s.name for s in route.line]
    lots = {s.name: s.lot for s in route.line}
    rates = {}  # per machine at a level's rate factor = 1, units per year
    for s in route.line:
        for o in s.options:
            rate = (o.batch_size / o.cycle_time) if o.is_batch else o.rate_per_hour
            avail = o.mtbf / (o.mtbf + o.mttr) if o.mtbf else 1.0
            rates[(s.name, o.name)] = rate * avail * hours
    best_cost, best = math.inf, None
    for dpc in [c.name for c in route.dry_room_options]:
        for levels in itertools.product(*[[lv.name for lv in s.setting_levels] for s in route.line]):
            chosen = dict(zip(names, levels, strict=True))
            # good cells deliver the design energy x the chosen level's capacity_factor
            cf = math.prod(s.level(chosen[s.name]).capacity_factor for s in route.line)
            cells = capacity_gwh * 1e6 / (design(route).energy_kwh * cf)
            req = flow.requirements(route, flow.nominal_yields(route, dpc, chosen))
            if any(not math.isfinite(v) for v in req.started.values()):
                continue
            per_step = []
            for s in route.line:
                need = req.started[s.name] * cells
                rf = s.level(chosen[s.name]).rate_factor
                caps = [rates[(s.name, o.name)] * rf for o in s.options]
                ranges = [range(o.min_count, max(o.min_count, min(o.max_count, math.ceil(need / c))) + 1)
                          for o, c in zip(s.options, caps, strict=True)]
                vecs = [v for v in itertools.product(*ranges)
                        if sum(n * c for n, c in zip(v, caps, strict=True)) >= need * (1 - 1e-9)]
                per_step.append(vecs)
            for combo in itertools.product(*per_step):
                floor = dry = 0.0
                for s, v in zip(route.line, combo, strict=True):
                    a = sum(n * o.footprint for n, o in zip(v, s.options, strict=True))
                    floor += a
                    dry += a if s.environment == "dry_room" else 0.0
                if floor > route.plant.floor_area or dry > route.plant.dry_room_area:
                    continue
                steps = {s.name: StepChoice(chosen[s.name], {o.name: n for o, n in
                                                             zip(s.options, v, strict=True)}, lots[s.name])
                         for s, v in zip(route.line, combo, strict=True)}
                c = evaluate(PlantConfig(route, steps, dpc, capacity_gwh)).cost_per_kwh
                if c < best_cost:
                    best_cost, best = c, steps
    return best_cost, best


@pytest.mark.parametrize("seed,n_steps,levels,limits,credit", CASES + SLOW)
def test_milp_equals_brute_force(tmp_path, shared, seed, n_steps, levels, limits, credit):
    route = synthetic_route(tmp_path, n_steps, 2, levels, 2, seed, machines=(0.4, 1.0),
                            count_limits=limits, scrap_credit=credit, shared=shared)
    cap = capacity_for(route, 500)
    plan = optimize(route, cap, gap=1e-9)
    best_cost, best = brute_force(route, cap)
    if best is None:
        assert plan.config is None and plan.status.status == "infeasible"
        return
    assert plan.status.status == "optimal", plan.status.reason
    assert plan.cost.cost_per_kwh == pytest.approx(best_cost, rel=1e-6)
