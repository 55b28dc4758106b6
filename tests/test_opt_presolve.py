"""The optimiser's presolve on instances built to reach each of its branches.

Random instances rarely make one option dominate another, or one level another, so
the brute-force oracle of test_opt_bruteforce never sees the guards of the presolve
at work. Here small routes are written so that they do: an option that is better in
every number but whose max_count cannot carry the step (it must not close the other
option), the same with a large max_count (it must), a dominated option with a
min_count, identical options, a level that is worse in everything, one that is
faster and better-yielding but dearer in energy, and identical levels. Each instance
checks what the presolve closed and that the MILP still finds the brute-force optimum.
"""

from __future__ import annotations

import copy

import pytest

from ssbfab.cell import design
from ssbfab.opt import optimize
from ssbfab.opt.data import Structure, min_cover_cost, numbers
from ssbfab.opt.synthetic import capacity_for, route_document, write_route
from test_opt_bruteforce import brute_force

CELLS_PER_HOUR = 500.0


def _opt(name, rate, capex, footprint, power, unit="cell", **kw) -> dict:
    u = "m^2" if unit == "m2" else unit
    return {"name": name, "capex": f"{capex} MUSD", "rate": f"{rate} {u}/h",
            "footprint": f"{footprint} m^2", "power": f"{power} kW",
            "operators_per_shift": kw.pop("operators", 1.0), **kw}


def _route(tmp_path, shared, final_options, levels=None, first_options=None, name="presolve",
           floor_area=1e9):
    """Two steps: s00 (one option unless given) feeds the final cell step s01."""
    doc = route_document(2, 1, 1, 1, 3, cells_per_hour=CELLS_PER_HOUR, name=name,
                         floor_area=floor_area)
    s0, s1 = doc["line"]
    for s in (s0, s1):
        s["environment"] = "ambient"
        s.pop("moisture", None)
    s1["options"] = final_options
    s1["lot_size"] = "10 cell"
    if first_options is not None:
        s0["options"] = first_options
    if levels is not None:
        s1.pop("yield", None)
        s1["levels"] = levels
    from ssbfab.data import load_route

    return load_route(write_route(tmp_path, doc), shared=shared)


def _presolve(route):
    st = Structure.of(route)
    nb = numbers(route, st, capacity_for(route, CELLS_PER_HOUR))
    return st, nb


def _check_optimum(route):
    cap = capacity_for(route, CELLS_PER_HOUR)
    plan = optimize(route, cap, gap=1e-9, lines=1)  # the brute force enumerates one line
    best_cost, best = brute_force(route, cap)
    assert best is not None
    assert plan.status.status == "optimal", plan.status.reason
    assert plan.cost.cost_per_kwh == pytest.approx(best_cost, rel=1e-6)
    return plan, best


# The final step starts about 500 / yield ≈ 520 cells/h. "good" beats "poor" in every
# number (cheaper, faster, smaller, less energy per cell).
GOOD = dict(name="good", rate=300, capex=1.0, footprint=50, power=10)
POOR = dict(name="poor", rate=200, capex=2.0, footprint=100, power=20)


def test_a_better_option_that_cannot_carry_the_step_leaves_the_other_open(tmp_path, shared):
    route = _route(tmp_path, shared, [_opt(**GOOD, max_count=1), _opt(**POOR)])
    _, nb = _presolve(route)
    assert nb.nub[("s01", "poor")] > 0  # not closed: one 'good' machine is not enough
    assert nb.nub[("s01", "good")] == 1
    plan, best = _check_optimum(route)
    assert best["s01"].machines == {"good": 1, "poor": 2}  # 300 + 2 x 200 >= 520
    assert plan.config.steps["s01"].machines == {"good": 1, "poor": 2}


def test_a_better_option_that_can_carry_the_step_closes_the_other(tmp_path, shared):
    route = _route(tmp_path, shared, [_opt(**POOR), _opt(**GOOD, max_count=10)])
    _, nb = _presolve(route)
    assert nb.nub[("s01", "poor")] == 0
    assert nb.nub[("s01", "good")] == 2  # ceil(520 / 300)
    plan, best = _check_optimum(route)
    assert plan.config.steps["s01"].machines.get("poor", 0) == 0


def test_a_dominated_option_with_a_min_count_stays_open(tmp_path, shared):
    route = _route(tmp_path, shared, [_opt(**GOOD, max_count=10), _opt(**POOR, min_count=1)])
    _, nb = _presolve(route)
    assert nb.nlb[("s01", "poor")] == 1 and nb.nub[("s01", "poor")] >= 1
    plan, _ = _check_optimum(route)
    assert plan.config.steps["s01"].machines["poor"] == 1


def test_an_option_better_in_all_but_energy_is_not_dominating(tmp_path, shared):
    # 'frugal' is slower and dearer but uses far less energy per cell: both stay open
    frugal = dict(name="frugal", rate=200, capex=2.0, footprint=100, power=0.5)
    route = _route(tmp_path, shared, [_opt(**GOOD, max_count=10), _opt(**frugal)])
    _, nb = _presolve(route)
    assert nb.nub[("s01", "good")] > 0 and nb.nub[("s01", "frugal")] > 0
    _check_optimum(route)


def test_identical_options_keep_the_first_open(tmp_path, shared):
    a = _opt(**dict(GOOD, name="twin_a"), max_count=10)
    b = _opt(**dict(GOOD, name="twin_b"), max_count=10)
    route = _route(tmp_path, shared, [a, b])
    st, nb = _presolve(route)
    assert nb.nub[("s01", "twin_a")] == 2 and nb.nub[("s01", "twin_b")] == 0
    assert st.twins == (("s01", "twin_a", "twin_b"),)
    _check_optimum(route)


def test_levels_worse_in_everything_or_identical_are_closed(tmp_path, shared):
    levels = [
        {"name": "base", "rate_factor": 1.2, "yield": "95 %", "energy_factor": 0.8},
        {"name": "worse", "rate_factor": 1.0, "yield": "93 %", "energy_factor": 1.0},
        # faster but worse yield and less energy per cell (0.9/1.5 < 0.8/1.2): open
        {"name": "fast", "rate_factor": 1.5, "yield": "90 %", "energy_factor": 0.9},
        {"name": "copy", "rate_factor": 1.2, "yield": "95 %", "energy_factor": 0.8},
        # faster and better-yielding, but more energy per cell: open
        {"name": "hungry", "rate_factor": 1.3, "yield": "96 %", "energy_factor": 1.4},
    ]
    route = _route(tmp_path, shared, [_opt(**GOOD, max_count=10)], levels=levels)
    _, nb = _presolve(route)
    assert {lv: nb.zub[("s01", lv)] for lv in ("base", "worse", "fast", "copy", "hungry")} == \
        {"base": 1.0, "worse": 0.0, "fast": 1.0, "copy": 0.0, "hungry": 1.0}
    # a closed level has no flow: its good-output bound is zero
    assert nb.gub[("s01", "worse", "any")] == 0.0 and nb.gub[("s01", "base", "any")] > 0
    _check_optimum(route)


def test_energy_hungry_level_is_not_chosen_when_energy_dominates(tmp_path, shared):
    """A level faster and better-yielding than another but far dearer in energy: with
    kW-heavy machines the optimum is the frugal level, which dominance must not close."""
    levels = [
        {"name": "hungry", "rate_factor": 1.3, "yield": "96 %", "energy_factor": 3.0},
        {"name": "frugal", "rate_factor": 1.0, "yield": "95 %", "energy_factor": 0.2},
    ]
    heavy = dict(GOOD, power=20000)
    route = _route(tmp_path, shared, [_opt(**heavy, max_count=10)], levels=levels)
    _, nb = _presolve(route)
    assert nb.zub[("s01", "frugal")] == 1.0
    plan, best = _check_optimum(route)
    assert best["s01"].level == "frugal" and plan.config.steps["s01"].level == "frugal"


def test_machine_limits_below_the_need_are_proved_with_the_most_output(tmp_path, shared):
    route = _route(tmp_path, shared, [_opt(**GOOD, max_count=1)])
    cap = capacity_for(route, CELLS_PER_HOUR)
    plan = optimize(route, cap, lines=1)  # one line: its machine limit binds
    assert plan.config is None and plan.status.status == "infeasible"
    # one machine of 300 cells/h at the step's yield makes at most this many GWh/yr
    y = route.step("s01").setting_levels[0].yield_
    most = 300 * route.economics.operating_hours_per_year * y * design(route).energy_kwh / 1e6
    assert f"at most {most:,.4g} GWh/yr" in plan.status.reason
    assert "'s01'" in plan.status.reason and "good max_count 1" in plan.status.reason


def test_a_floor_too_small_for_the_least_machines_is_proved(tmp_path, shared):
    # s01 needs at least 2 'good' machines (100 m²); s00 at least one of its own
    route = _route(tmp_path, shared, [_opt(**GOOD, max_count=10)], floor_area=120)
    _, nb = _presolve(route)
    least = 2 * 50 + _least_first_step_area(route)
    msgs = [m for m in nb.infeasible if "site floor area" in m]
    if least <= 120:
        assert not msgs
        return
    assert len(msgs) == 1 and f"at least {least:,.0f} m²" in msgs[0]
    assert optimize(route, capacity_for(route, CELLS_PER_HOUR)).config is None


def _least_first_step_area(route) -> float:
    import math

    from ssbfab import flow

    s0 = route.step("s00")
    o = s0.options[0]
    cells = capacity_for(route, CELLS_PER_HOUR) * 1e6 / design(route).energy_kwh
    started = flow.requirements(route, flow.nominal_yields(route)).started["s00"] * cells
    rate = o.batch_size / o.cycle_time if o.is_batch else o.rate_per_hour
    per_machine = rate * o.availability * route.economics.operating_hours_per_year
    return math.ceil(started / per_machine * (1 - 1e-9)) * o.footprint


# ----------------------------------------------------------------------------- min cover


@pytest.mark.parametrize("need, items, expected", [
    # the min_counts alone cover the need: their cost, nothing more
    (5.0, [(2.0, 3.0, 3, 6), (1.0, 1.0, 0, 4)], 9.0),
    # beyond the min_counts: 1 more of the cheaper per unit (cost 1 per 1.0) x 2
    (8.0, [(2.0, 3.0, 3, 6), (1.0, 1.0, 0, 4)], 11.0),
    # whole machines: a big one (cap 5, cost 4) beats three small (cap 2, cost 1.5)
    (5.0, [(5.0, 4.0, 0, 2), (2.0, 1.5, 0, 5)], 4.0),
    # nothing can be added beyond the min counts: their cost (the model is infeasible)
    (50.0, [(2.0, 3.0, 1, 1)], 3.0),
])
def test_min_cover_cost_at_its_edges(need, items, expected):
    assert min_cover_cost(need, items) == pytest.approx(expected, rel=1e-12)


def test_presolve_inputs_are_not_mutated(tmp_path, shared):
    route = _route(tmp_path, shared, [_opt(**GOOD, max_count=1), _opt(**POOR)])
    before = copy.deepcopy([o.model_dump() for o in route.step("s01").options])
    _presolve(route)
    assert [o.model_dump() for o in route.step("s01").options] == before
