"""The simulator's bottleneck (`sim.run.constraint`: the arrows of blocking and
starving, walked from the final step) on deterministic lines computed by hand."""

from __future__ import annotations

import pytest

from sim_lines import config_with, days_for, load_line, step
from ssbfab.sim import simulate


def _run(route, hours: float = 1000.0):
    return simulate(config_with(route), days=days_for(route, hours + 100.0),
                    warmup_days=days_for(route, 100.0), reps=1, seed=1, workers=1).stats


def test_a_batch_step_draining_into_a_small_buffer_is_the_constraint(tmp_path, shared):
    """feed 100 cells/h (lots of 10, a 40-lot buffer) -> age (one shelf, 20 lots per
    10 h cycle) -> test 200 cells/h behind a 4-lot buffer. By hand: the shelf loads
    its 20 lots at once from the full buffer, and after the cycle puts 4 lots in the
    buffer and 1 into the tester, then waits for the other 15 at 0.05 h each: a cycle
    of 10.75 h, 200 / 10.75 = 18.60 cells/h, the shelf blocked 0.75 / 10.75 = 7.0 % of
    its time, though every other step has several times the capacity. The shelf is
    the constraint: the tester is starved far more than the shelf is blocked."""
    route = load_line(tmp_path, [
        step("feed", rate=100, lot=10, buffer=40),
        step("age", batch=200, cycle=10, lot=10, buffer=4, inputs=["feed"]),
        step("test", rate=200, lot=10, inputs=["age"]),
    ], shared=shared)
    st = _run(route)
    # 93 cycles in the 1000 h window: the window's edges shift the rate by < 0.2 %
    assert st.steps["test"].throughput_per_h.mean == pytest.approx(200 / 10.75, rel=2e-3)
    assert st.steps["age"].blocked.mean == pytest.approx(0.75 / 10.75, rel=1e-2)
    assert st.bottleneck == "age"


def test_the_walk_follows_the_starved_branch_of_an_assembly(tmp_path, shared):
    """a1 (50/h) and b1 (50/h) -> b2 (20/h) merge at asm (40/h): the line makes 20/h,
    asm is starved half its time by b2 (never blocked), while a1 and b1 are blocked
    60 %. From asm the walk goes to b2 (the input blocked less than asm is starved),
    and b2's own input b1 is blocked more than b2 is starved: b2 is the constraint."""
    route = load_line(tmp_path, [
        step("a1", rate=50, buffer=10),
        step("b1", rate=50, buffer=10),
        step("b2", rate=20, buffer=10, inputs=["b1"]),
        step("asm", rate=40, inputs=["a1", "b2"]),
    ], shared=shared)
    st = _run(route)
    assert st.steps["asm"].throughput_per_h.mean == pytest.approx(20.0, rel=1e-3)
    assert st.steps["asm"].starved.mean == pytest.approx(0.5, abs=2e-3)
    assert st.steps["a1"].blocked.mean == pytest.approx(0.6, abs=2e-3)
    assert st.bottleneck == "b2"
