"""The main job: closed loop per route, comparison files, report, reproducibility."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ssbfab.cli import app
from ssbfab.comparison import compare
from ssbfab.report import FIGURES

ROOT = Path(__file__).resolve().parents[1]

# Small but real: every shipped route, a short horizon, 2 replications.
SMALL = dict(capacity_gwh=0.5, days=40.0, warmup_days=8.0, reps=2, max_reps=8, seed=11,
             sizes_gwh=(0.2, 1.0))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "a"
    return compare(out=out, **SMALL)


def test_every_route_meets_the_target_or_says_why(run):
    t = run.table
    assert len(t) >= 6
    for _, r in t.iterrows():
        if r["converged"]:
            assert r["sim_to_target_ratio"] >= 0.99, r["route"]
        else:
            assert isinstance(r["reason"], str) and len(r["reason"]) > 10, r["route"]


def test_loop_cost_moves_with_the_stats_that_caused_it(run):
    """The confirmed cost is not below the nominal optimum unless the simulation
    showed a step doing better than nominal (higher yield or availability)."""
    for name, loop in run.loops.items():
        final = loop.final
        if final is None or final.cost_per_kwh >= loop.nominal_cost_per_kwh * (1 - 1e-9):
            continue
        cfg = final.plan.config
        nominal = cfg.yields()
        better = any(
            s.yield_.mean > nominal[s.step] + 1e-12
            or s.availability.mean > max(cfg.route.step(s.step).option(o).availability
                                         for o in cfg.steps[s.step].machines) + 1e-12
            for s in final.stats.steps.values()
        )
        assert better, f"{name}: cheaper than nominal without better-than-nominal stats"


def test_each_iteration_is_optimised_on_the_previous_statistics_and_shortfall(run):
    """Not only that a derate appeared: iteration k+1's plan is the optimum on iteration
    k's simulated statistics and the derates its shortfall implies (re-solved here), and
    it differs from iteration k's plan (the feedback changed what was bought)."""
    from ssbfab.loop import _plan_key
    from ssbfab.opt import optimize

    pairs = 0
    for loop in run.loops.values():
        goal = loop.capacity_gwh
        for prev, nxt in zip(loop.iterations, loop.iterations[1:], strict=False):
            if prev.meets_target:
                continue  # a certified plan is not fed back: next are other line counts
            pairs += 1
            # the line-wide derate: times the share of the target the bound reached
            # (the mean's without a bound; floor 0.5 per iteration)
            share = prev.sim_gwh_lcb / goal if math.isfinite(prev.sim_gwh_lcb) else prev.ratio
            assert nxt.line_derate == pytest.approx(
                prev.line_derate * max(min(share, 1.0), 0.5), rel=1e-12)
            # every step at most the line-wide derate; the bottleneck at most its own
            # measured capacity (possibly tightened further after a repeat)
            assert all(d <= nxt.line_derate * (1 + 1e-12) for d in nxt.derate.values())
            b = prev.bottleneck
            if math.isfinite(prev.capacity_factor):
                assert nxt.derate[b] <= max(prev.capacity_factor, 0.5) * (1 + 1e-12)
            route = nxt.plan.config.route
            again = optimize(route, loop.capacity_gwh, stats=prev.stats, derate=nxt.derate)
            assert again.cost.cost_per_kwh == pytest.approx(nxt.optimiser_cost_per_kwh, rel=2e-4)
            assert _plan_key(nxt.plan.config) != _plan_key(prev.plan.config)
    assert pairs > 0  # some route needed the feedback, or this test judged nothing


def test_files_report_and_json_agree(run):
    out = run.out
    csv = pd.read_csv(out / "comparison.csv")
    doc = json.loads((out / "comparison.json").read_text())
    assert list(csv["route"]) == [r["route"] for r in doc["routes"]]
    for row, jr in zip(csv.to_dict("records"), doc["routes"], strict=True):
        for key in ("cost_per_kwh", "sim_to_target_ratio"):
            assert math.isclose(row[key], jr[key], rel_tol=1e-9)
        assert bool(row["converged"]) == bool(jr["converged"])
    html = (out / "report.html").read_text()
    for name in csv["route"]:
        assert name in html
        assert (out / name / "iterations.csv").exists()
        assert (out / name / "stats.json").exists()
        assert (out / name / "plan.json").exists()
        its = pd.read_csv(out / name / "iterations.csv")
        for k in its["iteration"]:
            assert (out / name / "iterations" / f"plan_{k}.json").exists()
    for key in FIGURES:
        assert f"id='{key}'" in html and "<svg" in html
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == SMALL["seed"]
    assert all(len(h) == 64 for h in manifest["input_files_sha256"].values())
    assert not list(out.rglob("*.tmp"))


def test_report_leaves_the_callers_matplotlib_settings_alone(run):
    """Building the figures and writing the page change no global matplotlib setting
    (a notebook's style and SVG options stay as the user set them), and the page's
    SVG is still the reproducible kind (salted ids, text kept as text)."""
    import copy

    import matplotlib

    from ssbfab.report import make_figures, render_html

    with matplotlib.rc_context({"svg.hashsalt": None, "svg.fonttype": "path",
                                "font.size": 13.0}):
        before = copy.deepcopy(matplotlib.rcParams.copy())
        run.figures = make_figures(run)
        html = render_html(run)
        after = matplotlib.rcParams.copy()
        assert render_html(run) == html  # salted ids: the same bytes again
    assert after == before
    assert "<text" in html  # fonttype none: labels are text, not glyph paths


def test_breakdown_sums_to_cost(run):
    t = run.table
    cats = [c for c in t.columns if c.startswith("cost_") and c != "cost_per_kwh"]
    for _, r in t.iterrows():
        assert math.isclose(sum(r[c] for c in cats), r["cost_per_kwh"], rel_tol=1e-6)


def test_same_seed_gives_identical_files(run, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the report's date, fixed
    routes = list(run.table["route"][:2])
    a = compare(routes, out=tmp_path / "x", figures=True, **SMALL)
    b = compare(routes, out=tmp_path / "y", figures=True, **SMALL)
    del a, b
    for rel in ["comparison.csv", "comparison.json", "report.html", "size_curve.csv"] + [
        f"{r}/{f}" for r in routes for f in ("plan.json", "stats.json", "iterations.csv")
    ]:
        assert (tmp_path / "x" / rel).read_bytes() == (tmp_path / "y" / rel).read_bytes(), rel
    # and the same rows as the full run for those routes
    full = run.table.set_index("route").loc[routes, "cost_per_kwh"]
    again = pd.read_csv(tmp_path / "x" / "comparison.csv").set_index("route")["cost_per_kwh"]
    for x, y in zip(full, again, strict=True):  # the CSV keeps 10 significant digits
        assert math.isclose(x, y, rel_tol=1e-9)


def test_a_route_without_a_plan_stays_in_the_table_with_its_reason(tmp_path):
    """At 300 GWh/yr the sulfide route exceeds its site (more lines lift the machine
    limits, not the floor area): the comparison still completes and says why, naming
    the site field to raise."""
    res = compare(["sulfide-lpscl"], 300.0, days=20.0, warmup_days=4.0, reps=1, seed=1,
                  sizes_gwh=(0.2,), out=tmp_path / "big")
    row = res.table.iloc[0]
    assert not row["converged"]
    assert "no plan" in row["reason"] and "raise plant.floor_area" in row["reason"]
    assert "sulfide-lpscl" in (tmp_path / "big" / "report.html").read_text()


def test_loop_builds_one_model_and_resolves_it_like_fresh_solves(sulfide, monkeypatch):
    """The loop builds the MILP once and re-solves it with each iteration's statistics
    and derates; every re-solved plan is the plan a fresh build gives for the same
    inputs (iteration k+1 optimised on iteration k's statistics)."""
    import ssbfab.opt
    from ssbfab.opt import OptModel, optimize

    made = []

    class Counted(OptModel):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)

    monkeypatch.setattr(ssbfab.opt, "OptModel", Counted)
    from ssbfab.loop import run_loop

    res = run_loop(sulfide, 0.5, days=40.0, warmup_days=8.0, reps=2, seed=11, gap=1e-9)
    assert len(res.iterations) >= 2, res.reason  # else nothing was re-solved
    assert len(made) == 1 and made[0].builds == 1
    prev_stats = None
    for it in res.iterations:
        fresh = optimize(sulfide, 0.5, stats=prev_stats, derate=it.derate or None, gap=1e-9)
        assert fresh.config.steps == it.plan.config.steps, it.index
        assert fresh.cost.cost_per_kwh == pytest.approx(it.optimiser_cost_per_kwh, rel=1e-9)
        prev_stats = it.stats


def test_loop_lengthens_a_warmup_shorter_than_the_lead_time(sulfide):
    """Two days of warm-up cannot cover a line whose cells take weeks to pass (ageing
    alone is 240 h): the loop must lengthen it until the statistics it accepts were
    measured on a filled line."""
    from ssbfab.loop import run_loop

    res = run_loop(sulfide, 0.5, days=40.0, warmup_days=2.0, reps=2, seed=5)
    assert "warm-up lengthened" in res.reason
    st = res.stats
    warmup_h = st.warmup_hours
    assert warmup_h >= st.lead_time_h.mean
    assert st.warmup_days > 2.0


# ----------------------------------------------------------------------------- the loop stalls


def _stalled_simulator(monkeypatch, share: float = 0.7):
    """A line whose simulated output does not answer to the plan: every plan the loop
    tries delivers `share` of the target in every replication (its real statistics with
    the output set so), however many machines the optimiser buys. It cannot converge.
    The rest is real, the bottleneck too, so that each derate buys something new."""
    import ssbfab.sim

    real = ssbfab.sim.simulate

    def simulate(config, **kw):
        st = real(config, **kw).stats
        g = share * config.capacity_gwh  # one line's target: the plans here have 1 line
        return types.SimpleNamespace(stats=dataclasses.replace(
            st, good_gwh_per_year=type(st.good_gwh_per_year)(g, 0.99 * g, 1.01 * g),
            per_rep={**st.per_rep, "good_gwh_per_year": (g,) * st.reps}))

    monkeypatch.setattr(ssbfab.sim, "simulate", simulate)


@pytest.mark.slow
def test_loop_stops_early_when_three_iterations_make_no_progress(monkeypatch):
    from ssbfab.data import resolve_route
    from ssbfab.loop import PROGRESS_TOL, STALL_ITERATIONS, run_loop

    _stalled_simulator(monkeypatch)
    route = resolve_route("liquid-nmc811-graphite")
    res = run_loop(route, 0.5, days=30.0, warmup_days=6.0, reps=2, seed=3, max_iter=8)
    assert not res.converged
    # iteration 0 is the first result; 1, 2 and 3 add nothing: stop there, not at 8
    assert len(res.iterations) == 1 + STALL_ITERATIONS
    assert "stopped early at iteration 3" in res.reason and "no progress" in res.reason
    # no progress: no later plan cheaper than the first by more than the tolerance
    costs = [it.cost_per_kwh for it in res.iterations]
    assert min(costs[1:]) >= costs[0] * (1 - PROGRESS_TOL)
    assert all(it.decision == "short" for it in res.iterations)
    assert res.final is not None and res.final.ratio == pytest.approx(0.7)


@pytest.mark.slow
def test_compare_exits_5_when_a_route_is_not_confirmed(monkeypatch, tmp_path):
    _stalled_simulator(monkeypatch)
    out = tmp_path / "stalled"
    r = CliRunner().invoke(app, ["compare", "--routes", "liquid-nmc811-graphite",
                                 "--capacity-gwh", "0.5", "--days", "30", "--warmup-days", "6",
                                 "--reps", "2", "--out", str(out)])
    assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output
    assert r.exit_code == 5, r.output
    assert "not confirmed by simulation: liquid-nmc811-graphite" in r.stderr
    assert "stopped early" in r.stdout
    for rel in ("comparison.csv", "report.html", "manifest.json",
                "liquid-nmc811-graphite/plan.json", "liquid-nmc811-graphite/iterations.csv"):
        assert (out / rel).exists(), rel
    html = (out / "report.html").read_text()
    captions = " ".join(re.findall(r"<figcaption>(.*?)</figcaption>", html, flags=re.S))
    assert "cheapest" not in captions and "dearest" not in captions
    assert "liquid-nmc811-graphite (plan not confirmed by simulation)" in captions


# ----------------------------------------------------------------------------- the CLI run


def _cli(*args):
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "100"})
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    return r


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    r = _cli("compare", "--routes", "liquid-nmc811-graphite", "--capacity-gwh", "0.5",
             "--days", "30", "--warmup-days", "6", "--reps", "2", "--seed", "4",
             "--set", "materials.Li2S.price=1e6 CNY/t", "--out", str(out))
    return r, out


@pytest.mark.slow
def test_compare_exits_0_with_every_route_confirmed_and_fits_100_columns(cli_run):
    r, out = cli_run
    assert r.exit_code == 0, r.output
    long = [line for line in r.stdout.splitlines() if len(line) > 100]
    assert not long and "…" not in r.stdout, long
    assert re.search(r"^liquid-nmc811-graphite +\d", r.stdout, flags=re.M)
    assert (out / "liquid-nmc811-graphite" / "stats.json").exists()


@pytest.mark.slow
def test_report_states_what_it_reports(cli_run):
    from ssbfab.data import load_shared

    _, out = cli_run
    html = (out / "report.html").read_text()
    head = html[:html.index("<table class='cmp'>")]
    manifest = json.loads((out / "manifest.json").read_text())
    econ = load_shared().economics
    for words in ("0.5 GWh of good cells per year", "BatPaC 5.0 rules (batpac5)",
                  f"USD of {econ.currency_year}", "<th>Seed</th><td>4</td>",
                  "Li2S 1e6 CNY/t", "materials.Li2S.price = 1e6 CNY/t",
                  manifest["versions"]["ssbfab"] or "unknown", manifest["data_sha256"],
                  manifest["created_utc"][:10]):
        assert words in head, words
    assert manifest["overrides"] == {"materials.Li2S.price": "1e6 CNY/t"}
    # headers with units, fixed decimals, thousands separators; no nan anywhere
    for header in ("Cost, USD/kWh", "Simulated output, GWh/yr", "Dry room, m²",
                   "Capex, million USD", "Overall yield, %"):
        assert f"<th>{header}</th>" in html
    cells = re.findall(r"<td>([^<]*)</td>", html[html.index("<table class='cmp'>"):])
    assert not [c for c in cells if c.lower() in ("nan", "none")]
    assert any(re.fullmatch(r"\d{1,3}(,\d{3})+", c) for c in cells)  # e.g. dry room 1,790 m²
    assert "nan" not in " ".join(re.findall(r"<figcaption>(.*?)</figcaption>", html)).lower()


@pytest.mark.slow
def test_readme_example_runs_as_a_script(tmp_path):
    """The README's Python example, saved as a script and run with a small plant and
    two worker processes (which import the script again: the guard must hold)."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"From Python.*?```python\n(.*?)```", readme, flags=re.S).group(1)
    call = "ssbfab.compare(capacity_gwh=2.0, seed=1)"
    assert call in block and 'if __name__ == "__main__":' in block
    script = tmp_path / "example.py"
    script.write_text(block.replace(call, (
        'ssbfab.compare(["liquid-nmc811-graphite"], capacity_gwh=0.5, days=20, '
        "warmup_days=4, reps=2, workers=2, seed=1, sizes_gwh=(0.2, 0.5))")))
    p = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=600,
                       env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "worker processes failed" not in p.stderr
    assert "liquid-nmc811-graphite" in p.stdout
    assert (tmp_path / "cost_breakdown.png").stat().st_size > 1000


@pytest.mark.parametrize("args,words", [
    (["--confidence", "1.5"], "--confidence: expected a level in [0.5, 1)"),
    (["--confidence", "nan"], "--confidence: expected a level in [0.5, 1)"),
    (["--max-reps", "3"], "--max-reps: expected at least --reps (4)"),
    (["--reps", "1", "--max-reps", "1"], "--max-reps: expected at least --reps (1) and at least 2"),
])
def test_bad_certification_options_exit_2_before_any_work(tmp_path, args, words):
    out = tmp_path / "never"
    r = CliRunner().invoke(app, ["compare", "--routes", "liquid-nmc811-graphite", *args,
                                 "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert words in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_the_table_has_the_certified_bound_and_replications(run):
    t = run.table
    for _, r in t.iterrows():
        if r["converged"]:
            # certified: the bound reached the target, and lies below the mean
            assert r["sim_gwh_lcb95"] >= r["capacity_gwh"] - 1e-12, r["route"]
            assert r["sim_gwh_lcb95"] <= r["sim_gwh_mean"]
            assert 2 <= r["sim_reps"] <= 8 and r["confidence"] == 0.95
