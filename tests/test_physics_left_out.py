"""Costs that used to be left out (issue 12, item 6): argon for argon machines, H2S
abatement sized from the H2S the line releases with a site limit, formation energy
with a recovery factor, and the dry room reported all-in. Each checked by hand."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ssbfab import categories
from ssbfab.cli import app
from ssbfab.cost import evaluate
from ssbfab.data import units
from ssbfab.graph import LineGraph
from ssbfab.opt import optimize


@pytest.fixture(scope="module")
def plan(sulfide):
    return optimize(sulfide, 10.0)


def test_objective_is_evaluate(plan):
    assert plan.status.objective == pytest.approx(evaluate(plan.config).cost_per_kwh, rel=1e-6)


def test_argon_by_hand(sulfide, plan):
    e = sulfide.economics
    hours = e.operating_days_per_year * e.shifts_per_day * e.shift_length
    flows = {("lpscl_milling", "attritor_glovebox"): 2.0,
             ("lpscl_milling", "large_attritor_glovebox"): 4.0,
             ("lpscl_annealing", "argon_kiln"): 10.0}  # m³/h, lines/routes/sulfide-lpscl.yaml
    usd = sum(plan.config.steps[s].machines.get(o, 0) * f * hours * 1.5 for (s, o), f in flows.items())
    assert usd > 0
    # the powder zone in argon: every machine of its steps in an enclosure (m³/h each)
    if plan.config.zone_classes.get("powder") == "argon":
        enclosure = {"lpscl_classifying": 1.5, "cathode_mixing": 2.0}
        usd += sum(sum(plan.config.steps[s].machines.values()) * f * hours * 1.5
                   for s, f in enclosure.items())
    c = plan.cost
    assert c.per_year["inert_gas"] == pytest.approx(usd, rel=1e-12)
    assert c.by_category["inert_gas"] == pytest.approx(usd / 1e7, rel=1e-12)


def test_h2s_by_hand(sulfide, plan):
    """m³/yr = Σ started × kg sensitive × cm³/g × 1e-3 × ppmv(class)/ppmv(-40 °C), by the
    Magnus formula over ice written out here."""
    import math

    def ppmv(t):
        return 6.112 * math.exp(22.46 * t / (272.62 + t)) / 1013.25 * 1e6

    c = plan.cost
    dews = {"dp-40": -40.0, "dp-50": -50.0, "dp-60": -60.0, "argon": -76.0}
    # each step in its zone's class (lines/routes/sulfide-lpscl.yaml: `zones`)
    zone = {"lpscl_classifying": "powder", "cathode_mixing": "powder",
            "separator_coating": "sheets", "cathode_coating": "sheets"}
    graph = LineGraph.of(sulfide)
    release = {"lpscl_classifying": 0.1, "cathode_mixing": 0.02, "separator_coating": 0.05,
               "cathode_coating": 0.01}  # cm³/g in the route file
    m3 = sum(c.started_per_year[s] * graph.node(s).sensitive_kg * r * 1e-3
             * ppmv(dews[plan.config.zone_classes.get(zone[s], c.dew_point_class)]) / ppmv(-40.0)
             for s, r in release.items())
    assert c.h2s_m3_per_year == pytest.approx(m3, rel=1e-9)
    assert c.per_year["h2s_abatement"] == pytest.approx(m3 * 2000.0, rel=1e-9)
    for dew in dews.values():
        assert units.dew_point_to_ppmv(dew) == pytest.approx(ppmv(dew), rel=1e-12)


def test_formation_recovery_halves_its_energy(sulfide, plan):
    """50 % recovery: the formation step's process energy is half of power × time × price."""
    e = sulfide.economics
    step = sulfide.step("formation")
    by = plan.cost.by_step
    got = by[(by.step == "formation") & (by.category == "process_energy")].usd_per_year.sum()
    started = plan.cost.started_per_year["formation"]
    lv = step.setting_levels[0]
    # rack and tower draw the same energy per cell (3 x power for 3 x batch): the
    # merit order does not matter
    o = step.option("pressure_formation_rack")
    full = started * o.power / (o.rate_per_hour * lv.rate_factor) * e.electricity_price
    assert got == pytest.approx(0.5 * full, rel=1e-9)


def test_dry_room_all_in(sulfide, plan):
    c = plan.cost
    e = sulfide.economics
    extra = {k.name: k.building_extra_cost for k in sulfide.shared.dry_rooms.classes}
    # each zone in a dry-room class (not argon): its floor at the plain and extra cost
    area = {z: v["area_m2"] for z, v in c.zones.items() if v["class"] != "argon"}
    assert sum(area.values()) == pytest.approx(c.dry_room_area_m2, rel=1e-12)
    building = sum(a * (e.building_cost + extra[c.zones[z]["class"]]) for z, a in area.items()) \
        / e.batpac5.building_life
    expect = (building + c.per_year["dry_room"] + c.per_year["dry_room_energy"]) / c.good_kwh_per_year
    assert c.dry_room_all_in == pytest.approx(expect, rel=1e-12)
    assert c.to_dict()["dry_room_all_in"] == c.dry_room_all_in


def test_categories_are_registered():
    names = [ln.name for ln in categories.categories()]
    assert "inert_gas" in names and "h2s_abatement" in names


def test_h2s_limit_too_small_is_exit_3_naming_it():
    r = CliRunner().invoke(app, ["optimize", "sulfide-lpscl", "--capacity-gwh", "10",
                                 "--set", "plant.h2s_limit=5 m^3/yr"])
    assert r.exit_code == 3, r.output
    assert "plant.h2s_limit" in r.output


def test_h2s_limit_is_kept(sulfide, plan):
    """A limit between the least release and the unconstrained plan's is met."""
    from ssbfab.data import resolve_route

    limited = resolve_route("sulfide-lpscl", overrides={"plant.h2s_limit": "120 m^3/yr"})
    p = optimize(limited, 10.0)
    assert p.config is not None
    assert p.cost.h2s_m3_per_year <= 120.0 * (1 + 1e-6)


@pytest.mark.parametrize("path,value,word", [
    ("economics.argon_price", "-1 USD/m^3", "argon_price"),
    ("line.formation.options.pressure_formation_rack.energy_recovery", "120 %", "energy_recovery"),
    ("economics.h2s_abatement_cost", "3 USD/kg", "h2s_abatement_cost"),
])
def test_impossible_numbers_are_bad_input(path, value, word):
    r = CliRunner().invoke(app, ["cell", "sulfide-lpscl", "--set", f"{path}={value}"])
    assert r.exit_code == 2, r.output
    assert word in r.output and "Traceback" not in r.output
