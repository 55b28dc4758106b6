"""Nothing wrong accepted, nothing written where it should not be, exit codes a script
can trust, output a person can read: every case through the CLI, each asserting the
exit code, no traceback, and the file and field named."""

from __future__ import annotations

import copy
import json
import os
import re
import stat
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ssbfab.cli import app
from ssbfab.data import default_lines_dir, route_files

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, env: dict | None = None):
    result = CliRunner().invoke(app, list(args), env=env)
    # a user's mistake ends in SystemExit with a code; any other exception is a traceback
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in result.output
    return result


def never(*_a, **_k):
    raise AssertionError("the run started although its input was bad")


@pytest.fixture(scope="module")
def plan_doc(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    r = cli("optimize", "sulfide-lpscl", "--capacity-gwh", "1", "--out", str(out), "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads((out / "plan.json").read_text())


@pytest.fixture(scope="module")
def stats_doc(tmp_path_factory, plan_doc):
    d = tmp_path_factory.mktemp("stats")
    (d / "plan.json").write_text(json.dumps(plan_doc))
    r = cli("simulate", "sulfide-lpscl", "--plan", str(d / "plan.json"), "--days", "20",
            "--warmup-days", "5", "--reps", "2", "--workers", "1", "--out", str(d / "sim"))
    assert r.exit_code == 0, r.stderr
    return json.loads((d / "sim" / "stats.json").read_text())


def _write(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    return path


def _set(doc, path: tuple, value):
    cur = doc
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value


# ----------------------------------------------------------------------------- plan files

PLAN_CASES = [  # (path into plan.json, bad value, field the message must name)
    (("steps",), "lpscl_milling", "steps"),
    (("steps",), [["lpscl_milling", 3]], "steps.0"),
    (("steps", 0, "machines", "attritor_glovebox"), [2], "steps.0.machines.attritor_glovebox"),
    (("steps", 1, "machines", "argon_kiln"), True, "steps.1.machines.argon_kiln"),
    (("steps", 1, "machines", "argon_kiln"), 1.5, "steps.1.machines.argon_kiln"),
    (("steps", 1, "machines", "argon_kiln"), -1, "steps.1.machines.argon_kiln"),
    (("steps", 1, "machines", "argon_kiln"), 10 ** 6, "steps.1.machines.argon_kiln"),
    (("steps", 2, "lot_size"), "200", "steps.2.lot_size"),
    (("steps", 2, "lot_size"), None, "steps.2.lot_size"),
    (("steps", 2, "lot_size"), float("nan"), "steps.2.lot_size"),
    (("steps", 2, "lot_size"), 0, "steps.2.lot_size"),
    (("steps", 2, "count"), 7, "steps.2.count"),
    (("steps", 3, "step"), "anode_cuting", "did you mean 'anode_cutting'"),
    (("steps", 3, "level"), "fast", "steps.3.level"),
    (("capacity_gwh",), "1", "capacity_gwh"),
    (("capacity_gwh",), float("inf"), "capacity_gwh"),
    (("dew_point_class",), "dp-70", "dew_point_class"),
    (("dew_pont_class",), "dp-60", "did you mean 'dew_point_class'"),
]


@pytest.mark.parametrize("path,value,field", PLAN_CASES,
                         ids=[f"{'.'.join(map(str, p))}={v!r}"[:50] for p, v, _ in PLAN_CASES])
def test_malformed_plan_exits_2_naming_file_and_field(tmp_path, plan_doc, monkeypatch,
                                                      path, value, field):
    import ssbfab.sim

    monkeypatch.setattr(ssbfab.sim, "simulate", never)
    doc = copy.deepcopy(plan_doc)
    _set(doc, path, value)
    f = _write(tmp_path / "plan.json", doc)  # json writes NaN and Infinity as JSON allows
    r = cli("simulate", "sulfide-lpscl", "--plan", str(f))
    assert r.exit_code == 2, r.output
    assert str(f) in r.stderr and field in r.stderr, r.stderr


@pytest.mark.parametrize("kind", ["binary", "folder", "truncated", "empty", "list", "missing",
                                  "huge-int"])
def test_a_plan_that_is_not_a_plan_file_exits_2(tmp_path, plan_doc, kind):
    f = tmp_path / "plan.json"
    if kind == "binary":
        f.write_bytes(bytes(range(256)) * 4)
    elif kind == "folder":
        f.mkdir()
    elif kind == "truncated":
        f.write_text(json.dumps(plan_doc)[:300])
    elif kind == "empty":
        f.write_text("")
    elif kind == "list":
        f.write_text("[1, 2]")
    elif kind == "huge-int":
        f.write_text('{"steps": [], "capacity_gwh": ' + "9" * 5000 + "}")
    r = cli("simulate", "sulfide-lpscl", "--plan", str(f))
    assert r.exit_code == 2, r.output
    assert str(f) in r.stderr
    expected = {"binary": "not a text file", "folder": "is a folder", "truncated": "not valid JSON",
                "empty": "not valid JSON", "list": "valid dictionary", "missing": "not found",
                "huge-int": "not readable JSON"}[kind]
    assert expected in r.stderr, r.stderr


def test_the_folder_optimize_wrote_is_a_plan(tmp_path, plan_doc):
    _write(tmp_path / "plan.json", plan_doc)
    r = cli("simulate", "sulfide-lpscl", "--plan", str(tmp_path), "--days", "10",
            "--warmup-days", "2", "--reps", "1", "--workers", "1", "--json")
    assert r.exit_code == 0, r.stderr
    counts = {s["step"]: s["machines"] for s in json.loads(r.stdout)["steps"]}
    assert counts == {s["step"]: s["count"] for s in plan_doc["steps"]}


# ----------------------------------------------------------------------------- statistics files

STATS_CASES = [  # (path into stats.json, bad value, field named, words of the message)
    (("steps", 0, "availability", "mean"), 50, "steps.0.availability.mean", "[0, 1]"),
    (("steps", 0, "availability"), 50.0, "steps.0.availability.mean", "[0, 1]"),
    (("steps", 4, "yield"), 5.0, "steps.4.yield.mean", "[0, 1]"),
    (("steps", 4, "yield", "mean"), -0.1, "steps.4.yield.mean", "[0, 1]"),
    (("steps", 4, "machines"), "3", "steps.4.machines", "whole number"),
    (("steps", 4, "utilization", "mean"), float("inf"), "steps.4.utilization.mean", "finite"),
    (("overall_yield", "mean"), 1.2, "overall_yield.mean", "[0, 1]"),
    (("good_gwh_per_year", "mean"), -1, "good_gwh_per_year.mean", ">= 0"),
    (("reps",), 0, "reps", "greater than or equal to 1"),
    (("warmup_days",), 40.0, "warmup_days", "shorter than the horizon"),
    (("steps", 4, "step"), "stackng", "steps.4.step", "unknown step"),
    (("route",), "oxide-llzo", "route", "not 'sulfide-lpscl'"),
    # steps[-2] is ageing (the steps come in line order; the last is the end-of-line test)
    (("steps", -2, "availability_operating", "mean"), 50, "availability_operating.mean",
     "[0, 1]"),
    (("steps", -2, "level"), "fast", "level", "unknown level 'fast' of step 'ageing'"),
    (("dew_point_class",), "dp-70", "dew_point_class", "dp-60"),
    (("stepz",), [], "stepz", "did you mean 'steps'"),
]


@pytest.mark.parametrize("path,value,field,words", STATS_CASES,
                         ids=[f"{'.'.join(map(str, p))}={v!r}" for p, v, _, _ in STATS_CASES])
def test_bad_statistics_exit_2_naming_file_and_field(tmp_path, stats_doc, monkeypatch,
                                                     path, value, field, words):
    """An availability of 50 (or 5,000 %) used as is would buy a handful of machines
    where the line needs dozens: it is refused, like a bad data file."""
    import ssbfab.opt

    monkeypatch.setattr(ssbfab.opt, "optimize", never)
    doc = copy.deepcopy(stats_doc)
    _set(doc, path, value)
    f = _write(tmp_path / "stats.json", doc)
    r = cli("optimize", "sulfide-lpscl", "--capacity-gwh", "1", "--stats", str(f))
    assert r.exit_code == 2, r.output
    assert str(f) in r.stderr and field in r.stderr and words in r.stderr, r.stderr


def test_statistics_of_no_step_of_the_route_are_refused(tmp_path, stats_doc):
    doc = copy.deepcopy(stats_doc)
    for s in doc["steps"]:
        s["step"] = "x_" + s["step"]
    f = _write(tmp_path / "stats.json", doc)
    r = cli("optimize", "sulfide-lpscl", "--capacity-gwh", "1", "--stats", str(f))
    assert r.exit_code == 2
    assert "unknown step 'x_lpscl_milling'" in r.stderr
    assert "did you mean 'lpscl_milling'" in r.stderr


def test_partial_statistics_say_which_steps_are_simulated_and_which_nominal(tmp_path, stats_doc):
    doc = copy.deepcopy(stats_doc)
    dropped = ["ageing", "formation"]
    doc["steps"] = [s for s in doc["steps"] if s["step"] not in dropped]
    f = _write(tmp_path / "stats.json", doc)
    r = cli("optimize", "sulfide-lpscl", "--capacity-gwh", "1", "--stats", str(f), "--json")
    assert r.exit_code == 0, r.stderr
    note = [line for line in r.stderr.splitlines() if "nominal data for" in line]
    assert len(note) == 1
    assert note[0].endswith("nominal data for formation, ageing")  # in line order
    # 18 steps: the 16 of the line and the plan's Li2S and Li foil supply steps
    assert "simulated statistics for 16 of 18 steps" in note[0]
    json.loads(r.stdout)  # stdout stays one JSON document


def test_a_comparison_stats_file_is_readable_by_optimize(tmp_path, stats_doc):
    """compare's stats.json leaves out the wall time (for byte-identical reruns)."""
    doc = copy.deepcopy(stats_doc)
    doc.pop("wall_s")
    f = _write(tmp_path / "stats.json", doc)
    r = cli("optimize", "sulfide-lpscl", "--capacity-gwh", "1", "--stats", str(f), "--json")
    assert r.exit_code == 0, r.stderr
    assert "nominal data" not in r.stderr


# ----------------------------------------------------------------------------- --out


def _read_only_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    try:
        (d / "probe").touch()
    except OSError:
        return d
    # root writes anyway: fall back on a folder the kernel keeps read-only
    (d / "probe").unlink()
    sysfs = Path("/sys")
    if sysfs.is_dir() and _unwritable(sysfs):
        return sysfs
    pytest.skip("no read-only folder available to this user")


def _unwritable(d: Path) -> bool:
    try:
        (d / "ssbfab-probe").mkdir()
    except OSError:
        return True
    (d / "ssbfab-probe").rmdir()
    return False


@pytest.mark.parametrize("command", ["optimize", "simulate", "compare"])
@pytest.mark.parametrize("kind", ["file", "inside-a-file", "read-only"])
def test_bad_out_is_refused_before_the_run(tmp_path, monkeypatch, command, kind):
    import ssbfab.comparison
    import ssbfab.opt
    import ssbfab.sim

    monkeypatch.setattr(ssbfab.opt, "optimize", never)
    monkeypatch.setattr(ssbfab.sim, "simulate", never)
    monkeypatch.setattr(ssbfab.comparison, "run_loop", never)
    if kind == "file":
        out = tmp_path / "results.txt"
        out.write_text("keep me")
        words = "is a file"
    elif kind == "inside-a-file":
        (tmp_path / "results.txt").write_text("keep me")
        out = tmp_path / "results.txt" / "run"
        words = "is a file, so nothing can be created inside it"
    else:
        out = _read_only_dir(tmp_path) / "run"
        words = "cannot write in"
    args = {"optimize": ["optimize", "liquid-nmc811-graphite", "--capacity-gwh", "1"],
            "simulate": ["simulate", "liquid-nmc811-graphite", "--capacity-gwh", "1"],
            "compare": ["compare", "--routes", "liquid-nmc811-graphite"]}[command]
    r = cli(*args, "--out", str(out))
    assert r.exit_code == 2, r.output
    assert "--out" in r.stderr and str(out) in r.stderr and words in r.stderr, r.stderr
    if kind != "read-only":
        assert (tmp_path / "results.txt").read_text() == "keep me"


def test_compare_refuses_a_folder_that_is_not_an_earlier_run(tmp_path, monkeypatch):
    import ssbfab.comparison

    monkeypatch.setattr(ssbfab.comparison, "run_loop", never)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    r = cli("compare", "--routes", "liquid-nmc811-graphite", "--out", str(out))
    assert r.exit_code == 2
    assert "not an earlier ssbfab run" in r.stderr and str(out) in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def _no_plan_route(tmp_path: Path, name: str, floor: str = "1000 m^2") -> Path:
    """A copy of the sulfide route on a site too small for any plan at 1 GWh/yr."""
    doc = yaml.safe_load((default_lines_dir() / "routes" / "sulfide-lpscl.yaml").read_text())
    doc["name"] = name
    doc["plant"]["floor_area"] = floor
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.slow
def test_compare_replaces_an_earlier_run_whole_and_exits_3_without_a_plan(tmp_path):
    """Two runs into one folder: the second leaves no trace of the first's routes, and
    a route without a plan exits 3 with every result file written."""
    old_umask = os.umask(0o022)
    try:
        out = tmp_path / "run"
        a = _no_plan_route(tmp_path, "small-site-a")
        b = _no_plan_route(tmp_path, "small-site-b")
        r1 = cli("compare", "--routes", str(a), "--capacity-gwh", "1", "--out", str(out))
        assert r1.exit_code == 3, r1.output
        assert "no plan: small-site-a" in r1.stderr
        assert (out / "small-site-a" / "iterations.csv").exists()
        r2 = cli("compare", "--routes", str(b), "--capacity-gwh", "1", "--out", str(out))
        assert r2.exit_code == 3, r2.output
    finally:
        os.umask(old_umask)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["comparison.csv", "comparison.json", "manifest.json", "report.html",
                     "size_curve.csv", "small-site-b"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["written_by"] == "ssbfab compare"
    # the user's umask, not 0600
    assert stat.S_IMODE((out / "report.html").stat().st_mode) == 0o644
    assert stat.S_IMODE((out / "small-site-b").stat().st_mode) == 0o755
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    html = (out / "report.html").read_text()
    captions = " ".join(re.findall(r"<figcaption>(.*?)</figcaption>", html, flags=re.S))
    assert "nan" not in captions.lower() and "dearest" not in captions
    assert "small-site-b (no plan)" in captions
    assert ">nan<" not in html


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/ssbfab-escaped", "a/b", "..", ".hidden",
                                  "name\x00nul"])
def test_a_route_name_that_is_not_a_plain_name_never_becomes_a_path(tmp_path, monkeypatch, name):
    import ssbfab.comparison

    monkeypatch.setattr(ssbfab.comparison, "run_loop", never)
    doc = yaml.safe_load((default_lines_dir() / "routes" / "liquid-nmc811-graphite.yaml")
                         .read_text())
    doc["name"] = name
    route = tmp_path / "data" / "odd.yaml"
    route.parent.mkdir()
    route.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = tmp_path / "a" / "b" / "out"
    r = cli("compare", "--routes", str(route), "--out", str(out))
    assert r.exit_code == 2, r.output
    # the loader refuses control characters in any name before the plain-name check
    assert str(route) in r.stderr and ": name:" in r.stderr
    assert "plain name" in r.stderr or "control character" in r.stderr
    assert not (tmp_path / "a").exists() and not Path("/tmp/ssbfab-escaped").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_symbolic_link_cannot_lead_a_result_out_of_its_folder(tmp_path):
    from ssbfab.errors import InputError
    from ssbfab.io import inside

    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "route").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InputError, match="outside the output folder"):
        inside(tmp_path / "out", "route")
    assert inside(tmp_path / "out", "other") == tmp_path / "out" / "other"


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_result_files_respect_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        r = cli("optimize", "liquid-nmc811-graphite", "--capacity-gwh", "1", "--out",
                str(tmp_path / "o"), "--json")
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.stderr
    assert stat.S_IMODE((tmp_path / "o" / "plan.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "o").stat().st_mode) == 0o777 & ~mask


# ----------------------------------------------------------------------------- --set


def _number(text: str) -> float:
    return float(str(text).split()[0])


def test_set_li2s_price_changes_the_materials_cost_by_the_li2s_share():
    """Hand computation: the Li2S line of the bill of materials costs
    kg per cell x price x CNY rate / kWh per cell; at 1e6 instead of 2.5e6 CNY/t it
    costs 1/2.5 of that, and nothing else in the cell changes."""
    base = cli("cell", "sulfide-lpscl", "--json")
    new = cli("cell", "sulfide-lpscl", "--json", "--set", "materials.Li2S.price=1e6 CNY/t")
    assert base.exit_code == 0 and new.exit_code == 0, new.stderr
    b, n = json.loads(base.stdout), json.loads(new.stdout)
    mats = yaml.safe_load((default_lines_dir() / "materials.yaml").read_text())["materials"]
    econ = yaml.safe_load((default_lines_dir() / "economics.yaml").read_text())
    old_price = mats["Li2S"]["price"]
    old_price = _number(old_price["value"] if isinstance(old_price, dict) else old_price)
    # a dated price converts at its own currency year's rate (Li2S: 2025)
    rate = econ["currency_rates_by_year"][mats["Li2S"]["price"]["currency_year"]]["CNY"]
    rate = _number(rate["value"] if isinstance(rate, dict) else rate)  # USD per CNY
    li2s = next(x for x in b["bom"] if x["material"] == "Li2S")
    kwh = b["delivered_energy_wh"] / 1000  # per kWh a good cell delivers
    assert kwh < b["energy_wh"] / 1000  # the water dose at cathode_mixing takes some
    by_hand = li2s["quantity"] * old_price / 1000 * rate / kwh  # CNY/t -> CNY/kg
    assert li2s["cost_per_kwh"] == pytest.approx(by_hand, rel=1e-9)
    drop = by_hand * (1 - 1e6 / old_price)
    assert b["materials_cost_per_kwh"] - n["materials_cost_per_kwh"] == pytest.approx(
        drop, rel=1e-9)
    assert drop > 50  # a large share: the test would notice a price that did not apply
    others = {x["material"]: x["cost_per_kwh"] for x in n["bom"] if x["material"] != "Li2S"}
    assert others == {x["material"]: x["cost_per_kwh"] for x in b["bom"] if x["material"] != "Li2S"}


def test_set_on_optimize_changes_the_plant(tmp_path):
    r = cli("optimize", "sulfide-lpscl", "--capacity-gwh", "10", "--set",
            "plant.floor_area=30000 m^2")
    assert r.exit_code == 3
    assert "floor area" in r.stderr and "30,000 m²" in r.stderr


@pytest.mark.parametrize("command", [
    ["routes"], ["cell", "sulfide-lpscl"], ["materials", "sulfide-lpscl"],
    ["optimize", "sulfide-lpscl", "--capacity-gwh", "1"],
    ["simulate", "sulfide-lpscl", "--capacity-gwh", "1"],
    ["compare", "--routes", "sulfide-lpscl"],
])
def test_set_with_a_bad_path_exits_2_with_the_closest_path(monkeypatch, command):
    import ssbfab.comparison
    import ssbfab.opt
    import ssbfab.sim

    monkeypatch.setattr(ssbfab.opt, "optimize", never)
    monkeypatch.setattr(ssbfab.sim, "simulate", never)
    monkeypatch.setattr(ssbfab.comparison, "run_loop", never)
    r = cli(*command, "--set", "materials.Li2S.prize=1e6 CNY/t")
    assert r.exit_code == 2, r.output
    assert "--set: materials.Li2S.prize" in r.stderr and "did you mean 'price'" in r.stderr


@pytest.mark.parametrize("item,words", [
    ("materials.Li2S.price", "expected PATH=VALUE"),
    ("=3", "expected PATH=VALUE"),
    ("plant.floor_area=", "no value"),
    ("plant.floor_area=[1, 2", "cannot read the value"),
    ("line.stacking.yeld=90 %", "did you mean 'yield'"),
    ("plant.floor_area=-5 m^2", "plant.floor_area"),
])
def test_set_with_a_malformed_item_exits_2(item, words):
    r = cli("cell", "sulfide-lpscl", "--set", item)
    assert r.exit_code == 2, r.output
    assert words in r.stderr, r.stderr


def test_interrupt_exits_130_without_a_traceback(monkeypatch):
    import ssbfab.summary

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ssbfab.summary, "resolve_route", interrupted)
    r = cli("cell", "sulfide-lpscl")
    assert r.exit_code == 130 and "interrupted" in r.stderr


# ----------------------------------------------------------------------------- readable tables

COLS = {"COLUMNS": "100"}


def _fits(text: str, width: int = 100) -> None:
    long = [line for line in text.splitlines() if len(line) > width]
    assert not long, f"{len(long)} lines wider than {width}: {long[0]!r}"
    assert "…" not in text  # nothing cut with an ellipsis


def test_routes_cell_and_materials_fit_100_columns():
    r = cli("routes", env=COLS)
    assert r.exit_code == 0
    _fits(r.stdout)
    for f in route_files():
        assert re.search(rf"^{re.escape(f.stem)} ", r.stdout, flags=re.M), f.stem
    for route in ("sulfide-lpscl", "oxide-llzo"):
        r = cli("cell", route, env=COLS)
        assert r.exit_code == 0
        _fits(r.stdout)
        doc = json.loads(cli("cell", route, "--json").stdout)
        for b in doc["bom"]:
            assert re.search(rf"^{re.escape(b['material'])} ", r.stdout, flags=re.M)
        r = cli("materials", route, env=COLS)
        assert r.exit_code == 0
        _fits(r.stdout)


def test_optimize_table_fits_100_columns_and_names_every_option_whole(plan_doc):
    r = cli("optimize", "sulfide-lpscl", "--capacity-gwh", "1", env=COLS)
    assert r.exit_code == 0
    _fits(r.stdout)
    for s in plan_doc["steps"]:
        assert re.search(rf"^{re.escape(s['step'])} ", r.stdout, flags=re.M), s["step"]
        for option in s["machines"]:  # a mixed step lists each option on its own line
            assert re.search(rf"\s{re.escape(option)}\s", r.stdout), option
    assert "attritor_glovebox+" not in r.stdout
    wide = cli("optimize", "sulfide-lpscl", "--capacity-gwh", "1", "--wide", env=COLS)
    assert "required/yr" in wide.stdout and "…" not in wide.stdout


def test_simulate_tables_fit_100_columns_and_intervals_are_behind_wide(tmp_path, plan_doc):
    f = _write(tmp_path / "plan.json", plan_doc)
    args = ["simulate", "sulfide-lpscl", "--plan", str(f), "--days", "20", "--warmup-days",
            "5", "--reps", "2", "--workers", "1"]
    r = cli(*args, env=COLS)
    assert r.exit_code == 0, r.stderr
    _fits(r.stdout)
    for s in plan_doc["steps"]:
        assert re.search(rf"^{re.escape(s['step'])} ", r.stdout, flags=re.M), s["step"]
    steps_part = r.stdout.split("\nline\n")[0]
    assert "±" not in steps_part  # the step table shows means; intervals in --wide
    assert "95 % interval" in r.stdout  # the line table has its own narrow interval column
    wide = cli(*args, "--wide", env=COLS)
    assert "±" in wide.stdout.split("\nline\n")[0] and "large_attritor_glovebox" in wide.stdout
