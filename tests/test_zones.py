"""Zoned plants (issue 12, item 3): the dry room's steps grouped into zones, each zone
choosing its class (or an argon mini-environment) in the optimiser, the cost and the
simulator alike; a route without zones is the plant of one class it always was."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ssbfab.cli import app
from ssbfab.config import PlantConfig
from ssbfab.cost import evaluate
from ssbfab.data import load_route
from ssbfab.data.units import dew_point_to_ppmv
from ssbfab.graph import LineGraph
from ssbfab.opt import optimize
from ssbfab.opt.synthetic import capacity_for, route_document, write_route
from ssbfab.sim.linemodel import compile_config

ROOT = Path(__file__).resolve().parents[1]
LINES = ROOT / "lines"
ROUTE_FILE = LINES / "routes" / "sulfide-lpscl.yaml"
GWH = 2.0
# the dry-room steps of the sulfide route that no step of LPSCl is open in: lithium foil
# and the anode (no moisture data: their yields do not depend on the room)
LITHIUM = ["li_foil_receiving", "li_extrusion_rolling", "anode_lamination", "anode_cutting"]


def _sulfide(tmp_path: Path, zones: list | None, name: str = "sulfide-lpscl"):
    doc = yaml.safe_load(ROUTE_FILE.read_text())
    if zones is None:
        doc.pop("zones", None)
    else:
        doc["zones"] = zones
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_route(p, lines_dir=LINES)


def _objective_is_evaluate(plan) -> None:
    assert plan.status.status == "optimal", plan.status.reason
    again = evaluate(plan.config).cost_per_kwh
    assert plan.status.objective == pytest.approx(again, rel=1e-6, abs=1e-6)
    assert plan.cost.cost_per_kwh == pytest.approx(again, rel=1e-12)


@pytest.fixture(scope="module")
def shipped(shared):
    from ssbfab.data import resolve_route

    return resolve_route("sulfide-lpscl", LINES, shared=shared)


@pytest.fixture(scope="module")
def shipped_plan(shipped):
    return optimize(shipped, GWH, gap=1e-9)


# ----------------------------------------------------------------------------- the shipped data


def test_the_shipped_sulfide_zones_are_chosen_and_the_objective_is_evaluate(shipped_plan):
    plan = shipped_plan
    _objective_is_evaluate(plan)
    zc = plan.config.zone_classes
    assert set(zc) == {"powder", "sheets"}
    # the lithium steps are in the plant's zone, where no yield depends on the class:
    # the cheapest class per m² wins there
    assert plan.config.dew_point_class == "dp-40"
    doc = plan.to_dict()
    assert doc["zones"] == zc
    assert set(doc["zone_costs"]) == {"powder", "sheets", "plant"}
    assert sum(v["area_m2"] for z, v in doc["zone_costs"].items() if v["class"] != "argon") \
        == pytest.approx(doc["dry_room_area_m2"], rel=1e-12)


def test_a_plan_with_zones_reads_back(shipped, shipped_plan, tmp_path):
    plan = shipped_plan
    p = tmp_path / "plan.json"
    import json

    p.write_text(json.dumps(plan.to_dict()))
    back = PlantConfig.read(shipped, p)
    assert back.zone_classes == plan.config.zone_classes
    assert evaluate(back).cost_per_kwh == pytest.approx(plan.cost.cost_per_kwh, rel=1e-12)


def test_one_zone_holding_every_dry_room_step_is_the_plant_without_zones(tmp_path):
    """The limit: a route without zones is one zone, today's plant; a single named zone
    of every dry-room step (its default classes: the route's) gives the same plan and
    objective."""
    whole = _sulfide(tmp_path, None, "whole")
    dry = [s.name for s in whole.full.line if s.environment == "dry_room"]
    one = _sulfide(tmp_path, [{"name": "all", "steps": dry}], "one-zone")
    a, b = optimize(whole, GWH, gap=1e-9), optimize(one, GWH, gap=1e-9)
    _objective_is_evaluate(b)
    assert b.status.objective == pytest.approx(a.status.objective, rel=1e-9)
    assert b.cost.cost_per_kwh == pytest.approx(a.cost.cost_per_kwh, rel=1e-9)
    assert b.config.zone_classes == {"all": a.config.dew_point_class}
    assert {s: (c.level, c.machines) for s, c in b.config.steps.items()} == \
        {s: (c.level, c.machines) for s, c in a.config.steps.items()}
    assert b.config.supply == a.config.supply
    assert b.cost.by_category == pytest.approx(a.cost.by_category, rel=1e-9)


# ----------------------------------------------------------------------------- the trade-off


def test_zoning_the_lithium_steps_out_saves_their_area_times_the_class_difference(tmp_path):
    """One whole-plant class vs a drier zone only where LPSCl is open: the zoned plant
    keeps every LPSCl step in the class the whole plant chose and puts lithium in the
    cheapest class; with the same machines the saving is their dry-room area × the
    difference of the two classes' cost per m² (building extra and dehumidification
    capital through BatPaC's depreciation and overheads, and the dry room's power)."""
    whole = _sulfide(tmp_path, None, "whole")
    lpscl = [s.name for s in whole.full.line
             if s.environment == "dry_room" and s.name not in LITHIUM]
    zoned = _sulfide(tmp_path, [{"name": "lpscl", "steps": lpscl}], "zoned")
    one = optimize(whole, GWH, gap=1e-9)
    two = optimize(zoned, GWH, gap=1e-9)
    _objective_is_evaluate(one)
    _objective_is_evaluate(two)
    hi = one.config.dew_point_class
    assert hi == "dp-60"  # the whole plant needs the driest class for its LPSCl steps
    assert two.config.zone_classes == {"lpscl": hi}
    lo = two.config.dew_point_class
    assert lo == "dp-40"
    same = {s: (c.level, c.machines) for s, c in one.config.steps.items()}
    assert {s: (c.level, c.machines) for s, c in two.config.steps.items()} == same
    # by hand, from the data: the plant zone's machines' floor
    area = sum(n * whole.full.step(s).option(o).footprint
               for s in LITHIUM if s in two.config.steps
               for o, n in two.config.steps[s].machines.items())
    assert area == pytest.approx(two.cost.zones["plant"]["area_m2"], rel=1e-12)
    econ = whole.economics
    b = econ.batpac5
    assert not b.include_profit_and_warranty
    # USD/yr per USD/yr of depreciation: itself, variable overhead, GS&A on both, R&D
    dep = (1 + b.variable_overhead_of_depreciation
           + b.gsa_of_labour_and_overhead * b.variable_overhead_of_depreciation
           + b.gsa_of_depreciation + b.rnd_of_depreciation)
    classes = {c.name: c for c in whole.shared.dry_rooms.classes}
    H, L = classes[hi], classes[lo]
    per_m2 = ((H.building_extra_cost - L.building_extra_cost) / b.building_life
              + (H.equipment_cost - L.equipment_cost) / b.equipment_life) * dep \
        + (H.power - L.power) * econ.operating_hours_per_year * econ.electricity_price
    saving = area * per_m2 / (GWH * 1e6)
    assert saving > 0.05  # USD/kWh: a saving worth having, not rounding
    assert one.cost.cost_per_kwh - two.cost.cost_per_kwh == pytest.approx(saving, rel=1e-9)


# ----------------------------------------------------------------------------- brute force


def _zoned_synthetic(seed: int) -> dict:
    """A small random route (3 steps, 2 classes) with every step but the last in the
    dry room, both moisture-sensitive; the first alone in a zone that may choose
    argon (an enclosure per machine), the second in a zone of its own (the plant's
    zone is left empty)."""
    doc = route_document(3, 2, (2, 2), 2, seed, machines=(0.4, 1.0))
    # per seed: how dear an enclosure is (MUSD) and how little the second step loses
    # in the wetter class, so that the cheapest choice differs between the instances
    capex, wet = {300: (0.2, 90.0), 301: (40.0, 99.98), 302: (40.0, 95.0)}[seed]
    for k, st in enumerate(doc["line"][:2]):
        st["environment"] = "dry_room"
        st["moisture"] = {"yield_factor": {"dp-40": f"{93 if k == 0 else wet} %",
                                           "dp-60": "99 %" if k == 0 else "100 %"},
                          "excursion": {"effect": "loss", "extra_loss": "5 %"}}
    first = doc["line"][0]
    first["argon_enclosure"] = {"capex": f"{capex} MUSD", "argon_flow": "3 m^3/h",
                                "yield_factor": "100 %"}
    doc["zones"] = [{"name": "z1", "steps": [first["name"]], "argon": True},
                    {"name": "z2", "steps": [doc["line"][1]["name"]]}]
    return doc


@pytest.mark.parametrize("seed", [300] + [pytest.param(s, marks=pytest.mark.slow) for s in (301, 302)])
def test_brute_force_over_every_zone_class_combination_equals_the_milp(tmp_path, shared, seed):
    doc = _zoned_synthetic(seed)
    route = load_route(write_route(tmp_path, doc), shared=shared)
    cap = capacity_for(route, 500)
    free = optimize(route, cap, gap=1e-9)
    _objective_is_evaluate(free)
    best = None
    for zc, pc in itertools.product(["dp-40", "dp-60", "argon"], ["dp-40", "dp-60"]):
        fixed = copy.deepcopy(doc)
        fixed["name"] = f"{doc['name']}-{zc}-{pc}"
        if zc == "argon":  # argon only: no dry-room class listed for the zone
            fixed["zones"][0]["classes"] = []
        else:
            fixed["zones"][0] = {"name": "z1", "steps": fixed["zones"][0]["steps"],
                                 "classes": [zc]}
        fixed["zones"][1]["classes"] = [pc]
        r = load_route(write_route(tmp_path, fixed), shared=shared)
        plan = optimize(r, cap, gap=1e-9)
        _objective_is_evaluate(plan)
        assert plan.config.zone_classes == {"z1": zc, "z2": pc}
        if best is None or plan.cost.cost_per_kwh < best[0]:
            best = (plan.cost.cost_per_kwh, zc, pc)
    assert best is not None
    assert free.cost.cost_per_kwh == pytest.approx(best[0], rel=1e-7)
    # the free plan's choice costs what the best fixed one does (ties aside)
    assert (free.config.zone_classes["z1"], free.config.zone_classes["z2"]) == best[1:] \
        or free.cost.cost_per_kwh == pytest.approx(best[0], rel=1e-12)


def test_argon_costs_the_enclosures_and_their_argon_by_hand(tmp_path, shared):
    """The same machines in argon instead of dp-60: the zone's dry room goes, each
    machine gets its enclosure (capex, depreciated with BatPaC's overheads on it) and
    its argon all the plant's hours."""
    doc = _zoned_synthetic(300)
    route = load_route(write_route(tmp_path, doc), shared=shared)
    cap = capacity_for(route, 500)
    plan = optimize(route, cap, gap=1e-9)
    cfg = plan.config
    dry = PlantConfig(route, cfg.steps, cfg.dew_point_class, cfg.capacity_gwh,
                      zone_classes={**cfg.zone_classes, "z1": "dp-60"})
    gas = PlantConfig(route, cfg.steps, cfg.dew_point_class, cfg.capacity_gwh,
                      zone_classes={**cfg.zone_classes, "z1": "argon"})
    a, b = evaluate(dry), evaluate(gas)
    first = route.line[0]
    n = sum(cfg.steps[first.name].machines.values())
    area = sum(k * first.option(o).footprint for o, k in cfg.steps[first.name].machines.items())
    econ = route.economics
    enc = first.argon_enclosure
    kwh = cap * 1e6
    assert b.zones["z1"]["enclosed_machines"] == n and a.zones["z1"]["enclosed_machines"] == 0
    assert b.per_year["inert_gas"] - a.per_year["inert_gas"] == pytest.approx(
        n * enc.argon_flow * econ.operating_hours_per_year * econ.argon_price, rel=1e-9)
    assert (b.per_year["equipment"] - a.per_year["equipment"]) == pytest.approx(
        n * enc.capex / econ.batpac5.equipment_life, rel=1e-9)
    dp60 = next(c for c in route.shared.dry_rooms.classes if c.name == "dp-60")
    assert a.per_year["dry_room_energy"] - b.per_year["dry_room_energy"] == pytest.approx(
        area * dp60.power * econ.operating_hours_per_year * econ.electricity_price, rel=1e-9)
    assert a.dry_room_area_m2 - b.dry_room_area_m2 == pytest.approx(area, rel=1e-12)
    # the first step's yield is its enclosure's factor (100 %) in argon, 99 % at dp-60
    g = LineGraph.of(route)
    lv = cfg.steps[first.name].level
    assert g.yield_at(first.name, lv, "argon") == pytest.approx(
        g.yield_at(first.name, lv, "dp-60") / 0.99, rel=1e-12)
    bp = econ.batpac5
    dep = (1 + bp.variable_overhead_of_depreciation
           + bp.gsa_of_labour_and_overhead * bp.variable_overhead_of_depreciation
           + bp.gsa_of_depreciation + bp.rnd_of_depreciation)  # 1.9 at BatPaC's shares
    assert b.zones["z1"]["usd_per_kwh"] * kwh == pytest.approx(
        n * (enc.capex / bp.equipment_life * dep
             + enc.argon_flow * econ.operating_hours_per_year * econ.argon_price), rel=1e-9)


# ----------------------------------------------------------------------------- the simulator


def test_the_simulator_reads_each_steps_zone_class(shipped_plan):
    plan = shipped_plan
    cfg = plan.config
    for powder in ("argon", "dp-40"):
        c = PlantConfig(cfg.route, cfg.steps, "dp-60", cfg.capacity_gwh,
                        zone_classes={**cfg.zone_classes, "powder": powder})
        model = compile_config(c, days=10, warmup_days=1)
        by = {s.name: s for s in model.steps}
        g = LineGraph.of(c.route)
        # the classifier's table factor and the mixer's dose factor, each at its zone's class
        cl = by["lpscl_classifying"]
        assert cl.yield_ == pytest.approx(g.first_pass_yield("lpscl_classifying", cl.level, powder))
        mix = by["cathode_mixing"]
        assert mix.nominal_dose_factor == pytest.approx(g.node("cathode_mixing").moisture[powder])
        assert model.rooms[mix.room - 1].ppmv == pytest.approx(dew_point_to_ppmv(
            -76.0 if powder == "argon" else -40.0), rel=1e-9)
        # the sheets' room is at its own class; lithium in the plant's dry room (dp-60)
        sheets = model.rooms[by["separator_coating"].room - 1]
        assert sheets.dew_point == {"dp-40": -40.0, "dp-50": -50.0, "dp-60": -60.0}[
            cfg.zone_classes["sheets"]]
        assert by["anode_lamination"].room == 0 and model.dry_room.dew_point == -60.0
        # a dry-room class has excursions; argon has none
        assert (model.rooms[mix.room - 1].rate > 0) == (powder != "argon")


# ----------------------------------------------------------------------------- bad input


def _zones_file(tmp_path: Path, zones_yaml: str) -> tuple[Path, str]:
    text = ROUTE_FILE.read_text()
    start = text.index("zones:\n")
    end = text.index("\nline:\n")
    new = text[:start] + zones_yaml + text[end:]
    p = tmp_path / "sulfide-lpscl.yaml"
    p.write_text(new)
    return p, new


@pytest.mark.parametrize("zones,bad_line,field,says", [
    ("zones:\n  - name: a\n    steps: [lpscl_clasifying]\n", "    steps: [lpscl_clasifying]",
     "zones.0.steps.0", ("unknown step 'lpscl_clasifying'", "did you mean 'lpscl_classifying'")),
    ("zones:\n  - name: a\n    steps: [cathode_mixing]\n  - name: b\n    steps: [cathode_mixing]\n",
     "    steps: [cathode_mixing]", "zones.1.steps.0",
     ("'cathode_mixing' is already in zone 'a'",)),
    ("zones:\n  - name: a\n    steps: [cathode_coating]\n    classes: [dp-40, dp-30]\n",
     "    classes: [dp-40, dp-30]", "zones.0.classes.1", ("class 'dp-30' is not one the route",)),
    ("zones:\n  - name: a\n    steps: [anode_cutting, lpscl_classifying]\n    argon: true\n",
     "    argon: true", "zones.0.argon",
     ("argon is not allowed for step(s) 'anode_cutting'", "argon_enclosure")),
    ("zones:\n  - name: a\n    steps: [lpscl_milling]\n", "    steps: [lpscl_milling]",
     "zones.0.steps.0", ("works in argon, not in the dry room",)),
])
def test_bad_zones_are_refused_with_file_line_field(tmp_path, zones, bad_line, field, says):
    p, text = _zones_file(tmp_path, zones)
    res = CliRunner().invoke(app, ["validate", str(p)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    err = res.stderr
    at = [i + 1 for i, ln in enumerate(text.splitlines()) if ln == bad_line]
    assert at, bad_line
    assert any(f"{p}:{n}: {field}: " in err for n in at), err
    for s in says:
        assert s in err, err


def test_a_class_a_step_does_not_allow_is_refused(tmp_path):
    # the classifier has no moisture.yield_factor for dp-40, which its zone lists
    text = ROUTE_FILE.read_text().replace(
        'yield_factor: {dp-40: "88 %", dp-50: "96 %", dp-60: "100 %"}',
        'yield_factor: {dp-50: "96 %", dp-60: "100 %"}').replace(
        "    argon: true\n", "    argon: true\n    classes: [dp-40, dp-60]\n", 1)
    p = tmp_path / "sulfide-lpscl.yaml"
    p.write_text(text)
    res = CliRunner().invoke(app, ["validate", str(p)])
    assert res.exit_code == 2, res.output
    line = [i + 1 for i, ln in enumerate(text.splitlines())
            if ln == "    classes: [dp-40, dp-60]"][0]
    assert f"{p}:{line}: zones.0.classes.0: " in res.stderr
    assert "not allowed for step(s) 'lpscl_classifying'" in res.stderr


def test_a_yield_factor_step_in_argon_needs_its_argon_factor(tmp_path):
    text = ROUTE_FILE.read_text().replace('      yield_factor: "100 %"\n', "", 1)
    p = tmp_path / "sulfide-lpscl.yaml"
    p.write_text(text)
    res = CliRunner().invoke(app, ["validate", str(p)])
    assert res.exit_code == 2, res.output
    assert "argon_enclosure.yield_factor" in res.stderr


def _zoned_line(tmp_path: Path):
    """A bare line without variability: `a` (dry room, not sensitive) feeds `b` (a dose
    curve, loss = dose / 1000) alone in zone `z`; plant at dp-40, `z` at dp-60."""
    from sim_lines import step
    from ssbfab.data import load_shared
    from ssbfab.sim import bare_config

    calm = load_shared(None, overrides={f"dry_rooms.classes.{c}.excursions.rate": "0 1/yr"
                                        for c in ("dp-40", "dp-50", "dp-60")})
    a = step("a", "kg", batch=2000, cycle=2.0, lot=1000, yield_="100 %", buffer=8,
             environment="dry_room", per_cell="1000 kg")
    b = step("b", "cell", rate=2.0, lot=1, yield_="98 %",
             inputs=[{"step": "a", "per_cell": "1000 kg"}], environment="dry_room",
             moisture={"dose": {"exposure": "0.75 h",
                                "points": [{"dose": "500 ppmv*h", "loss": "50 %"}]},
                       "excursion": {"effect": "loss"}})
    b["options"][0].pop("mtbf", None)  # no failures: a line without variability
    doc = {"name": "zoned-line", "form": "line", "source": "illustrative", "line": [a, b],
           "zones": [{"name": "z", "steps": ["b"]}]}
    path = tmp_path / "zoned-line.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    route = load_route(path, shared=calm)
    cfg = bare_config(route, "dp-40")
    return route, PlantConfig(route, cfg.steps, "dp-40", cfg.capacity_gwh,
                              zone_classes={"z": "dp-60"})


def test_simulator_and_optimiser_agree_on_a_zoned_line_without_variability(tmp_path):
    """The dose step in its zone at dp-60 while the plant's room is at dp-40: the
    simulated yield is the graph's yield in the zone's class (what cost and optimiser
    use), not the plant's; the lots meet the zone's water (the dose tallied), their wait
    in the buffer before the step included (that buffer is the consumer's feed, in its
    zone)."""
    import math

    from sim_lines import days_for
    from ssbfab.sim.model import run_replication

    route, cfg = _zoned_line(tmp_path)
    model = compile_config(cfg, days=days_for(route, 4000), warmup_days=days_for(route, 20))
    raw = run_replication(model, seed=11, rep=0)["steps"][1]
    g = LineGraph.of(route)
    nominal = g.yield_at("b", "nominal", "dp-60")
    assert nominal == pytest.approx(0.98 * (1 - dew_point_to_ppmv(-60.0) * 0.75 / 1000), rel=1e-12)
    n = raw["started"] - raw["inproc_end"]
    assert raw["good"] / n == pytest.approx(nominal, abs=4 * math.sqrt(0.25 / n))
    # the plant's class would lose 9 % more: far outside the interval
    assert abs(raw["good"] / n - g.yield_at("b", "nominal", "dp-40")) > 8 * math.sqrt(0.25 / n)
    assert raw["water_dose"] == pytest.approx(dew_point_to_ppmv(-60.0) * 0.75, rel=0.05)


def test_statistics_record_the_zones_and_the_cost_reads_them(tmp_path):
    """stats.json says which class each zone was simulated in; read back, the observed
    yield factor of the zone's step is taken against its zone's class (about 1 here),
    and statistics naming a class the zone may not choose are refused."""
    from sim_lines import days_for
    from ssbfab.cost import observed
    from ssbfab.errors import InputError
    from ssbfab.sim import simulate
    from ssbfab.stats import LineStats

    route, cfg = _zoned_line(tmp_path)
    res = simulate(cfg, reps=1, days=days_for(route, 2000), warmup_days=days_for(route, 20),
                   workers=1, seed=3)
    assert res.stats.zone_classes == {"z": "dp-60"}
    doc = res.stats.to_dict()
    assert doc["zones"] == {"z": "dp-60"}
    back = LineStats.from_dict(doc)
    assert back.zone_classes == {"z": "dp-60"}
    f = observed(route, back)["b"].yield_factor
    assert f == pytest.approx(1.0, abs=0.03)
    doc["zones"] = {"z": "dp-70"}
    with pytest.raises(InputError, match="zone 'z' may not choose class 'dp-70'"):
        observed(route, LineStats.from_dict(doc))


def test_a_zoned_route_under_a_scaled_costing_prices_one_room(shipped):
    """BatPaC's volume scaling has one dry room: priced at the plant zone's class; the
    other zones' classes move yields only, and the objective is still evaluate."""
    plan = optimize(shipped, GWH, costing="batpac5-scaled", gap=1e-9)
    assert plan.status.status == "optimal", plan.status.reason
    again = evaluate(plan.config, costing="batpac5-scaled")
    assert plan.status.objective == pytest.approx(again.cost_per_kwh, rel=1e-6)
    assert set(again.zones) == {"powder", "sheets", "plant"}
    assert all(v["usd_per_kwh"] != v["usd_per_kwh"] for v in again.zones.values())  # NaN
