"""Make or buy (issue 12, item 1): the optimiser chooses one supply option per material
with the rest of the plant, and its choice agrees with hand computations and brute
force; the chosen option's steps are the plan's line (costed, simulated)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ssbfab import categories, cost
from ssbfab.cli import app
from ssbfab.data import load_route, resolve_route
from ssbfab.graph import LineGraph
from ssbfab.opt.solve import OptModel
from ssbfab.summary import default_yields

ROOT = Path(__file__).resolve().parents[1]
LINES = ROOT / "lines"
ROUTE_FILE = LINES / "routes" / "sulfide-lpscl.yaml"
GWH = 2.0


@pytest.fixture(scope="module")
def sulfide():
    return resolve_route("sulfide-lpscl", LINES)


@pytest.fixture(scope="module")
def milling_only(tmp_path_factory):
    """The sulfide route with LPSCl made by milling only (Li2S and Li foil still make or
    buy): the Li2S a plant needs then does not depend on how LPSCl is made. Li2S is
    made by the carbothermal option only (the hand computation is of its data; the
    hydroxide option has its own tests, test_supply_hydroxide.py)."""
    doc = yaml.safe_load(ROUTE_FILE.read_text())
    doc["supply"]["LPSCl"]["options"] = [o for o in doc["supply"]["LPSCl"]["options"]
                                         if o["name"] == "milling"]
    doc["supply"]["Li2S"]["options"] = [o for o in doc["supply"]["Li2S"]["options"]
                                        if o["name"] != "hydroxide"]
    gone = {"lpscl_receiving", "lpscl_solution_synthesis", "lpscl_solution_drying",
            "li2s_sulfidation", "li2s_hydroxide_purification"}
    doc["line"] = [s for s in doc["line"] if s["name"] not in gone]
    p = tmp_path_factory.mktemp("route") / "sulfide-milling.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_route(p, lines_dir=LINES)


def test_where_the_data_make_one_option_clearly_cheaper_the_optimiser_picks_it(sulfide):
    # bought LPSCl at 400 USD/kg against its raws at about 156 USD/kg; foil at 450
    # USD/kg against ingot at 297 USD/kg / 85 % rolling yield = 350 USD/kg; bought Li2S
    # at 343 USD/kg against about 410 USD/kg made on site (`ssbfab materials`)
    plan = OptModel(sulfide).solve(GWH)
    assert plan.ok
    assert plan.config.supply["Li2S"] == "buy"
    assert plan.config.supply["Li_metal"] == "extrude_roll"
    assert plan.config.supply["LPSCl"] in ("milling", "solution")
    # the plan's line is the chosen options' steps, and only those
    steps = set(plan.config.steps)
    assert {"li2s_receiving", "li_extrusion_rolling"} <= steps
    assert not steps & {"li2s_reduction", "lpscl_receiving", "li_foil_receiving"}
    # one cost function: the objective equals evaluate() of the plan's configuration
    assert plan.status.objective == pytest.approx(cost.evaluate(plan.config).cost_per_kwh,
                                                  rel=1e-6)
    doc = plan.to_dict()
    assert set(doc["supply"]) == {"LPSCl", "Li2S", "Li_metal"}


def _make_cost_per_year(route, plan_li2s_kg: float, costing: str = "batpac5") -> tuple[float, float]:
    """By hand from the options' data: (USD/yr of the carbothermal option at this Li2S
    output, and of the receiving step without the Li2S it buys), whole machines of each
    step's one option, the convention's weights on machines, materials and energy."""
    econ = route.economics
    w = categories.weights(econ, costing)
    hours = econ.operating_hours_per_year
    full = route.full

    def step(name):
        return full.step(name)

    def machines(name, started_kg):
        o = step(name).options[0]
        a = o.mtbf / (o.mtbf + o.mttr) if o.mtbf else 1.0
        rate = o.rate_per_hour
        n = math.ceil(started_kg / (rate * a * hours) - 1e-9)
        return n * categories.machine_weight(o, econ, w)

    def energy(name, started_kg):
        o = step(name).options[0]
        return o.power / o.rate_per_hour * econ.electricity_price * started_kg * w["process_energy"]

    mats = full.all_materials
    price = {m: mats[m].price_per_unit[0] for m in ("Li2SO4", "carbon_black", "slurry_solvent",
                                                     "li2s_purification_consumables")}
    pur = plan_li2s_kg / 0.90  # started at purification (yield 90 %)
    red = pur / 0.88  # reduction (88 %)
    mix = red / 0.99  # precursor mixing (99 %)
    make = (w["materials"] * (mix * (2.393 * price["Li2SO4"] + 0.523 * price["carbon_black"])
                              + pur * 4 * (1 - 0.95) * price["slurry_solvent"]
                              + pur * 1.0 * price["li2s_purification_consumables"])
            + machines("li2s_precursor_mixing", mix) + machines("li2s_reduction", red)
            + machines("li2s_purification", pur)
            + energy("li2s_precursor_mixing", mix) + energy("li2s_reduction", red)
            + energy("li2s_purification", pur))
    rec = plan_li2s_kg / 0.995  # started at receiving (99.5 %), each kg bought
    buy_fixed = machines("li2s_receiving", rec) + energy("li2s_receiving", rec)
    return make, buy_fixed


def _li2s_kg(plan) -> float:
    """Li2S delivered per year by the plan's line (kg/yr), from its flows."""
    graph = LineGraph.of(plan.config.route)
    good, _ = graph.flows(plan.config.yields())
    t = next(s for s in ("li2s_receiving", "li2s_purification", "li2s_hydroxide_purification")
             if s in good)
    return good[t] * plan.config.good_cells_per_year()


@pytest.mark.slow
def test_the_choice_switches_from_buy_to_make_at_the_hand_computed_li2s_price(milling_only):
    """The break-even Li2S price p*: w_mat · started_receiving · p* + receiving's fixed
    cost = the carbothermal option's cost per year (by hand, at the plant's Li2S need).
    Below p* (by more than whole-machine lumpiness) the plant buys, above it makes."""
    route = milling_only
    om = OptModel(route)
    base = om.solve(GWH)
    kg = _li2s_kg(base)
    make, buy_fixed = _make_cost_per_year(route, kg)
    w = categories.weights(route.economics, "batpac5")
    p_star = (make - buy_fixed) / (w["materials"] * kg / 0.995)  # USD per kg of Li2S
    usd_per_cny = route.economics.currency_rates_by_year[2025]["CNY"]
    print(f"\nLi2S need {kg / 1000:,.0f} t/yr at {GWH:g} GWh/yr; make beats buy above "
          f"{p_star:.1f} USD/kg = {p_star * 1000 / usd_per_cny / 1e6:.3f} M CNY/t (by hand)")
    below = om.solve(GWH, prices={"Li2S": 0.8 * p_star})
    above = om.solve(GWH, prices={"Li2S": 1.25 * p_star})
    assert below.config.supply["Li2S"] == "buy"
    assert above.config.supply["Li2S"] == "carbothermal"
    # and the switch is sharp: scan for it and find it within 20 % of p*
    lo, hi = 0.8 * p_star, 1.25 * p_star
    for _ in range(5):
        mid = 0.5 * (lo + hi)
        if om.solve(GWH, prices={"Li2S": mid}).config.supply["Li2S"] == "buy":
            lo = mid
        else:
            hi = mid
    print(f"optimiser switches between {lo:.1f} and {hi:.1f} USD/kg")
    assert 0.8 * p_star <= lo <= hi <= 1.25 * p_star


def test_a_supply_limit_makes_the_plant_make_what_it_cannot_buy(sulfide):
    """At 2 GWh/yr the plant needs about 770 t/yr of Li2S and buys it (cheaper per kg);
    with the supplier's limit cut to 500 t/yr it must make it; the limit is shared by
    the plant's lines."""
    assert OptModel(sulfide).solve(GWH).config.supply["Li2S"] == "buy"
    capped = resolve_route("sulfide-lpscl", LINES,
                           overrides={"supply.Li2S.options.buy.limit": "500 t/yr"})
    plan = OptModel(capped).solve(GWH)
    from ssbfab.supply import option_costs

    made = {c.option: c.total for c in option_costs(sulfide) if c.material == "Li2S"
            and c.option != "buy"}
    assert plan.ok and plan.config.supply["Li2S"] == min(made, key=made.get)
    assert _li2s_kg(plan) * plan.lines > 5e5


def _restricted(route, choice):
    return route.full.with_supply(choice, keep_others=False)


def test_brute_force_over_the_li_foil_supply_equals_the_milp(sulfide):
    """Fix every other material's supply; each Li_metal option alone, optimised; the
    cheapest equals the MILP that chooses."""
    fixed = {"LPSCl": "milling", "Li2S": "buy"}
    r = sulfide.full.with_supply(fixed)
    # the MILP may still choose LPSCl and Li2S: keep only Li_metal's choice open
    doc_choice = r.full.supply_choice
    assert doc_choice
    costs = {}
    for o in ("buy_foil", "extrude_roll"):
        plan = OptModel(_restricted(sulfide, {**fixed, "Li_metal": o})).solve(GWH)
        costs[o] = plan.cost.cost_per_kwh
    both = OptModel(_restricted_open(sulfide, fixed)).solve(GWH)
    assert both.cost.cost_per_kwh == pytest.approx(min(costs.values()), rel=1e-6)
    assert both.config.supply["Li_metal"] == min(costs, key=costs.get)


def _restricted_open(route, fixed):
    """The route with `fixed` materials' supply reduced to one option and the others
    still open: a route file with the other options' steps removed."""
    full = route.full
    keep = {m: [o for o in s.options if m not in fixed or o.name == fixed[m]]
            for m, s in full.supply.items()}
    drop = {st for m, s in full.supply.items() for o in s.options if o not in keep[m]
            for st in o.steps}
    line = [s.model_copy(update={"inputs": [e for e in s.inputs if e.step not in drop]})
            for s in full.line if s.name not in drop]
    out = full.model_copy(update={
        "line": line,
        "supply": {m: s.model_copy(update={"options": keep[m]}) for m, s in full.supply.items()}})
    for k in ("consumers", "order", "all_materials", "dry_room_options"):
        out.__dict__.pop(k, None)
    return out


@pytest.mark.slow
def test_brute_force_over_every_supply_choice_equals_the_milp(sulfide):
    costs = {}
    full = sulfide.full
    names = {m: [o.name for o in s.options] for m, s in full.supply.items()}
    for combo in itertools.product(*names.values()):
        choice = dict(zip(names, combo, strict=True))
        if choice["LPSCl"] == "buy" and choice["Li2S"] != "buy":
            continue  # no Li2S needed: the same plant as with Li2S "buy"
        costs[combo] = OptModel(_restricted(sulfide, choice)).solve(GWH).cost.cost_per_kwh
    milp = OptModel(sulfide).solve(GWH)
    assert milp.cost.cost_per_kwh == pytest.approx(min(costs.values()), rel=1e-6)
    best = min(costs, key=costs.get)
    chosen = milp.config.supply
    assert tuple(chosen[m] or "buy" for m in names) == best


def test_the_plan_of_a_supply_choice_is_the_line_the_simulator_runs(sulfide):
    from ssbfab.sim.linemodel import compile_config

    plan = OptModel(sulfide).solve(GWH)
    lm = compile_config(plan.config, days=30, warmup_days=1)
    names = {s.name for s in lm.steps}
    assert names == set(plan.config.route.order)
    assert "li_extrusion_rolling" in names and "li_foil_receiving" not in names


def test_materials_prints_each_options_cost_per_kg_and_the_li2s_check():
    res = CliRunner().invoke(app, ["materials", "sulfide-lpscl"])
    assert res.exit_code == 0, res.output
    assert "make or buy" in res.output and "carbothermal" in res.output
    assert "check: Li2S is" in res.output
    assert max(len(ln) for ln in res.output.splitlines()) <= 100


def test_option_cost_per_kg_of_bought_li2s_by_hand(sulfide):
    """Bought Li2S: its price over the receiving yield, with the convention's weight on
    materials, plus the receiving station's whole machines over the kg delivered."""
    from ssbfab.supply import option_costs

    c = next(x for x in option_costs(sulfide) if (x.material, x.option) == ("Li2S", "buy"))
    econ = sulfide.economics
    w = categories.weights(econ, "batpac5")
    price = sulfide.all_materials["Li2S"].price_per_unit[0]
    assert c.materials == pytest.approx(w["materials"] * price / 0.995, rel=1e-9)
    o = sulfide.full.step("li2s_receiving").options[0]
    n = c.machine_counts["li2s_receiving"]
    assert n == math.ceil(c.kg_per_year / 0.995 / (100 * o.availability
                                                     * econ.operating_hours_per_year))
    assert c.machines == pytest.approx(n * categories.machine_weight(o, econ, w)
                                       / c.kg_per_year, rel=1e-9)
    # the yields of the default line: it delivers the Li2S the route's LPSCl needs
    assert c.kg_per_year > 0
    assert default_yields(sulfide)


# ----------------------------------------------------------------------------- bad input


def _broken(tmp_path, old, new):
    text = ROUTE_FILE.read_text()
    assert text.count(old) == 1, old
    p = tmp_path / "sulfide-lpscl.yaml"
    p.write_text(text.replace(old, new))
    return p, p.read_text()


@pytest.mark.parametrize("old,new,field,says", [
    ("  Li2S:\n    options:\n      - name: buy\n",
     "  Li2Sx:\n    options:\n      - name: buy\n", "supply.Li2Sx",
     ("unknown material 'Li2Sx'", "did you mean 'Li2S'")),
    ("    inputs: [{supply: Li_metal}]", "    inputs: [{supply: Li_metl}]",
     "line.19.inputs.0.supply", ("no supply options for 'Li_metl'", "did you mean 'Li_metal'")),
    ("        steps: [li_extrusion_rolling]", "        steps: [li_extrusion_rollin]",
     "supply.Li_metal.options.1.steps.0", ("unknown step 'li_extrusion_rollin'",)),
    ("        steps: [li_extrusion_rolling]", "        steps: [li_foil_receiving]",
     "supply.Li_metal.options.1.steps.0",
     ("already in supply option Li_metal.buy_foil", "exactly one option")),
    ("      - name: carbothermal\n",
     '        limit: {value: "5000 t", source: illustrative}\n      - name: carbothermal\n',
     "supply.Li2S.options.0.limit", ("t/yr", "mass_per_year")),
])
def test_bad_supply_options_are_refused_with_file_line_field(tmp_path, old, new, field, says):
    p, text = _broken(tmp_path, old, new)
    res = CliRunner().invoke(app, ["validate", str(p)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    err = res.stderr
    # the line the message names holds the broken text, or is the key just above it
    first = new.splitlines()[0]
    at = [i + 1 for i, ln in enumerate(text.splitlines()) if ln == first]
    assert at
    assert any(f"{p}:{n}: {field}: " in err for a in at for n in (a, a - 1)), err
    for s in says:
        assert s in err, err


def test_a_plan_with_its_supply_reads_back_for_the_simulator(sulfide):
    """plan.json carries `supply`; reading it back runs the chosen options' steps (what
    `simulate --plan` does), and an unknown option is bad input."""
    from ssbfab.config import PlantConfig
    from ssbfab.errors import InputError

    plan = OptModel(sulfide).solve(GWH)
    doc = plan.config.to_dict()
    assert doc["supply"] == plan.config.supply
    back = PlantConfig.from_dict(sulfide, doc)
    assert back.route.order == plan.config.route.order
    assert back.steps == plan.config.steps
    doc["supply"] = {**doc["supply"], "Li_metal": "evaporate"}
    with pytest.raises(InputError, match="unknown supply option 'evaporate'"):
        PlantConfig.from_dict(sulfide, doc)


def test_alternative_supply_options_carry_one_material_not_three():
    """In the full route a step draws LPSCl from every option's delivering step (three
    edges); one of them delivers, so its moisture-sensitive kg — hence the H2S it can
    release — is the chosen route's, not three times it."""
    from ssbfab.data import resolve_route
    from ssbfab.graph import LineGraph

    route = resolve_route("sulfide-lpscl")
    full, chosen = LineGraph.of(route.full), LineGraph.of(route)
    assert len(route.full.step("lpscl_classifying").inputs) == 3
    for s in ("lpscl_classifying", "cathode_mixing", "separator_coating"):
        assert full.node(s).sensitive_kg == pytest.approx(chosen.node(s).sensitive_kg, rel=1e-12)
        assert chosen.node(s).sensitive_kg > 0
