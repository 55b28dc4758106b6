"""What the parts plant of test_cost_parts leaves at zero or never reaches, by hand:
rework and H2S abatement (a powder step with a rework loop and an H2S release, a
site abatement price that is not 1), observed statistics that cover only some steps
or name a class the route may not use, price overrides, and the line's share of a
volume-scaled plant of several lines. Data are asymmetric on purpose: the two
classes' water ratios differ, and the rework share, its yield and its cost are
distinct numbers, so a swapped or inverted factor changes the answer.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap

import pytest

from ssbfab import cost
from ssbfab.cost import evaluate
from ssbfab.data import load_shared, resolve_route
from ssbfab.errors import InputError
from ssbfab.stats import DryRoomStats, Estimate, LineStats, StepStats
from test_cost_parts import CELLS, DRY_ROOMS, ECONOMICS, MATERIALS, ROUTE, config

H2S_PRICE = 7.0  # USD/m³ abated
RELEASE = 0.2  # cm³ H2S per g of powder at the reference dew point (-40 °C)
POWDER_KG = 1.25  # kg of (moisture-sensitive) powder bought per kg the powder step makes
SHARE, BACK, RW_COST = 0.5, 0.8, 3.0  # rework: share of scrap, yield of it, USD/kg


def magnus_ppmv(t: float) -> float:
    # REFERENCE.md section 2: frost point -> water vapour (as in test_sim_dryroom)
    return 6.112 * math.exp(22.46 * t / (272.62 + t)) / 1013.25 * 1e6


@pytest.fixture(scope="module")
def plant(tmp_path_factory):
    """The parts plant, its powder moisture-sensitive, reworked and releasing H2S."""
    d = tmp_path_factory.mktemp("primaries_lines")
    (d / "routes").mkdir()
    (d / "economics.yaml").write_text(ECONOMICS + f'h2s_abatement_cost: "{H2S_PRICE} USD/m^3"\n')
    (d / "dry_rooms.yaml").write_text(DRY_ROOMS)
    mats = MATERIALS.replace('powder: {price: "10 USD/kg"}',
                             'powder: {price: "10 USD/kg", moisture_sensitive: true}')
    (d / "materials.yaml").write_text(mats)
    route = textwrap.dedent(ROUTE).replace(
        'materials: [{material: powder, amount: "1 kg/kg"}]',
        f'materials: [{{material: powder, amount: "{POWDER_KG} kg/kg"}}]').replace(
        "excursion: {effect: loss}}",
        f'excursion: {{effect: loss}}, h2s_release: "{RELEASE} cm^3/g"}}\n'
        f'    rework: {{share: "{SHARE:.0%}", yield: "{BACK:.0%}", cost: "{RW_COST} USD/kg"}}')
    assert mats != MATERIALS and "rework" in route and "h2s_release" in route
    assert f"{POWDER_KG} kg/kg" in route
    (d / "routes" / "parts.yaml").write_text(route)
    return resolve_route("parts", d, shared=load_shared(d))


def by_hand(dpc: str) -> dict[str, float]:
    fp = 0.90 * (1.0 if dpc == "dry" else 0.80)  # first-pass yield of the powder step
    y = fp + (1.0 - fp) * SHARE * BACK  # reworked scrap that comes back is good
    started_cell = CELLS / 0.90  # level "fast"
    started_powder = started_cell * 0.5 / y
    ratio = magnus_ppmv(-60.0 if dpc == "dry" else -40.0) / magnus_ppmv(-40.0)
    h2s = started_powder * POWDER_KG * RELEASE * 1e-3 * ratio  # cm³/g x kg -> m³
    return {"started_powder": started_powder, "yield": y,
            "rework": started_powder * (1.0 - fp) * SHARE * RW_COST,
            "h2s_m3": h2s, "h2s_abatement": h2s * H2S_PRICE,
            "powder_materials": started_powder * POWDER_KG * 10.0}


@pytest.mark.parametrize("dpc", ["dry", "wet"])
def test_rework_and_h2s_abatement_by_hand(plant, dpc):
    h = by_hand(dpc)
    c = evaluate(config(plant, dpc))
    assert c.started_per_year["powder_step"] == pytest.approx(h["started_powder"], rel=1e-9)
    assert c.per_year["rework"] == pytest.approx(h["rework"], rel=1e-9)
    assert c.h2s_m3_per_year == pytest.approx(h["h2s_m3"], rel=1e-9)
    assert c.per_year["h2s_abatement"] == pytest.approx(h["h2s_abatement"], rel=1e-9)
    rows = c.by_step.set_index(["step", "category"])["usd_per_year"]
    assert rows[("powder_step", "materials")] == pytest.approx(h["powder_materials"], rel=1e-9)
    assert rows[("cell_step", "rework")] == 0.0 and rows[("cell_step", "h2s_abatement")] == 0.0
    # the per-unit coefficients the optimiser uses are the same numbers
    from ssbfab.graph import LineGraph

    g = LineGraph.of(plant)
    fp = 0.90 * (1.0 if dpc == "dry" else 0.80)
    assert cost.rework_cost_per_started(g, "powder_step", "nominal", dpc) == pytest.approx(
        (1.0 - fp) * SHARE * RW_COST, rel=1e-12)
    assert cost.rework_cost_per_started(g, "cell_step", "fast", dpc) == 0.0
    assert cost.h2s_cost_per_started(g, "powder_step", dpc, plant.economics) == pytest.approx(
        h["h2s_abatement"] / h["started_powder"], rel=1e-9)


def test_the_objective_prices_rework_and_h2s_like_the_cost(plant):
    from ssbfab.opt import optimize

    plan = optimize(plant, config(plant).capacity_gwh, gap=1e-9)
    assert plan.status.status == "optimal", plan.status.reason
    again = evaluate(plan.config)
    assert plan.cost.per_year["rework"] > 0 and plan.cost.per_year["h2s_abatement"] > 0
    assert again.cost_per_kwh == pytest.approx(plan.status.objective, rel=1e-6)


def _stats(route, steps: dict[str, tuple[float, float, str | None]], dpc: str | None):
    """LineStats with, per step covered, (availability, observed yield, level)."""
    e = Estimate
    z = e(0, 0, 0)
    out = {name: StepStats(name, "m", 1, e(0.5, 0.5, 0.5), e(a, a, a), z, z, e(y, y, y),
                           e(1, 1, 1), e(1, 1, 1), level=lv)
           for name, (a, y, lv) in steps.items()}
    return LineStats(route.name, 1, 1, 365, 0, out, z, z, z, z, "", DryRoomStats(z, z, z), 0, 0.0,
                     dew_point_class=dpc)


def test_statistics_of_the_last_step_alone_still_count(plant):
    """A file covering only cell_step (listed after powder_step): its yield factor and
    availability are read; powder_step keeps its nominal numbers."""
    obs = cost.observed(plant, _stats(plant, {"cell_step": (0.8, 0.45, "fast")}, "dry"))
    assert obs == {"cell_step": cost.Observed(0.8, pytest.approx(0.5, rel=1e-12))}
    # an unknown level reads as the step's first level ("fast", 90 %); the "slow" level
    # (95 %) would give 0.45 / 0.95
    obs = cost.observed(plant, _stats(plant, {"cell_step": (0.8, 0.45, "nope")}, "dry"))
    assert obs["cell_step"].yield_factor == pytest.approx(0.5, rel=1e-12)
    obs = cost.observed(plant, _stats(plant, {"cell_step": (0.8, 0.475, "slow")}, "dry"))
    assert obs["cell_step"].yield_factor == pytest.approx(0.5, rel=1e-12)
    # at the powder step the nominal yield is the class's (with rework): 0.94 dry, 0.832 wet
    for dpc in ("dry", "wet"):
        obs = cost.observed(plant, _stats(plant, {"powder_step": (0.8, 0.47, None)}, dpc))
        assert obs["powder_step"].yield_factor == pytest.approx(0.47 / by_hand(dpc)["yield"],
                                                                rel=1e-12)


def test_statistics_in_a_class_the_route_may_not_use_are_refused(plant):
    with pytest.raises(InputError) as e:
        cost.observed(plant, _stats(plant, {"cell_step": (0.8, 0.45, "fast")}, "humid"))
    assert [(p.file, p.field) for p in e.value.problems] == [("arguments",
                                                              "stats.dew_point_class")]


def test_a_config_in_a_class_the_route_may_not_use_names_its_file(tmp_path):
    """A dry room without moisture-sensitive steps: the class only prices the room, and
    a class the route does not list is refused naming the config's file (a sensitive
    step's yield refuses it earlier, naming the route's file)."""
    from test_cost_parts import write_plant

    text = textwrap.dedent(ROUTE).replace(
        '    moisture: {yield_factor: {wet: "80 %", dry: "100 %"}, excursion: {effect: loss}}\n', "")
    assert "moisture" not in text
    route = write_plant(tmp_path, text)
    assert evaluate(config(route, "wet")).dew_point_class == "wet"
    cfg = dataclasses.replace(config(route, "dry"), dew_point_class="humid",
                              meta={"file": "plan.json"})
    with pytest.raises(InputError) as e:
        evaluate(cfg)
    assert [(p.file, p.field) for p in e.value.problems] == [("plan.json", "dew_point_class")]


def test_price_overrides_keep_the_basis_and_change_the_cost(plant):
    pr = cost.material_prices(plant, {"film": 1.7, "powder": 12})
    assert pr["film"] == (1.7, "m2") and pr["powder"] == (12.0, "kg")
    assert pr["pack"] == (8.0, "kg")  # not overridden
    per, credit, detail = cost.material_cost_per_started(plant, {"powder": 12})
    assert detail[("powder_step", "powder")] == pytest.approx(12.0 * POWDER_KG, rel=1e-12)
    assert per["powder_step"] == pytest.approx(12.0 * POWDER_KG, rel=1e-12)
    # pack: 30 g per cell at 8 USD/kg less its 40 % scrap credit; the credit given back
    # for the 30 g that stay in each good cell is the constant
    assert detail[("cell_step", "pack")] == pytest.approx(0.030 * 8.0 * 0.6, rel=1e-12)
    assert credit == pytest.approx(0.030 * 8.0 * 0.4, rel=1e-12)
    with pytest.raises(InputError) as e:
        cost.material_prices(plant, {"powdr": 1.0})
    assert e.value.problems[0].field == "prices.powdr"


def test_a_line_of_a_scaled_plant_carries_its_share():
    """Three lines of 10 GWh/yr under the volume-scaled costing: each carries a third of
    the one 30 GWh/yr plant's machine-, floor- and dry-room-driven costs and areas
    (economies of scale: not what one 10 GWh/yr plant would cost)."""
    from ssbfab.config import size_for_capacity

    liquid = resolve_route("liquid-nmc811-graphite")
    ten = size_for_capacity(liquid, 10.0)
    third = evaluate(dataclasses.replace(ten, meta={"lines": 3}), costing="batpac5-scaled")
    whole = evaluate(size_for_capacity(liquid, 30.0), costing="batpac5-scaled")
    alone = evaluate(ten, costing="batpac5-scaled")
    for k in ("equipment_capex", "building_capex", "dry_room_capex", "labour"):
        assert 3 * third.primary[k] == pytest.approx(whole.primary[k], rel=1e-9), k
        assert third.primary[k] < alone.primary[k] * (1 - 1e-3), k
    assert 3 * third.floor_area_m2 == pytest.approx(whole.floor_area_m2, rel=1e-9)
    assert 3 * third.dry_room_area_m2 == pytest.approx(whole.dry_room_area_m2, rel=1e-9)
    # materials and process energy stay the line's own (machine-level) flows
    assert third.primary["materials"] == pytest.approx(alone.primary["materials"], rel=1e-12)
    assert third.primary["process_energy"] == pytest.approx(alone.primary["process_energy"],
                                                            rel=1e-12)


def test_a_step_with_no_machine_is_short_and_still_priced(plant):
    """No assembler at the one-option cell step: the whole load is short, and its
    process energy is priced on that option all the same (the plan is infeasible, its
    cost is what the load would cost)."""
    c = evaluate(config(plant, "dry"))
    none = evaluate(dataclasses.replace(config(plant, "dry"), steps={
        **config(plant, "dry").steps,
        "cell_step": dataclasses.replace(config(plant, "dry").steps["cell_step"], machines={})}))
    started = CELLS / 0.90
    assert none.shortfall == {"cell_step": pytest.approx(started, rel=1e-12)}
    assert none.capacity_per_year["cell_step"] == 0.0
    # 20 kW x energy factor 0.5 / (1000 cell/h x rate factor 2) x 0.1 USD/kWh per cell
    energy = started * 20 * 0.5 / (1000 * 2) * 0.1
    rows = none.by_step.set_index(["step", "category"])["usd_per_year"]
    assert rows[("cell_step", "process_energy")] == pytest.approx(energy, rel=1e-12)
    assert c.by_step.set_index(["step", "category"])["usd_per_year"][
        ("cell_step", "process_energy")] == pytest.approx(energy, rel=1e-12)


def test_two_credited_materials_bought_at_one_step_both_give_their_credit(tmp_path):
    """The cell step buys the credited pouch (40 %) and a credited film (30 %, also in
    the cell design as its separator): its materials are what it buys less both
    credits for the scrapped share, i.e. bought x price x (1 - credit) plus each
    material's credit for the design amount in the good cells."""
    from ssbfab.graph import LineGraph
    from test_cost_parts import write_plant

    d = tmp_path / "d"
    d.mkdir()
    text = textwrap.dedent(ROUTE).replace(
        "materials: [{material: pack, amount: packaging.pack}]",
        'materials: [{material: pack, amount: packaging.pack}, '
        '{material: film, amount: "1.5 m^2/cell"}]')
    assert "1.5 m^2/cell" in text
    route = write_plant(d, text)
    (d / "materials.yaml").write_text(MATERIALS.replace(
        'film: {price: "0.9 USD/m^2", density: "0.95 g/cm^3"}',
        'film: {price: "0.9 USD/m^2", density: "0.95 g/cm^3", scrap_credit: "30 %"}'))
    route = resolve_route("parts", d, shared=load_shared(d))
    bom_film = LineGraph.of(route).design_bom["film"]  # m² of separator per cell
    assert 0 < bom_film < 1.5  # bought beyond the design: some is scrapped
    c = evaluate(config(route, "dry"))
    started = CELLS / 0.90
    cell = (started * (0.030 * 8.0 * 0.6 + 1.5 * 0.9 * 0.7)
            + CELLS * (0.030 * 8.0 * 0.4 + bom_film * 0.9 * 0.3))
    rows = c.by_step.set_index(["step", "category"])["usd_per_year"]
    assert rows[("cell_step", "materials")] == pytest.approx(cell, rel=1e-9)
    # the optimiser's constant: both credits for the design amounts, per good cell
    _, credit, _ = cost.material_cost_per_started(route)
    assert credit == pytest.approx(0.030 * 8.0 * 0.4 + bom_film * 0.9 * 0.3, rel=1e-12)


def test_an_observed_yield_above_nominal_stops_at_one(plant):
    """A factor of 1.2 observed at the cell step (90 % nominal at "fast") gives 100 %, not
    108 %; at the powder step (94 % in the dry class) 0.5 gives 47 %."""
    obs = {"cell_step": cost.Observed(None, 1.2), "powder_step": cost.Observed(None, 0.5)}
    y = cost.config_yields(config(plant, "dry"), obs)
    assert y == {"powder_step": pytest.approx(0.47, rel=1e-12), "cell_step": 1.0}
    assert list(y) == ["powder_step", "cell_step"]  # the order of the route file


def test_a_good_cell_delivers_the_energy_of_the_energy_steps_level(sulfide):
    """The sulfide route's formation hold sets the cell's capacity: "short_hold" keeps
    64 % of it, the others all of it; a config that does not name the step gets the
    first level's. The cost per kWh divides by this energy."""
    from ssbfab.graph import LineGraph

    g = LineGraph.of(sulfide)
    es = g.energy_step
    assert es is not None and [lv.name for lv in g.node(es).levels] == [
        "standard_hold", "short_hold", "long_hold"]
    # the water dose of the catholyte mixing takes its share of capacity too (a factor of
    # its own, the same at every level): the zones at their driest, argon for the powder
    zones = g.driest_zones
    e = g.energy_kwh * g.dose_capacity("dp-60", zone_classes=zones)
    assert e < g.energy_kwh

    def energy(levels):
        return g.cell_energy(levels, "dp-60", zone_classes=zones)

    assert energy({es: "short_hold"}) == pytest.approx(0.64 * e, rel=1e-12)
    assert energy({es: "long_hold"}) == pytest.approx(e, rel=1e-12)
    assert energy({}) == pytest.approx(e, rel=1e-12)
    assert energy({"some_other_step": "short_hold"}) == pytest.approx(e, rel=1e-12)


def test_what_the_statistics_say_and_do_not_say(plant):
    """The availability while wanted (`availability_operating`) wins over the plain one;
    a yield the file does not give (NaN) leaves the nominal yield; statistics that do
    not name a class read the class-free nominal yield (90 % plus rework: 94 %)."""
    e = Estimate
    z = e(0, 0, 0)
    step = StepStats("powder_step", "m", 1, e(0.5, 0.5, 0.5), e(0.9, 0.9, 0.9), z, z,
                     e(math.nan, math.nan, math.nan), e(1, 1, 1), e(1, 1, 1),
                     availability_operating=e(0.6, 0.6, 0.6))
    stats = LineStats(plant.name, 1, 1, 365, 0, {"powder_step": step}, z, z, z, z, "",
                      DryRoomStats(z, z, z), 0, 0.0, dew_point_class="dry")
    assert cost.observed(plant, stats) == {"powder_step": cost.Observed(0.6, 1.0)}
    obs = cost.observed(plant, _stats(plant, {"powder_step": (0.8, 0.47, None)}, None))
    assert obs["powder_step"].yield_factor == pytest.approx(0.47 / 0.94, rel=1e-12)


def test_installed_capacity_and_price_overrides_in_the_cost(plant):
    """Units a year the machines can start: rate x rate factor x hours (the "fast" level
    doubles the assembler's rate); a price override reaches the materials."""
    from test_cost_parts import HOURS

    c = evaluate(config(plant, "dry"))
    assert c.capacity_per_year == {"powder_step": pytest.approx((2 * 20 + 200) * HOURS, rel=1e-12),
                                   "cell_step": pytest.approx(1000 * 2 * HOURS, rel=1e-12)}
    dear = evaluate(config(plant, "dry"), prices={"powder": 12.0})
    more = by_hand("dry")["started_powder"] * POWDER_KG * (12.0 - 10.0)
    assert dear.per_year["materials"] - c.per_year["materials"] == pytest.approx(more, rel=1e-9)


def test_dispatch_at_its_edges():
    # what is left after the cheaper options goes to the dearest installed one, even
    # when less than one unit is left; nothing to dispatch to gives nothing
    assert cost.dispatch(1.5, [("a", 1.0, 1.0), ("b", 5.0, 2.0), ("c", 5.0, 3.0)]) == {
        "a": 1.0, "b": 0.5, "c": 0.0}
    assert cost.dispatch(5.0, []) == {}
