"""Plans of the shipped routes: optimal, priced by `evaluate` exactly as the MILP
priced them, whole machines that cover every step's input (checked here by hand from
the route's rates, availabilities and the foundation's flow), and no machine too many.
"""

from __future__ import annotations

import math

import pytest

from ssbfab import bom, flow
from ssbfab.config import PlantConfig, StepChoice
from ssbfab.cost import evaluate
from ssbfab.data import resolve_route, route_files
from ssbfab.opt import OptModel, optimize

ROUTES = [p.stem for p in route_files()]


def installed(route, config, derate=None, availability=None):
    """Units each step can start per year: Σ machines × rate × rate factor ×
    availability × derate × operating hours, from the route data."""
    e = route.economics
    hours = e.operating_days_per_year * e.shifts_per_day * e.shift_length
    out = {}
    for s in route.line:
        ch = config.steps[s.name]
        rf = s.level(ch.level).rate_factor
        total = 0.0
        for o in s.options:
            rate = o.batch_size / o.cycle_time if o.is_batch else o.rate_per_hour
            a = 1.0
            if o.mtbf:
                a *= o.mtbf / (o.mtbf + o.mttr)
            if o.maintenance:
                a *= o.maintenance.every / (o.maintenance.every + o.maintenance.duration)
            if availability and s.name in availability:
                a = availability[s.name]
            total += ch.machines.get(o.name, 0) * rate * rf * a * hours
        out[s.name] = total * (derate or {}).get(s.name, 1.0)
    return out


def required(route, config, yields=None):
    """Units each step must start per year (flow.requirements × good cells per year)."""
    ys = yields or flow.nominal_yields(route, config.dew_point_class,
                                       {s: c.level for s, c in config.steps.items()},
                                       config.zone_classes)
    cells = config.good_cells_per_year()  # each delivering its levels' and classes' energy
    return {s: v * cells for s, v in flow.requirements(route, ys).started.items()}


@pytest.fixture(scope="module")
def plans(shared):
    out = {}
    for name in ROUTES:
        plan = optimize(resolve_route(name, shared=shared), 10.0)
        # the plan's route runs the supply options it chose (make or buy)
        out[name] = (plan.config.route, plan)
    return out


@pytest.mark.parametrize("name", ROUTES)
def test_plan_is_optimal_and_priced_like_the_objective(plans, name):
    route, plan = plans[name]
    assert plan.status.status == "optimal", plan.status.reason
    assert plan.status.gap is not None and plan.status.gap <= 1e-4 + 1e-12
    again = evaluate(plan.config)
    assert again.cost_per_kwh == pytest.approx(plan.status.objective, rel=1e-6)
    assert plan.cost.cost_per_kwh == pytest.approx(plan.status.objective, rel=1e-6)
    # the HiGHS incumbent is the same plan (polishing only re-dispatches load)
    assert plan.status.solver_objective == pytest.approx(plan.status.objective, rel=1e-6)
    assert sum(again.by_category.values()) == pytest.approx(again.cost_per_kwh, rel=1e-12)
    assert again.by_step["usd_per_kwh"].sum() == pytest.approx(again.cost_per_kwh, rel=1e-9)


@pytest.mark.parametrize("name", ROUTES)
def test_whole_machines_cover_every_step(plans, name):
    route, plan = plans[name]
    cfg = plan.config
    have = installed(route, cfg)
    need = required(route, cfg)
    for s in route.line:
        ch = cfg.steps[s.name]
        for o in s.options:
            n = ch.machines.get(o.name, 0)
            assert isinstance(n, int) and o.min_count <= n <= o.max_count
        assert have[s.name] >= need[s.name] * (1 - 1e-9), s.name
        row = next(r for r in plan.rows if r.step == s.name)
        assert row.required_per_year == pytest.approx(need[s.name], rel=1e-9)
        assert row.capacity_per_year == pytest.approx(have[s.name], rel=1e-9)
        for o in s.options:  # a lot never exceeds the batch it rides in
            if o.is_batch and ch.machines.get(o.name):
                assert ch.lot_size <= o.batch_size
    floor = sum(n * route.step(s).option(o).footprint
                for s, c in cfg.steps.items() for o, n in c.machines.items())
    assert floor <= route.plant.floor_area
    assert plan.cost.floor_area_m2 == pytest.approx(floor)


@pytest.mark.parametrize("name", ROUTES)
def test_no_machine_too_many(plans, name):
    """Removing any one machine misses the target, unless a min_count forces it, or
    the machine pays for itself by the energy it saves (a cheaper-to-run machine)."""
    route, plan = plans[name]
    cfg = plan.config
    for s in route.line:
        ch = cfg.steps[s.name]
        for o in s.options:
            n = ch.machines.get(o.name, 0)
            if n <= o.min_count:
                continue
            fewer = dict(ch.machines)
            fewer[o.name] = n - 1
            steps = dict(cfg.steps)
            steps[s.name] = StepChoice(ch.level, {k: v for k, v in fewer.items() if v}, ch.lot_size)
            smaller = PlantConfig(route, steps, cfg.dew_point_class, cfg.capacity_gwh)
            short = installed(route, smaller)[s.name] < required(route, smaller)[s.name]
            assert short or evaluate(smaller).cost_per_kwh >= plan.cost.cost_per_kwh, (s.name, o.name)


@pytest.mark.parametrize("name", ROUTES)
def test_plan_json_reads_back_as_the_same_configuration(plans, name, tmp_path):
    import json

    route, plan = plans[name]
    doc = plan.to_dict()
    for key in ("route", "capacity_gwh", "cost_per_kwh", "currency", "breakdown", "steps",
                "dew_point_class", "solver"):
        assert key in doc
    for key in ("status", "gap", "build_s", "solve_s"):
        assert key in doc["solver"]
    for row in doc["steps"]:
        for key in ("step", "option", "count", "level", "required_per_year",
                    "capacity_per_year", "unit", "machines", "lot_size"):
            assert key in row
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    back = PlantConfig.read(route, path)
    assert back.dew_point_class == plan.config.dew_point_class
    assert back.capacity_gwh == plan.config.capacity_gwh
    for s, c in plan.config.steps.items():
        assert back.steps[s].level == c.level
        assert back.steps[s].machines == c.machines
        assert back.steps[s].lot_size == c.lot_size
    assert evaluate(back).cost_per_kwh == pytest.approx(plan.cost.cost_per_kwh, rel=1e-12)


def test_resolve_without_rebuild_equals_a_fresh_solve(sulfide):
    model = OptModel(sulfide)
    first = model.solve(10.0, gap=1e-9)
    built = model.model
    for cap in (20.0, 5.0):
        again = model.solve(cap, gap=1e-9)
        assert model.model is built  # the same Pyomo model, new numbers
        fresh = optimize(sulfide, cap, gap=1e-9)
        assert again.cost.cost_per_kwh == pytest.approx(fresh.cost.cost_per_kwh, rel=1e-9)
        assert again.status.objective == pytest.approx(evaluate(again.config).cost_per_kwh, rel=1e-6)
    back = model.solve(10.0, gap=1e-9)
    assert back.cost.cost_per_kwh == pytest.approx(first.cost.cost_per_kwh, rel=1e-9)


def test_price_sweep_without_rebuild(sulfide):
    """A cheaper Li2S lowers the materials cost by exactly the Li2S bought × the saving
    (same plan), and the re-solve equals a fresh solve with the same prices."""
    model = OptModel(sulfide)
    base = model.solve(10.0, gap=1e-9)
    li2s = sulfide.all_materials["Li2S"].price_per_unit[0]
    cheap = model.solve(10.0, gap=1e-9, prices={"Li2S": 0.2 * li2s})
    fresh = optimize(sulfide, 10.0, gap=1e-9, prices={"Li2S": 0.2 * li2s})
    assert cheap.cost.cost_per_kwh == pytest.approx(fresh.cost.cost_per_kwh, rel=1e-9)
    assert cheap.status.objective == pytest.approx(
        evaluate(cheap.config, prices={"Li2S": 0.2 * li2s}).cost_per_kwh, rel=1e-6)
    # priced at the base plan: materials drop by Li2S bought per kWh x 80 % of its price
    same = evaluate(base.config, prices={"Li2S": 0.2 * li2s})
    cfg = base.config
    ys = flow.nominal_yields(sulfide, cfg.dew_point_class, {s: c.level for s, c in cfg.steps.items()},
                             cfg.zone_classes)
    kwh = bom.delivered_energy_kwh(sulfide, levels={s: c.level for s, c in cfg.steps.items()},
                                   dew_point_class=cfg.dew_point_class,
                                   zone_classes=cfg.zone_classes)
    bought = flow.requirements(sulfide, ys).bought["Li2S"] / kwh
    assert base.cost.by_category["materials"] - same.by_category["materials"] == \
        pytest.approx(bought * 0.8 * li2s, rel=1e-9)
    assert cheap.cost.cost_per_kwh <= same.cost_per_kwh * (1 + 1e-9)


def test_derate_buys_capacity_where_it_is_asked(sulfide):
    plan = optimize(sulfide, 10.0, derate={"formation": 0.5})
    cfg = plan.config
    run = cfg.route  # the route running the supply the plan chose
    have = installed(run, cfg, derate={"formation": 0.5})
    need = required(run, cfg)
    assert have["formation"] >= need["formation"] * (1 - 1e-9)
    assert installed(run, cfg)["formation"] >= 2 * need["formation"] * (1 - 1e-9)
    assert evaluate(cfg).cost_per_kwh == pytest.approx(plan.status.objective, rel=1e-6)
    assert cfg.meta["derate"] == {"formation": 0.5}


def test_capacity_scales_the_machines(sulfide):
    """Twice the target: every step still covered, and no step needs fewer machines."""
    small = optimize(sulfide, 10.0)
    big = optimize(sulfide, 20.0)
    run = big.config.route  # the route running the supply the plan chose
    have, need = installed(run, big.config), required(run, big.config)
    assert all(have[s] >= need[s] * (1 - 1e-9) for s in need)
    assert sum(c.count for c in big.config.steps.values()) > \
        sum(c.count for c in small.config.steps.values())
    assert math.isfinite(big.cost.cost_per_kwh)


def test_resolve_with_another_version_of_the_route(tmp_path, shared):
    """A study's override (another capex, another yield) re-solves the built model; a
    route with another structure is rebuilt; both equal fresh solves."""
    import yaml

    from ssbfab.data import default_lines_dir, load_route

    doc = yaml.safe_load((default_lines_dir() / "routes" / "sulfide-lpscl.yaml").read_text())
    base = load_route(default_lines_dir() / "routes" / "sulfide-lpscl.yaml", shared=shared)
    formation = next(s for s in doc["line"] if s["name"] == "formation")
    formation["options"][0]["capex"] = "0.6 MUSD"
    formation["yield"] = {"value": "95 %", "source": "test"}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    changed = load_route(tmp_path / "a.yaml", shared=shared)
    model = OptModel(base)
    model.solve(10.0, gap=1e-9)
    built = model.model
    p = model.solve(10.0, gap=1e-9, route=changed)
    assert model.model is built
    assert p.cost.cost_per_kwh == pytest.approx(optimize(changed, 10.0, gap=1e-9).cost.cost_per_kwh,
                                                rel=1e-9)
    doc["line"][-1]["options"].append(dict(doc["line"][-1]["options"][0], name="eol_tester_b"))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    other = load_route(tmp_path / "b.yaml", shared=shared)
    q = model.solve(10.0, gap=1e-9, route=other)
    assert model.model is not built
    assert q.cost.cost_per_kwh == pytest.approx(optimize(other, 10.0, gap=1e-9).cost.cost_per_kwh,
                                                rel=1e-9)
