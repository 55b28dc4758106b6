"""Every shipped route has an optimal plan at every plant size from a 0.2 GWh/yr pilot
line to a 50 GWh/yr gigafactory, within its per-line machine limits and its site, with
the optimiser's objective equal to the cost of the plan it returns."""

from __future__ import annotations

import pytest

from ssbfab import cost
from ssbfab.data import resolve_route
from ssbfab.opt import OptModel

ROUTES = ["liquid-nmc811-graphite", "semisolid-oxide-polymer", "sulfide-lpscl",
          "halide-catholyte", "oxide-llzo", "polymer-peo"]
SIZES = [0.2, 1.0, 2.0, 10.0, 20.0, 50.0]  # GWh/yr

_MODELS: dict[str, OptModel] = {}


def _model(shared, name: str) -> OptModel:
    # one model per route, re-solved for each size (as a sweep does)
    if name not in _MODELS:
        _MODELS[name] = OptModel(resolve_route(name, shared=shared))
    return _MODELS[name]


@pytest.mark.parametrize("gwh", SIZES)
@pytest.mark.parametrize("name", ROUTES)
def test_every_route_has_an_optimal_plan_at_every_size(shared, name, gwh):
    model = _model(shared, name)
    route = model.route
    plan = model.solve(gwh)
    assert plan.ok, f"{name} at {gwh:g} GWh/yr: {plan.status.reason}"
    n = plan.lines
    assert plan.capacity_gwh == gwh and plan.line_capacity_gwh * n == pytest.approx(gwh)
    # per line: every option within its min_count..max_count (the steps of the line are
    # those of the supply options the plan chose)
    for s in plan.config.route.line:
        chosen = plan.config.steps[s.name].machines
        for o in s.options:
            assert o.min_count <= chosen.get(o.name, 0) <= o.max_count, (s.name, o.name)
    # the plant's lines share one site
    assert plan.floor_area_m2 <= route.plant.floor_area * (1 + 1e-9)
    assert plan.dry_room_area_m2 <= route.plant.dry_room_area * (1 + 1e-9)
    # the objective is the cost of the returned plan; the plant costs n times a line
    assert plan.status.objective == pytest.approx(plan.cost.cost_per_kwh, rel=1e-6)
    again = cost.evaluate(plan.config)
    assert again.cost_per_kwh == pytest.approx(plan.cost.cost_per_kwh, rel=1e-9)
    assert again.good_kwh_per_year * n == pytest.approx(gwh * 1e6, rel=1e-9)
    assert plan.capex_total == pytest.approx(n * again.capex_total, rel=1e-9)
    # fewer lines than chosen had no plan, or none cheaper
    for t in plan.line_search:
        if t.lines < n and t.cost_per_kwh is not None:
            assert t.cost_per_kwh >= plan.cost.cost_per_kwh * (1 - 1e-4), (t, n)
