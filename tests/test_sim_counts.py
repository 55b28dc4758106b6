"""Exact counts of deterministic lines: every unit started, made, in process, every
machine-hour, the WIP and the lead time after the warm-up, by hand.

Without randomness (deterministic times, no failures, no scrap) the simulator's
accumulators have exact values, computed here from the event times. The warm-up and
the horizon are put between events (10.05 h and 110.05 h), so no count depends on the
order of simultaneous events.
"""

from __future__ import annotations

import pytest

from sim_lines import days_for, load_line, step
from ssbfab.sim import bare_config, compile_config
from ssbfab.sim.model import run_replication

WARMUP, HORIZON = 10.05, 110.05  # operating hours
WINDOW = HORIZON - WARMUP


def _run(route):
    model = compile_config(bare_config(route), days=days_for(route, HORIZON),
                           warmup_days=days_for(route, WARMUP))
    assert model.hours == pytest.approx(HORIZON, rel=1e-12)
    raw = run_replication(model, seed=1, rep=0)
    return raw, {s["step"]: s for s in raw["steps"]}




def test_a_batch_step_counts_and_lead_time_by_hand(tmp_path, shared):
    # one machine loads 3 lots of 2 units (a 6-unit batch) and cycles 0.5 h: cycles start
    # at 0.5k; lead time of every unit is one cycle
    route = load_line(tmp_path, [step("oven", batch=6, cycle=0.5, lot=2)], shared=shared)
    raw, s = _run(route)
    oven = s["oven"]
    # cycles begin at 10.5 ... 110.0 inside the window (200), end at 10.5 ... 110.0 (200)
    assert (oven["started"], oven["good"]) == (1200.0, 1200.0)
    assert oven["inproc_end"] == 6.0 and oven["inproc_start"] == 6.0
    assert raw["lead_sum"] / raw["lead_w"] == pytest.approx(0.5, rel=1e-9)
    assert oven["busy_h"] == pytest.approx(WINDOW, abs=1e-9)
    # the batch holds 6 units all the time
    assert oven["machine_area"] / WINDOW == pytest.approx(6.0, rel=1e-9)


def test_lead_time_counts_only_units_shipped_after_the_warmup(tmp_path, shared):
    # a line that starts empty: the first units pass quickly, later ones queue at the
    # slower second step; only units shipped after the warm-up count
    route = load_line(tmp_path, [step("a", rate=16, lot=1, buffer=2000),
                                 step("b", rate=8, lot=1, inputs=["a"])], shared=shared)
    raw, s = _run(route)
    # a makes a unit every 1/16 h into a buffer that b drains at 8/h: unit k is born at
    # k/16 at a and shipped by b at 1/16 + (k+1)/8, so the later it came the longer it
    # waited. Units shipped inside the window:
    ks = [k for k in range(3000) if WARMUP < 1 / 16 + (k + 1) / 8 <= HORIZON]
    lead = sum(1 / 16 + (k + 1) / 8 - k / 16 for k in ks) / len(ks)
    assert len(ks) == 800
    assert raw["lead_w"] == len(ks)
    assert raw["lead_sum"] / raw["lead_w"] == pytest.approx(lead, rel=1e-9)
    # counting every shipped unit from time 0 would give a shorter mean lead time
    everything = [k for k in range(3000) if 1 / 16 + (k + 1) / 8 <= HORIZON]
    assert sum(1 / 16 + (k + 1) / 8 - k / 16 for k in everything) / len(everything) < 0.95 * lead
    assert s["b"]["started"] == 800.0 and s["a"]["started"] == 1600.0
