"""The flow through a line graph that splits and merges, with distinct ratios and
yields, by hand: good output and starts per good cell, material bought per unit
started in each price basis (kg, m², m³) net of recovery, and the scrap of a cell's
materials (bought less what ends in good cells)."""

from __future__ import annotations

import pytest

from sim_lines import load_line, step
from ssbfab import flow
from ssbfab.data import load_route
from ssbfab.graph import LineGraph
from test_cell import SMALL_LINE

YIELDS = {"p": 0.95, "q": 0.80, "r": 0.70, "z": 0.90}


@pytest.fixture(scope="module")
def small(shared, tmp_path_factory):
    p = tmp_path_factory.mktemp("small") / "small.yaml"
    p.write_text(SMALL_LINE)
    return load_route(p, shared=shared)


@pytest.fixture(scope="module")
def diamond(tmp_path_factory, shared):
    # p (kg) feeds q and r (sheets), which both feed the final step z (cells)
    steps = [
        step("p", "kg", rate=10, per_cell="0.5 kg",
             materials=[{"material": "Li2S", "amount": "1.1 kg/kg", "recovered": "30 %"}]),
        step("q", "sheet", rate=10, per_cell="4 sheet", inputs=[{"step": "p", "per_cell": "0.2 kg"}],
             materials=[{"material": "Al_foil", "amount": "0.03 m^2/sheet"}]),
        step("r", "sheet", rate=10, per_cell="6 sheet", inputs=[{"step": "p", "per_cell": "0.3 kg"}],
             materials=[{"material": "electrolyte_LiPF6", "amount": "0.002 L/sheet"},
                        {"material": "Li2S", "amount": "0.01 kg/sheet"}]),
        step("z", "cell", rate=10, inputs=[{"step": "q", "per_cell": "4 sheet"},
                                           {"step": "r", "per_cell": "6 sheet"}]),
    ]
    return load_line(tmp_path_factory.mktemp("diamond"), steps, name="diamond", shared=shared)


def test_ratios_and_flows_of_a_split_and_merge_by_hand(diamond):
    ratios = flow.edge_ratios(diamond, {})
    assert ratios == pytest.approx({("p", "q"): 0.2 / 4, ("p", "r"): 0.3 / 6,
                                    ("q", "z"): 4.0, ("r", "z"): 6.0})
    req = flow.requirements(diamond, YIELDS, {})
    z = 1 / 0.90
    q, r = 4 * z / 0.80, 6 * z / 0.70
    p_good = q * 0.05 + r * 0.05  # each consumer draws its own share of p's output
    assert req.good == pytest.approx({"z": 1.0, "q": 4 * z, "r": 6 * z, "p": p_good})
    assert req.started == pytest.approx({"z": z, "q": q, "r": r, "p": p_good / 0.95})


def test_materials_in_each_basis_net_of_recovery(diamond):
    # per unit started, in each material's price basis: kg per kg at p (30 % of it
    # recovered), m² per sheet at q, m³ per sheet at r (0.002 L = 2e-6 m³), Li2S at two steps
    rates = LineGraph.of(diamond).material_rates
    assert dict(rates) == pytest.approx({("p", "Li2S"): 1.1 * 0.70, ("q", "Al_foil"): 0.03,
                                         ("r", "electrolyte_LiPF6"): 0.002e-3,
                                         ("r", "Li2S"): 0.01})
    req = flow.requirements(diamond, YIELDS, {})
    # Li2S is bought at two steps: the sum of both
    assert req.bought == pytest.approx({"Li2S": 0.77 * req.started["p"] + 0.01 * req.started["r"],
                                        "Al_foil": 0.03 * req.started["q"],
                                        "electrolyte_LiPF6": 2e-6 * req.started["r"]})
    # a bare line has no cell design: all that is bought is scrap or in the product
    assert req.scrapped == pytest.approx(req.bought)


def test_scrap_is_what_is_bought_beyond_the_design_amount(small):
    from ssbfab.cell import design

    c = design(small)
    y = flow.nominal_yields(small, None, {"coating": "fast"})
    assert y == pytest.approx({"milling": 0.80, "separator": 0.90, "mixing": 0.95,
                               "coating": 0.70, "anode": 0.97, "assembly": 0.75, "test": 0.60})
    req = flow.requirements(small, y, c.refs)
    for m, q in req.bought.items():
        d = c.design_bom[m].value if m in c.design_bom else 0.0
        assert req.scrapped[m] == pytest.approx(q - d, rel=1e-12, abs=1e-15), m
        assert req.scrapped[m] > 0, m
    # the made LPSCl's raws are bought but are not in the design BOM by their own names
    assert req.scrapped["Li2S"] == pytest.approx(req.bought["Li2S"])


def test_nominal_yields_multiply_level_and_dry_room_class(sulfide):
    step_ = next(s for s in sulfide.line if s.moisture is not None
                 and len(set(s.moisture.yield_factor.values())) > 1)
    classes = sorted(step_.moisture.yield_factor, key=step_.moisture.yield_factor.get)
    worst = classes[0]
    last = step_.setting_levels[-1]
    y = flow.nominal_yields(sulfide, worst, {step_.name: last.name})
    assert y[step_.name] == pytest.approx(last.yield_ * step_.moisture.yield_factor[worst])
    assert step_.moisture.yield_factor[worst] < 1.0
    # without a class the level's yield alone; without a level the first level's
    assert flow.nominal_yields(sulfide)[step_.name] == pytest.approx(step_.setting_levels[0].yield_)


def test_requirements_find_the_design_references_themselves(small, diamond):
    from ssbfab.cell import design

    y = flow.nominal_yields(small, None, {"coating": "slow"})
    given, found = flow.requirements(small, y, design(small).refs), flow.requirements(small, y)
    assert found.started == pytest.approx(given.started)
    assert found.bought == pytest.approx(given.bought)
    assert found.scrapped == pytest.approx(given.scrapped)
    # a bare line has none (and no cell design to find them in)
    assert flow.requirements(diamond, YIELDS).started == pytest.approx(
        flow.requirements(diamond, YIELDS, {}).started)


def test_a_made_material_and_a_raw_bought_at_the_same_step_add_up(tmp_path, shared):
    # milling makes LPSCl (2.5 Li2S + 0.5 P2S5 + LiCl, mol) and also takes extra Li2S
    text = SMALL_LINE.replace("    makes: LPSCl\n", "    makes: LPSCl\n    materials:\n"
                              "      - {material: Li2S, amount: \"0.05 kg/kg\"}\n")
    assert "0.05 kg/kg" in text
    p = tmp_path / "small.yaml"
    p.write_text(text)
    route = load_route(p, shared=shared)
    # mass fractions by hand from the molar masses in lines/materials.yaml (g/mol)
    li2s, p2s5, licl = 2.5 * 45.95, 0.5 * 222.27, 1.0 * 42.39
    total = li2s + p2s5 + licl
    rates = LineGraph.of(route).material_rates
    assert rates[("milling", "Li2S")] == pytest.approx(0.05 + li2s / total, rel=1e-12)
    assert rates[("milling", "P2S5")] == pytest.approx(p2s5 / total, rel=1e-12)
    assert rates[("milling", "LiCl")] == pytest.approx(licl / total, rel=1e-12)


def test_a_class_the_route_may_not_use_is_refused_naming_the_steps(tmp_path):
    # the parts plant, with its moisture-sensitive powder step given no factor for "wet":
    # "wet" is listed but not allowed; "dry" stays
    import textwrap

    from ssbfab.errors import InputError
    from test_cost_parts import ROUTE, write_plant

    text = textwrap.dedent(ROUTE).replace('yield_factor: {wet: "80 %", dry: "100 %"}',
                                          'yield_factor: {dry: "100 %"}')
    assert 'yield_factor: {dry: "100 %"}' in text
    graph = LineGraph.of(write_plant(tmp_path, text))
    assert graph.classes == ("dry",) and dict(graph.excluded) == {"wet": ("powder_step",)}
    assert graph.class_problem("dry") is None
    with pytest.raises(InputError) as e:
        graph.check_class("wet", "plant.dew_point_class")
    p = e.value.problems[0]
    assert p.field == "plant.dew_point_class"
    assert "'powder_step'" in p.message and "expected one of dry" in p.message
    # an unknown class: the closest allowed name is suggested
    assert "(did you mean 'dry'?)" in graph.class_problem("dri")
    assert graph.yield_at("powder_step", "nominal", "dry") == pytest.approx(0.90)
