"""The dry room's excursions counted against renewal theory.

An excursion begins an Exponential(GAP) time after the last one ended and lasts an
Exponential(LENGTH) time, so excursions begin at the renewal rate 1 / (GAP + LENGTH)
and the number N begun in a window of W hours has mean W / (GAP + LENGTH) and
variance W·Var(cycle) / E(cycle)³ (the renewal central limit theorem). The bounds
below are 4.5 standard deviations (a two-sided false alarm of about 1e-5), so they do
not fail when the random streams change; counting only one excursion, or every one
since time 0, is far outside them.
"""

from __future__ import annotations

import math

from sim_lines import days_for, load_line
from ssbfab.sim import bare_config, compile_config
from ssbfab.sim.model import run_replication
from test_sim_dryroom import GAP, LENGTH, humid, powder_step  # noqa: F401 (a fixture)

WINDOW, WARMUP = 4000.0, 400.0  # operating hours


def test_excursions_begun_in_the_window_follow_renewal_theory(tmp_path, humid):  # noqa: F811
    route = load_line(tmp_path, [powder_step({"effect": "loss", "extra_loss": "0 %"}, rate=1.0)],
                      shared=humid)
    model = compile_config(bare_config(route), days=days_for(route, WINDOW + WARMUP),
                           warmup_days=days_for(route, WARMUP))
    raw = run_replication(model, seed=7, rep=0)
    n, hours = raw["excursions"], raw["excursion_hours"]
    cycle, var_cycle = GAP + LENGTH, GAP ** 2 + LENGTH ** 2
    mean_n = WINDOW / cycle  # about 182; since time 0 it would be about 200
    sd_n = math.sqrt(WINDOW * var_cycle / cycle ** 3)  # about 12
    assert abs(n - mean_n) < 4.5 * sd_n, (n, mean_n, sd_n)
    # the mean length of those excursions (hours counted inside the window, so the one
    # under way at the warm-up counts only its remainder): LENGTH within 4.5 standard
    # errors of an exponential mean, plus one excursion's worth of edge effect
    assert abs(hours / n - LENGTH) < 4.5 * LENGTH / math.sqrt(n) + LENGTH / n, (hours, n)
    # the longest is at least the mean and at most all of them; the sum of squares of
    # exponential lengths has mean 2 LENGTH² per excursion
    assert hours / n <= raw["excursion_hours_max"] <= hours
    assert raw["excursion_hours_sq"] / n > LENGTH ** 2  # above the square of the mean


def test_the_rooms_water_integral_by_hand():
    """∫ ppmv dt of a room at 10 ppmv with one excursion at 100 ppmv from 2 h to 3.5 h:
    a lot's dose is the difference of two values of it."""
    import simpy

    from ssbfab.sim.model import DryRoom

    dr = DryRoom(simpy.Environment(), 10.0)
    dr.set_water(2.0, 100.0)  # the excursion begins
    dr.set_water(3.5, 10.0)  # and ends
    assert dr.water(1.0) == 10.0
    assert dr.water(2.5) == 10.0 * 2 + 100.0 * 0.5
    assert dr.water(5.0) == 10.0 * 2 + 100.0 * 1.5 + 10.0 * 1.5
    assert dr.water(5.0) - dr.water(2.5) == 100.0 * 1.0 + 10.0 * 1.5  # a lot from 2.5 h to 5 h
