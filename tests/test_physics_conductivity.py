"""Moisture → ionic conductivity → cell capacity (issue 12, item 3): a step's
`moisture.dose.conductivity` curve gives the conductivity its output keeps at the water
dose it met, and `capacity_fraction` the share of the design capacity a cell then
delivers, so cost per kWh rises through fewer kWh per cell: in the optimiser at the
nominal dose of each class, in the simulator at the dose each lot meets, and back
from the simulator's statistics."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sim_lines import days_for, load_line, step
from ssbfab.cli import app
from ssbfab.cost import evaluate, observed
from ssbfab.data import load_route, load_shared, resolve_route
from ssbfab.data.schema import capacity_fraction
from ssbfab.graph import LineGraph
from ssbfab.opt import optimize
from ssbfab.opt.data import Structure, numbers
from ssbfab.sim import bare_config, compile_config, simulate
from ssbfab.sim.model import run_replication
from ssbfab.stats import NOT_MEASURED, Estimate


def magnus_ppmv(t: float) -> float:
    """Water (ppmv) at frost point t (°C), Magnus over ice, at 1013.25 hPa (written out)."""
    return 6.112 * math.exp(22.46 * t / (272.62 + t)) / 1013.25 * 1e6


def cap_by_hand(dose: float, xs, rs, full: float = 1.0) -> float:
    """min(1, sqrt(retention / full)), retention linear through (xs, rs) (written out)."""
    return min(1.0, math.sqrt(float(np.interp(dose, xs, rs)) / full))


@pytest.fixture(scope="module")
def calm():
    """The shared data with no dry-room excursions: a line without variability."""
    return load_shared(None, overrides={f"dry_rooms.classes.{c}.excursions.rate": "0 1/yr"
                                        for c in ("dp-40", "dp-50", "dp-60")})


# conductivity kept: 100 % at 0, 60 % at 100 ppmv·h, 20 % at 400 ppmv·h; full capacity
# down to 80 % of it (asymmetric: the knee, the sqrt and the bend all matter)
COND = {"points": [{"dose": "100 ppmv*h", "retention": "60 %"},
                   {"dose": "400 ppmv*h", "retention": "20 %"}],
        "full_capacity_at": "80 %"}
XS, RS = [0.0, 100.0, 400.0], [1.0, 0.6, 0.2]


def _line(b_hours: float, exposure: float) -> list[dict]:
    """`a` (dry room) finishes two lots together every 2 h; `b` (sensitive) takes one
    each `b_hours`: lots meet the room for b_hours and 2·b_hours (test_physics_dose)."""
    a = step("a", "kg", batch=2000, cycle=2.0, lot=1000, yield_="100 %", buffer=8,
             environment="dry_room", per_cell="1000 kg")
    b = step("b", "cell", rate=1 / b_hours, lot=1, yield_="98 %",
             inputs=[{"step": "a", "per_cell": "1000 kg"}], environment="dry_room",
             moisture={"dose": {"exposure": f"{exposure} h",
                                "points": [{"dose": "500 ppmv*h", "loss": "10 %"}],
                                "conductivity": COND},
                       "excursion": {"effect": "loss"}})
    return [a, b]


def _sim(tmp_path, shared, b_hours, exposure, name, hours=3000):
    route = load_line(tmp_path, _line(b_hours, exposure), name=name, shared=shared)
    model = compile_config(bare_config(route, "dp-40"), days=days_for(route, hours),
                           warmup_days=days_for(route, 20))
    return route, model, run_replication(model, seed=5, rep=0)["steps"][1]


def test_capacity_at_a_known_dose_by_hand(tmp_path, calm):
    """The optimiser's capacity (graph, nominal exposure) and the simulator's (mean over
    lots that met ppmv × 0.5 h and ppmv × 1 h) are the curve at the doses by hand."""
    ppmv = magnus_ppmv(-40.0)
    route, model, b = _sim(tmp_path, calm, 0.5, 0.75, "cond-a")
    graph = LineGraph.of(route)
    nominal = cap_by_hand(ppmv * 0.75, XS, RS, 0.8)
    assert 0.7 < nominal < 1.0  # the sloped part of the curve
    assert graph.dose_capacity("dp-40") == pytest.approx(nominal, rel=1e-12)
    assert model.steps[1].nominal_capacity == pytest.approx(nominal, rel=1e-12)
    # wetter class, lower capacity; the driest, the curve at its own ppmv
    assert graph.dose_capacity("dp-60") == pytest.approx(
        cap_by_hand(magnus_ppmv(-60.0) * 0.75, XS, RS, 0.8), rel=1e-12)
    expect = np.mean([cap_by_hand(ppmv * 0.5, XS, RS, 0.8), cap_by_hand(ppmv * 1.0, XS, RS, 0.8)])
    assert b["capacity_retained"] == pytest.approx(expect, rel=1e-9)
    assert capacity_fraction(0.7, 0.8) == pytest.approx(math.sqrt(0.875), rel=1e-15)
    assert capacity_fraction(0.9, 0.8) == 1.0


def test_doubling_the_wait_lowers_capacity_as_the_curve_says(tmp_path, calm):
    ppmv = magnus_ppmv(-40.0)
    got = {bh: _sim(tmp_path, calm, bh, 0.75, f"cond-{bh}")[2]["capacity_retained"]
           for bh in (0.5, 1.0)}
    for bh, k in got.items():
        assert k == pytest.approx(np.mean([cap_by_hand(ppmv * bh, XS, RS, 0.8),
                                           cap_by_hand(ppmv * 2 * bh, XS, RS, 0.8)]), rel=1e-9)
    assert got[1.0] < got[0.5] - 0.05


def test_observed_capacity_is_fed_back(tmp_path, calm):
    """The statistics carry the capacity the doses left (lots wait 0.75 h against a
    nominal 0.5 h); `observed` turns it into observed / nominal, as it does the yield."""
    route = load_line(tmp_path, _line(0.5, 0.5), name="cond-loop", shared=calm)
    res = simulate(bare_config(route, "dp-40"), days=days_for(route, 1000),
                   warmup_days=days_for(route, 20), reps=2, workers=1)
    k = res.stats.steps["b"].capacity_retained.mean
    ppmv = magnus_ppmv(-40.0)
    assert k == pytest.approx(np.mean([cap_by_hand(ppmv * 0.5, XS, RS, 0.8),
                                       cap_by_hand(ppmv * 1.0, XS, RS, 0.8)]), rel=1e-9)
    nominal = cap_by_hand(ppmv * 0.5, XS, RS, 0.8)
    assert observed(route, res.stats)["b"].capacity_factor == pytest.approx(k / nominal, rel=1e-12)
    assert k < nominal - 0.02


# ------------------------------------------------------------------ the sulfide route

SHIPPED = '            - {dose: "63.4 ppmv*h", retention: "45 %"'


def _sulfide_with(tmp_path, shared, old: str, new: str, name: str):
    body = Path(resolve_route("sulfide-lpscl").file).read_text()
    assert old in body
    path = tmp_path / f"{name}.yaml"
    path.write_text(body.replace(old, new, 1).replace("name: sulfide-lpscl", f"name: {name}", 1))
    return load_route(path, shared=shared)


@pytest.fixture(scope="module")
def sulfide_plan():
    route = resolve_route("sulfide-lpscl")
    return route, optimize(route, 2.0, lines=1)


def test_sulfide_conductivity_is_calibrated_to_gm(sulfide_plan):
    """45 % of the conductivity kept at 30 min × -40 °C (63.4 ppmv·h, GM R&D 2022); per
    class the cell keeps sqrt(retention) at ppmv × 6 h × 1.5 %."""
    route, _ = sulfide_plan
    c = route.step("cathode_mixing").moisture.dose.conductivity
    assert c.capacity_at(magnus_ppmv(-40.0) * 0.5) == pytest.approx(math.sqrt(0.45), abs=1e-3)
    graph = LineGraph.of(route)
    for d, t in (("dp-40", -40.0), ("dp-50", -50.0), ("dp-60", -60.0)):
        dose = magnus_ppmv(t) * 6.0 * 0.015
        assert graph.dose_capacity(d) == pytest.approx(
            cap_by_hand(dose, [0, 63.4, 300], [1, 0.45, 0.10]), rel=1e-9)
    # cathode_mixing sits in the powder zone: its class (argon: dry_rooms.argon_dew_point,
    # -76 °C) sets the capacity, whatever the plant's class
    assert graph.dose_zone == "powder"
    for d, t in (("dp-60", -60.0), ("argon", -76.0)):
        assert graph.dose_capacity("dp-40", zone_classes={"powder": d}) == pytest.approx(
            cap_by_hand(magnus_ppmv(t) * 6.0 * 0.015, [0, 63.4, 300], [1, 0.45, 0.10]),
            rel=1e-9)


def test_lower_capacity_raises_cost_per_kwh_by_the_energy_ratio(tmp_path, shared, sulfide_plan):
    """The same plant making the same cells a year: the route whose dose keeps less
    capacity costs (its energy per cell / the other's) more per kWh, exactly."""
    route, plan = sulfide_plan
    # (the plan's powder zone is in argon, about 0.1 ppmv·h nominal: a steep curve)
    less = _sulfide_with(tmp_path, shared, SHIPPED, '            - {dose: "0.5 ppmv*h", retention: "45 %"',
                         "sulfide-wet")
    cfg = plan.config
    g0, g1 = LineGraph.of(route), LineGraph.of(less)
    levels = {s: c.level for s, c in cfg.steps.items()}
    dpc, zc = cfg.dew_point_class, cfg.zone_classes
    e0 = g0.cell_energy(levels, dpc, zone_classes=zc)
    e1 = g1.cell_energy(levels, dpc, zone_classes=zc)
    # the capacity of the powder zone's class (argon in this plan), by hand
    t = {"argon": -76.0, "dp-40": -40.0, "dp-50": -50.0, "dp-60": -60.0}[zc["powder"]]
    dose = magnus_ppmv(t) * 6.0 * 0.015
    assert e1 / e0 == pytest.approx(cap_by_hand(dose, [0, 0.5, 300], [1, 0.45, 0.10])
                                    / cap_by_hand(dose, [0, 63.4, 300], [1, 0.45, 0.10]),
                                    rel=1e-9)
    assert e1 < e0 * 0.995
    a = evaluate(cfg)
    b = evaluate(replace(cfg, route=less.with_supply(dict(cfg.route.supply_choice)),
                         capacity_gwh=cfg.capacity_gwh * e1 / e0))
    assert b.good_cells_per_year == pytest.approx(a.good_cells_per_year, rel=1e-12)
    assert b.cost_per_kwh == pytest.approx(a.cost_per_kwh * e0 / e1, rel=1e-12)


def test_optimiser_objective_is_the_cost_with_dose_capacity(tmp_path, shared, sulfide_plan):
    """The MILP's (level, class) pair states the delivered energy exactly: its objective
    is `evaluate` of its plan, on the shipped curve and on a harsh one."""
    _, plan = sulfide_plan
    assert plan.status.objective == pytest.approx(plan.cost.cost_per_kwh, rel=1e-9)
    # harsh enough to bite in argon too (about 0.1 ppmv·h nominal there)
    harsh = _sulfide_with(tmp_path, shared, SHIPPED, '            - {dose: "0.3 ppmv*h", retention: "45 %"',
                          "sulfide-harsh")
    hp = optimize(harsh, 2.0, lines=1)
    assert hp.status.objective == pytest.approx(hp.cost.cost_per_kwh, rel=1e-9)
    assert hp.cost.cost_per_kwh > plan.cost.cost_per_kwh * 1.01
    st = Structure.of(harsh)
    nb = numbers(harsh, st, 2.0)
    es = st.energy_step
    lv = hp.config.steps[es].level
    graph = LineGraph.of(harsh.full)
    cf = graph.node(es).level(lv).capacity_factor
    # one pair per class of the dose zone (powder, argon included), κ in that class
    assert st.dose_zone == "powder" and "argon" in st.zones["powder"]
    assert {d for _, d in nb.cells_ld} == set(st.zones["powder"])
    for d in st.zones["powder"]:
        kappa = graph.dose_capacity(None, zone_classes={"powder": d})
        assert nb.cells_ld[(lv, d)] == pytest.approx(1 / (cf * kappa), rel=1e-12)


@pytest.mark.slow
def test_the_class_chosen_is_the_best_of_each_class_alone(tmp_path, shared):
    """Brute force over the class of the dose's zone (powder: cathode_mixing's) on the
    harsh curve: the MILP's cost is the least of the plans optimised with the zone held
    to one class each (argon included; the other zones free), each plan's objective its
    `evaluate`."""
    harsh = '            - {dose: "3 ppmv*h", retention: "45 %"'
    both = _sulfide_with(tmp_path, shared, SHIPPED, harsh, "sulfide-harsh-all")
    free = optimize(both, 2.0, lines=1, gap=1e-9)
    best = free.cost.cost_per_kwh
    zone = "    steps: [lpscl_classifying, cathode_mixing]\n    argon: true\n"
    each = {}
    for d in ("dp-40", "dp-50", "dp-60", "argon"):
        held = ("    classes: []\n    argon: true\n" if d == "argon"
                else f"    classes: [{d}]\n    argon: false\n")
        text = Path(tmp_path / "sulfide-harsh-all.yaml").read_text()
        assert zone in text
        one = text.replace(zone, zone.split("\n")[0] + "\n" + held, 1)
        path = tmp_path / f"sulfide-harsh-{d}.yaml"
        path.write_text(one.replace("name: sulfide-harsh-all", f"name: sulfide-harsh-{d}", 1))
        plan = optimize(load_route(path, shared=shared), 2.0, lines=1, gap=1e-9)
        assert plan.config.zone_classes["powder"] == d
        assert plan.status.objective == pytest.approx(plan.cost.cost_per_kwh, rel=1e-9)
        each[d] = plan.cost.cost_per_kwh
    assert best == pytest.approx(min(each.values()), rel=1e-9)
    assert free.config.zone_classes["powder"] == min(each, key=lambda d: each[d])
    assert max(each.values()) > min(each.values()) * 1.01  # the class matters here


def test_observed_capacity_reaches_cost_and_optimiser(sulfide_plan):
    """Statistics that saw a capacity of 0.9 at cathode_mixing: `evaluate` makes
    target / (design kWh × level factor × 0.9) cells, and the MILP's cells per design
    cell follow."""
    from ssbfab.stats import LineStats, StepStats

    route, plan = sulfide_plan
    cfg = plan.config
    one = Estimate(0.9, 0.9, 0.9)
    st_step = StepStats(step="cathode_mixing", option="planetary_mixer", machines=1,
                        utilization=NOT_MEASURED, availability=NOT_MEASURED,
                        blocked=NOT_MEASURED, starved=NOT_MEASURED, yield_=NOT_MEASURED,
                        throughput_per_h=NOT_MEASURED, wip_mean=NOT_MEASURED,
                        capacity_retained=one)
    stats = LineStats(route="sulfide-lpscl", seed=0, reps=1, days=1.0, warmup_days=0.0,
                      steps={"cathode_mixing": st_step}, good_cells_per_year=NOT_MEASURED,
                      good_gwh_per_year=NOT_MEASURED, overall_yield=NOT_MEASURED,
                      lead_time_h=NOT_MEASURED, bottleneck="", dry_room=None,  # type: ignore[arg-type]
                      events=0, wall_s=0.0, dew_point_class=cfg.dew_point_class,
                      zone_classes=dict(cfg.zone_classes))
    graph = LineGraph.of(route)
    es = graph.energy_step
    cf = graph.node(es).level(cfg.steps[es].level).capacity_factor
    b = evaluate(cfg, stats)
    assert b.good_cells_per_year == pytest.approx(2e6 / (graph.energy_kwh * cf * 0.9), rel=1e-12)
    st = Structure.of(route)
    nb = numbers(route, st, 2.0, stats=stats)
    # at the class the statistics saw in the dose's zone, 0.9 itself
    seen = cfg.zone_classes["powder"]
    assert nb.cells_ld[(cfg.steps[es].level, seen)] == pytest.approx(1 / (cf * 0.9), rel=1e-12)


@pytest.mark.parametrize("bad,word", [
    ('            - {dose: "63.4 ppmv*h", retention: "105 %"', "retention"),
    ('            - {dose: "63.4 ppmv*h", retention: "5 %"', "must not rise"),
    ('            - {dose: "63.4 kg", retention: "45 %"', "dose"),
])
def test_bad_conductivity_curves_are_refused(tmp_path, bad, word):
    """Retention above 100 %, a curve that rises with the dose (5 % then 10 %), a dose
    in the wrong unit: file, line, field, exit 2."""
    body = Path(resolve_route("sulfide-lpscl").file).read_text()
    assert SHIPPED in body
    path = tmp_path / "sulfide-lpscl.yaml"
    path.write_text(body.replace(SHIPPED, bad, 1))
    r = CliRunner().invoke(app, ["validate", str(path)])
    assert r.exit_code == 2, r.output
    assert word in r.output and "Traceback" not in r.output
    assert "moisture.dose.conductivity.points" in r.output
    assert re.search(r"sulfide-lpscl\.yaml:\d+", r.output), r.output


# ------------------------------------------------------------------ zones of the dry room

def _zoned(tmp_path, shared, name: str, both: bool = False):
    """`_line` with `b` in zone z (may choose argon); with `both`, `a` carries a curve
    too and sits in a zone of its own."""
    import yaml

    from sim_lines import write_line

    steps = _line(0.5, 0.75)
    steps[1]["argon_enclosure"] = {"capex": "0.1 MUSD", "argon_flow": "1 m^3/h"}
    path = write_line(tmp_path, steps, name)
    doc = yaml.safe_load(path.read_text())
    doc["zones"] = [{"name": "z", "steps": ["b"], "argon": True}]
    if both:
        doc["line"][0]["moisture"] = {"dose": {"exposure": "0.5 h",
                                               "points": [{"dose": "500 ppmv*h", "loss": "1 %"}],
                                               "conductivity": COND},
                                      "excursion": {"effect": "loss"}}
        doc["zones"].append({"name": "y", "steps": ["a"]})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_route(path, shared=shared)


def test_the_dose_zone_in_argon_sets_the_capacity_in_graph_and_simulator(tmp_path, calm):
    """b sits in zone z, run in argon (-76 °C) while the plant is dp-40: the graph's
    nominal capacity and each simulated lot's are the curve at argon's ppmv (lots meet
    it for 0.5 h and 1 h), not at dp-40's."""
    route = _zoned(tmp_path, calm, "cond-zone")
    graph = LineGraph.of(route)
    assert graph.dose_zone == "z"
    argon = magnus_ppmv(-76.0)
    nominal = cap_by_hand(argon * 0.75, XS, RS, 0.8)
    assert graph.dose_capacity("dp-40", zone_classes={"z": "argon"}) == pytest.approx(
        nominal, rel=1e-12)
    assert graph.dose_capacity("dp-40", zone_classes={"z": "dp-40"}) == pytest.approx(
        cap_by_hand(magnus_ppmv(-40.0) * 0.75, XS, RS, 0.8), rel=1e-12)
    cfg = replace(bare_config(route, "dp-40"), zone_classes={"z": "argon"})
    model = compile_config(cfg, days=days_for(route, 3000), warmup_days=days_for(route, 20))
    assert model.steps[1].nominal_capacity == pytest.approx(nominal, rel=1e-12)
    b = run_replication(model, seed=5, rep=0)["steps"][1]
    expect = np.mean([cap_by_hand(argon * 0.5, XS, RS, 0.8), cap_by_hand(argon * 1.0, XS, RS, 0.8)])
    assert b["capacity_retained"] == pytest.approx(expect, rel=1e-9)


def test_conductivity_curves_in_two_zones_are_refused(tmp_path, calm):
    """The optimiser's capacity pair reads one zone's class: curves on steps of two
    zones are refused by the loader, naming the second step's field."""
    from ssbfab.errors import SpecError

    with pytest.raises(SpecError) as err:
        _zoned(tmp_path, calm, "cond-two-zones", both=True)
    text = str(err.value)
    assert "moisture.dose.conductivity" in text and "all in one zone" in text
    assert "'b'" in text and "'a'" in text
