"""Pieces of the MILP checked on their own: the exact machine-cost floor against
enumeration, materials against the bill of materials, and the yield limit that
leaves no plan. (That the benchmark's direct highspy build is the same model is
checked by benchmarks/bench_opt.py itself, before it measures anything.)"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ssbfab import bom
from ssbfab.cost import evaluate
from ssbfab.data import load_route, resolve_route, route_files
from ssbfab.opt import optimize
from ssbfab.opt.data import min_cover_cost
from ssbfab.opt.synthetic import capacity_for, route_document, synthetic_route, write_route


def _enumerate(need, items):
    best = math.inf
    for ns in itertools.product(*[range(lb, ub + 1) for _, _, lb, ub in items]):
        if sum(n * c for n, (c, _, _, _) in zip(ns, items, strict=True)) >= need * (1 - 1e-12):
            best = min(best, sum(n * k for n, (_, k, _, _) in zip(ns, items, strict=True)))
    return best


@pytest.mark.parametrize("seed", range(40))
def test_min_cover_cost_is_the_enumerated_minimum(seed):
    rng = np.random.default_rng(seed)
    items = [(float(rng.uniform(0.5, 3)), float(rng.uniform(1, 5)), int(rng.integers(0, 2)),
              int(rng.integers(2, 6))) for _ in range(int(rng.integers(1, 4)))]
    top = sum(c * ub for c, _, _, ub in items)
    need = float(rng.uniform(0.1, 0.95)) * top
    assert min_cover_cost(need, items) == pytest.approx(_enumerate(need, items), rel=1e-12)


def test_min_cover_cost_stays_a_lower_bound_when_it_stops_early():
    rng = np.random.default_rng(7)
    items = [(float(rng.uniform(0.5, 3)), float(rng.uniform(1, 5)), 0, 6) for _ in range(4)]
    need = 17.3
    assert min_cover_cost(need, items, max_nodes=3) <= _enumerate(need, items) + 1e-12


def test_materials_equal_the_bill_of_materials(tmp_path):
    """The cost's materials (linearised scrap credit) equal bom.py's per-material sum."""
    routes = [resolve_route(p.stem) for p in route_files()]
    for seed in range(4):
        routes.append(synthetic_route(tmp_path, 5, 2, (1, 3), 2, 300 + seed, scrap_credit=True))
    for r in routes:
        cap = 10.0 if not r.name.startswith("synthetic") else capacity_for(r, 500)
        plan = optimize(r, cap)
        cfg = plan.config
        # the plan's route runs the supply options it chose (make or buy)
        expect = bom.materials_cost_per_kwh(cfg.route, cfg.yields(),
                                            levels={s: c.level for s, c in cfg.steps.items()},
                                            dew_point_class=cfg.dew_point_class,
                                            zone_classes=cfg.zone_classes)
        assert evaluate(cfg).by_category["materials"] == pytest.approx(expect, rel=1e-9), r.name


def test_no_class_where_every_sensitive_step_works_is_refused_by_the_loader(tmp_path):
    """Two moisture-sensitive steps that each allow a different dry-room class only
    (a class missing from `yield_factor` is not allowed): no class is left, so the
    loader refuses the route, naming both steps and classes, before any optimiser
    runs (it used to load, and end in a no-plan answer)."""
    from ssbfab.errors import SpecError

    doc = route_document(3, 1, 1, 2, 5)
    for name, cls in (("s00", "dp-40"), ("s01", "dp-60")):
        step = next(s for s in doc["line"] if s["name"] == name)
        step["environment"] = "dry_room"
        step["moisture"] = {"yield_factor": {cls: "100 %"},
                            "excursion": {"effect": "loss", "extra_loss": "5 %"}}
    with pytest.raises(SpecError) as err:
        load_route(write_route(tmp_path, doc))
    reason = str(err.value)
    for word in ("s00", "s01", "dp-40", "dp-60", "dry-room class", "moisture.yield_factor"):
        assert word in reason


def test_a_time_limit_returns_a_status_not_an_exception(tmp_path):
    """Stopped by the clock: a Plan that says so (with the best plan if one was found)."""
    route = synthetic_route(tmp_path, 12, 6, 20, 3, 11, cells_per_hour=5000, machines=(3, 30))
    plan = optimize(route, capacity_for(route, 5000), time_limit=1e-3)
    assert plan.status.status in ("time_limit", "feasible", "optimal")
    assert (plan.config is None) == (plan.status.status == "time_limit")
    assert plan.status.reason


def test_thread_counts_can_change_between_solves(sulfide):
    costs = {optimize(sulfide, 10.0, threads=t, gap=1e-9).cost.cost_per_kwh for t in (1, 2, 1)}
    assert max(costs) == pytest.approx(min(costs), rel=1e-9)
