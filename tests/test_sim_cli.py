"""`ssbfab simulate`: the JSON document, output files, shipped routes, bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sim_lines import step, write_line
from ssbfab.cli import app
from ssbfab.data import route_files
from ssbfab.stats import LineStats

TOP_KEYS = {"route", "seed", "reps", "days", "good_cells_per_year", "good_gwh_per_year",
            "overall_yield", "lead_time_h", "bottleneck", "steps", "dry_room", "events",
            "wall_s"}
STEP_KEYS = {"step", "option", "machines", "utilization", "availability", "blocked", "starved",
             "yield", "throughput_per_h", "wip_mean"}
EST_KEYS = {"mean", "ci95_low", "ci95_high", "method"}


def run(*args: str):
    result = CliRunner().invoke(app, ["simulate", *args])
    # user errors end in SystemExit with a code; anything else is a traceback
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def sulfide_doc():
    r = run("sulfide-lpscl", "--capacity-gwh", "1", "--days", "45", "--warmup-days", "10",
            "--reps", "2", "--workers", "1", "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)  # exactly one JSON document on stdout


def test_sulfide_route_simulates_with_the_documented_json(sulfide_doc):
    d = sulfide_doc
    assert TOP_KEYS <= set(d)
    for k in ("good_cells_per_year", "good_gwh_per_year", "overall_yield", "lead_time_h"):
        assert set(d[k]) == EST_KEYS
    assert set(d["dry_room"]) == {"excursion_hours", "sulfide_exposure_kg_h", "h2s_estimate"}
    for k in ("overall_yield",):
        assert d[k]["method"] == "logit-t" and 0 <= d[k]["ci95_low"] <= d[k]["ci95_high"] <= 1
    assert all(e["ci95_low"] >= 0 for e in d["dry_room"].values())
    assert d["dry_room"]["excursion_hours"]["method"] == "gamma"
    assert d["dry_room"]["excursion_hours"]["events"] >= 0  # the excursions it rests on
    assert [s["step"] for s in d["steps"]][-1] == "eol_test"
    for s in d["steps"]:
        assert STEP_KEYS <= set(s)
        assert 0 < s["yield"]["mean"] <= 1
    # sized for 1 GWh/yr at nominal availability: the line delivers about that
    assert 0.6 < d["good_gwh_per_year"]["mean"] < 1.3
    assert d["route"] == "sulfide-lpscl" and d["reps"] == 2 and d["days"] == 45
    assert d["bottleneck"] in {s["step"] for s in d["steps"]}
    assert d["events"] > 0 and d["dry_room"]["h2s_estimate"]["mean"] > 0


@pytest.mark.parametrize("route", [p.stem for p in route_files()])
def test_every_shipped_route_simulates(route):
    r = run(route, "--capacity-gwh", "0.5", "--days", "40", "--warmup-days", "10",
            "--reps", "1", "--workers", "1", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["good_gwh_per_year"]["mean"] > 0.2, (route, d["good_gwh_per_year"])


def test_out_writes_stats_and_tables_that_read_back(tmp_path):
    line = write_line(tmp_path, [step("a", rate=20, lot=2, buffer=3, yield_="95 %"),
                                 step("b", rate=25, lot=2, inputs=["a"])], name="two")
    out = tmp_path / "out"
    r = run(str(line), "--days", "20", "--warmup-days", "2", "--reps", "2", "--workers", "1",
            "--out", str(out))
    assert r.exit_code == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["replications.csv", "stats.json", "step_replications.csv", "steps.csv",
                     "summary.csv"]  # no temporary file left behind
    stats = LineStats.read(out)
    assert stats.route == "two" and set(stats.steps) == {"a", "b"}
    assert stats.good_gwh_per_year.mean != stats.good_gwh_per_year.mean  # NaN: no cell energy
    import pandas as pd

    steps = pd.read_csv(out / "steps.csv")
    assert list(steps["step"]) == ["a", "b"]
    assert steps.loc[0, "yield"] == pytest.approx(stats.steps["a"].yield_.mean)


def test_a_bare_line_has_no_gwh(lines_dir):
    r = run(str(lines_dir / "examples" / "two-station.yaml"), "--days", "30",
            "--warmup-days", "3", "--reps", "2", "--workers", "1", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["good_gwh_per_year"]["mean"] is None  # JSON null: a bare line has no kWh
    # 60 cell/h up 50/52 of the time, 99 % then 98 % good, a little blocking
    assert 0.9 * 60 * 50 / 52 * 0.99 * 0.98 * 7680 < d["good_cells_per_year"]["mean"]
    assert d["good_cells_per_year"]["mean"] < 60 * 50 / 52 * 0.99 * 0.98 * 7680


# ----------------------------------------------------------------------------- bad input


@pytest.fixture()
def sulfide_plan(tmp_path, sulfide):
    from ssbfab.config import size_for_capacity

    plan = size_for_capacity(sulfide, 1.0).to_dict()

    def write(edit) -> str:
        data = json.loads(json.dumps(plan))
        edit(data)
        p = tmp_path / "plan.json"
        p.write_text(json.dumps(data))
        return str(p)

    return write


def bad(result, *words: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    for w in words:
        assert w in result.output, (w, result.output)


def test_plan_with_unknown_step_or_option_is_an_input_error(sulfide_plan):
    def unknown_step(d):
        d["steps"][0]["step"] = "lpscl_miling"

    def unknown_option(d):
        d["steps"][0]["machines"] = {"attritor": 2}

    bad(run("sulfide-lpscl", "--plan", sulfide_plan(unknown_step)), "unknown step",
        "lpscl_milling")
    bad(run("sulfide-lpscl", "--plan", sulfide_plan(unknown_option)), "unknown option")


def test_zero_machines_and_a_lot_larger_than_the_batch_are_input_errors(sulfide_plan):
    def zero(d):
        d["steps"][3]["machines"] = {k: 0 for k in d["steps"][3]["machines"]}

    def big_lot(d):
        row = next(r for r in d["steps"] if r["step"] == "warm_isostatic_pressing")
        row["lot_size"] = 5000

    bad(run("sulfide-lpscl", "--plan", sulfide_plan(zero)), "zero machines")
    bad(run("sulfide-lpscl", "--plan", sulfide_plan(big_lot)), "larger than the batch")


@pytest.mark.parametrize(("args", "words"), [
    (["--days", "-5"], ["days", "positive"]),
    (["--days", "10", "--warmup-days", "20"], ["warm-up", "longer"]),
    (["--reps", "0"], ["reps"]),
    (["--workers", "0"], ["workers"]),
    (["--capacity-gwh", "-1"], ["capacity"]),
])
def test_bad_run_arguments_are_input_errors(args, words):
    bad(run("sulfide-lpscl", *args), *words)


def test_a_buffer_smaller_than_one_downstream_lot_is_refused_not_a_hang(tmp_path):
    line = write_line(tmp_path, [step("a", rate=20, lot=2, buffer=2),
                                 step("b", rate=25, lot=10, inputs=["a"])], name="tight")
    bad(run(str(line), "--days", "5", "--warmup-days", "1"), "buffer", "'a'", "'b'", "never")


def test_negative_times_in_a_line_file_are_input_errors(tmp_path):
    s = step("a", rate=20, mtbf=10, mttr=1)
    s["options"][0]["mttr"] = "-1 h"
    line = write_line(tmp_path, [s], name="negative")
    bad(run(str(line)), "mttr", "positive")


def test_a_bare_line_cannot_be_sized_in_gwh(lines_dir):
    bad(run(str(lines_dir / "examples" / "two-station.yaml"), "--capacity-gwh", "2"),
        "no cell design")


def test_a_run_that_would_look_like_a_hang_is_refused(tmp_path):
    line = write_line(tmp_path, [step("a", rate=1e6, lot=1)], name="huge")
    bad(run(str(line), "--days", "3650"), "lots", "shorter horizon")


def test_the_docs_bare_line_example_validates_and_simulates(tmp_path, lines_dir):
    import re

    text = (lines_dir.parent / "docs" / "lines.md").read_text(encoding="utf-8")
    section = text[text.index("## Simulating a bare line"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    p = tmp_path / "from-docs.yaml"
    p.write_text(block, encoding="utf-8")
    r = run(str(p), "--days", "20", "--warmup-days", "2", "--reps", "1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["route"] == "two-station"


@pytest.mark.parametrize("name", ["two-station", "assembly-line"])
def test_the_example_line_files_simulate(lines_dir, name):
    r = run(str(lines_dir / "examples" / f"{name}.yaml"), "--days", "30", "--warmup-days", "3",
            "--reps", "1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["good_cells_per_year"]["mean"] > 0


def test_a_plan_file_runs_its_machines_and_lots(sulfide_plan):
    def more_stackers(d):
        row = next(r for r in d["steps"] if r["step"] == "stacking")
        row["machines"] = {k: v + 3 for k, v in row["machines"].items()}

    base = run("sulfide-lpscl", "--plan", sulfide_plan(lambda d: None), "--days", "30",
               "--warmup-days", "5", "--reps", "1", "--json")
    more = run("sulfide-lpscl", "--plan", sulfide_plan(more_stackers), "--days", "30",
               "--warmup-days", "5", "--reps", "1", "--json")
    assert base.exit_code == 0 and more.exit_code == 0, (base.output, more.output)
    m0 = {s["step"]: s["machines"] for s in json.loads(base.stdout)["steps"]}
    m1 = {s["step"]: s["machines"] for s in json.loads(more.stdout)["steps"]}
    assert m1["stacking"] == m0["stacking"] + 3
    assert {k: v for k, v in m1.items() if k != "stacking"} == \
        {k: v for k, v in m0.items() if k != "stacking"}
