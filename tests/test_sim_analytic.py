"""The simulator against independent truth: renewal theory, an exact Markov chain,
products of yields, Little's law, and a per-part run of the same line.

Statistical checks use `inside` (sim_lines): the replications' Student-t interval
widened so that each test fails by chance less than once in a thousand runs when the
random streams change (the false-alarm rate is split among the test's checks). More,
shorter replications keep those intervals informative at the same simulated time."""

from __future__ import annotations

import numpy as np
import pytest

from sim_lines import config_with, days_for, inside, load_line, step
from ssbfab.sim import bare_config, simulate


def agree(a: list[float], b: list[float], false_alarm: float = 1e-3) -> bool:
    """Two samples of per-replication values with the same mean differ by less than a
    Welch t bound at a two-sided `false_alarm` rate."""
    from scipy.stats import ttest_ind

    return ttest_ind(a, b, equal_var=False).pvalue >= false_alarm


def test_one_machine_with_failures_matches_renewal_theory(tmp_path, shared):
    # never starved (first step) nor blocked (last step): up/down alternate, so the
    # fraction of time up is MTBF/(MTBF+MTTR) and output is rate x that fraction
    mtbf, mttr, rate = 20.0, 5.0, 10.0
    route = load_line(tmp_path, [step("only", rate=rate, mtbf=mtbf, mttr=mttr)], shared=shared)
    reps = 12  # false alarm < 1e-3 over the 3 interval checks
    res = simulate(bare_config(route), days=days_for(route, 2000), warmup_days=days_for(route, 50),
                   reps=reps, seed=3, workers=1)
    st = res.stats.steps["only"]
    pr = res.stats.steps["only"].per_rep
    a = mtbf / (mtbf + mttr)
    assert inside(pr["availability"], a, checks=3), (st.availability, a)
    assert inside(pr["utilization"], a, checks=3), (st.utilization, a)
    assert inside(pr["throughput_per_h"], rate * a, checks=3), (st.throughput_per_h, rate * a)
    # and the interval is informative, not a wide net (the 95 % width is about 1.5 %
    # of the mean here: 5 % is more than 3 times its expected size)
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
    reps = 12  # false alarm < 1e-3 over the 2 interval checks
    res = simulate(bare_config(route), days=days_for(route, 6000),
                   warmup_days=days_for(route, 100), reps=reps, seed=1, workers=1)
    s = res.stats.steps
    pr = {k: s.per_rep for k, s in res.stats.steps.items()}
    assert inside(pr["m2"]["throughput_per_h"], th, checks=2), (s["m2"].throughput_per_h, th)
    assert inside(pr["m1"]["blocked"], p_blocked, checks=2), (s["m1"].blocked, p_blocked)
    # the chain's answer differs from the no-blocking answer min(mu1, mu2) = 1.0 by far
    # more than the interval (about 0.13 against a 95 % half-width of about 0.01), so the
    # test can tell a buffer model from none
    assert th < mu1 - 0.1
    assert s["m2"].throughput_per_h.ci95_high < mu1 - 0.05


def test_serial_line_with_bernoulli_scrap_yields_the_product(tmp_path, shared):
    ys = [0.9, 0.8, 0.95]
    route = load_line(tmp_path, [
        step("a", rate=60, yield_="90 %", lot=10, buffer=5),
        step("b", rate=80, yield_="80 %", lot=10, buffer=5, inputs=["a"]),
        step("c", rate=90, yield_="95 %", lot=10, inputs=["b"]),
    ], shared=shared)
    reps = 10  # false alarm < 1e-3 over the 4 interval checks
    res = simulate(bare_config(route), days=days_for(route, 750), warmup_days=days_for(route, 50),
                   reps=reps, seed=2, workers=1)
    pr = res.stats.per_rep
    assert inside(pr["overall_yield"], float(np.prod(ys)), checks=4), res.stats.overall_yield
    for name, y in zip("abc", ys, strict=True):
        assert inside(res.stats.steps[name].per_rep["yield"], y, checks=4), \
            (name, res.stats.steps[name].yield_)
    # what leaves the line per unit started at its first step, the same product (0.02 is
    # about 30 standard errors of this mean of 10 replications of ~45,000 units each)
    per_rep = {k: s.per_rep for k, s in res.stats.steps.items()}
    ratio = [g / s for g, s in zip(per_rep["c"]["good"], per_rep["a"]["started"], strict=True)]
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
    # Little's law holds on each sample path up to edge terms (what is in the line at the
    # window's start and end over what passes in it, well under 1 % here): the 3 % is
    # not a sampling tolerance, so it does not fail by chance
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
    # the two means agree within their sampling error: a Welch difference at a two-sided
    # false-alarm rate of 1e-3 (the overlap of two 95 % intervals fails ~0.6 % of runs)
    assert agree(out[10].stats.per_rep["good_cells_per_year"],
                 out[1].stats.per_rep["good_cells_per_year"])


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
    assert inside(small.stats.steps["b"].per_rep["throughput_per_h"], th_small)
    # 7.5 against about 9.8 units/h: dozens of standard errors apart
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
    reps = 12  # false alarm < 1e-3 over the 3 interval checks
    res = simulate(bare_config(route), days=days_for(route, 1500), warmup_days=days_for(route, 50),
                   reps=reps, seed=8, workers=1)
    pr = res.stats.steps["m"].per_rep
    a = mtbf / (mtbf + mttr)
    assert inside(pr["availability_operating"], a, checks=3), (pr["availability_operating"], a)
    busy = 3 / 10  # throughput-bound: the feed's rate over m's rate
    assert inside(pr["utilization"], busy, checks=3, slack=0.005)
    assert inside(pr["availability"], 1 - busy * mttr / mtbf, checks=3, slack=0.01)
