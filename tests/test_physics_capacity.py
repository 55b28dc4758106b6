"""Pressing and interface change the energy a cell delivers, not only its yield
(issue 12, item 4): a setting level's `capacity_factor` scales the cell's delivered
energy, the cost per kWh divides by it, and the optimiser trades a step's speed
against kWh per cell."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from ssbfab.cli import app
from ssbfab.cost import evaluate
from ssbfab.data import load_route
from ssbfab.errors import SpecError
from ssbfab.graph import LineGraph
from ssbfab.opt import optimize
from ssbfab.opt.synthetic import capacity_for, route_document, write_route
from test_opt_bruteforce import brute_force


def _doc(seed: int, factors: dict[str, str]) -> dict:
    """A 3-step synthetic route whose last step has two levels with the given capacity
    factors (level name -> text)."""
    doc = route_document(3, 2, (2, 2), 2, seed)
    final = doc["line"][-1]
    final.pop("yield", None)
    final["levels"] = [
        {"name": "slow", "rate_factor": 0.7, "yield": "97 %", "energy_factor": 1.2},
        {"name": "fast", "rate_factor": 1.5, "yield": "95 %", "energy_factor": 0.8}]
    for lv in final["levels"]:
        if lv["name"] in factors:
            lv["capacity_factor"] = factors[lv["name"]]
    return doc


def _route(tmp_path, shared, seed, factors, name="cf"):
    doc = _doc(seed, factors)
    doc["name"] = name
    return load_route(write_route(tmp_path, doc), shared=shared)


def test_lower_capacity_raises_cost_per_kwh_by_the_energy_ratio(tmp_path, shared):
    """Everything else equal (the same plant making the same cells a year), a level
    that delivers 80 % of the capacity costs 1/0.8 as much per kWh."""
    full = _route(tmp_path, shared, 11, {}, "full")
    less = _route(tmp_path, shared, 11, {"fast": "80 %"}, "less")
    assert LineGraph.of(less).cell_energy({"s02": "fast"}) == pytest.approx(
        0.8 * LineGraph.of(full).energy_kwh, rel=1e-12)
    cap = capacity_for(full, 300)
    plan = optimize(full, cap, lines=1)
    cfg = plan.config
    fast = {s: (c.level if s != "s02" else "fast") for s, c in cfg.steps.items()}
    a = evaluate(cfg.__class__(full, {s: c.__class__(fast[s], c.machines, c.lot_size)
                                      for s, c in cfg.steps.items()}, cfg.dew_point_class, cap))
    b_cfg = cfg.__class__(less, {s: c.__class__(fast[s], c.machines, c.lot_size)
                                 for s, c in cfg.steps.items()}, cfg.dew_point_class, 0.8 * cap)
    b = evaluate(b_cfg)
    assert b.good_cells_per_year == pytest.approx(a.good_cells_per_year, rel=1e-12)
    assert b.cost_per_kwh == pytest.approx(a.cost_per_kwh / 0.8, rel=1e-12)
    assert b_cfg.good_cells_per_year() == pytest.approx(a.good_cells_per_year, rel=1e-12)


@pytest.mark.parametrize("seed", [8, pytest.param(3, marks=pytest.mark.slow),
                                  pytest.param(5, marks=pytest.mark.slow)])
@pytest.mark.parametrize("factor", ["100 %", "70 %"])
def test_optimiser_trades_speed_against_kwh_per_cell(tmp_path, shared, seed, factor):
    """The MILP's plan is the brute-force optimum when the fast level delivers less
    (the enumeration divides by each combination's delivered energy), its objective
    is `evaluate` to 1e-6, and a large loss of capacity turns it to the slow level."""
    route = _route(tmp_path, shared, seed, {"fast": factor}, f"cf{seed}")
    cap = capacity_for(route, 400)
    plan = optimize(route, cap, gap=1e-9, lines=1)
    assert plan.status.status == "optimal", plan.status.reason
    assert plan.status.objective == pytest.approx(evaluate(plan.config).cost_per_kwh, rel=1e-6)
    best_cost, best = brute_force(route, cap)
    assert plan.cost.cost_per_kwh == pytest.approx(best_cost, rel=1e-6)
    assert plan.config.steps["s02"].level == best["s02"].level
    if factor == "70 %":  # 30 % fewer kWh per cell outweighs a faster, cheaper step
        assert plan.config.steps["s02"].level == "slow"


def test_simulator_counts_delivered_energy(tmp_path, shared):
    """The simulator's good GWh are its good cells × the delivered energy per cell."""
    from ssbfab.sim.linemodel import compile_config

    route = _route(tmp_path, shared, 11, {"fast": "80 %", "slow": "90 %"}, "simcf")
    plan = optimize(route, capacity_for(route, 300), lines=1)
    model = compile_config(plan.config)
    lv = plan.config.steps["s02"].level
    expect = LineGraph.of(route).energy_kwh * (0.8 if lv == "fast" else 0.9)
    assert model.cell_energy_kwh == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("bad,word", [("120 %", "capacity_factor"), ("0 %", "capacity_factor")])
def test_impossible_capacity_factor_is_bad_input(tmp_path, bad, word):
    doc = _doc(4, {"fast": bad})
    path = write_route(tmp_path, doc)
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 2, res.output
    assert word in res.output and path.name in res.output
    assert "Traceback" not in res.output


def test_two_capacity_steps_are_refused(tmp_path):
    doc = _doc(4, {"fast": "90 %"})
    doc["line"][0].pop("yield", None)
    doc["line"][0]["levels"] = [{"name": "a", "yield": "95 %", "capacity_factor": "95 %"}]
    path = write_route(tmp_path, doc)
    with pytest.raises(SpecError) as err:
        load_route(path)
    text = str(err.value)
    assert "line.0.levels.0.capacity_factor" in text or "line.2.levels" in text
    assert "at most one step" in text
    assert yaml.safe_load(path.read_text())["name"]


def test_materials_per_kwh_divide_by_the_delivered_energy(tmp_path, shared):
    """`bom.materials_cost_per_kwh` divides by the energy a good cell delivers, as the
    cost roll-up does: at the level that delivers 80 %, the bill of materials per good
    cell / (0.8 × the design's kWh), which is `evaluate`'s materials category."""
    from ssbfab import bom

    less = _route(tmp_path, shared, 11, {"fast": "80 %"}, "bomcf")
    plan = optimize(less, capacity_for(less, 300), lines=1)
    cfg = plan.config
    levels = {s: (c.level if s != "s02" else "fast") for s, c in cfg.steps.items()}
    fast = cfg.__class__(less, {s: c.__class__(levels[s], c.machines, c.lot_size)
                                for s, c in cfg.steps.items()}, cfg.dew_point_class, cfg.capacity_gwh)
    ys = fast.yields()
    per_cell = sum(b.cost_per_cell for b in bom.bill_of_materials(less, ys))
    by_hand = per_cell / (0.8 * LineGraph.of(less).energy_kwh)
    got = bom.materials_cost_per_kwh(less, ys, levels=levels, dew_point_class=cfg.dew_point_class)
    assert got == pytest.approx(by_hand, rel=1e-12)
    assert evaluate(fast).by_category["materials"] == pytest.approx(by_hand, rel=1e-9)
    # the design's energy (the old divisor) would understate it by 20 %
    assert bom.materials_cost_per_kwh(less, ys, levels={"s02": "slow"}) == pytest.approx(
        0.8 * by_hand, rel=1e-12)
