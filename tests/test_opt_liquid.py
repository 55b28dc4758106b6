"""The liquid Li-ion baseline lands where the market does: a conventional cell costed
at 20-50 GWh/yr is 65-100 $/kWh (REFERENCE.md §3, BNEF 2023 cell 89 $/kWh)."""

from __future__ import annotations

import pytest

from ssbfab.data import resolve_route, route_files

ROUTE = "liquid-nmc811-graphite"
pytestmark = pytest.mark.skipif(ROUTE not in [p.stem for p in route_files()],
                                reason=f"route {ROUTE} is not in lines/routes yet")


@pytest.mark.parametrize("gwh", [20.0, 50.0])
def test_liquid_baseline_in_the_market_band(shared, gwh):
    from ssbfab.opt import optimize

    plan = optimize(resolve_route(ROUTE, shared=shared), gwh)
    assert plan.status.status == "optimal", plan.status.reason
    c = plan.cost
    assert 65.0 <= c.cost_per_kwh <= 100.0, c.by_category
    # materials dominate a Li-ion cell's cost (BatPaC 5.0: about three quarters)
    assert 0.6 <= c.by_category["materials"] / c.cost_per_kwh <= 0.9
