"""Decisions under uncertainty against independent truth: the deterministic planner (one
scenario), a newsvendor solved by hand (critical fractile, VSS, EVPI), a reserve option
priced by hand, CVaR by hand, the order WS >= RP >= EEV on random trees, the tree's
sharing of decisions, and progressive hedging against the extensive form."""

from __future__ import annotations

import math
import textwrap

import pytest

from ssbfab.errors import InputError
from ssbfab.roadmap import solve as rsolve
from ssbfab.roadmap.decide import solve_stochastic
from ssbfab.roadmap.designs import LineDesign
from ssbfab.roadmap.load import load_roadmap
from ssbfab.roadmap.stochastic import (
    Job,
    build_extensive,
    cvar,
    make_problem,
    risk_objective,
    rp_groups,
    scenario_data,
    solve_job_extensive,
)
from ssbfab.roadmap.tree import base_state, build_tree, scenario_state

SEMI, SULF = "semisolid-oxide-polymer", "sulfide-lpscl"


def fake(route, size, capex, fixed=0.0, materials=0.0, material="Li2S"):
    """A line design without the plant optimiser; its materials are one material priced
    100 USD/kg (the roadmaps below price Li2S at that), so a price factor scales them."""
    eq = {"s1": 0.6 * capex, "s2": 0.2 * capex}
    return LineDesign(route=route, size_gwh=size, costing="annuity", cost_per_kwh=float("nan"),
                      equipment_by_step=eq, building_usd=capex - sum(eq.values()),
                      dry_room_usd=0.0, fixed_usd_per_year=fixed, process_energy_usd_per_gwh=0.0,
                      materials_usd_per_gwh=materials, materials_share={material: 1.0},
                      base_prices={material: 100.0}, machines={}, wh_per_kg=300, wh_per_l=700,
                      liquid=True, confirmed="test design")


# asymmetric on purpose: the sulfide line is dearer to build, cheaper to run at volume
DESIGNS = {(SEMI, 2.0): fake(SEMI, 2.0, 150e6, 10e6, 60e6, material="NMC811"),
           (SULF, 0.5): fake(SULF, 0.5, 60e6, 5e6, 70e6),
           (SULF, 2.0): fake(SULF, 2.0, 140e6, 9e6, 52e6)}

TWO_ROUTES = """
    name: tiny
    source: illustrative
    periods: {{start: 2026, end: 2029}}
    discount_rate: "8 %"
    objective: npv
    learning_mode: none
    line_sizes: ["2 GWh/yr"]
    gap: 0
    prices: {{Li2S: {{2026: "100 USD/kg"}}}}
    routes:
      {semi}: {{pilot_from: 2020, volume_from: 2020, lead_time: "1 yr", life: "10 yr"}}
      {sulf}: {{pilot_from: 2020, volume_from: 2027, lead_time: "1 yr", life: "10 yr",
                pilot_size: "0.5 GWh/yr", sizes: ["0.5 GWh/yr", "2 GWh/yr"]}}
    segments:
      ev:
        demand: {{2026: "3 GWh/yr", 2029: "6 GWh/yr"}}
        price: {{2026: "120 USD/kWh"}}
      robots:
        demand: {{2026: "0 GWh/yr", 2027: "0.3 GWh/yr", 2029: "1 GWh/yr"}}
        price: {{2026: "260 USD/kWh"}}
        requires: {{min_wh_per_kg: 330, no_liquid: true}}
    """


def write(tmp_path, text, name="rm.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def tiny(tmp_path, uncertainty: str = "", **fmt):
    body = textwrap.dedent(TWO_ROUTES).format(semi=SEMI, sulf=SULF, **fmt)
    return write(tmp_path, body + textwrap.dedent(uncertainty))


TREE_3 = """
    uncertainty:
      stages: [2026, 2027, 2028]
      branches:
        2027:
          - {name: dear, probability: "35 %", inputs: {prices.Li2S: 1.8}}
          - {name: cheap, probability: "65 %", inputs: {prices.Li2S: 0.6}}
        2028:
          - {name: small, probability: "50 %", inputs: {segments.ev.demand: 0.4}}
          - {name: big, probability: "50 %", inputs: {segments.ev.demand: 1.7}}
    """


RESERVE_LINE = f'  reserve: {{route: {SULF}, size: "0.5 GWh/yr"}}\n'


def lines_of(periods, years):
    return [{r: dict(v) for r, v in p["lines"].items()} for p in periods if p["year"] in years]


# ----------------------------------------------------------------------------- limit cases


@pytest.mark.parametrize("tree", ["", """
    uncertainty:
      stages: [2026, 2028]
      branches:
        2028: [{name: only, probability: 1}]
    """])
def test_a_one_scenario_tree_is_the_deterministic_roadmap(tmp_path, monkeypatch, tree):
    f = tiny(tmp_path, tree)
    monkeypatch.setattr(rsolve, "line_design", lambda route, size, **kw: DESIGNS[(route.name,
                                                                                  size)])
    det = rsolve.plan_roadmap(f)
    st = solve_stochastic(f, designs=DESIGNS)
    assert st.to_dict()["scenarios"] == 1
    assert st.expected_npv == pytest.approx(det.npv, rel=1e-9)
    years = [p["year"] for p in det.periods]
    assert lines_of(st.scenarios[0]["periods"], years) == lines_of(det.periods, years)
    assert any(v["built"] for p in det.periods for v in p["lines"].values())  # not empty
    assert st.vss == pytest.approx(0.0, abs=1e-6 * abs(det.npv))
    assert st.evpi == pytest.approx(0.0, abs=1e-6 * abs(det.npv))


def test_risk_weight_zero_and_alpha_zero_are_risk_neutral(tmp_path):
    neutral = solve_stochastic(tiny(tmp_path, TREE_3), designs=DESIGNS)
    w0 = solve_stochastic(tiny(tmp_path, TREE_3 + '  risk: {alpha: "80 %", weight: 0}\n'),
                          designs=DESIGNS)
    a0 = solve_stochastic(tiny(tmp_path, TREE_3 + "  risk: {alpha: 0, weight: 1}\n"),
                          designs=DESIGNS)
    assert w0.first_stage == neutral.first_stage
    assert w0.expected_npv == pytest.approx(neutral.expected_npv, rel=1e-9)
    # CVaR at alpha = 0 is the expectation: E + 1·CVaR = 2 E, same decisions
    assert a0.first_stage == neutral.first_stage
    assert a0.cvar["value"] == pytest.approx(a0.expected_npv, rel=1e-9)
    assert a0.objective_value == pytest.approx(2 * neutral.expected_npv, rel=1e-9)


def test_risk_aversion_trades_expectation_for_the_tail(tmp_path):
    neutral = solve_stochastic(tiny(tmp_path, TREE_3 + '  risk: {alpha: "75 %", weight: 0}\n'),
                               designs=DESIGNS)
    averse = solve_stochastic(tiny(tmp_path, TREE_3 + '  risk: {alpha: "75 %", weight: 20}\n'),
                              designs=DESIGNS)
    tol = 1e-6 * abs(neutral.expected_npv)
    assert averse.expected_npv <= neutral.expected_npv + tol
    assert averse.cvar["value"] >= neutral.cvar["value"] - tol
    # the tree is such that the weight matters (otherwise this test proves nothing)
    assert averse.cvar["value"] > neutral.cvar["value"] + 1e-3 * abs(neutral.cvar["value"])


def test_the_rockafellar_uryasev_objective_is_the_cvar_of_the_values(tmp_path):
    import pyomo.environ as pyo

    from ssbfab.roadmap.solve import _solve

    lr = load_roadmap(tiny(tmp_path, TREE_3 + '  risk: {alpha: "60 %", weight: 3}\n'))
    problem, tree, _ = make_problem(lr, DESIGNS)
    ef, _, vals = build_extensive(problem, Job("rp", rp_groups(tree)))
    _solve(ef, 60, 0.0)
    values = [1e6 * pyo.value(v) for v in vals]
    probs = [c.probability for c in problem.cases]
    assert 1e6 * pyo.value(ef.obj) == pytest.approx(risk_objective(values, probs, 0.6, 3.0),
                                                    rel=1e-7)
    res = solve_job_extensive(problem, Job("rp", rp_groups(tree)))
    assert res.objective == pytest.approx(1e6 * pyo.value(ef.obj), rel=1e-7)


def test_cvar_by_hand():
    v, p = [4.0, 1.0, 3.0, 2.0], [0.25] * 4
    assert cvar(v, p, 0.5) == pytest.approx(1.5)  # mean of the worst half: 1 and 2
    assert cvar(v, p, 0.6) == pytest.approx((0.25 * 1 + 0.15 * 2) / 0.4)
    assert cvar(v, p, 0.0) == pytest.approx(2.5)  # the mean
    assert cvar([5.0, -1.0], [0.9, 0.1], 0.95) == pytest.approx(-1.0)  # the worst alone


# ----------------------------------------------------------------------------- newsvendor

NEWSVENDOR = """
    name: newsvendor
    source: illustrative
    periods: {{start: 2026, end: 2027}}
    discount_rate: "0 %"
    objective: cost
    unmet_penalty: "250 USD/kWh"
    salvage: none
    learning_mode: none
    line_sizes: ["1 GWh/yr"]
    gap: 0
    routes:
      {semi}: {{pilot_from: 2020, volume_from: 2020, lead_time: "1 yr", life: "10 yr"}}
    segments:
      ev: {{demand: {{2026: "0 GWh/yr", 2027: "5 GWh/yr"}}}}
    uncertainty:
      stages: [2026, 2027]
      branches:
        2027:
          - {{name: low, probability: {p_low}, inputs: {{segments.ev.demand: {{2027: "3 GWh/yr"}}}}}}
          - {{name: high, probability: {p_high}, inputs: {{segments.ev.demand: {{2027: "7 GWh/yr"}}}}}}
    """


@pytest.mark.parametrize("p_high, lines, vss, evpi", [
    # capacity K = 100 MUSD per GWh/yr line, shortfall 250 MUSD per GWh/yr: critical
    # fractile 1 - K/penalty = 0.6. P(high) = 0.3: F(3) = 0.7 >= 0.6, build 3 lines;
    # the EV plan (mean 4.2) builds 4: EEV 400 + 0.3·250·3 = 625 vs RP 300 + 0.3·250·4 = 600;
    # WS 0.3·700 + 0.7·300 = 420. P(high) = 0.7: F(3) = 0.3 < 0.6, build 7; EV (mean 5.8)
    # builds 6: EEV 600 + 0.7·250 = 775 vs RP 700; WS 0.7·700 + 0.3·300 = 580.
    (0.3, 3, 25e6, 180e6),
    (0.7, 7, 75e6, 120e6),
])
def test_newsvendor_builds_the_critical_fractile(tmp_path, p_high, lines, vss, evpi):
    f = write(tmp_path, NEWSVENDOR.format(semi=SEMI, p_low=round(1 - p_high, 10),
                                          p_high=p_high))
    designs = {(SEMI, 1.0): fake(SEMI, 1.0, 100e6)}
    r = solve_stochastic(f, designs=designs)
    built = r.first_stage[0]["lines"][SEMI]["built"]
    assert built == lines
    cost = 100e6 * lines + 250e6 * (p_high * max(0, 7 - lines) + (1 - p_high) * max(0, 3 - lines))
    assert r.expected_npv == pytest.approx(-cost, rel=1e-9)
    assert r.vss == pytest.approx(vss, rel=1e-9)
    assert r.evpi == pytest.approx(evpi, rel=1e-9)


# ----------------------------------------------------------------------------- the reserve

RESERVE = """
    name: reserve
    source: illustrative
    periods: {{start: 2026, end: 2027}}
    discount_rate: "0 %"
    objective: npv
    salvage: none
    learning_mode: none
    line_sizes: ["0.5 GWh/yr"]
    gap: 0
    routes:
      {sulf}: {{pilot_from: 2026, volume_from: 2030, pilot_size: "0.5 GWh/yr", lead_time: "1 yr",
                life: "10 yr"}}
    segments:
      robots:
        demand: {{2026: "0 GWh/yr", 2027: "0.5 GWh/yr"}}
        price: {{2026: "400 USD/kWh"}}
        requires: {{no_liquid: true}}
    uncertainty:
      stages: [2026, 2027]
      branches:
        2027:
          - {{name: market, probability: {p}}}
          - {{name: none, probability: {q}, inputs: {{segments.robots.demand: 0}}}}
      reserve: {{route: {sulf}, size: "0.5 GWh/yr"}}
    """


@pytest.mark.parametrize("p", [0.6, 0.9])
def test_reserve_value_by_hand(tmp_path, p):
    """A pilot line (150 MUSD) that sells 0.5 GWh at 400 USD/kWh only if the market comes:
    with it -150 + p·200 MUSD, without it 0."""
    f = write(tmp_path, RESERVE.format(sulf=SULF, p=p, q=round(1 - p, 10)))
    r = solve_stochastic(f, designs={(SULF, 0.5): fake(SULF, 0.5, 150e6)})
    assert r.reserve["with"] == pytest.approx(-150e6 + p * 200e6, rel=1e-9)
    assert r.reserve["without"] == pytest.approx(0.0, abs=1e-3)
    assert r.reserve_value == pytest.approx(-150e6 + p * 200e6, rel=1e-9)
    assert r.reserve["in_solution"] is (p > 0.75)
    assert r.objective_value == pytest.approx(max(r.reserve["with"], r.reserve["without"]),
                                              rel=1e-9, abs=1e-3)


# ----------------------------------------------------------------------------- random trees

GENERATED = """
    uncertainty:
      stages: [2026, 2027, 2028]
      generate:
        seed: {seed}
        branches: 2
        inputs:
          segments.ev.demand: {{distribution: lognormal, median: 1, sigma: 0.5, stage: 2027}}
          prices.Li2S: {{distribution: uniform, low: 0.3, high: 2.5, stage: 2028}}
          routes.{sulf}.volume_from: {{distribution: uniform, low: 2027, high: 2029.4, stage: 2027}}
    """


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_vss_and_evpi_are_nonnegative_on_random_trees(tmp_path, seed):
    r = solve_stochastic(tiny(tmp_path, GENERATED.format(seed=seed, sulf=SULF)),
                         designs=DESIGNS)
    v = r.values
    tol = 1e-7 * abs(v["rp"])
    assert r.to_dict()["scenarios"] == 4
    assert v["ws"] >= v["rp"] - tol >= v["eev"] - 2 * tol
    assert r.vss >= -tol and r.evpi >= -tol
    for name, x in r.evpi_by_input.items():
        assert -tol <= x <= r.evpi + tol, name  # knowing one input is worth at most all
    for key, x in (("vss", r.vss), ("evpi", r.evpi)):  # the certain range holds the value
        lo, hi = v["ranges"][key]
        assert lo - tol <= x <= hi + tol, key


def test_non_anticipativity_holds_and_later_stages_adapt(tmp_path):
    r = solve_stochastic(tiny(tmp_path, TREE_3), designs=DESIGNS)
    tree = build_tree(load_roadmap(tiny(tmp_path, TREE_3)))
    stage_years = {0: [2026], 1: [2027], 2: [2028, 2029]}
    decided = ("built", "converted_in", "converted_out", "retired")

    def decisions(s, years):
        return [(p["year"], r_, {k: v[k] for k in decided}) for p in s["periods"]
                if p["year"] in years for r_, v in p["lines"].items()]

    differ = 0
    for t, years in stage_years.items():
        by_node: dict = {}
        for s, sc in zip(r.scenarios, tree.scenarios, strict=True):
            by_node.setdefault(sc.nodes[t], []).append(decisions(s, years))
        for node, ds in by_node.items():
            if t < 2:
                assert all(d == ds[0] for d in ds), (t, node)
        all_ds = [decisions(s, years) for s in r.scenarios]
        differ += len({repr(d) for d in all_ds}) > 1
    assert differ >= 1  # some stage adapts to what was learnt (the tree matters)


# ----------------------------------------------------------------------------- the tree


def test_paths_change_from_the_branch_year_and_factors_multiply(tmp_path):
    lr = load_roadmap(tiny(tmp_path, """
        uncertainty:
          stages: [2026, 2027, 2028]
          branches:
            2027: [{name: a, probability: 1, inputs: {segments.ev.demand: 2}}]
            2028: [{name: b, probability: 1, inputs: {segments.ev.demand: 0.25,
                    segments.robots.price: {2028: "100 USD/kWh", 2029: "50 USD/kWh"}}}]
        """))
    tree = build_tree(lr)
    st = scenario_state(lr, tree.scenarios[0].changes, base_state(lr))
    # base ev demand: 3, 4, 5, 6 GWh/yr in 2026..2029
    assert st["segments.ev.demand"] == pytest.approx({2026: 3, 2027: 8, 2028: 2.5, 2029: 3})
    assert st["segments.robots.price"] == pytest.approx({2026: 260, 2027: 260, 2028: 100,
                                                          2029: 50})
    d = scenario_data(lr, DESIGNS, st)
    assert [d.demand[("ev", p)] for p in range(4)] == pytest.approx([3, 8, 2.5, 3])


def test_yield_and_availability_of_a_scenario(tmp_path):
    lr = load_roadmap(tiny(tmp_path, f"""
        uncertainty:
          stages: [2026, 2027]
          branches:
            2027: [{{name: a, probability: 1, inputs: {{routes.{SULF}.yield: "80 %",
                                                        routes.{SULF}.volume_from: 2028}}}}]
        """))
    tree = build_tree(lr)
    base = scenario_data(lr, DESIGNS, base_state(lr))
    d = scenario_data(lr, DESIGNS, scenario_state(lr, tree.scenarios[0].changes))
    k = "new:sulfide-lpscl:0.5:2026"
    assert d.ramp[(k, 1)] == pytest.approx(0.8 * base.ramp[(k, 1)])
    assert d.variable[(k, 1)] == pytest.approx(base.variable[(k, 1)] / 0.8)
    vol = {c.key for c in d.cohorts if c.route == SULF and c.size == 2.0}
    assert "new:sulfide-lpscl:2:2027" in {c.key for c in base.cohorts}
    assert "new:sulfide-lpscl:2:2027" not in vol and "new:sulfide-lpscl:2:2028" in vol


def test_a_generated_tree_is_reproducible(tmp_path):
    f = tiny(tmp_path, GENERATED.format(seed=5, sulf=SULF))
    a, b = build_tree(load_roadmap(f)), build_tree(load_roadmap(f))
    assert a == b
    c = build_tree(load_roadmap(tiny(tmp_path, GENERATED.format(seed=6, sulf=SULF))))
    assert [s.changes for s in c.scenarios] != [s.changes for s in a.scenarios]
    assert [s.probability for s in a.scenarios] == pytest.approx([0.25] * 4)
    years = {x.input: x.year for s in a.scenarios for x in s.changes}
    assert years == {"segments.ev.demand": 2027, "prices.Li2S": 2028,
                     f"routes.{SULF}.volume_from": 2027}
    # each node draws its own 2028 values
    li = [next(x.value for x in s.changes if x.input == "prices.Li2S") for s in a.scenarios]
    assert len(set(li)) == 4


@pytest.mark.parametrize("tree, field, words", [
    ("""
      stages: [2026, 2028]
      branches:
        2028: [{name: a, probability: "60 %"}, {name: b, probability: "30 %"}]
     """, "uncertainty.branches", "sum to 0.9"),
    ("""
      stages: [2026, 2028]
      branches:
        2028: [{name: a, probability: 1, inputs: {segments.evv.demand: 2}}]
     """, "uncertainty.branches.2028.0.inputs.segments.evv.demand", "did you mean 'ev'"),
    ("""
      stages: [2026, 2028]
      branches:
        2028: [{name: a, probability: 1, inputs: {prices.Li2S: -1}}]
     """, "uncertainty.branches.2028.0.inputs.prices.Li2S", "non-negative factor"),
    ("""
      stages: [2026, 2028]
      branches:
        2028: [{name: a, probability: 1, inputs: {segments.ev.demand: {2027: "1 GWh/yr"}}}]
     """, "uncertainty.branches.2028.0.inputs.segments.ev.demand", "years before it"),
    ("""
      stages: [2027, 2028]
     """, "uncertainty.stages", "first year 2026"),
    ("""
      stages: [2026, 2028]
      branches:
        2028: [{name: a, probability: 1, inputs: {routes.semisolid-oxide-polymer.learning: 0.2}}]
     """, "learning", "no `learning:`"),
    ("""
      stages: [2026, 2028]
      generate: {seed: 1, branches: 2, inputs: {bogus.thing: {distribution: uniform, low: 0, high: 1}}}
     """, "uncertainty.generate.inputs.bogus.thing", "unknown uncertain input"),
])
def test_bad_trees_name_file_line_and_field(tmp_path, tree, field, words):
    f = tiny(tmp_path, "uncertainty:" + textwrap.indent(textwrap.dedent(tree), "  "))
    with pytest.raises(InputError) as exc:
        lr = load_roadmap(f)
        build_tree(lr)
    probs = exc.value.problems
    assert any(field in p.field and words in p.message and p.line and p.file == str(f)
               for p in probs), [str(p) for p in probs]


def test_unit_cost_by_hand_with_a_yield_change(tmp_path):
    """Cost per kWh of a mature 2 GWh/yr sulfide line: (capital charge + fixed) / good kWh
    + materials / yield share, the capital charge with the route's annuity factors."""
    r = solve_stochastic(tiny(tmp_path, f"""
        uncertainty:
          stages: [2026, 2028]
          branches:
            2028:
              - {{name: poor, probability: "50 %", inputs: {{routes.{SULF}.yield: "80 %"}}}}
              - {{name: good, probability: "50 %"}}
        """), designs=DESIGNS)
    lr = load_roadmap(tiny(tmp_path, ""))
    problem, _, _ = make_problem(lr, DESIGNS)
    ce, cb = problem.cases[0].data.crf[SULF]
    des = DESIGNS[(SULF, 2.0)]
    charge = (sum(des.equipment_by_step.values()) + des.dry_room_usd) * ce + des.building_usd * cb
    for s, f in zip(r.scenarios, (0.8, 1.0), strict=True):
        want = (charge + des.fixed_usd_per_year) / (2e6 * f) + des.materials_usd_per_gwh / (1e6 * f)
        small = DESIGNS[(SULF, 0.5)]
        charge_s = (sum(small.equipment_by_step.values())) * ce + small.building_usd * cb
        pilot = (charge_s + small.fixed_usd_per_year) / (0.5e6 * f) + small.materials_usd_per_gwh / (1e6 * f)
        assert s["unit_cost"][2029][SULF] == pytest.approx(min(want, pilot), rel=1e-9)
    probs = [x["probability"] for x in r.allsolid_cheaper]
    assert probs == sorted(probs) and all(0 <= x <= 1 + 1e-12 for x in probs)


def test_contract(tmp_path):
    import json

    r = solve_stochastic(tiny(tmp_path, TREE_3 + f'  reserve: {{route: {SULF}, size: "0.5 GWh/yr"}}\n'),
                         designs=DESIGNS)
    doc = json.loads(json.dumps(r.to_dict()))
    for k in ("scenarios", "expected_npv", "cvar", "vss", "evpi", "reserve_value",
              "first_stage", "solver"):
        assert k in doc, k
    assert doc["scenarios"] == 4 and set(doc["cvar"]) >= {"alpha", "weight", "value"}
    assert doc["solver"]["name"] == "extensive" and doc["solver"]["status"] == "optimal"
    assert doc["first_stage"][0]["year"] == 2026
    assert set(doc["first_stage"][0]["lines"][SEMI]) == {"built", "converted_in",
                                                         "converted_out", "retired", "operating"}
    assert math.isfinite(doc["reserve_value"])
    rows = dict(r.rows())  # what the CLI prints
    assert rows["VSS (vs the expected-value plan)"] == f"{r.vss / 1e6:,.1f}"
    assert any(k.startswith("reserve value") for k in rows)
    built = sum(v["built"] for p in r.first_stage for v in p["lines"].values())
    assert sum(int(part.split(" x ")[0]) for part in
               rows["here-and-now (first stage)"].splitlines()) == built


@pytest.mark.slow
def test_the_shipped_tree_has_nonnegative_vss_and_evpi():
    """studies/roadmaps/uncertain.yaml with the plant optimiser's designs (about 25 s)."""
    from pathlib import Path

    r = solve_stochastic(Path(__file__).parents[1] / "studies" / "roadmaps" / "uncertain.yaml")
    v = r.values
    tol = r.solver["max_gap"] * abs(v["rp"]) + 1e-6
    assert r.solver["status"] == "optimal" and len(r.scenarios) == 4
    assert v["ws"] >= v["rp"] - tol and v["rp"] >= v["eev"] - tol
    assert r.vss >= -tol and r.evpi >= -tol
    assert all(-tol <= x <= r.evpi + tol for x in r.evpi_by_input.values())
    res = r.reserve
    assert res["value"] == pytest.approx(res["with"] - res["without"], abs=1e-3)
    assert v["rp"] >= max(res["with"], res["without"]) - tol  # both restrict the RP


# ----------------------------------------------------------------------------- PH


def test_a_heuristic_rp_worse_than_a_plan_it_could_take_takes_that_plan():
    """PH's RP below the EEV's (or a reserve case's) plan, which is feasible for the RP:
    the RP takes the best such plan with its paths, keeps its own outer bound, and VSS
    is then >= 0; a plan without paths (not read back) is not taken."""
    from ssbfab.roadmap.stochastic import JobResult, _best_restricted

    def job(label, obj, reports=None, bound=None):
        return JobResult(label, True, "converged", 0.05, obj, [obj], {("build", label): 1},
                         reports=reports, bound=bound, extra={"iterations": 3})

    results = {"rp": job("rp", 100.0, reports=["rp"], bound=130.0),
               "eev": job("eev", 120.0, reports=["eev"]),
               "reserve:forbid": job("reserve:forbid", 110.0, reports=["forbid"]),
               "reserve:force": job("reserve:force", 125.0),  # no paths: cannot be taken
               "evpi:x": job("evpi:x", 140.0, reports=["x"])}  # knows more: not feasible
    notes: list[str] = []
    _best_restricted(results, notes)
    rp = results["rp"]
    assert rp.objective == 120.0 and rp.reports == ["eev"] and rp.first == {("build", "eev"): 1}
    assert rp.bound == 130.0 and rp.gap == pytest.approx(10 / 120)
    assert rp.extra["iterations"] == 3 and len(notes) == 1 and "eev" in notes[0]
    assert rp.obj - results["eev"].obj == 0.0  # VSS no longer negative
    untouched = {"rp": job("rp", 100.0, reports=["rp"]), "eev": job("eev", 90.0, reports=[1])}
    _best_restricted(untouched, notes)
    assert untouched["rp"].objective == 100.0 and len(notes) == 1



@pytest.mark.slow
@pytest.mark.mpi
def test_progressive_hedging_on_two_ranks_matches_the_extensive_form(tmp_path):
    import os

    from ssbfab.roadmap.ph import mpi_available

    why = mpi_available()
    if why and not os.environ.get("SSBFAB_REQUIRE_MPI"):  # `make test-slow` sets it
        pytest.skip(f"PH needs the mpi extra (pip install -e '.[mpi]'): {why}")
    assert not why, f"make test-slow installs the mpi extra, yet: {why}"
    # TREE_3 ends in its indentation: each appended line must bring it back
    f = tiny(tmp_path, TREE_3 + '  risk: {alpha: "75 %", weight: 0.5}\n    ' + RESERVE_LINE)
    ef = solve_stochastic(f, designs=DESIGNS)
    ph = solve_stochastic(f, designs=DESIGNS, solver="ph", ranks=2)
    assert ph.solver["name"] == "ph" and ph.solver["ranks"] == 2
    assert ph.first_stage == ef.first_stage
    tol = max(ph.solver["gap"] or 0.0, 1e-6) * abs(ef.objective_value)
    assert ph.objective_value == pytest.approx(ef.objective_value, abs=tol)
    assert ph.vss == pytest.approx(ef.vss, abs=2 * tol + 1e-6 * abs(ef.objective_value))
    assert ph.evpi == pytest.approx(ef.evpi, abs=2 * tol + 1e-6 * abs(ef.objective_value))
    assert ph.reserve_value == pytest.approx(ef.reserve_value,
                                             abs=2 * tol + 1e-6 * abs(ef.objective_value))
    assert ph.reserve["in_solution"] is ef.reserve["in_solution"]


def test_reserve_cases_also_hold_the_rp_and_eev_first_stages_with_and_without_the_line(
        tmp_path):
    from ssbfab.roadmap.ph import reserve_alternatives
    from ssbfab.roadmap.stochastic import JobResult

    lr = load_roadmap(tiny(tmp_path, TREE_3 + RESERVE_LINE))
    problem, tree, _ = make_problem(lr, DESIGNS)
    semi, pilot = ("build", f"new:{SEMI}:2:2026"), ("build", f"new:{SULF}:0.5:2026")

    def done(label, first):
        return JobResult(label, True, "converged", 0.01, 1.0, [1.0], first)

    results = {"rp": done("rp", {semi: 1, pilot: 1}), "eev": done("eev", {semi: 2, pilot: 0})}
    force = reserve_alternatives(problem, Job("reserve:force", rp_groups(tree),
                                              reserve="force"), results)
    assert [j.fix for _, j in force] == [{semi: 1, pilot: 1}, {semi: 2, pilot: 1}]
    assert all(j.reserve == "force" and j.label == "reserve:force" for _, j in force)
    forbid = reserve_alternatives(problem, Job("reserve:forbid", rp_groups(tree),
                                               reserve="forbid"), results)
    assert [j.fix for _, j in forbid] == [{semi: 1, pilot: 0}, {semi: 2, pilot: 0}]
    # the same first stage from both is held once; no reserve case, no alternatives
    results["eev"] = done("eev", {semi: 1})
    assert len(reserve_alternatives(problem, Job("reserve:forbid", rp_groups(tree),
                                                 reserve="forbid"), results)) == 1
    assert reserve_alternatives(problem, Job("rp", rp_groups(tree)), results) == []


def test_ph_tree_names_follow_mpi_sppy_and_split_roots_get_an_artificial_root(tmp_path):
    from ssbfab.roadmap.ph import ph_tree, tree_names

    # scenarios 0..3 interleaved: nodes a = {0, 2}, b = {1, 3} at the second stage
    order, names, alln = tree_names([["r"] * 4, ["a", "b", "a", "b"]])
    assert order == [0, 2, 1, 3]
    assert names == [["ROOT", "ROOT_0"], ["ROOT", "ROOT_0"], ["ROOT", "ROOT_1"],
                     ["ROOT", "ROOT_1"]]
    assert alln == ["ROOT", "ROOT_0", "ROOT_0_0", "ROOT_0_1", "ROOT_1", "ROOT_1_0", "ROOT_1_1"]
    lr = load_roadmap(tiny(tmp_path, TREE_3))
    problem, tree, _ = make_problem(lr, DESIGNS)
    stages, levels, artificial = ph_tree(problem, Job("rp", rp_groups(tree)))
    assert stages == [0, 1] and not artificial  # the last stage is recourse only
    from ssbfab.roadmap.stochastic import informed_groups

    stages, levels, artificial = ph_tree(problem, Job("e", informed_groups(tree, "prices.Li2S")))
    assert artificial and stages == [-1, 0, 1] and len(set(levels[1])) == 2


# ----------------------------------------------------------------------------- the CLI


@pytest.fixture
def fake_designs(monkeypatch):
    """The CLI's line designs from DESIGNS instead of the plant optimiser."""
    monkeypatch.setattr(rsolve, "line_design",
                        lambda route, size, **kw: DESIGNS[(route.name, size)])



TREE_2 = """
    uncertainty:
      stages: [2026, 2028]
      branches:
        2028:
          - {name: dear, probability: "30 %", inputs: {prices.Li2S: 2.5, segments.robots.demand: 0.3}}
          - {name: cheap, probability: "70 %", inputs: {prices.Li2S: 0.5, segments.robots.demand: 2}}
    """


def test_cli_prints_the_answers_in_100_columns_and_json_adds_the_stochastic_object(
        tmp_path, fake_designs):
    import json

    from typer.testing import CliRunner

    from ssbfab.cli import app

    f = tiny(tmp_path, TREE_2 + RESERVE_LINE)
    r = CliRunner().invoke(app, ["roadmap", str(f), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    det = rsolve.plan_roadmap(f)
    assert doc["npv"] == pytest.approx(det.npv, rel=1e-9)  # the top level: the file's values
    st = doc["stochastic"]
    assert st["scenarios"] == 2 and {"alpha", "weight", "value"} <= set(st["cvar"])
    for k in ("expected_npv", "vss", "evpi", "reserve_value"):
        assert math.isfinite(st[k]), k
    assert st["solver"]["name"] == "extensive" and st["solver"]["status"] == "optimal"
    assert "gap" in st["solver"]
    assert [p["year"] for p in st["first_stage"]] == [2026, 2027]  # the years before 2028
    assert set(st["first_stage"][0]["lines"][SULF]) == {"built", "converted_in",
                                                         "converted_out", "retired", "operating"}

    r = CliRunner().invoke(app, ["roadmap", str(f)], env={"COLUMNS": "100"})
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert max(len(x) for x in lines) <= 100
    for row, want in (("VSS (vs the expected-value plan)", st["vss"]), ("EVPI", st["evpi"]),
                      ("EVPI of prices.Li2S", st["evpi_by_input"]["prices.Li2S"]),
                      ("expected NPV", st["expected_npv"]),
                      ("reserve value", st["reserve_value"])):
        line = next(x for x in lines if x.startswith(row + " "))
        assert f" {want / 1e6:,.1f}" in line, (row, line)
    text = r.stdout.split("here-and-now (first stage)")[1].split("expected NPV")[0]
    built = [x for x in text.splitlines() if " built (" in x]
    assert sum(int(x.split(" x ")[0].split()[-1]) for x in built) == sum(
        v["built"] for p in st["first_stage"] for v in p["lines"].values()) > 0


@pytest.mark.slow
def test_cli_out_writes_the_stochastic_object_paths_and_figures(tmp_path, fake_designs):
    """--out: roadmap.json as --json, stochastic.csv, the figures (slow: matplotlib)."""
    import json

    import pandas as pd
    from typer.testing import CliRunner

    from ssbfab.cli import app

    f = tiny(tmp_path, TREE_2 + RESERVE_LINE)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["roadmap", str(f), "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "roadmap.json").read_text()) == json.loads(r.stdout)
    paths = pd.read_csv(out / "stochastic.csv")
    assert set(paths.scenario) == {"dear", "cheap"}
    doc = json.loads(r.stdout)["stochastic"]
    built = {s["name"]: sum(v["built"] for p in s["periods"] for v in p["lines"].values())
             for s in doc["paths"]}
    assert paths.groupby("scenario").built.sum().to_dict() == built
    for name in ("roadmap.csv", "report.html", "stochastic_npv.png", "stochastic_cost_fan.png",
                 "stochastic_first_stage.png", "stochastic_values.png"):
        assert (out / name).stat().st_size > 0, name


@pytest.mark.parametrize("tree, args, words", [
    ("""
      stages: [2026, 2028]
      branches:
        2028: [{name: a, probability: "60 %"}, {name: b, probability: "30 %"}]
     """, [], "uncertainty.branches"),
    ("""
      stages: [2026, 2028]
      branches:
        2028: [{name: a, probability: 1, inputs: {segments.evv.demand: 2}}]
     """, [], "segments.evv.demand"),
    ("""
      stages: [2026, 2030]
     """, [], "uncertainty.stages"),
    (None, ["--solver", "ph", "--ranks", "0"], "--ranks"),
    (None, ["--solver", "ph", "--ranks", "9"], "at most one rank per scenario"),
    (None, ["--ranks", "2"], "only with --solver ph"),
    (None, ["--solver", "simplex"], "expected extensive or ph"),
])
def test_cli_bad_trees_and_arguments_exit_2_without_a_traceback(tmp_path, fake_designs, tree,
                                                                 args, words):
    from typer.testing import CliRunner

    from ssbfab.cli import app

    body = TREE_3 if tree is None else "uncertainty:" + textwrap.indent(textwrap.dedent(tree),
                                                                        "  ")
    f = tiny(tmp_path, body)
    r = CliRunner().invoke(app, ["roadmap", str(f), *args])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and words in r.output, r.output
    if tree is not None:  # a file's error names the file and the line
        assert f"{f}:" in r.output


def test_cli_ph_without_the_mpi_extra_and_solver_without_a_tree_exit_2(tmp_path, fake_designs,
                                                                      monkeypatch):
    from typer.testing import CliRunner

    from ssbfab.cli import app
    from ssbfab.roadmap import ph

    monkeypatch.setattr(ph, "mpi_available", lambda python=None: "No module named 'mpisppy'")
    r = CliRunner().invoke(app, ["roadmap", str(tiny(tmp_path, TREE_3)), "--solver", "ph"])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert "pip install -e '.[mpi]'" in r.output and "mpisppy" in r.output
    r = CliRunner().invoke(app, ["roadmap", str(tiny(tmp_path)), "--solver", "extensive"])
    assert r.exit_code == 2 and "no uncertainty: section" in r.output, r.output
