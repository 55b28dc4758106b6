"""The simulator against independent truth: renewal theory, an exact Markov chain,
products of yields, Little's law, and a per-part run of the same line."""

from __future__ import annotations

import numpy as np
import pytest

from sim_lines import config_with, days_for, load_line, step
from ssbfab.sim import bare_config, simulate


def inside(estimate, truth: float, slack: float = 0.0) -> bool:
    return estimate.ci95_low - slack <= truth <= estimate.ci95_high + slack


def test_one_machine_with_failures_matches_renewal_theory(tmp_path, shared):
    # never starved (first step) nor blocked (last step): up/down alternate, so the
    # fraction of time up is MTBF/(MTBF+MTTR) and output is rate x that fraction
    mtbf, mttr, rate = 20.0, 5.0, 10.0
    route = load_line(tmp_path, [step("only", rate=rate, mtbf=mtbf, mttr=mttr)], shared=shared)
    res = simulate(bare_config(route), days=days_for(route, 3000), warmup_days=days_for(route, 50),
                   reps=8, seed=3, workers=1)
    st = res.stats.steps["only"]
    a = mtbf / (mtbf + mttr)
    assert inside(st.availability, a), (st.availability, a)
    assert inside(st.utilization, a), (st.utilization, a)
    assert inside(st.throughput_per_h, rate * a), (st.throughput_per_h, rate * a)
    # and the interval is informative, not a wide net
    assert st.throughput_per_h.ci95_high - st.throughput_per_h.ci95_low < 0.05 * rate * a


def ctmc_throughput(mu1: float, mu2: float, buffer: int) -> tuple[float, float]:
    """Exact throughput and M1 blocking probability of two exponential machines with
    `buffer` places between them, blocking after service. State k = parts between the
    machines: in the buffer, at M2, and the one M1 holds when blocked (0..buffer+2)."""
    n = buffer + 3
    q = np.zeros((n, n))
    for k in range(n):
        if k < n - 1:
            q[k, k + 1] = mu1  # M1 finishes (at k = buffer+1 it becomes blocked)
        if k > 0:
            q[k, k - 1] = mu2  # M2 finishes and takes the next part, unblocking M1
        q[k, k] = -q[k].sum()
    a = np.vstack([q.T, np.ones(n)])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    return mu2 * (1.0 - pi[0]), pi[-1]


def test_two_exponential_machines_with_a_finite_buffer_match_the_markov_chain(tmp_path, shared):
    mu1, mu2, buf = 1.0, 1.2, 3
    route = load_line(tmp_path, [
        step("m1", rate=mu1, dist="exponential", buffer=buf),
        step("m2", rate=mu2, dist="exponential", inputs=["m1"]),
    ], shared=shared)
    th, p_blocked = ctmc_throughput(mu1, mu2, buf)
    res = simulate(bare_config(route), days=days_for(route, 12000),
                   warmup_days=days_for(route, 100), reps=6, seed=1, workers=1)
    s = res.stats.steps
    assert inside(s["m2"].throughput_per_h, th), (s["m2"].throughput_per_h, th)
    assert inside(s["m1"].blocked, p_blocked), (s["m1"].blocked, p_blocked)
    # the chain's answer differs from the no-blocking answer min(mu1, mu2) = 1.0 by far
    # more than the interval, so the test can tell a buffer model from none
    assert s["m2"].throughput_per_h.ci95_high < mu1 - 0.05


def test_serial_line_with_bernoulli_scrap_yields_the_product(tmp_path, shared):
    ys = [0.9, 0.8, 0.95]
    route = load_line(tmp_path, [
        step("a", rate=60, yield_="90 %", lot=10, buffer=5),
        step("b", rate=80, yield_="80 %", lot=10, buffer=5, inputs=["a"]),
        step("c", rate=90, yield_="95 %", lot=10, inputs=["b"]),
    ], shared=shared)
    res = simulate(bare_config(route), days=days_for(route, 1500), warmup_days=days_for(route, 50),
                   reps=5, seed=2, workers=1)
    assert inside(res.stats.overall_yield, float(np.prod(ys))), res.stats.overall_yield
    for name, y in zip("abc", ys, strict=True):
        assert inside(res.stats.steps[name].yield_, y), (name, res.stats.steps[name].yield_)
    # what leaves the line per unit started at its first step, the same product
    steps = res.stats.steps
    ratio = [g / s for g, s in zip(steps["c"].per_rep["good"], steps["a"].per_rep["started"],
                                   strict=True)]
    assert abs(np.mean(ratio) - np.prod(ys)) < 0.02


def test_littles_law_wip_equals_throughput_times_lead_time(tmp_path, shared):
    route = load_line(tmp_path, [
        step("a", rate=12, dist="exponential", lot=5, buffer=6, mtbf=30, mttr=3),
        step("b", rate=11, dist="gamma", cv="50 %", lot=5, buffer=6, inputs=["a"]),
        step("c", batch=20, cycle=1.5, lot=5, buffer=6, inputs=["b"]),
        step("d", rate=14, dist="lognormal", cv="30 %", lot=5, inputs=["c"]),
    ], shared=shared)
    res = simulate(bare_config(route), days=days_for(route, 4000), warmup_days=days_for(route, 100),
                   reps=4, seed=5, workers=1)
    s = res.stats
    wip = sum(st.wip_mean.mean for st in s.steps.values())
    # throughput of units leaving the system (no scrap here: all units are good)
    lam = s.steps["d"].throughput_per_h.mean
    assert wip == pytest.approx(lam * s.lead_time_h.mean, rel=0.03)


def test_lot_model_agrees_with_a_per_part_run_when_lots_fit_the_buffers(tmp_path, shared):
    # DESIGN.md: with buffers of 100 parts a lot model and a per-part model agree
    def line(lot: int):
        return [
            step("a", rate=10, lot=lot, buffer=100 // lot, mtbf=40, mttr=4),
            step("b", rate=11, lot=lot, buffer=100 // lot, inputs=["a"], mtbf=30, mttr=3),
            step("c", rate=10.5, lot=lot, inputs=["b"], mtbf=50, mttr=5),
        ]

    out = {}
    for lot in (1, 10):
        route = load_line(tmp_path, line(lot), name=f"lots-{lot}", shared=shared)
        out[lot] = simulate(bare_config(route), days=days_for(route, 1500),
                            warmup_days=days_for(route, 50), reps=4, seed=11, workers=1)
    part = out[1].stats.good_cells_per_year
    lots = out[10].stats.good_cells_per_year
    assert lots.mean == pytest.approx(part.mean, rel=0.03)
    assert lots.ci95_low <= part.ci95_high and part.ci95_low <= lots.ci95_high


def test_small_buffers_lose_output_to_blocking_as_expected(tmp_path, shared):
    # the same line with one-lot buffers makes less than with large ones: blocking is real
    def run(buffer: int):
        route = load_line(tmp_path, [
            step("a", rate=10, dist="exponential", buffer=buffer),
            step("b", rate=10, dist="exponential", inputs=["a"]),
        ], name=f"buf-{buffer}", shared=shared)
        return simulate(bare_config(route), days=days_for(route, 3000),
                        warmup_days=days_for(route, 50), reps=4, seed=4, workers=1)

    small, large = run(1), run(50)
    th_small, _ = ctmc_throughput(10, 10, 1)
    assert inside(small.stats.steps["b"].throughput_per_h, th_small)
    assert large.stats.steps["b"].throughput_per_h.mean > small.stats.steps["b"].throughput_per_h.ci95_high


def test_machine_count_scales_a_station(tmp_path, shared):
    # three parallel deterministic machines at a bottleneck triple its capacity
    route = load_line(tmp_path, [
        step("feed", rate=100, buffer=10),
        step("slow", rate=5, inputs=["feed"]),
    ], shared=shared)
    res = simulate(config_with(route, machines={"slow": 3}), days=days_for(route, 500),
                   warmup_days=days_for(route, 10), reps=1, seed=1, workers=1)
    assert res.stats.steps["slow"].throughput_per_h.mean == pytest.approx(15.0, rel=1e-3)
    assert res.stats.bottleneck == "slow"


def test_failures_count_operating_time_only(tmp_path, shared):
    # a machine busy 30 % of the time fails only then: down time = busy x MTTR/MTBF, so
    # its up share of wanted time stays MTBF/(MTBF+MTTR) while its time share is higher
    mtbf, mttr = 5.0, 5.0
    route = load_line(tmp_path, [
        step("feed", rate=3, buffer=300),  # room for 100 h of repairs: never blocked
        step("m", rate=10, inputs=["feed"], mtbf=mtbf, mttr=mttr),
    ], shared=shared)
    res = simulate(bare_config(route), days=days_for(route, 3000), warmup_days=days_for(route, 50),
                   reps=6, seed=8, workers=1)
    m = res.stats.steps["m"]
    op = m.availability_operating
    a = mtbf / (mtbf + mttr)
    assert op.ci95_low <= a <= op.ci95_high, (op, a)
    busy = 3 / 10  # throughput-bound: the feed's rate over m's rate
    assert inside(m.utilization, busy, slack=0.005)
    assert inside(m.availability, 1 - busy * mttr / mtbf, slack=0.01)
