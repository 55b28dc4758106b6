"""The costing conventions with every coefficient distinct, on a plant with energy.

The shipped economics (and BatPaC's) repeat values: GS&A is 25 % of labour and
overhead *and* 25 % of depreciation, equipment and dry room share one life, and the
BatPaC check plant has no energy. A swapped coefficient or a working capital that
forgets the energies passes such data. Here every percentage and life differs, the
plant of test_cost_parts (process and dry-room energy, a scrap credit) is rolled up
by hand under both conventions, and the optimiser's objective must equal the roll-up.
"""

from __future__ import annotations

import textwrap

import pytest

from ssbfab import categories, cost
from ssbfab.cost import evaluate
from ssbfab.graph import LineGraph
from test_cost_parts import CELL_KWH, CELLS, ROUTE, config, hand, write_plant

B5 = dict(equipment_life=9.0, building_life=23.0, variable_overhead_of_labour=0.37,
          variable_overhead_of_depreciation=0.19, gsa_of_labour_and_overhead=0.23,
          gsa_of_depreciation=0.29, rnd_of_depreciation=0.41, launch_of_materials=0.06,
          launch_of_labour_and_overhead=0.11, working_capital_of_variable_cost=0.17,
          profit_of_investment=0.07, warranty_of_price=0.043)
AN = dict(discount_rate=0.071, equipment_life=11.0, building_life=27.0, fixed_om_of_capex=0.027,
          overhead_of_labour=0.33)


def economics(route, profit=False, **annuity):
    e = route.economics
    b = e.batpac5.model_copy(update=dict(B5, include_profit_and_warranty=profit))
    a = e.annuity.model_copy(update=dict(AN, **annuity))
    return e.model_copy(update={"batpac5": b, "annuity": a})


def batpac5_by_hand(h: dict, profit: bool) -> dict:
    eq, bld, dry = h["equipment_capex"], h["building_capex"], h["dry_room_capex"]
    lab, mat = h["labour"], h["materials"]
    # the energies, argon, H2S abatement and rework are variable costs
    energy = (h["process_energy"] + h["dry_room_energy"] + h.get("inert_gas", 0.0)
              + h.get("h2s_abatement", 0.0) + h.get("rework", 0.0))
    dep = eq / 9 + bld / 23 + dry / 9  # the dry room over the equipment life
    vo = 0.37 * lab + 0.19 * dep
    gsa = 0.23 * (lab + vo) + 0.29 * dep
    rnd = 0.41 * dep
    cost_ = mat + lab + energy + dep + vo + gsa + rnd
    launch = 0.06 * mat + 0.11 * (lab + vo)
    working = 0.17 * (mat + lab + vo + energy)  # the energies are variable costs
    investment = eq + bld + dry + launch + working
    out = dict(vo=vo, gsa=gsa, rnd=rnd, launch=launch, working=working, investment=investment,
               total=cost_, dep=dep)
    if profit:
        out["profit"] = 0.07 * investment
        out["warranty"] = 0.043 / (1 - 0.043) * (cost_ + out["profit"])
        out["total"] = cost_ + out["profit"] + out["warranty"]
    return out


@pytest.mark.parametrize("profit", [False, True])
def test_batpac5_with_distinct_coefficients_by_hand(route, profit):
    h = hand("dry")
    x = batpac5_by_hand(h, profit)
    c = evaluate(config(route, "dry"), economics=economics(route, profit), costing="batpac5")
    kwh = CELLS * CELL_KWH
    assert c.cost_per_kwh * kwh == pytest.approx(x["total"], rel=1e-9)
    assert c.per_year["equipment"] == pytest.approx(h["equipment_capex"] / 9, rel=1e-9)
    assert c.per_year["building"] == pytest.approx(h["building_capex"] / 23, rel=1e-9)
    assert c.per_year["dry_room"] == pytest.approx(h["dry_room_capex"] / 9, rel=1e-9)
    items = {k: v * kwh for k, v in c.overhead_items.items()}
    assert items["variable_overhead"] == pytest.approx(x["vo"], rel=1e-9)
    assert items["gsa"] == pytest.approx(x["gsa"], rel=1e-9)
    assert items["rnd"] == pytest.approx(x["rnd"], rel=1e-9)
    assert c.investment["launch_usd"] == pytest.approx(x["launch"], rel=1e-9)
    assert c.investment["working_capital_usd"] == pytest.approx(x["working"], rel=1e-9)
    assert c.investment["investment_usd"] == pytest.approx(x["investment"], rel=1e-9)
    if profit:
        assert items["profit"] == pytest.approx(x["profit"], rel=1e-9)
        assert items["warranty"] == pytest.approx(x["warranty"], rel=1e-9)
    else:
        assert "profit" not in items and "warranty" not in items
    assert c.per_year["overheads"] == pytest.approx(sum(items.values()), rel=1e-12)
    assert sum(c.by_category.values()) == pytest.approx(c.cost_per_kwh, rel=1e-12)
    by_step = c.by_step.groupby("category")["usd_per_year"].sum()
    for cat, v in c.per_year.items():
        assert by_step[cat] == pytest.approx(v, rel=1e-9, abs=1e-6), cat


def crf(r: float, n: float) -> float:
    return r * (1 + r) ** n / ((1 + r) ** n - 1)


@pytest.mark.parametrize("rate", [0.071, 0.0])
def test_annuity_with_distinct_lives_and_rates_by_hand(route, rate):
    h = hand("wet")
    c = evaluate(config(route, "wet"), economics=economics(route, discount_rate=rate),
                 costing="annuity")
    eq, bld, dry = h["equipment_capex"], h["building_capex"], h["dry_room_capex"]
    f_e, f_b = (crf(rate, 11), crf(rate, 27)) if rate else (1 / 11, 1 / 27)
    assert c.per_year["equipment"] == pytest.approx(eq * f_e, rel=1e-9)
    assert c.per_year["building"] == pytest.approx(bld * f_b, rel=1e-9)
    assert c.per_year["dry_room"] == pytest.approx(dry * f_e, rel=1e-9)
    items = {k: v * c.good_kwh_per_year for k, v in c.overhead_items.items()}
    assert items["fixed_om"] == pytest.approx(0.027 * (eq + bld + dry), rel=1e-9)
    assert items["labour_overhead"] == pytest.approx(0.33 * h["labour"], rel=1e-9)
    assert c.investment == {"investment_usd": pytest.approx(eq + bld + dry, rel=1e-12)}
    total = (h["materials"] + h["labour"] + h["process_energy"] + h["dry_room_energy"]
             + eq * f_e + bld * f_b + dry * f_e + items["fixed_om"] + items["labour_overhead"])
    assert c.cost_per_kwh * c.good_kwh_per_year == pytest.approx(total, rel=1e-9)


def _unit(k: str) -> dict:
    """One unit of primary quantity k, none of the others (the hand roll-up's input)."""
    return {p: (1.0 if p == k else 0.0) for p in categories.primary_names()}


@pytest.mark.parametrize("costing", ["batpac5", "annuity"])
def test_the_objective_is_the_rollup_under_distinct_economics(route, costing):
    from ssbfab.opt import optimize

    econ = economics(route, profit=True)
    plan = optimize(route, config(route).capacity_gwh, costing=costing, economics=econ, gap=1e-9)
    assert plan.status.status == "optimal", plan.status.reason
    again = evaluate(plan.config, costing=costing, economics=econ)
    assert again.cost_per_kwh == pytest.approx(plan.status.objective, rel=1e-6)
    # the optimiser's weight of each primary quantity is the hand roll-up of one unit
    # of it under these coefficients, and the roll-up of two units is twice that
    w = categories.weights(econ, costing)
    f_e, f_b = crf(0.071, 11), crf(0.071, 27)
    annuity = {"equipment_capex": f_e + 0.027, "dry_room_capex": f_e + 0.027,
               "building_capex": f_b + 0.027, "labour": 1.33, "materials": 1.0,
               "process_energy": 1.0, "dry_room_energy": 1.0, "inert_gas": 1.0,
               "h2s_abatement": 1.0, "rework": 1.0}
    for k in categories.primary_names():
        truth = (batpac5_by_hand(_unit(k), profit=True)["total"] if costing == "batpac5"
                 else annuity[k])
        assert w[k] == pytest.approx(truth, rel=1e-12), k
        assert categories.rollup({k: 2.0}, econ, costing).total == pytest.approx(2.0 * truth,
                                                                                 rel=1e-12), k


def test_merit_order_dispatch_and_overflow_to_the_dearest_installed():
    # cheapest first up to capacity; what is left goes to the dearest installed option
    got = cost.dispatch(100.0, [("a", 30.0, 3.0), ("b", 50.0, 1.0), ("c", 0.0, 9.0),
                                ("d", 5.0, 2.0)])
    assert got == {"b": 50.0, "d": 5.0, "a": 45.0, "c": 0.0}
    assert cost.dispatch(40.0, [("a", 30.0, 3.0), ("b", 50.0, 1.0)]) == {"a": 0.0, "b": 40.0}
    assert cost.dispatch(10.0, [("x", 0.0, 1.0), ("y", 0.0, 2.0)]) == {"x": 0.0, "y": 10.0}


@pytest.fixture(scope="module")
def route(tmp_path_factory):
    return write_plant(tmp_path_factory.mktemp("rollup_lines"))


@pytest.fixture(scope="module")
def shared_credit(tmp_path_factory):
    """The parts plant, with the credited pouch material also bought at the powder step."""
    text = textwrap.dedent(ROUTE).replace(
        'materials: [{material: powder, amount: "1 kg/kg"}]',
        'materials: [{material: powder, amount: "1 kg/kg"}, {material: pack, amount: "0.01 kg/kg"}]')
    assert "0.01 kg/kg" in text
    return write_plant(tmp_path_factory.mktemp("credit_lines"), text)


def test_a_scrap_credit_is_shared_by_the_steps_that_buy_the_material(shared_credit):
    c = evaluate(config(shared_credit, "dry"))
    h = hand("dry")
    s_p, s_c = h["started"]["powder_step"], h["started"]["cell_step"]
    q_p, q_c = 0.01 * s_p, 0.030 * s_c  # kg of pack bought at each step
    credit = 0.40 * 8.0 * CELLS * 0.030  # for the design amount in good cells
    powder = s_p * 10.0 + q_p * 8.0 * 0.6 + credit * q_p / (q_p + q_c)
    cell = q_c * 8.0 * 0.6 + credit * q_c / (q_p + q_c)
    rows = c.by_step[c.by_step["category"] == "materials"].set_index("step")["usd_per_year"]
    assert rows["powder_step"] == pytest.approx(powder, rel=1e-9)
    assert rows["cell_step"] == pytest.approx(cell, rel=1e-9)
    assert c.per_year["materials"] == pytest.approx(powder + cell, rel=1e-9)


def test_the_breakdown_as_a_document(route):
    c = evaluate(config(route, "dry"), economics=economics(route, profit=True))
    d = c.to_dict()
    assert d == {
        "cost_per_kwh": c.cost_per_kwh, "currency": "USD", "currency_year": 2022,
        "costing": "batpac5", "breakdown": c.by_category, "per_year": c.per_year,
        "overhead_items": c.overhead_items, "investment": c.investment,
        "capex_total": c.capex_total, "floor_area_m2": 550.0, "dry_room_area_m2": 350.0,
        "dew_point_class": "dry", "good_kwh_per_year": c.good_kwh_per_year,
        "good_cells_per_year": CELLS, "h2s_m3_per_year": 0.0,
        "dry_room_all_in": c.dry_room_all_in,
    }
    # all-in dry room: its equipment and energy, plus a share of the building no larger
    # than the whole building category
    kwh = c.good_kwh_per_year
    room = (c.per_year["dry_room"] + c.per_year["dry_room_energy"]) / kwh
    assert room < c.dry_room_all_in < room + c.per_year["building"] / kwh
    # every registered category, in report order, and nothing else
    assert list(d["breakdown"]) == ["materials", "equipment", "building", "dry_room",
                                    "dry_room_energy", "process_energy", "inert_gas",
                                    "h2s_abatement", "rework", "labour", "overheads"]
    assert list(d["breakdown"]) == [ln.name for ln in categories.categories()]
    h = hand("dry")
    assert d["capex_total"] == pytest.approx(h["equipment_capex"] + h["building_capex"]
                                             + h["dry_room_capex"], rel=1e-12)
    assert d["good_cells_per_year"] == pytest.approx(CELLS, rel=1e-12)
    assert d["good_kwh_per_year"] == pytest.approx(CELLS * CELL_KWH, rel=1e-12)


def test_option_rates_per_hour_and_availability(tmp_path):
    # distinct rates and availabilities: a batch option (10 kg per 0.4 h cycle), one
    # with failures (MTBF 90 h, MTTR 10 h) and one with failures and planned stops
    text = textwrap.dedent(ROUTE).replace(
        '{name: small, capex: "1 MUSD", rate: "20 kg/h",',
        '{name: small, capex: "1 MUSD", batch: "10 kg", cycle_time: "0.4 h",').replace(
        'power: "200 kW",', 'power: "200 kW", mtbf: "90 h", mttr: "10 h",').replace(
        'power: "20 kW",', 'power: "20 kW", mtbf: "190 h", mttr: "10 h", '
        'maintenance: {every: "480 h", duration: "20 h"},')
    assert text.count("mtbf") == 2 and "cycle_time" in text
    graph = LineGraph.of(write_plant(tmp_path, text))
    got = {(n.name, o.name): (o.rate_per_hour, o.availability)
           for n in graph.steps for o in n.options}
    assert got == {
        ("powder_step", "small"): (pytest.approx(25.0, rel=1e-12), pytest.approx(1.0, rel=1e-12)),
        ("powder_step", "large"): (pytest.approx(200.0, rel=1e-12), pytest.approx(0.9, rel=1e-12)),
        ("cell_step", "assembler"): (pytest.approx(1000.0, rel=1e-12),
                                     pytest.approx(0.95 * 0.96, rel=1e-12)),
    }
