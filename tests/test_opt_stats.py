"""Closure with the simulator: observed availability and yields replace the nominal ones.

The statistics here are written by hand (the optimiser must not care who made them),
and the expected capacities and flows are computed here from the route's data.
"""

from __future__ import annotations

import pytest

from ssbfab import flow
from ssbfab.cost import evaluate
from ssbfab.opt import optimize
from ssbfab.stats import DryRoomStats, Estimate, LineStats, StepStats


def _e(v: float) -> Estimate:
    return Estimate(v, v, v)


def line_stats(route, availability: dict, yields: dict, levels: dict | None = None,
               dew_point_class: str | None = None) -> LineStats:
    steps = {
        s.name: StepStats(step=s.name, option=s.options[0].name, machines=1,
                          utilization=_e(0.8), availability=_e(availability.get(s.name, float("nan"))),
                          blocked=_e(0.0), starved=_e(0.0),
                          yield_=_e(yields.get(s.name, float("nan"))),
                          throughput_per_h=_e(1.0), wip_mean=_e(1.0),
                          level=(levels or {}).get(s.name))
        for s in route.line if s.name in availability or s.name in yields
    }
    return LineStats(route=route.name, seed=1, reps=1, days=365.0, warmup_days=0.0, steps=steps,
                     good_cells_per_year=_e(1.0), good_gwh_per_year=_e(1.0),
                     overall_yield=_e(0.9), lead_time_h=_e(1.0), bottleneck="",
                     dry_room=DryRoomStats(_e(0.0), _e(0.0), _e(0.0)), events=0, wall_s=0.0,
                     dew_point_class=dew_point_class)


def test_observed_availability_sets_the_capacity(sulfide):
    """Half the availability at formation: its installed capacity at 0.5 availability
    covers what it must start, and it has about twice the capacity of the nominal plan
    (formation has racks and towers: capacities are summed over its options)."""
    nominal = optimize(sulfide, 10.0)
    stats = line_stats(sulfide, {"formation": 0.5}, {})
    plan = optimize(sulfide, 10.0, stats=stats)
    assert plan.lines == nominal.lines == 1
    e = sulfide.economics
    hours = e.operating_days_per_year * e.shifts_per_day * e.shift_length
    f = sulfide.step("formation")
    per = {o.name: (o.batch_size / o.cycle_time) * f.setting_levels[0].rate_factor * hours
           for o in f.options}  # cells per machine-year at availability 1

    def capacity(p, availability):
        return sum(n * per[o] * availability for o, n in p.config.steps["formation"].machines.items())

    cap = capacity(plan, 0.5)
    cells = plan.config.good_cells_per_year()  # each delivering its levels and class energy
    cfg = plan.config
    ys = flow.nominal_yields(cfg.route, cfg.dew_point_class, {s: c.level for s, c in cfg.steps.items()})
    # the route running the supply the plan chose
    need = flow.requirements(cfg.route, ys).started["formation"] * cells
    assert cap >= need * (1 - 1e-9)
    assert cap - 0.5 * max(per.values()) < need  # and not one machine more than that
    nominal_cap = capacity(nominal, 1.0)
    assert abs(cap / 0.5 - 2 * nominal_cap) <= 2 * max(per.values())
    assert evaluate(cfg, stats).cost_per_kwh == pytest.approx(plan.status.objective, rel=1e-6)


def test_observed_yield_scales_every_level_of_the_step(sulfide):
    """An observed yield at the level that was simulated becomes a factor on every level
    of the step: the plan's flows equal the foundation's flow at those factored yields."""
    step = sulfide.step("cathode_coating")
    sim_level = step.level("fast")
    dpc = "dp-60"  # moisture factor 1 for this step, so nominal = level yield
    observed = 0.5 * sim_level.yield_
    stats = line_stats(sulfide, {}, {"cathode_coating": observed},
                       levels={"cathode_coating": "fast"}, dew_point_class=dpc)
    plan = optimize(sulfide, 10.0, stats=stats)
    cfg = plan.config
    chosen = step.level(cfg.steps["cathode_coating"].level)
    ys = flow.nominal_yields(cfg.route, cfg.dew_point_class, {s: c.level for s, c in cfg.steps.items()},
                             cfg.zone_classes)
    # the coating's class: its zone's (the shipped route puts it with the sheets)
    moisture = step.moisture.yield_factor[cfg.zone_classes.get("sheets", cfg.dew_point_class)]
    ys["cathode_coating"] = min(1.0, chosen.yield_ * 0.5 * moisture)
    cells = plan.config.good_cells_per_year()  # each delivering its levels and class energy
    need = flow.requirements(cfg.route, ys).started  # the route running the chosen supply
    for row in plan.rows:
        assert row.required_per_year == pytest.approx(need[row.step] * cells, rel=1e-9), row.step
    assert plan.cost.cost_per_kwh == pytest.approx(evaluate(cfg, stats).cost_per_kwh, rel=1e-12)
    # half the coating yield costs materials upstream: dearer than the nominal plan
    assert plan.cost.cost_per_kwh > optimize(sulfide, 10.0).cost.cost_per_kwh


def test_stats_of_another_route_are_refused(sulfide):
    from ssbfab.errors import InputError

    stats = line_stats(sulfide, {"formation": 0.5}, {})
    other = LineStats(**{**stats.__dict__, "route": "liquid-nmc811-graphite"})
    with pytest.raises(InputError, match="statistics are for route"):
        optimize(sulfide, 10.0, stats=other)


def test_real_simulator_statistics_close_the_loop(sulfide, tmp_path):
    """Optimise, simulate the plan, re-optimise on the simulated statistics (as a
    LineStats and as the stats.json the CLI writes): every step covers its input at
    the observed availability and yields, and evaluate equals the objective."""
    import json

    from ssbfab.sim import simulate

    plan = optimize(sulfide, 1.0)
    stats = simulate(plan.config, days=40, warmup_days=10, reps=2, seed=3, workers=1).stats
    again = optimize(sulfide, 1.0, stats=stats)
    assert again.status.status == "optimal", again.status.reason
    assert evaluate(again.config, stats).cost_per_kwh == pytest.approx(again.status.objective,
                                                                       rel=1e-6)
    e = sulfide.economics
    hours = e.operating_days_per_year * e.shifts_per_day * e.shift_length
    for row in again.rows:
        step = again.config.route.step(row.step)  # a step of the chosen supply
        rf = step.level(row.level).rate_factor
        a = stats.steps[row.step].availability_operating.mean
        have = sum(n * (o.batch_size / o.cycle_time if o.is_batch else o.rate_per_hour)
                   for o in step.options for n in [row.machines.get(o.name, 0)]) * rf * a * hours
        assert have >= row.required_per_year * (1 - 1e-9), row.step
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(stats.to_dict()))
    from_file = optimize(sulfide, 1.0, stats=path)
    assert from_file.cost.cost_per_kwh == pytest.approx(again.cost.cost_per_kwh, rel=1e-9)
