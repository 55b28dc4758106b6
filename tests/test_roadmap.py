"""The transition planner against independent truth: the plant optimiser (one period),
brute-force enumeration of every decision on a small instance (with its own dispatch LP
from scipy), hand-computed lifetimes, conversion costs and Wright's law, the horizon
extension, and located errors through the CLI."""

from __future__ import annotations

import itertools
import json
import math
import textwrap

import pytest
from typer.testing import CliRunner

from ssbfab.cli import app
from ssbfab.roadmap import solve as rsolve
from ssbfab.roadmap.data import compile_data, conversion_capex, premium
from ssbfab.roadmap.designs import LineDesign
from ssbfab.roadmap.load import load_roadmap

A, B = "liquid-nmc811-graphite", "semisolid-oxide-polymer"


def fake_design(route, size, capex, fixed, materials, energy=0.0, equipment=None):
    equipment = equipment or {"s1": 0.6 * capex, "s2": 0.2 * capex}
    building = capex - sum(equipment.values())
    return LineDesign(route=route, size_gwh=size, costing="annuity", cost_per_kwh=float("nan"),
                      equipment_by_step=equipment, building_usd=building, dry_room_usd=0.0,
                      fixed_usd_per_year=fixed, process_energy_usd_per_gwh=energy,
                      materials_usd_per_gwh=materials, materials_share={"Li2S": 1.0},
                      base_prices={"Li2S": 100.0}, machines={}, wh_per_kg=300, wh_per_l=700,
                      liquid=True, confirmed="test design")


@pytest.fixture
def designs(monkeypatch):
    """Replace the plant optimiser by given designs: {(route, size): LineDesign}."""
    table: dict = {}

    def fake(route, size, **kw):
        return table[(route.name, size)]

    monkeypatch.setattr(rsolve, "line_design", fake)
    return table


def write(tmp_path, text, name="rm.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


# ----------------------------------------------------------------------------- limit case


def _one_route(tmp_path, route, size, demand):
    """One period, one route, one segment whose demand must be met (objective cost)."""
    return write(tmp_path, f"""
        name: one-route
        source: illustrative
        periods: {{start: 2030, end: 2030}}
        discount_rate: "8 %"
        objective: cost
        learning_mode: none
        line_sizes: ["{size} GWh/yr"]
        routes:
          {route}: {{pilot_from: 2020, volume_from: 2020, lead_time: "0 yr", life: "10 yr"}}
        segments:
          ev: {{demand: {{2030: "{demand} GWh/yr"}}}}
        """)


@pytest.mark.parametrize("size", [2.0])
def test_one_period_one_route_is_the_plant_optimiser(tmp_path, size):
    """One period, one route, one segment of fixed demand = `optimize` at that capacity:
    same machines, same cost per kWh (annuity convention) to 1e-6."""
    from ssbfab.data import resolve_route
    from ssbfab.opt import optimize

    f = _one_route(tmp_path, A, size, demand=size)
    import os
    os.environ["SSBFAB_CACHE"] = str(tmp_path / "cache")
    res = rsolve.plan_roadmap(f)
    plan = optimize(resolve_route(A), size, costing="annuity")
    p = res.periods[0]
    assert p["lines"][A] == {"built": 1, "converted_in": 0, "converted_out": 0, "retired": 0,
                             "operating": 1}
    assert p["cost_per_kwh"][A] == pytest.approx(plan.cost.cost_per_kwh, rel=1e-6)
    assert res.designs[f"{A}@{size:g}"]["machines"] == {s: dict(c.machines)
                                                       for s, c in plan.config.steps.items()}
    assert p["production_gwh"]["ev"][A] == pytest.approx(size)


# ----------------------------------------------------------------------------- brute force

BRUTE = f"""
    name: brute
    source: illustrative
    periods: {{start: 2030, end: 2032}}
    discount_rate: "7 %"
    objective: npv
    learning_mode: none
    line_sizes: ["1 GWh/yr"]
    reuse: reuse.yaml
    owned:
      - {{route: {A}, lines: 2, size: "1 GWh/yr", built: 2025}}
    routes:
      {A}: {{pilot_from: 2050, volume_from: 2050, lead_time: "0 yr", life: "10 yr"}}
      {B}: {{pilot_from: 2020, volume_from: 2020, lead_time: "1 yr", life: "8 yr"}}
    segments:
      mass: {{demand: {{2030: "1.5 GWh/yr", 2032: "2.5 GWh/yr"}},
              price: {{2030: "90 USD/kWh", 2032: "70 USD/kWh"}}, requires: {{min_wh_per_kg: 200}}}}
      premium: {{demand: {{2030: "0.4 GWh/yr", 2032: "1.3 GWh/yr"}},
                 price: {{2030: "160 USD/kWh", 2032: "150 USD/kWh"}},
                 requires: {{min_wh_per_kg: 340}}}}
    """
REUSE = f"""
    source: illustrative
    conversions:
      - from: {A}
        to: {B}
        downtime: "1 yr"
        retrofit: "20 %"
        building: "100 %"
        steps:
          cathode_mixing: {{from: cathode_mixing, share: "50 %"}}
    """


def _brute_instance(tmp_path, designs):
    designs[(A, 1.0)] = fake_design(A, 1.0, 80e6, 9e6, 52e6)
    designs[(B, 1.0)] = fake_design(B, 1.0, 110e6, 0.0, 61e6,
                                    equipment={"cathode_mixing": 30e6, "s2": 50e6})
    write(tmp_path, REUSE, "reuse.yaml")
    f = write(tmp_path, BRUTE)
    lr = load_roadmap(f)
    d = compile_data(lr, rsolve.designs_for(lr))
    return f, lr, d


def brute_force_npv(d) -> float:
    """Enumerate builds of B (0-2 per period), conversions of the owned A lines and their
    retirements; dispatch each period by an LP; NPV by its own cash-flow sum. B and
    converted lines have no fixed cost, so retiring them never pays (ties only)."""
    from scipy.optimize import linprog

    coh = {c.key: c for c in d.cohorts}
    owned = next(c for c in d.cohorts if c.kind == "owned")
    newb = [c for c in d.cohorts if c.kind == "new"]
    convs = {c.decided: c for c in d.cohorts if c.kind == "conv"}
    P = len(d.years)
    best = -math.inf
    for builds in itertools.product(range(3), repeat=len(newb)):
        for cv in itertools.product(range(3), repeat=len(convs)):
            if sum(cv) > owned.owned_lines:
                continue
            for rt in itertools.product(range(3), repeat=P):
                if sum(cv) + sum(rt) > owned.owned_lines:
                    continue
                npv = 0.0
                n_conv = dict(zip(sorted(convs), cv, strict=True))
                for c, n in zip(newb, builds, strict=True):
                    npv -= d.capex_discount(c.decided) * d.capex[c.key] * n
                for p, n in n_conv.items():
                    npv -= d.capex_discount(p) * d.capex[convs[p].key] * n
                for p in range(P):
                    gone = sum(rt[: p + 1]) + sum(n for q, n in n_conv.items() if q <= p)
                    ops = {owned.key: owned.owned_lines - gone}
                    npv += d.capex_discount(p) * d.book_share(owned, p) * d.capex[owned.key] * rt[p]
                    for c, n in zip(newb, builds, strict=True):
                        if c.produces_in(p):
                            ops[c.key] = n
                    for q, c in convs.items():
                        if c.produces_in(p):
                            ops[c.key] = n_conv[q]
                    # dispatch LP: maximise Σ (price − variable) x over (cohort, segment)
                    pairs = [(k, g) for k in ops for g in d.segments
                             if d.qualifies[(coh[k].route, g)] and ops[k] > 0]
                    value = -sum(d.fixed[(k, p)] * n for k, n in ops.items())
                    if pairs:
                        cost = [-(1e6 * d.price[(g, p)] - d.variable[(k, p)]) for k, g in pairs]
                        A_ub, b_ub = [], []
                        for k in {k for k, _ in pairs}:
                            A_ub.append([1.0 if kk == k else 0.0 for kk, _ in pairs])
                            b_ub.append(coh[k].size * d.ramp[(k, p)] * ops[k])
                        for g in d.segments:
                            A_ub.append([1.0 if gg == g else 0.0 for _, gg in pairs])
                            b_ub.append(d.demand[(g, p)])
                        lp = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=(0, None),
                                     method="highs")
                        value += -lp.fun
                    npv += d.flow_discount(p) * value
                left = owned.owned_lines - sum(rt) - sum(cv)
                npv += d.end_discount * d.salvage_share(owned) * d.capex[owned.key] * left
                for c, n in zip(newb, builds, strict=True):
                    npv += d.end_discount * d.salvage_share(c) * d.capex[c.key] * n
                for q, c in convs.items():
                    npv += d.end_discount * d.salvage_share(c) * d.capex[c.key] * n_conv[q]
                best = max(best, npv)
    return best


def test_brute_force_equals_the_milp(tmp_path, designs):
    f, lr, d = _brute_instance(tmp_path, designs)
    assert {c.kind for c in d.cohorts} == {"owned", "new", "conv"}
    res = rsolve.plan_roadmap(f)
    assert res.status == "optimal"
    assert res.npv == pytest.approx(brute_force_npv(d), rel=1e-6, abs=1e3)


# ----------------------------------------------------------------------------- lifetimes


def test_a_line_produces_from_its_lead_time_until_its_life(tmp_path, designs):
    designs[(B, 1.0)] = fake_design(B, 1.0, 20e6, 1e6, 30e6)
    f = write(tmp_path, f"""
        name: life
        source: illustrative
        periods: {{start: 2030, end: 2037}}
        discount_rate: "5 %"
        learning_mode: none
        line_sizes: ["1 GWh/yr"]
        salvage: none
        routes:
          {B}: {{pilot_from: 2030, volume_from: 2030, lead_time: "2 yr", life: "3 yr"}}
        segments:
          ev: {{demand: {{2031: "0 GWh/yr", 2032: "1 GWh/yr"}}, price: {{2030: "200 USD/kWh"}}}}
        """)
    lr = load_roadmap(f)
    d = compile_data(lr, rsolve.designs_for(lr))
    first = next(c for c in d.cohorts if c.decided == 0)
    assert (first.start, first.last) == (2, 4)  # built 2030, produces 2032-2034
    res = rsolve.plan_roadmap(f)
    made = {p["year"]: sum(p["production_gwh"]["ev"].values()) for p in res.periods}
    assert made[2030] == made[2031] == 0
    assert all(made[y] == pytest.approx(1.0) for y in range(2032, 2038))
    built = {p["year"]: p["lines"][B]["built"] for p in res.periods}
    # a line built in 2036 would produce only after the horizon: none is built
    assert built == {2030: 1, 2031: 0, 2032: 0, 2033: 1, 2034: 0, 2035: 0, 2036: 0, 2037: 0}
    retired = {p["year"]: p["lines"][B]["retired"] for p in res.periods}
    assert retired[2035] == 1 and retired[2034] == 0  # the 2032 cohort's life ends after 2034


def test_conversion_is_cheaper_exactly_when_something_is_reusable(tmp_path):
    old = fake_design(A, 1.0, 100e6, 0, 0, equipment={"a": 40e6, "b": 30e6})
    new = fake_design(B, 1.0, 120e6, 0, 0, equipment={"x": 50e6, "y": 10e6})

    class Step:
        def __init__(self, src, share):
            self.from_, self.share = src, share

    class Conv:
        def __init__(self, steps, building, retrofit=0.2, dry_room=0.0):
            self.steps, self.building, self.retrofit, self.dry_room = steps, building, retrofit, dry_room

    assert conversion_capex(old, new, Conv({}, 0.0)) == pytest.approx(new.capex_usd)
    # x reuses a: 0.5 × min(50, 40) = 20 M reused, 20 % retrofit on it; y reuses b: min(10, 30)
    c = Conv({"x": Step("a", 0.5), "y": Step("b", 1.0)}, building=0.5)
    reused = 0.5 * 40e6 + 1.0 * 10e6
    building = 0.5 * min(new.building_usd, old.building_usd)
    assert conversion_capex(old, new, c) == pytest.approx(
        new.capex_usd - reused + 0.2 * reused - building)
    assert conversion_capex(old, new, c) < new.capex_usd


def test_reuse_table_refuses_a_machine_reused_twice_and_unknown_steps(tmp_path, designs):
    designs[(A, 1.0)] = fake_design(A, 1.0, 80e6, 9e6, 52e6)
    designs[(B, 1.0)] = fake_design(B, 1.0, 110e6, 0.0, 61e6)
    write(tmp_path, f"""
        source: illustrative
        conversions:
          - from: {A}
            to: {B}
            downtime: "1 yr"
            retrofit: "20 %"
            steps:
              cathode_mixing: {{from: cathode_mixing, share: "50 %"}}
              anode_mixing: {{from: cathode_mixing, share: "50 %"}}
              no_such_step: {{from: stacking, share: "50 %"}}
        """, "reuse.yaml")
    f = write(tmp_path, BRUTE)
    r = CliRunner().invoke(app, ["roadmap", str(f)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert "reuse.yaml:" in r.output and "reused once" in r.output


# ----------------------------------------------------------------------------- learning


def test_exogenous_learning_follows_wrights_law(tmp_path, designs):
    designs[(B, 1.0)] = fake_design(B, 1.0, 100e6, 4e6, 30e6, energy=2e6)
    f = write(tmp_path, f"""
        name: exo
        source: illustrative
        periods: {{start: 2030, end: 2032}}
        discount_rate: "5 %"
        learning_mode: exogenous
        line_sizes: ["1 GWh/yr"]
        routes:
          {B}:
            pilot_from: 2030
            volume_from: 2030
            lead_time: "0 yr"
            life: "10 yr"
            learning: {{rate: "20 %", reference: "10 GWh",
                        path: {{2030: "5 GWh", 2032: "40 GWh"}}}}
        segments:
          ev: {{demand: {{2030: "1 GWh/yr"}}, price: {{2030: "200 USD/kWh"}}}}
        """)
    lr = load_roadmap(f)
    d = compile_data(lr, rsolve.designs_for(lr))
    b = -math.log2(0.8)
    for p, q in enumerate([5.0, 22.5, 40.0]):  # the path, interpolated
        m = (q / 10.0) ** (-b)
        c = next(c for c in d.cohorts if c.decided == p)
        assert d.capex[c.key] == pytest.approx(100e6 * m)
        assert d.fixed[(c.key, p)] == pytest.approx(4e6 * m)
        assert d.variable[(c.key, p)] == pytest.approx(30e6 + 2e6 * m)


def test_endogenous_learning_is_exact_at_the_breakpoints(tmp_path, designs):
    """Demand forces cumulative output onto the curve's last breakpoint (the total
    demand); the premium the MILP pays equals ∫ ℓ (m − 1) by hand."""
    designs[(B, 1.0)] = fake_design(B, 1.0, 10e6, 3e6, 30e6, energy=1e6)
    f = write(tmp_path, f"""
        name: endo
        source: illustrative
        periods: {{start: 2030, end: 2031}}
        discount_rate: "0 %"
        objective: cost
        learning_mode: endogenous
        line_sizes: ["1 GWh/yr"]
        salvage: none
        routes:
          {B}:
            pilot_from: 2030
            volume_from: 2030
            lead_time: "0 yr"
            life: "10 yr"
            learning: {{rate: "25 %", reference: "0.5 GWh", first: "0.2 GWh"}}
        segments:
          ev: {{demand: {{2030: "0.6 GWh/yr", 2031: "1 GWh/yr"}}}}
        """)
    res = rsolve.plan_roadmap(f)
    ell = (3e6 / 1.0 + 1e6) / 1e6  # USD per kWh of learnable operating cost
    b = -math.log2(0.75)

    def by_hand(q):  # ∫_0^q ℓ (m(x) − 1) dx with m flat below 0.2 GWh
        first, ref = 0.2e6, 0.5e6
        m1 = (first / ref) ** -b
        if q <= first:
            return ell * (m1 - 1) * q
        integral = ref ** b * (q ** (1 - b) - first ** (1 - b)) / (1 - b)
        return ell * ((m1 - 1) * first + integral - (q - first))

    total = -res.breakdown["learning_premium"]
    assert total == pytest.approx(by_hand(1.6e6), rel=1e-6)
    from ssbfab.roadmap.schema import Learning

    ln = Learning(rate="25 %", reference="0.5 GWh", first="0.2 GWh")
    assert premium(ln, ell, 1.6e6) == pytest.approx(by_hand(1.6e6), rel=1e-12)


def _capex_wright(q_gwh, rate, reference_gwh, first_gwh):
    """Wright's law by hand: the capex multiplier at cumulative output q."""
    b = -math.log2(1 - rate)
    return (max(q_gwh, first_gwh) / reference_gwh) ** (-b)


def test_endogenous_capex_learning_is_exact_at_the_breakpoints(tmp_path, designs):
    """Demand (met exactly) puts the company's cumulative output at the start of 2031 and
    2032 on breakpoints of the curve (3 and 9 GWh of 1, 3, 9, 27): each year's lines cost
    the design's capex × Wright's multiplier there, by hand."""
    designs[(B, 1.0)] = fake_design(B, 1.0, 100e6, 0.0, 30e6)
    f = write(tmp_path, f"""
        name: capex
        source: illustrative
        periods: {{start: 2030, end: 2032}}
        discount_rate: "0 %"
        objective: cost
        learning_mode: endogenous
        endogenous_breakpoints: 3
        line_sizes: ["1 GWh/yr"]
        salvage: none
        routes:
          {B}:
            pilot_from: 2020
            volume_from: 2020
            lead_time: "0 yr"
            life: "10 yr"
            learning: {{rate: "0 %", capex_rate: "25 %", reference: "5 GWh",
                        initial: "1 GWh", first: "1 GWh"}}
        segments:
          ev: {{demand: {{2030: "2 GWh/yr", 2031: "6 GWh/yr", 2032: "18 GWh/yr"}}}}
        """)
    lr = load_roadmap(f)
    d = compile_data(lr, rsolve.designs_for(lr))
    assert d.learning_curve[B][0] == pytest.approx([1e6, 3e6, 9e6, 27e6])
    res = rsolve.plan_roadmap(f)
    assert res.status == "optimal"
    built = [p["lines"][B]["built"] for p in res.periods]
    assert built == [2, 4, 12]
    for p, q in zip(res.periods, [1.0, 3.0, 9.0], strict=True):
        per_line = p["capex"] / p["lines"][B]["built"]
        assert per_line == pytest.approx(100e6 * _capex_wright(q, 0.25, 5.0, 1.0), rel=1e-9)
    assert res.breakdown["learning_premium"] == pytest.approx(0.0, abs=1e-3)


NICHE = """
    name: niche
    source: illustrative
    periods: {start: 2030, end: 2034}
    discount_rate: "5 %"
    learning_mode: endogenous
    line_sizes: ["1 GWh/yr"]
    routes:
      sulfide-lpscl:
        pilot_from: 2020
        volume_from: 2020
        lead_time: "0 yr"
        life: "10 yr"
        learning: {rate: "0 %", reference: "1 GWh", initial: "0.5 GWh", first: "0.1 GWh",
                    capex_rate: "30 %"}
    segments:
      robots: {demand: {2030: "0.3 GWh/yr"}, price: {2030: "200 USD/kWh"},
               requires: {no_liquid: true}}
      mass: {demand: {2031: "0 GWh/yr", 2032: "5 GWh/yr"}, price: {2030: "120 USD/kWh"}}
    """


def test_building_early_for_a_niche_makes_the_later_build_cheaper(tmp_path, designs):
    """A robot niche from 2030 does not pay for a line on its own (no capex learning: no
    line before mass demand arrives in 2032); with capex learning the planner starts one
    in 2030, and the 2032 lines cost Wright's multiplier at the output the niche line
    made by then (0.5 + 2 × 0.3 GWh, at the breakpoint below it), by hand."""
    S = "sulfide-lpscl"
    designs[(S, 1.0)] = fake_design(S, 1.0, 100e6, 40e6, 50e6)
    learns = rsolve.plan_roadmap(write(tmp_path, NICHE, "learns.yaml"))
    flat_text = NICHE.replace(',\n                    capex_rate: "30 %"', "")
    flat = rsolve.plan_roadmap(write(tmp_path, flat_text, "flat.yaml"))
    assert [p["lines"][S]["built"] for p in flat.periods][:2] == [0, 0]
    built = [p["lines"][S]["built"] for p in learns.periods]
    assert built[0] == 1 and built[1] == 0 and built[2] >= 1
    lr = load_roadmap(tmp_path / "learns.yaml")
    xs = compile_data(lr, rsolve.designs_for(lr)).learning_curve[S][0]
    passed = max(x for x in xs if x <= 1.1e6 * (1 + 1e-9)) / 1e6
    assert passed < 1.1
    assert learns.periods[0]["capex"] == pytest.approx(100e6 * _capex_wright(0.5, 0.3, 1, 0.1))
    assert learns.periods[2]["capex"] / built[2] == pytest.approx(
        100e6 * _capex_wright(passed, 0.3, 1, 0.1), rel=1e-9)


# ----------------------------------------------------------------------------- yield ramp


def _ramp_file(tmp_path, demand):
    """One route whose yield starts at 50 % of mature and is mature after 1 yr of design
    output (1 GWh per 1 GWh/yr line), two pieces; demand must be met."""
    return write(tmp_path, f"""
        name: ramp
        source: illustrative
        periods: {{start: 2030, end: 2031}}
        discount_rate: "0 %"
        objective: cost
        learning_mode: none
        line_sizes: ["1 GWh/yr"]
        salvage: none
        routes:
          {B}:
            pilot_from: 2030
            volume_from: 2030
            lead_time: "0 yr"
            life: "10 yr"
            ramp: {{start_yield: "50 %", to_mature: "1 yr", pieces: 2}}
        segments:
          ev: {{demand: {{2030: "{demand} GWh/yr"}}}}
        """)


def _input_by_hand(q):
    """GWh of input (at mature yield) that q GWh of good output per line took: the yield
    y = 0.5 + 0.5 q rises linearly to 1 at q = 1 GWh, G(q) = ∫ dx / y = 2 ln(y / 0.5)."""
    return 2 * math.log((0.5 + 0.5 * min(q, 1.0)) / 0.5) + max(0.0, q - 1.0)


@pytest.mark.parametrize("demand, lines", [(0.5, 1), (1.0, 2)])
def test_the_ramp_follows_cumulative_output_not_age(tmp_path, designs, demand, lines):
    """Demand lands each line's cumulative output on the breakpoints (0.5, then 1 GWh per
    line): the materials paid are G by hand there. At half load the line has the yield of
    its output, not of its age: the age-based ramp (yield 50 % in the first year, mature in
    the second) would pay for 1.0 GWh of input the first year and 0.5 the second."""
    designs[(B, 1.0)] = fake_design(B, 1.0, 10e6, 0.0, 30e6)
    res = rsolve.plan_roadmap(_ramp_file(tmp_path, demand))
    assert res.status == "optimal"
    assert res.periods[0]["lines"][B]["built"] == lines
    per_line = demand / lines
    g1 = lines * _input_by_hand(per_line)
    g2 = lines * _input_by_hand(2 * per_line) - g1
    assert res.periods[0]["opex"] == pytest.approx(30e6 * g1, rel=1e-9)
    assert res.periods[1]["opex"] == pytest.approx(30e6 * g2, rel=1e-9)
    # the yield at the breakpoints is the curve's: good output over input
    assert demand / g1 == pytest.approx(per_line / (2 * math.log(1 + per_line)), rel=1e-9)
    age_based = [lines * per_line / 0.5, lines * per_line / 1.0]
    assert abs(g1 - age_based[0]) > 0.15 * lines and abs(g2 - age_based[1]) > 0.05 * lines


def test_the_ramp_between_breakpoints_is_the_chord(tmp_path, designs):
    """At 0.25 GWh per line (half-way along the first piece) the MILP's input is the chord
    of G: below the curve (G is concave), by a stated amount."""
    designs[(B, 1.0)] = fake_design(B, 1.0, 10e6, 0.0, 30e6)
    res = rsolve.plan_roadmap(_ramp_file(tmp_path, 0.25))
    chord = 0.25 * _input_by_hand(0.5) / 0.5
    assert res.periods[0]["opex"] == pytest.approx(30e6 * chord, rel=1e-9)
    assert chord < _input_by_hand(0.25) < 1.11 * chord  # 10 % mid-piece with 2 pieces


def test_mature_by_ends_the_ramp_at_that_age_whatever_the_output(tmp_path, designs):
    """With `mature_by: 1 yr` a line at quarter load ramps in its first year (the chord of
    G, as above) and is mature in its second, though it made only 0.25 of 1 GWh."""
    designs[(B, 1.0)] = fake_design(B, 1.0, 10e6, 0.0, 30e6)
    f = _ramp_file(tmp_path, 0.25)
    f.write_text(f.read_text().replace("pieces: 2", 'pieces: 2, mature_by: "1 yr"'))
    res = rsolve.plan_roadmap(f)
    assert res.periods[0]["opex"] == pytest.approx(30e6 * 0.25 * _input_by_hand(0.5) / 0.5)
    assert res.periods[1]["opex"] == pytest.approx(30e6 * 0.25, rel=1e-9)


def test_an_age_based_ramp_is_refused_saying_what_replaced_it(tmp_path, designs):
    designs[(B, 1.0)] = fake_design(B, 1.0, 10e6, 0.0, 30e6)
    f = _ramp_file(tmp_path, 0.5)
    f.write_text(f.read_text().replace('start_yield: "50 %", to_mature: "1 yr", pieces: 2',
                                       'first_year_output: "50 %", years_to_mature: "2 yr"'))
    r = CliRunner().invoke(app, ["roadmap", str(f)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert f"{f}:" in r.output and "first_year_output" in r.output and "to_mature" in r.output


RAMP_BRUTE = f"""
    name: ramp-brute
    source: illustrative
    periods: {{start: 2030, end: 2032}}
    discount_rate: "7 %"
    objective: npv
    learning_mode: none
    line_sizes: ["1 GWh/yr"]
    owned:
      - {{route: {A}, lines: 1, size: "1 GWh/yr", built: 2025}}
    routes:
      {A}: {{pilot_from: 2050, volume_from: 2050, lead_time: "0 yr", life: "10 yr"}}
      {B}:
        pilot_from: 2020
        volume_from: 2020
        lead_time: "1 yr"
        life: "8 yr"
        ramp: {{start_yield: "60 %", to_mature: "0.8 yr", pieces: 2}}
    segments:
      mass: {{demand: {{2030: "1.5 GWh/yr", 2032: "2.5 GWh/yr"}},
              price: {{2030: "90 USD/kWh", 2032: "70 USD/kWh"}}, requires: {{min_wh_per_kg: 200}}}}
      premium: {{demand: {{2030: "0.4 GWh/yr", 2032: "1.3 GWh/yr"}},
                 price: {{2030: "160 USD/kWh", 2032: "150 USD/kWh"}},
                 requires: {{min_wh_per_kg: 340}}}}
    """


def brute_force_ramp_npv(d) -> float:
    """Enumerate builds of B (0-2 in 2030 and 2031; later ones cannot produce), the owned
    A line's retirement, and for each B cohort the piece of the ramp its cumulative output
    per line ends each period in (0.4, 0.8 GWh, mature); for each, one LP over all periods
    (scipy) in which the input is linear: G by hand at the piece's start plus the piece's
    slope. The best is the optimum (each state sequence is a disjunct of the curve)."""
    from scipy.optimize import linprog

    y0, M = 0.6, 0.8  # start yield, GWh per 1 GWh/yr line to mature

    def G(q):  # by hand: ∫ dx / (y0 + (1 − y0) x / M)
        qm = min(q, M)
        return M / (1 - y0) * math.log((y0 + (1 - y0) * qm / M) / y0) + max(0.0, q - M)

    bps = [0.0, 0.4, 0.8, math.inf]
    slopes = [(G(0.4) - G(0.0)) / 0.4, (G(0.8) - G(0.4)) / 0.4, 1.0]
    coh = {c.key: c for c in d.cohorts}
    owned = next(c for c in d.cohorts if c.kind == "owned")
    newb = [c for c in d.cohorts if c.kind == "new"]
    P = len(d.years)

    def sequences(length):
        return [s for s in itertools.product(range(3), repeat=length)
                if all(a <= b for a, b in zip(s, s[1:], strict=False))]

    best = -math.inf
    for builds in itertools.product(range(3), repeat=len(newb)):
        n = {c.key: b for c, b in zip(newb, builds, strict=True)}
        ramping = [c for c in newb if n[c.key] > 0]
        lives = {c.key: [p for p in range(P) if c.produces_in(p)] for c in ramping}
        for rt in itertools.product(range(2), repeat=P):
            if sum(rt) > owned.owned_lines:
                continue
            ops_a = [owned.owned_lines - sum(rt[: p + 1]) for p in range(P)]
            fixed_npv = 0.0
            for c in newb:
                fixed_npv -= d.capex_discount(c.decided) * d.capex[c.key] * n[c.key]
                fixed_npv += d.end_discount * d.salvage_share(c) * d.capex[c.key] * n[c.key]
            for p in range(P):
                fixed_npv += d.capex_discount(p) * d.book_share(owned, p) * d.capex[owned.key] * rt[p]
                fixed_npv -= d.flow_discount(p) * d.fixed[(owned.key, p)] * ops_a[p]
                fixed_npv -= sum(d.flow_discount(p) * d.fixed[(c.key, p)] * n[c.key]
                                 for c in newb if c.produces_in(p))
            fixed_npv += d.end_discount * d.salvage_share(owned) * d.capex[owned.key] * ops_a[-1]
            # LP variables: sales x[k, p, g] of every producing cohort
            xs = [(k, p, g) for k in [owned.key] + [c.key for c in ramping] for p in range(P)
                  for g in d.segments if coh[k].produces_in(p) and d.qualifies[(coh[k].route, g)]]
            ix = {v: i for i, v in enumerate(xs)}
            for states in itertools.product(*[sequences(len(lives[c.key])) for c in ramping]):
                obj = [0.0] * len(xs)
                A_ub, b_ub, const = [], [], 0.0
                for (_, p, g), i in ix.items():
                    obj[i] -= d.flow_discount(p) * 1e6 * d.price[(g, p)]
                for p in range(P):  # the owned line: mature, output = input
                    row = [0.0] * len(xs)
                    for g in d.segments:
                        if (owned.key, p, g) in ix:
                            row[ix[owned.key, p, g]] = 1.0
                            obj[ix[owned.key, p, g]] += d.flow_discount(p) * d.variable[(owned.key, p)]
                    A_ub.append(row)
                    b_ub.append(owned.size * d.ramp[(owned.key, p)] * ops_a[p])
                for g in d.segments:
                    for p in range(P):
                        row = [1.0 if (pp, gg) == (p, g) else 0.0 for (_, pp, gg) in xs]
                        A_ub.append(row)
                        b_ub.append(d.demand[(g, p)])
                for c, seq in zip(ramping, states, strict=True):
                    k, nl = c.key, n[c.key]
                    x_prev = [0.0] * len(xs)
                    c_prev = 0.0
                    for p, s in zip(lives[k], seq, strict=True):
                        cum = [0.0] * len(xs)  # Q_p = Σ_{t ≤ p} Σ_g x (1-yr periods)
                        for (kk, t, _), i in ix.items():
                            if kk == k and t <= p:
                                cum[i] = 1.0
                        lo, hi = nl * bps[s], nl * bps[s + 1]
                        A_ub.append([-v for v in cum])
                        b_ub.append(-lo)
                        if math.isfinite(hi):
                            A_ub.append(cum)
                            b_ub.append(hi)
                        # X_p = nl G(lo / nl) + slope (Q_p − lo): input through p
                        x_now = [slopes[s] * v for v in cum]
                        c_now = nl * G(bps[s]) - slopes[s] * lo
                        inc = [a - b for a, b in zip(x_now, x_prev, strict=True)]
                        A_ub.append(inc)  # input in p within the lines' capacity
                        b_ub.append(c.size * d.ramp[(k, p)] * nl - (c_now - c_prev))
                        obj = [o + d.flow_discount(p) * d.variable[(k, p)] * v
                               for o, v in zip(obj, inc, strict=True)]
                        const += d.flow_discount(p) * d.variable[(k, p)] * (c_now - c_prev)
                        x_prev, c_prev = x_now, c_now
                lp = linprog(obj, A_ub=A_ub, b_ub=b_ub, bounds=(0, None), method="highs")
                if lp.status == 0:
                    best = max(best, fixed_npv - lp.fun - const)
    return best


def test_brute_force_with_the_ramp_equals_the_milp(tmp_path, designs):
    designs[(A, 1.0)] = fake_design(A, 1.0, 80e6, 9e6, 52e6)
    designs[(B, 1.0)] = fake_design(B, 1.0, 110e6, 2e6, 61e6)
    f = write(tmp_path, RAMP_BRUTE)
    lr = load_roadmap(f)
    d = compile_data(lr, rsolve.designs_for(lr))
    res = rsolve.plan_roadmap(f)
    assert res.status == "optimal"
    assert res.npv == pytest.approx(brute_force_ramp_npv(d), rel=1e-6, abs=1e3)
    # the ramp binds: a B line sold less than it could at mature yield, or paid for scrap
    mature = rsolve.plan_roadmap(write(tmp_path, RAMP_BRUTE.replace(
        '        ramp: {start_yield: "60 %", to_mature: "0.8 yr", pieces: 2}\n', ""), "m.yaml"))
    assert mature.npv > res.npv + 1e6


# ----------------------------------------------------------------------------- horizon


def test_empty_periods_after_the_horizon_change_no_first_decision(tmp_path, designs):
    """With salvage at book value and lines free to retire (retire: all), periods without
    demand after the horizon change nothing before it."""
    designs[(A, 1.0)] = fake_design(A, 1.0, 80e6, 9e6, 52e6)
    designs[(B, 1.0)] = fake_design(B, 1.0, 110e6, 2e6, 61e6,
                                    equipment={"cathode_mixing": 30e6, "s2": 50e6})
    write(tmp_path, REUSE, "reuse.yaml")
    text = BRUTE.rstrip() + "\n    retire: all\n"
    short = write(tmp_path, text, "short.yaml")
    long_text = text.replace("end: 2032", "end: 2035").replace(
        '2032: "2.5 GWh/yr"}', '2032: "2.5 GWh/yr", 2033: "0 GWh/yr"}').replace(
        '2032: "1.3 GWh/yr"}', '2032: "1.3 GWh/yr", 2033: "0 GWh/yr"}')
    long = write(tmp_path, long_text, "long.yaml")
    a = rsolve.plan_roadmap(short)
    b = rsolve.plan_roadmap(long)
    assert a.periods[0]["lines"] == b.periods[0]["lines"]
    assert a.periods[1]["lines"] == b.periods[1]["lines"]
    assert a.npv == pytest.approx(b.npv, rel=1e-6)


# ----------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("edit, field", [
    (lambda t: t.replace(f"  {B}: {{pilot", "  semisolid-oxyde-polymer: {pilot"),
     "routes.semisolid-oxyde-polymer"),
    (lambda t: t.replace("min_wh_per_kg: 340", "min_wh_per_kg: 900"), "segments.premium.requires"),
    (lambda t: t.replace(f"{B}: {{pilot_from: 2020, volume_from: 2020",
                         f"{B}: {{pilot_from: 2031, volume_from: 2031"),
     "segments.premium.demand"),
    (lambda t: t.replace('2030: "0.4 GWh/yr"', '2030: "-0.4 GWh/yr"'), "segments.premium.demand"),
])
def test_bad_roadmap_files_exit_2_with_file_line_field(tmp_path, designs, edit, field):
    designs[(A, 1.0)] = fake_design(A, 1.0, 80e6, 9e6, 52e6)
    designs[(B, 1.0)] = fake_design(B, 1.0, 110e6, 0.0, 61e6)
    write(tmp_path, REUSE, "reuse.yaml")
    f = write(tmp_path, edit(textwrap.dedent(BRUTE)))
    r = CliRunner().invoke(app, ["roadmap", str(f)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert f"{f}:" in r.output and field in r.output


def test_demand_no_allowed_build_can_meet_exits_3_naming_segment_and_year(tmp_path, designs):
    designs[(B, 1.0)] = fake_design(B, 1.0, 110e6, 0.0, 61e6)
    f = write(tmp_path, f"""
        name: short
        source: illustrative
        periods: {{start: 2030, end: 2032}}
        discount_rate: "5 %"
        objective: cost
        learning_mode: none
        line_sizes: ["1 GWh/yr"]
        budget: {{2030: "120 MUSD"}}
        routes:
          {B}: {{pilot_from: 2020, volume_from: 2020, lead_time: "0 yr", life: "10 yr"}}
        segments:
          ev: {{demand: {{2030: "0.5 GWh/yr", 2031: "2.5 GWh/yr"}}}}
        """)
    r = CliRunner().invoke(app, ["roadmap", str(f)])
    assert r.exit_code == 3, r.output
    assert "'ev'" in r.output and "2031" in r.output
    assert "Traceback" not in r.output


def test_json_contract(tmp_path, designs):
    f, lr, d = _brute_instance(tmp_path, designs)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["roadmap", str(f), "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["status"] == "optimal" and doc["objective"] == "npv" and doc["currency"] == "USD"
    assert [p["year"] for p in doc["periods"]] == [2030, 2031, 2032]
    p = doc["periods"][0]
    assert set(p) >= {"year", "lines", "demand_gwh", "production_gwh", "capex", "opex",
                      "cost_per_kwh"}
    assert set(p["lines"][B]) == {"built", "converted_in", "converted_out", "retired",
                                  "operating"}
    assert doc["npv"] == pytest.approx(sum(doc["npv_breakdown"].values()))
    for name in ("roadmap.json", "roadmap.csv", "report.html"):
        assert (out / name).exists()
    html = (out / "report.html").read_text()
    assert "What this reports" in html and "nan" not in html.lower().replace("nan-", "")


def test_myopic_never_beats_foresight_and_equals_it_with_the_whole_horizon_in_view(
        tmp_path, designs):
    f, lr, d = _brute_instance(tmp_path, designs)
    full = rsolve.plan_roadmap(f)
    def text(foresight, step):
        return BRUTE.rstrip() + f"\n    myopic: {{foresight: {foresight}, step: {step}}}\n"

    short = rsolve.plan_roadmap(write(tmp_path, text(1, 1), "m1.yaml"))
    whole = rsolve.plan_roadmap(write(tmp_path, text(3, 3), "m3.yaml"))
    assert short.mode == whole.mode == "myopic"
    assert short.npv <= full.npv + 1e-6 * abs(full.npv)
    assert whole.npv == pytest.approx(full.npv, rel=1e-6)


def test_validate_checks_a_reuse_table_against_the_routes(tmp_path):
    bad = tmp_path / "reuse.yaml"
    bad.write_text(textwrap.dedent(f"""
        source: illustrative
        conversions:
          - from: {A}
            to: {B}
            downtime: "1 yr"
            retrofit: "20 %"
            steps:
              stackin: {{from: stacking, share: "90 %"}}
        """))
    r = CliRunner().invoke(app, ["validate", str(bad)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert f"{bad}:" in r.output and "conversions.0.steps.stackin" in r.output
    assert "did you mean 'stacking'" in r.output


# ----------------------------------------------------------------------------- confirmation

S = "sulfide-lpscl"
CONFIRM_SHORT = {"days": 50.0, "warmup_days": 40.0, "reps": 1, "seed": 5, "max_iter": 1}



@pytest.mark.parametrize("share, lines", [(1.0, 2), (0.6, 3)])
def test_a_line_short_of_its_size_counts_only_its_confirmed_output(tmp_path, designs, share,
                                                                   lines):
    # 3 GWh/yr with 2 GWh/yr lines: 2 lines at full output, ceil(3 / (0.6 × 2)) = 3 when
    # the simulation confirmed only 60 % of a line's size
    des = fake_design(A, 2.0, 50e6, 4e6, 40e6)
    designs[(A, 2.0)] = LineDesign(**{**des.__dict__, "output_share": share})
    res = rsolve.plan_roadmap(_one_route(tmp_path, A, 2.0, 3.0))
    p = res.periods[0]
    assert p["lines"][A]["built"] == lines
    assert p["production_gwh"]["ev"][A] == pytest.approx(3.0)
    assert res.designs[f"{A}@2"]["output_share"] == share
    # what the lines could make is the confirmed share of their size
    lr = load_roadmap(_one_route(tmp_path, A, 2.0, 3.0))
    d = compile_data(lr, rsolve.designs_for(lr))
    assert {v for v in d.ramp.values()} == {share}


@pytest.mark.slow
def test_confirm_a_line_the_simulation_shows_short(tmp_path, monkeypatch):
    """The real loop on the sulfide line, cut to one iteration: the nominal plan simulates
    short of 0.5 GWh/yr; the roadmap counts that share of the line, so it needs a second
    line where the optimiser alone planned one, and says so in its notes."""
    from ssbfab.data import resolve_route
    from ssbfab.loop import run_loop

    monkeypatch.setenv("SSBFAB_CACHE", str(tmp_path / "cache"))
    f = _one_route(tmp_path, S, 0.5, 0.5)
    nominal = rsolve.plan_roadmap(f)
    short = rsolve.plan_roadmap(f, confirm=CONFIRM_SHORT)
    ref = run_loop(resolve_route(S), 0.5, costing="annuity", **CONFIRM_SHORT)
    assert not ref.converged and ref.final.ratio < 0.95  # the premise: a short line
    des = short.designs[f"{S}@0.5"]
    assert des["output_share"] == pytest.approx(ref.final.ratio, rel=1e-12)
    assert des["machines"] == {s: dict(c.machines) for s, c in ref.plan.config.steps.items()}
    assert nominal.designs[f"{S}@0.5"]["output_share"] == 1.0
    assert nominal.periods[0]["lines"][S]["built"] == 1
    assert short.periods[0]["lines"][S]["built"] == math.ceil(1 / ref.final.ratio) == 2
    assert short.periods[0]["production_gwh"]["ev"][S] == pytest.approx(0.5)
    note = next(n for n in short.notes if n.startswith(f"{S}: simulation:"))
    assert "not converged" in note and f"counts {ref.final.ratio:.3f} × 0.5 GWh/yr" in note


@pytest.mark.slow
def test_cli_confirm_uses_the_plan_the_loop_confirms(tmp_path, monkeypatch):
    """`ssbfab roadmap FILE --confirm --json`: the line is the plan the simulate-optimise
    loop accepts (more machines than the nominal plan, which the simulation shows short),
    costed on its simulated statistics."""
    from ssbfab.data import resolve_route
    from ssbfab.loop import run_loop
    from ssbfab.opt import optimize

    monkeypatch.setenv("SSBFAB_CACHE", str(tmp_path / "cache"))
    f = _one_route(tmp_path, S, 0.5, 0.5)
    r = CliRunner().invoke(app, ["roadmap", str(f), "--confirm", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    des = doc["designs"][f"{S}@0.5"]
    route = resolve_route(S)
    ref = run_loop(route, 0.5, costing="annuity", days=120.0, reps=3, seed=1)  # the CLI's
    assert ref.converged and ref.iterations[0].ratio < 0.95 < ref.final.ratio
    confirmed = {s: dict(c.machines) for s, c in ref.plan.config.steps.items()}
    assert des["machines"] == confirmed
    assert des["machines"] != {s: dict(c.machines) for s, c in
                               optimize(route, 0.5, costing="annuity").config.steps.items()}
    assert des["output_share"] == 1.0 and des["confirmed"].startswith("simulation:")
    assert des["cost_per_kwh"] == pytest.approx(ref.final.cost_per_kwh, rel=1e-9)
    assert doc["periods"][0]["lines"][S]["built"] == 1
