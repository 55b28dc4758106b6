"""`ssbfab simulate`: the JSON document, output files, shipped routes, bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sim_lines import step, write_line
from ssbfab.cli import app
from ssbfab.data import route_files
from ssbfab.errors import NoPlanError
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
        row["lot_size"] = 100000  # more than any press of the route holds

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


# ----------------------------------------------------------------------------- limits and work


def _lines_copy(tmp_path, lines_dir, route=None, dry_rooms=None) -> str:
    """A copy of lines/ with sulfide-lpscl's route document (and dry_rooms.yaml) edited."""
    import shutil

    import yaml

    dst = tmp_path / "lines"
    shutil.copytree(lines_dir, dst)
    for path, edit in ((dst / "routes" / "sulfide-lpscl.yaml", route),
                       (dst / "dry_rooms.yaml", dry_rooms)):
        if edit is not None:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            edit(doc)
            path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return str(dst)


SHORT = ("--days", "4", "--warmup-days", "1", "--reps", "1", "--workers", "1")


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "1e12", "1001", "0"])
def test_a_capacity_that_is_not_one_plant_is_bad_input(value):
    r = run("sulfide-lpscl", "--capacity-gwh", value, *SHORT)
    bad(r, "--capacity-gwh", "finite", "1,000")


def test_sizing_beyond_the_site_area_is_refused_with_the_field_to_raise(tmp_path, lines_dir):
    def small_site(doc):
        doc["plant"]["floor_area"] = "2000 m^2"

    lines = _lines_copy(tmp_path, lines_dir, route=small_site)
    r = run("sulfide-lpscl", "--capacity-gwh", "1", "--lines", lines, *SHORT)
    assert r.exit_code == 3, r.output  # no line within the limits, as `optimize` says
    for w in ("plant.floor_area", "2,000 m²", "sulfide-lpscl.yaml:", "--beyond-limits",
              "ssbfab optimize"):
        assert w in r.output, (w, r.output)
    assert "dry_room_area" not in r.output  # only the limit that is exceeded


def test_sizing_beyond_the_machine_counts_names_step_and_option(tmp_path, lines_dir):
    def one_stacker(doc):
        step = next(s for s in doc["line"] if s["name"] == "stacking")
        for o in step["options"]:
            o["max_count"] = 1

    lines = _lines_copy(tmp_path, lines_dir, route=one_stacker)
    r = run("sulfide-lpscl", "--capacity-gwh", "1", "--lines", lines, *SHORT)
    assert r.exit_code == 3, r.output
    assert "step 'stacking'" in r.output
    assert "line.stacking.options." in r.output and ".max_count = 1" in r.output
    assert "GWh/yr" in r.output and "--beyond-limits" in r.output


def test_beyond_limits_simulates_and_says_so(tmp_path, lines_dir):
    def small_site(doc):
        doc["plant"]["floor_area"] = "2000 m^2"

    lines = _lines_copy(tmp_path, lines_dir, route=small_site)
    r = run("sulfide-lpscl", "--capacity-gwh", "1", "--lines", lines, "--beyond-limits", *SHORT)
    assert r.exit_code == 0, r.output
    assert "BEYOND THE ROUTE'S LIMITS" in r.stdout
    assert "beyond the route's limits" in r.stderr and "plant.floor_area" in r.stderr
    j = run("sulfide-lpscl", "--capacity-gwh", "1", "--lines", lines, "--beyond-limits",
            "--json", *SHORT)
    assert j.exit_code == 0, j.output
    warnings = json.loads(j.stdout)["warnings"]
    assert any("plant.floor_area" in w for w in warnings), warnings


def test_an_option_at_its_max_count_hands_the_rest_to_the_next(tmp_path, lines_dir):
    """Within the limits the sizing spills over to a second option instead of refusing:
    with one machine allowed per option, a target just below what the two make
    together needs both."""
    from ssbfab.config import required_per_hour, size_for_capacity
    from ssbfab.data import load_route
    from ssbfab.graph import LineGraph

    def one_each(doc):
        step = next(s for s in doc["line"] if s["name"] == "lpscl_milling")
        assert len(step["options"]) == 2
        for o in step["options"]:
            o["max_count"] = 1
            o["min_count"] = 0

    lines = _lines_copy(tmp_path, lines_dir, route=one_each)
    route = load_route(f"{lines}/routes/sulfide-lpscl.yaml")
    s = route.step("lpscl_milling")
    lv = s.setting_levels[0]
    per_machine = [o.rate_per_hour * lv.rate_factor * o.availability for o in s.options]
    cfg = size_for_capacity(route, 0.01)
    kwh = LineGraph.of(route).cell_energy({s: c.level for s, c in cfg.steps.items()},
                                          cfg.dew_point_class)
    need_per_gwh = required_per_hour(route, 1.0, cfg.yields(), kwh)["lpscl_milling"]
    target = 0.999 * sum(per_machine) / need_per_gwh
    assert target > max(per_machine) / need_per_gwh  # one machine alone is not enough
    config = size_for_capacity(route, target)
    assert config.steps["lpscl_milling"].machines == {o.name: 1 for o in s.options}
    with pytest.raises(NoPlanError, match="lpscl_milling"):
        size_for_capacity(route, 1.01 * sum(per_machine) / need_per_gwh)


def test_a_plan_beyond_the_site_area_is_refused_unless_asked(sulfide_plan, tmp_path, lines_dir):
    def small_site(doc):
        doc["plant"]["floor_area"] = "2000 m^2"

    lines = _lines_copy(tmp_path, lines_dir, route=small_site)
    plan = sulfide_plan(lambda d: None)  # sized for 1 GWh/yr on the shipped site
    r = run("sulfide-lpscl", "--plan", plan, "--lines", lines, *SHORT)
    bad(r, "plan.json", "plant.floor_area", "2,000 m²", "--beyond-limits")
    ok = run("sulfide-lpscl", "--plan", plan, "--lines", lines, "--beyond-limits", *SHORT)
    assert ok.exit_code == 0, ok.output
    assert "BEYOND THE ROUTE'S LIMITS" in ok.stdout


def test_a_plan_beyond_max_count_is_refused(sulfide_plan, sulfide):
    """Plan files are checked against max_count when read, --beyond-limits or not."""
    edited = []

    def too_many(d):
        row = next(r for r in d["steps"] if r["step"] == "stacking")
        opt = next(iter(row["machines"]))
        row["machines"] = {opt: sulfide.step("stacking").option(opt).max_count + 5}
        edited.append(opt)

    plan = sulfide_plan(too_many)
    bad(run("sulfide-lpscl", "--plan", plan, "--beyond-limits", *SHORT),
        "plan.json", edited[0], "max_count")


@pytest.mark.parametrize(("args", "field"), [
    (["--reps", "10000000"], "--reps"),
    (["--days", "60000", "--warmup-days", "1", "--reps", "1"], "--days"),
])
def test_absurd_work_is_refused_without_yes(args, field):
    r = run("sulfide-lpscl", *args)
    bad(r, field, "lot operations", "limit of 5e+07", "--yes", "CPU")


def test_yes_runs_above_the_work_limit(monkeypatch, tmp_path):
    import ssbfab.sim.linemodel as lm

    monkeypatch.setattr(lm, "WORK_LIMIT", 10.0)
    line = write_line(tmp_path, [step("a", rate=20, lot=2, buffer=3),
                                 step("b", rate=25, lot=2, inputs=["a"])], name="small")
    bad(run(str(line), *SHORT), "--reps", "limit of 10", "--yes")
    r = run(str(line), *SHORT, "--yes", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["good_cells_per_year"]["mean"] > 0


@pytest.mark.parametrize("peak", [
    "-272.62 degC",  # the pole of the Magnus formula
    "-273 degC",  # between absolute zero and the pole: the formula overflowed (a traceback)
    "-300 degC",  # below absolute zero
    "80 degC",
])
def test_an_excursion_peak_the_magnus_formula_cannot_take_is_bad_input(tmp_path, lines_dir, peak):
    def set_peaks(doc):
        for c in doc["classes"]:
            c["excursions"]["peak"] = peak

    lines = _lines_copy(tmp_path, lines_dir, dry_rooms=set_peaks)
    r = run("sulfide-lpscl", "--capacity-gwh", "0.2", "--lines", lines, *SHORT)
    bad(r, "dry_rooms.yaml:", "excursions.peak", "dew point", "-100 degC",
        f"found {peak}")


@pytest.mark.parametrize(("lot", "edge", "lot_b", "words"), [
    ("1e17", "1 kg", 1, ["lot_size", "pieces"]),  # more pieces than scrap is drawn over
    ("1e-300", "1e-300 kg", 1, ["lot_size", "too small"]),  # below the normal floats
    ("1", "1e-200 kg", 1e-200, ["inputs", "positive"]),  # a draw per lot that is 0.0
])
def test_lots_and_draws_the_simulator_cannot_count_are_bad_input(tmp_path, lot, edge, lot_b,
                                                                  words):
    line = write_line(tmp_path, [
        step("a", "kg", rate=float(lot) * 2, lot=lot, per_cell="1 kg", buffer=2),
        step("b", rate=10, lot=lot_b, inputs=[{"step": "a", "per_cell": edge}])],
        name="odd-sizes")
    bad(run(str(line), *SHORT), *words)
