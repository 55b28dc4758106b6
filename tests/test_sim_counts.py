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


def test_a_two_step_line_counts_and_lead_time_by_hand(tmp_path, shared):
    # a: 2-unit lots at 10/h (0.2 h each), always busy; b: 2-unit lots at 20/h (0.1 h),
    # starved half the time. Lot j of a starts at 0.2j, b takes it at 0.2(j+1) and
    # ships it at 0.2(j+1) + 0.1: every unit's lead time is 0.3 h.
    route = load_line(tmp_path, [step("a", rate=10, lot=2, buffer=5),
                                 step("b", rate=20, lot=2, inputs=["a"])], shared=shared)
    raw, s = _run(route)
    a, b = s["a"], s["b"]
    # a starts lots at 10.2 ... 110.0 inside the window: 500 lots of 2
    assert (a["started"], a["good"], a["scrapped"]) == (1000.0, 1000.0, 0.0)
    assert (a["busy_h"], a["starved_h"], a["blocked_h"], a["down_h"]) == pytest.approx(
        (WINDOW, 0.0, 0.0, 0.0), abs=1e-9)
    # b starts 10.2 ... 110.0 (500 lots), ships 10.1 ... 109.9 (500 lots): one in process
    assert (b["started"], b["good"], b["inproc_end"], b["inproc_start"]) == (1000.0, 1000.0, 2.0, 2.0)
    assert b["busy_h"] == pytest.approx(WINDOW / 2, abs=1e-9)
    assert b["starved_h"] == pytest.approx(WINDOW / 2, abs=1e-9)
    assert raw["window_h"] == pytest.approx(WINDOW, rel=1e-12)
    # WIP: a holds 2 units always, b 2 units half the time, the buffer is emptied at once
    assert a["machine_area"] / WINDOW == pytest.approx(2.0, rel=1e-9)
    assert b["machine_area"] / WINDOW == pytest.approx(1.0, rel=1e-9)
    assert a["buffer_area"] == pytest.approx(0.0, abs=1e-9)
    # the buffer's in/out totals are over the measured window: a finishes lots at
    # 0.2(j+1) in (10.05, 110.05], j = 50 ... 549 (500 lots of 2), b takes each at once
    assert (a["given"], a["taken"], a["buffer_end"]) == (1000.0, 1000.0, 0.0)
    # lead time of the units shipped after the warm-up, and Little's law with it:
    # WIP 3 units = 10 units/h x 0.3 h
    assert raw["lead_w"] == 1000.0
    assert raw["lead_sum"] / raw["lead_w"] == pytest.approx(0.3, rel=1e-9)
    wip = (a["machine_area"] + b["machine_area"] + a["buffer_area"]) / WINDOW
    assert wip == pytest.approx(10.0 * 0.3, rel=1e-9)
    assert a["lots"] == 551  # station operations since time 0 (lots 0 ... 550)


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
