"""The cost registry (`ssbfab.categories`): its roll-up and weights by hand on
asymmetric numbers, and that one entry is all a new category (or a new primary
quantity) needs: `evaluate`, the optimiser's objective, the CLI table, the
comparison table and the report all pick it up."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from ssbfab import categories
from ssbfab.categories import Line, Primary
from ssbfab.cost import evaluate
from ssbfab.opt import optimize

# Distinct values everywhere, so that a swapped coefficient or a wrong life changes
# the answer (the shipped data has GS&A 25 % of both bases, equal lives ...).
BATPAC = dict(equipment_life=9.0, building_life=21.0, variable_overhead_of_labour=0.37,
              variable_overhead_of_depreciation=0.23, gsa_of_labour_and_overhead=0.27,
              gsa_of_depreciation=0.19, rnd_of_depreciation=0.41, launch_of_materials=0.053,
              launch_of_labour_and_overhead=0.11, working_capital_of_variable_cost=0.17,
              profit_of_investment=0.047, warranty_of_price=0.061)
ANNUITY = dict(discount_rate=0.07, equipment_life=11.0, building_life=27.0,
               fixed_om_of_capex=0.031, overhead_of_labour=0.43)
P = dict(materials=1.3e8, process_energy=7.1e6, equipment_capex=4.1e8, building_capex=2.3e8,
         labour=3.7e7, dry_room_capex=5.3e7, dry_room_energy=2.9e6, inert_gas=1.9e6,
         h2s_abatement=2.3e5, rework=4.1e5)


def _economics(shared, profit=False):
    e = shared.economics
    return e.model_copy(update={
        "batpac5": e.batpac5.model_copy(update={**BATPAC, "include_profit_and_warranty": profit}),
        "annuity": e.annuity.model_copy(update=ANNUITY)})


def _crf(r, n):
    return r * (1 + r) ** n / ((1 + r) ** n - 1)  # the textbook form, not the code's


def test_batpac5_rollup_by_hand(shared):
    r = categories.rollup(P, _economics(shared), "batpac5")
    eq, bld, dry = P["equipment_capex"] / 9, P["building_capex"] / 21, P["dry_room_capex"] / 9
    dep = eq + bld + dry
    vo = 0.37 * P["labour"] + 0.23 * dep
    gsa = 0.27 * (P["labour"] + vo) + 0.19 * dep
    rnd = 0.41 * dep
    expect = dict(materials=P["materials"], equipment=eq, building=bld, dry_room=dry,
                  dry_room_energy=P["dry_room_energy"], process_energy=P["process_energy"],
                  inert_gas=P["inert_gas"], h2s_abatement=P["h2s_abatement"],
                  rework=P["rework"],
                  labour=P["labour"], overheads=vo + gsa + rnd)
    assert list(r.categories) == list(expect)  # the report order
    for k, v in expect.items():
        assert r.categories[k] == pytest.approx(v, rel=1e-12), k
    assert r.items == pytest.approx(dict(variable_overhead=vo, gsa=gsa, rnd=rnd), rel=1e-12)
    launch = 0.053 * P["materials"] + 0.11 * (P["labour"] + vo)
    working = 0.17 * (P["materials"] + P["labour"] + vo + P["process_energy"]
                      + P["dry_room_energy"] + P["inert_gas"] + P["h2s_abatement"]
                      + P["rework"])
    capex = P["equipment_capex"] + P["building_capex"] + P["dry_room_capex"]
    assert r.info == pytest.approx(dict(launch_usd=launch, working_capital_usd=working,
                                        investment_usd=capex + launch + working), rel=1e-12)
    assert r.total == pytest.approx(sum(expect.values()), rel=1e-12)
    assert "profit" not in r.items and "warranty" not in r.items  # off in BatPaC cell costing


def test_batpac5_profit_and_warranty_by_hand(shared):
    r = categories.rollup(P, _economics(shared, profit=True), "batpac5")
    off = categories.rollup(P, _economics(shared), "batpac5")
    investment = off.info["investment_usd"]
    profit = 0.047 * investment
    price = (off.total + profit) / (1 - 0.061)  # warranty is 6.1 % of the price
    assert r.items["profit"] == pytest.approx(profit, rel=1e-12)
    assert r.items["warranty"] == pytest.approx(0.061 * price, rel=1e-12)
    assert r.total == pytest.approx(price, rel=1e-12)
    assert r.categories["overheads"] == pytest.approx(sum(r.items.values()), rel=1e-12)


def test_annuity_rollup_by_hand(shared):
    r = categories.rollup(P, _economics(shared), "annuity")
    capex = P["equipment_capex"] + P["building_capex"] + P["dry_room_capex"]
    fixed_om, lab_oh = 0.031 * capex, 0.43 * P["labour"]
    assert r.categories["equipment"] == pytest.approx(P["equipment_capex"] * _crf(0.07, 11))
    assert r.categories["building"] == pytest.approx(P["building_capex"] * _crf(0.07, 27))
    assert r.categories["dry_room"] == pytest.approx(P["dry_room_capex"] * _crf(0.07, 11))
    assert r.items == pytest.approx(dict(fixed_om=fixed_om, labour_overhead=lab_oh), rel=1e-12)
    assert r.categories["overheads"] == pytest.approx(fixed_om + lab_oh, rel=1e-12)
    assert r.info == pytest.approx(dict(investment_usd=capex), rel=1e-12)


def test_objective_weights_by_hand(shared):
    """Cost per year of one unit of each primary: what the optimiser multiplies by."""
    e = _economics(shared)
    w = categories.weights(e, "batpac5")
    over_dep = 1 + 0.23 + 0.27 * 0.23 + 0.19 + 0.41  # depreciation + vo + gsa + rnd on it
    assert w["equipment_capex"] == pytest.approx(over_dep / 9, rel=1e-12)
    assert w["dry_room_capex"] == pytest.approx(over_dep / 9, rel=1e-12)
    assert w["building_capex"] == pytest.approx(over_dep / 21, rel=1e-12)
    assert w["labour"] == pytest.approx(1 + 0.37 + 0.27 * 1.37, rel=1e-12)
    for k in ("materials", "process_energy", "dry_room_energy"):
        assert w[k] == pytest.approx(1.0, rel=1e-12)
    # with profit and warranty, a variable cost also earns profit on its working capital
    wp = categories.weights(_economics(shared, profit=True), "batpac5")
    assert wp["materials"] == pytest.approx((1 + 0.047 * (0.053 + 0.17)) / (1 - 0.061), rel=1e-12)
    wa = categories.weights(e, "annuity")
    assert wa["equipment_capex"] == pytest.approx(_crf(0.07, 11) + 0.031, rel=1e-12)
    assert wa["building_capex"] == pytest.approx(_crf(0.07, 27) + 0.031, rel=1e-12)
    assert wa["labour"] == pytest.approx(1.43, rel=1e-12)


def test_every_item_belongs_to_a_category_and_labels_are_distinct():
    names = [ln.name for ln in categories.LINES]
    assert len(set(names)) == len(names)
    cats = {c.name for c in categories.categories()}
    for ln in categories.LINES:
        assert ln.kind != "item" or ln.part_of in cats, ln.name
        assert set(ln.rules) <= set(categories.COSTINGS), ln.name
    labels = [ln.label for ln in categories.LINES]
    assert len(set(labels)) == len(labels)


# ----------------------------------------------------------------------------- one entry

INSURANCE = Line("insurance", "category", "USD/yr", "property insurance", {
    "batpac5": lambda p, v, e: 0.013 * (p["equipment_capex"] + p["building_capex"]),
    "annuity": lambda p, v, e: 0.013 * (p["equipment_capex"] + p["building_capex"])})


@pytest.fixture
def insured(monkeypatch):
    """The registry with one more category: 1.3 % of equipment and building capex a year."""
    monkeypatch.setattr(categories, "LINES", categories.LINES + (INSURANCE,))


def _zones(route):
    """The route file's zones, and the plant's own holding every other dry-room step."""
    named = [{"zone": z.name, "steps": list(z.steps)} for z in route.zones]
    taken = {st for z in named for st in z["steps"]}
    return named + [{"zone": "plant", "steps": [s.name for s in route.line
                                                if s.environment == "dry_room" and s.name not in taken]}]


@pytest.mark.parametrize("costing", ["batpac5", "annuity"])
def test_a_new_category_is_one_entry(sulfide, insured, costing):
    plan = optimize(sulfide, 5.0, costing=costing, gap=1e-9)
    c = plan.cost
    # by hand from the plan's own machines: capex of the equipment and its floor (the
    # steps of the supply options it chose are in the route of its configuration)
    run = plan.config.route
    capex = sum(n * run.step(s).option(o).capex
                for s, ch in plan.config.steps.items() for o, n in ch.machines.items())
    floor = sum(n * run.step(s).option(o).footprint
                for s, ch in plan.config.steps.items() for o, n in ch.machines.items())
    extra = {k.name: k.building_extra_cost for k in sulfide.shared.dry_rooms.classes}
    # each dry-room step's floor pays the extra of its zone's class (argon: none)
    zone = {st: z["zone"] for z in _zones(run) for st in z["steps"]}
    cls = {z: plan.config.zone_classes.get(z, plan.config.dew_point_class) for z in set(zone.values())}
    building = floor * sulfide.economics.building_cost + sum(
        n * run.step(s).option(o).footprint * extra.get(cls[zone[s]], 0.0)
        for s, ch in plan.config.steps.items() if run.step(s).environment == "dry_room"
        for o, n in ch.machines.items())
    # and a zone in argon encloses every machine of its steps (capex per machine)
    capex += sum(n * run.step(s).argon_enclosure.capex
                 for s, ch in plan.config.steps.items() if cls.get(zone.get(s)) == "argon"
                 for n in ch.machines.values())
    assert c.by_category["insurance"] == pytest.approx(0.013 * (capex + building) / c.good_kwh_per_year,
                                                       rel=1e-9)
    assert math.isclose(sum(c.by_category.values()), c.cost_per_kwh, rel_tol=1e-12)
    # the optimiser's objective carries it too: it is evaluate's total, to 1e-6
    assert plan.status.objective == pytest.approx(evaluate(plan.config, costing=costing).cost_per_kwh,
                                                  rel=1e-6)
    assert c.by_step.groupby("category")["usd_per_year"].sum()["insurance"] == \
        pytest.approx(c.per_year["insurance"], rel=1e-9)


def test_a_new_category_reaches_the_cli_the_comparison_and_the_report(sulfide, insured):
    from ssbfab.cli import app
    from ssbfab.comparison import Comparison, _row
    from ssbfab.loop import Iteration, LoopResult
    from ssbfab.report import make_figures

    r = CliRunner().invoke(app, ["optimize", "sulfide-lpscl", "--capacity-gwh", "5"])
    assert r.exit_code == 0, r.stderr
    assert "property insurance" in r.stdout and "insurance" in r.stdout

    plan = optimize(sulfide, 5.0)
    it = Iteration(0, plan.cost.cost_per_kwh, plan.cost.cost_per_kwh, 5.0, 5.0, 5.0, 5.0, 1.0,
                   "", {}, 1, True, 0.0, 0.0, plan=plan)
    row = _row(sulfide, LoopResult(sulfide.name, 5.0, True, "", [it], it, 1.0), "batpac5")
    assert row["cost_insurance"] == pytest.approx(plan.cost.by_category["insurance"])
    result = Comparison(table=pd.DataFrame([row]), loops={}, size_curve=pd.DataFrame(
        [{"route": sulfide.name, "capacity_gwh": 5.0, "cost_per_kwh": row["cost_per_kwh"]}]))
    fig = make_figures(result)["cost_breakdown"]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[-1] == "property insurance" and legend[0] == "materials"


def test_a_new_primary_per_machine_is_one_entry_more(sulfide, monkeypatch):
    """A cost driven by something no primary measures yet (here: 2,300 USD/yr of
    consumables per installed machine) is one Primary and one Line."""
    monkeypatch.setattr(categories, "PRIMARIES", categories.PRIMARIES + (
        Primary("consumables", "USD/yr", "machine consumables",
                per_machine=lambda o, e: 2300.0),))
    monkeypatch.setattr(categories, "LINES", categories.LINES + (
        Line("consumables", "category", "USD/yr", "consumables",
             {c: (lambda p, v, e: p["consumables"]) for c in categories.COSTINGS}),))
    plan = optimize(sulfide, 5.0, gap=1e-9)
    machines = sum(ch.count for ch in plan.config.steps.values())
    c = plan.cost
    assert c.per_year["consumables"] == pytest.approx(2300.0 * machines, rel=1e-12)
    assert plan.status.objective == pytest.approx(evaluate(plan.config).cost_per_kwh, rel=1e-6)
