"""Scrap that comes back (issue 12, item 5): off-spec powder reworked with its own
yield and cost, and a recycling credit per kg of scrapped material. Checked by hand
on the shipped sulfide route and by a conservation property of the simulator."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim_lines import config_with, days_for, load_line, step
from ssbfab.cli import app
from ssbfab.cost import evaluate
from ssbfab.data import resolve_route
from ssbfab.graph import LineGraph
from ssbfab.opt import optimize
from ssbfab.sim import compile_config
from ssbfab.sim.model import run_replication


@pytest.fixture(scope="module")
def plan(sulfide):
    return optimize(sulfide, 10.0)


def _same_plant(config, route):
    """The plan's machines and levels on another version of the route, running the
    plan's supply choice (make or buy)."""
    return config.__class__(route.with_supply(config.route.supply_choice), dict(config.steps),
                            config.dew_point_class, config.capacity_gwh,
                            zone_classes=dict(config.zone_classes))


def test_objective_is_evaluate(plan):
    assert plan.status.objective == pytest.approx(evaluate(plan.config).cost_per_kwh, rel=1e-6)


def test_rework_yield_and_cost_by_hand(sulfide, plan):
    """lpscl_annealing: 98 % first pass; 80 % of the 2 % scrap reworked, 90 % of it back:
    98 + 2 x 0.8 x 0.9 = 99.44 %; rework costs 4 USD per kg reworked."""
    graph = LineGraph.of(sulfide)
    lv = plan.config.steps["lpscl_annealing"].level
    assert graph.yield_at("lpscl_annealing", lv, None) == pytest.approx(0.9944, rel=1e-12)
    started = plan.cost.started_per_year["lpscl_annealing"]
    assert plan.cost.per_year["rework"] == pytest.approx(started * 0.02 * 0.8 * 4.0, rel=1e-12)
    # without rework the same plant starts more powder upstream of the anneal
    no_rw = resolve_route("sulfide-lpscl", overrides={
        "line.lpscl_annealing.rework.share": "0 %"})
    c0 = evaluate(_same_plant(plan.config, no_rw))
    assert c0.per_year["rework"] == 0.0
    ratio = c0.started_per_year["lpscl_milling"] / plan.cost.started_per_year["lpscl_milling"]
    assert ratio == pytest.approx(0.9944 / 0.98, rel=1e-12)


def test_recycling_credit_lowers_cost_by_hand(sulfide, plan):
    """5 USD per kg of NMC811 bought that does not end in a good cell."""
    graph = LineGraph.of(plan.config.route)
    c1 = plan.cost
    none = resolve_route("sulfide-lpscl", overrides={"materials.NMC811.recycling_credit": "0 USD/kg"})
    c0 = evaluate(_same_plant(plan.config, none))
    bought = sum(c1.started_per_year[s] * rate for (s, m), rate in graph.material_rates.items()
                 if m == "NMC811")
    in_cells = graph.design_bom["NMC811"] * c1.good_cells_per_year
    credit = 5.0 * (bought - in_cells)
    assert credit > 0
    assert c0.per_year["materials"] - c1.per_year["materials"] == pytest.approx(credit, rel=1e-9)
    assert c0.started_per_year == c1.started_per_year


@pytest.mark.parametrize("path,value,word", [
    ("materials.NMC811.recycling_credit", "-1 USD/kg", "recycling_credit"),
    ("materials.NMC811.recycling_credit", "100 USD/kg", "exceeds the price"),
    ("line.lpscl_annealing.rework.yield", "120 %", "yield"),
    ("line.lpscl_annealing.rework.cost", "4 USD/m^2", "cost"),
])
def test_impossible_rework_and_credits_are_bad_input(path, value, word):
    r = CliRunner().invoke(app, ["cell", "sulfide-lpscl", "--set", f"{path}={value}"])
    assert r.exit_code == 2, r.output
    assert word in r.output and "Traceback" not in r.output


def _rework_line(y: int, share: int, ry: int, lot: float) -> list[dict]:
    a = step("a", "kg", rate=lot * 2, lot=lot, yield_=f"{y} %", buffer=8)
    a["rework"] = {"share": f"{share} %", "yield": f"{ry} %", "cost": "3 USD/kg"}
    b = step("b", rate=2, lot=1, inputs=[{"step": "a", "per_cell": f"{lot} kg"}])
    return [a, b]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(y=st.integers(30, 99), share=st.integers(0, 100), ry=st.integers(1, 100),
       lot=st.sampled_from([1.0, 7.0, 250.0]), seed=st.integers(0, 50))
def test_kg_in_is_good_plus_reworked_plus_scrap_plus_in_process(tmp_path, shared, y, share,
                                                              ry, lot, seed):
    route = load_line(tmp_path, _rework_line(y, share, ry, lot), name="rework", shared=shared)
    model = compile_config(config_with(route), days=days_for(route, 200), warmup_days=0)
    raw = run_replication(model, seed=seed, rep=0)
    e = raw["steps"][0]["exact"]
    first_pass_good = e["good"] - e["reworked"]
    assert e["started"] == first_pass_good + e["reworked"] + e["scrapped"] + e["inproc_end"]
    assert min(first_pass_good, e["reworked"], e["scrapped"]) >= 0
    if share == 0:
        assert e["reworked"] == 0


def test_simulated_rework_matches_the_expected_share(tmp_path, shared):
    """Over many pieces the reworked share of started is (1 - y)·share·yield_rework."""
    route = load_line(tmp_path, _rework_line(70, 50, 80, 1000.0), name="rework-mean", shared=shared)
    model = compile_config(config_with(route), days=days_for(route, 2000), warmup_days=0)
    raw = run_replication(model, seed=5, rep=0)
    e = raw["steps"][0]["exact"]
    done = e["started"] - e["inproc_end"]
    assert e["reworked"] / done == pytest.approx(0.3 * 0.5 * 0.8, rel=0.03)
    assert e["good"] / done == pytest.approx(0.7 + 0.12, rel=0.01)
    assert model.steps[0].effective_yield == pytest.approx(0.82, rel=1e-12)


def test_stats_carry_the_reworked_units(tmp_path, shared):
    from ssbfab.sim import simulate

    route = load_line(tmp_path, _rework_line(70, 50, 80, 100.0), name="rework-stats", shared=shared)
    res = simulate(config_with(route), days=days_for(route, 500), warmup_days=days_for(route, 10),
                   reps=2, workers=1)
    st = res.stats.steps["a"]
    for started, good, reworked in zip(st.per_rep["started"], st.per_rep["good"],
                                       st.per_rep["reworked"], strict=True):
        assert 0 < reworked < good <= started
        assert reworked / started == pytest.approx(0.3 * 0.5 * 0.8, rel=0.25)
