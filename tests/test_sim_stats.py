"""The typed hand-off from the simulator to the cost and the optimiser: what
`LineStats` carries per step (operating availability, observed yield, level,
shortfall) and per line (dry-room class, hours), its stats.json round trip, the
reading of a stats.json written before these fields existed, and what the cost
function takes from each field.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from ssbfab import flow
from ssbfab.config import size_for_capacity
from ssbfab.cost import evaluate
from ssbfab.data import resolve_route
from ssbfab.io import json_clean
from ssbfab.sim import bare_config, simulate
from ssbfab.stats import NOT_MEASURED, DryRoomStats, Estimate, LineStats, StepStats

DATA = Path(__file__).resolve().parent / "data"
LINES = Path(__file__).resolve().parents[1] / "lines"


def _doc(stats: LineStats) -> dict:
    """stats.json as `simulate --out` writes it (NaN as null)."""
    return json.loads(json.dumps(json_clean(stats.to_dict()), allow_nan=False))


@pytest.fixture(scope="module")
def short_of_target():
    """The example route sized for 0.05 GWh/yr but asked for 0.08: its steps fall short."""
    route = resolve_route(str(DATA / "example-route.yaml"), LINES)
    config = replace(size_for_capacity(route, 0.05), capacity_gwh=0.08)
    return route, config, simulate(config, days=30, warmup_days=10, reps=3, seed=4,
                                   workers=1).stats


def test_the_simulator_fills_the_typed_fields(short_of_target):
    route, config, stats = short_of_target
    assert stats.dew_point_class == config.dew_point_class
    assert stats.capacity_gwh == 0.08
    hpd = route.economics.operating_hours_per_year / 365
    assert stats.simulated_hours == pytest.approx(30 * hpd) and stats.warmup_hours == pytest.approx(10 * hpd)
    ys = flow.nominal_yields(route, config.dew_point_class,
                             {n: c.level for n, c in config.steps.items()})
    for name, st in stats.steps.items():
        assert st.level == config.steps[name].level
        assert st.lot_size == config.steps[name].lot_size
        assert st.nominal_yield == pytest.approx(ys[name], rel=1e-12)
        assert len(st.per_rep["good"]) == 3
        # the estimates are the replications' means
        assert st.availability_operating.mean == pytest.approx(
            sum(st.per_rep["availability_operating"]) / 3, rel=1e-12)
        assert st.yield_.mean == pytest.approx(
            sum(g / s for g, s in zip(st.per_rep["good"], st.per_rep["started"], strict=True)) / 3,
            rel=1e-12)


def test_shortfall_is_what_the_target_needs_and_the_step_did_not_make(short_of_target):
    route, config, stats = short_of_target
    # the last step: its shortfall is the simulated output's, per replication
    final = stats.steps[route.line[-1].name]
    expect = [max(0.0, 1.0 - g / 0.08) for g in stats.per_rep["good_gwh_per_year"]]
    assert final.shortfall.mean == pytest.approx(sum(expect) / 3, rel=1e-9)
    assert final.shortfall.mean > 0.05  # sized for 0.05 of 0.08 GWh/yr
    # every step: the good output per hour the target needs, from the per-cell flow
    from ssbfab.cell import design

    ys = flow.nominal_yields(route, config.dew_point_class,
                             {n: c.level for n, c in config.steps.items()})
    good = flow.requirements(route, ys).good
    cells_per_h = 0.08e6 / design(route).energy_kwh / route.economics.operating_hours_per_year
    for name, st in stats.steps.items():
        need = good[name] * cells_per_h
        expect = [max(0.0, 1.0 - t / need) for t in st.per_rep["throughput_per_h"]]
        assert st.shortfall.mean == pytest.approx(sum(expect) / 3, rel=1e-9, abs=1e-12), name


def test_stats_json_round_trips_every_field(short_of_target, tmp_path):
    _, _, stats = short_of_target
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(_doc(stats)))
    back = LineStats.read(path)
    assert _doc(back) == _doc(stats)
    for name, st in stats.steps.items():
        b = back.steps[name]
        assert (b.level, b.lot_size, b.nominal_yield) == (st.level, st.lot_size, st.nominal_yield)
        assert b.availability_operating == st.availability_operating
        assert b.per_rep == st.per_rep
    assert back.dew_point_class == stats.dew_point_class
    assert back.per_rep == stats.per_rep
    assert back.warnings == stats.warnings and back.operations == stats.operations


def test_a_bare_line_has_no_target_hence_no_shortfall(lines_dir):
    line = resolve_route(str(lines_dir / "examples" / "two-station.yaml"))
    stats = simulate(bare_config(line), days=10, warmup_days=1, reps=1, seed=2, workers=1).stats
    assert all(math.isnan(s.shortfall.mean) for s in stats.steps.values())
    assert math.isnan(stats.capacity_gwh)
    shortfall = _doc(stats)["steps"][0]["shortfall"]
    assert (shortfall["mean"], shortfall["ci95_low"], shortfall["ci95_high"]) == (None,) * 3


def test_a_stats_file_written_before_the_typed_fields_still_reads():
    """tests/data/stats-before-typed-fields.json was written by `ssbfab simulate --out`
    when these fields travelled in an untyped `extra`: each lands in its field."""
    path = DATA / "stats-before-typed-fields.json"
    raw = json.loads(path.read_text())
    extra = raw["extra"]
    stats = LineStats.read(path)
    assert stats.dew_point_class == extra["dew_point_class"] == "dp-60"
    assert stats.warmup_hours == extra["warmup_hours"]
    assert stats.operations == extra["operations"]
    assert math.isnan(stats.capacity_gwh)  # null: a bare line has no target
    for name in ("press", "test"):
        st = stats.steps[name]
        assert st.level == extra["levels"][name]
        assert st.lot_size == extra["lots"][name]
        assert st.nominal_yield == extra["nominal_yield"][name]
        ao = extra["availability_operating"][name]
        assert st.availability_operating == Estimate(ao["mean"], ao["ci95_low"], ao["ci95_high"])
        assert st.per_rep["good"] == tuple(extra["per_rep"]["steps"][name]["good"])
        assert math.isnan(st.shortfall.mean)  # not measured then
    assert stats.per_rep["events"] == tuple(extra["per_rep"]["events"])
    assert "steps" not in stats.per_rep


def _hand_stats(route, step: str, availability: float, operating: Estimate) -> LineStats:
    e = Estimate
    one = e(1.0, 1.0, 1.0)
    st = StepStats(step, "", 1, one, e(availability, availability, availability), one, one,
                   e(math.nan, math.nan, math.nan), one, one, availability_operating=operating)
    z = e(0.0, 0.0, 0.0)
    return LineStats(route.name, 1, 1, 365.0, 0.0, {step: st}, z, z, z, z, "",
                     DryRoomStats(z, z, z), 0, 0.0)


@pytest.mark.parametrize("operating, used", [(Estimate(0.5, 0.45, 0.55), 0.5),
                                             (NOT_MEASURED, 0.95)])
def test_the_cost_plans_capacity_on_the_availability_while_wanted(sulfide, operating, used):
    """`availability` (0.95, idle hours counted as up) gives way to
    `availability_operating` when it was measured; without it, `availability` is used."""
    config = size_for_capacity(sulfide, 1.0)
    stats = _hand_stats(sulfide, "formation", 0.95, operating)
    c = evaluate(config, stats)
    step = sulfide.step("formation")
    rf = step.level(config.steps["formation"].level).rate_factor
    hours = sulfide.economics.operating_hours_per_year
    machines = config.steps["formation"].machines  # a rack and a tower: capacities add
    by_hand = sum(machines.get(o.name, 0) * o.batch_size / o.cycle_time for o in step.options)
    assert c.capacity_per_year["formation"] == pytest.approx(
        by_hand * rf * used * hours, rel=1e-12)
    nominal = evaluate(config)
    other = "ageing"
    assert c.capacity_per_year[other] == nominal.capacity_per_year[other]
