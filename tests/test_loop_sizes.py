"""Every shipped route converges at every plant size of issue 11, from a 0.2 GWh/yr
pilot line to a 50 GWh/yr gigafactory: the closed loop, with `compare`'s horizon,
warm-up and replications, ends with a plan the simulation certifies (the one-sided
95 % lower bound of the plant's good GWh/yr at least the target), checked here
against the plan's own replications. Slow: 36 loops (`make test-slow`)."""

from __future__ import annotations

import math

import pytest

from ssbfab.certify import decide, schedule
from ssbfab.comparison import compare
from ssbfab.data import resolve_route
from ssbfab.loop import MAX_LINE_GWH, run_loop

ROUTES = ["liquid-nmc811-graphite", "semisolid-oxide-polymer", "sulfide-lpscl",
          "halide-catholyte", "oxide-llzo", "polymer-peo"]
SIZES = [0.2, 1.0, 2.0, 10.0, 20.0, 50.0]  # GWh/yr
# compare's defaults: what `ssbfab compare` certifies with
DAYS = compare.__kwdefaults__["days"]
WARMUP_DAYS = compare.__kwdefaults__["warmup_days"]


@pytest.mark.slow
@pytest.mark.parametrize("gwh", SIZES)
@pytest.mark.parametrize("name", ROUTES)
def test_every_route_converges_at_every_size(shared, name, gwh):
    route = resolve_route(name, shared=shared)
    res = run_loop(route, gwh, days=DAYS, warmup_days=WARMUP_DAYS, reps=4, seed=1)
    assert res.converged, f"{name} at {gwh:g} GWh/yr: {res.reason}"
    it = res.final
    # the decision, recomputed by hand from the plan's replications: lines x one line's
    # good GWh/yr, Bonferroni over the looks of the schedule
    values = [it.lines * v for v in it.stats.per_rep["good_gwh_per_year"]]
    assert len(values) == it.reps
    cert = decide(values, gwh, 0.95, len(schedule(4, 32)))
    assert cert.certified and cert.lcb_gwh == pytest.approx(it.sim_gwh_lcb, rel=1e-12)
    assert it.sim_gwh_lcb >= gwh and math.isfinite(it.cost_per_kwh)
    # a plant above MAX_LINE_GWH is several lines of at most that much
    assert it.lines >= math.ceil(gwh / MAX_LINE_GWH - 1e-9)
