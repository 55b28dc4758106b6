"""`ssbfab optimize`: the JSON document, plan.json for the simulator, and no plan = exit 3
with the step and the limit named; bad input = exit 2; never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from ssbfab.cli import app
from ssbfab.config import PlantConfig
from ssbfab.data import default_lines_dir

KEYS = {"route", "capacity_gwh", "cost_per_kwh", "currency", "breakdown", "steps",
        "dew_point_class", "solver"}
STEP_KEYS = {"step", "option", "count", "level", "required_per_year", "capacity_per_year", "unit"}
SOLVER_KEYS = {"status", "gap", "build_s", "solve_s"}


def run(*args: str):
    result = CliRunner().invoke(app, ["optimize", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in result.output
    return result


def test_json_document_and_plan_file(tmp_path, sulfide):
    r = run("sulfide-lpscl", "--capacity-gwh", "10", "--json", "--out", str(tmp_path))
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert KEYS <= set(d) and SOLVER_KEYS <= set(d["solver"])
    assert d["route"] == "sulfide-lpscl" and d["capacity_gwh"] == 10 and d["currency"] == "USD"
    assert d["solver"]["status"] == "optimal"
    assert sum(d["breakdown"].values()) == pytest.approx(d["cost_per_kwh"], rel=1e-9)
    assert {"materials", "equipment", "building", "dry_room", "dry_room_energy",
            "process_energy", "labour", "overheads"} <= set(d["breakdown"])
    # the plan's line: the route running the supply options it chose (`supply`)
    run_route = sulfide.full.with_supply({k: v for k, v in d["supply"].items() if v})
    assert [s["step"] for s in d["steps"]] == [s.name for s in run_route.line]
    for s in d["steps"]:
        assert STEP_KEYS <= set(s)
        assert s["capacity_per_year"] >= s["required_per_year"] * (1 - 1e-9)
    on_disk = json.loads((tmp_path / "plan.json").read_text())
    assert on_disk["cost_per_kwh"] == d["cost_per_kwh"]
    assert not [p for p in tmp_path.iterdir() if p.name != "plan.json"]  # no temporary left
    cfg = PlantConfig.read(sulfide, tmp_path / "plan.json")
    assert cfg.dew_point_class == d["dew_point_class"]
    assert {s: sum(c.machines.values()) for s, c in cfg.steps.items()} == \
        {s["step"]: s["count"] for s in d["steps"]}


def test_human_output_shows_the_breakdown():
    r = run("sulfide-lpscl", "--capacity-gwh", "5", "--costing", "annuity")
    assert r.exit_code == 0, r.stderr
    for word in ("materials", "equipment", "dry_room_energy", "overheads", "total", "annuity"):
        assert word in r.stdout


def test_stdout_is_one_json_document_even_from_the_solver():
    """HiGHS writes from C; in a real process nothing but the document reaches stdout."""
    p = subprocess.run([sys.executable, "-m", "ssbfab", "optimize", "liquid-nmc811-graphite",
                        "--capacity-gwh", "2", "--json", "--threads", "1"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    json.loads(p.stdout)


def test_target_beyond_one_lines_machine_limits_names_the_step(sulfide):
    from ssbfab.opt import optimize

    plan = optimize(sulfide, 5000.0, lines=1)
    assert plan.config is None and plan.status.status == "infeasible"
    assert "step 'ageing'" in plan.status.reason and "max_count" in plan.status.reason
    assert "GWh/yr" in plan.status.reason


def test_target_beyond_the_site_names_the_field_to_raise():
    """More lines lift the machine limits; the site does not grow with them."""
    path = default_lines_dir() / "routes" / "sulfide-lpscl.yaml"
    lines = path.read_text().splitlines()
    at = {k: 1 + next(i for i, ln in enumerate(lines) if ln.startswith(f"  {k}:"))
          for k in ("floor_area", "dry_room_area")}
    r = run("sulfide-lpscl", "--capacity-gwh", "5000")
    assert r.exit_code == 3
    err = " ".join(r.stderr.split())
    for k, n in at.items():
        assert f"raise plant.{k} (" in err and f"sulfide-lpscl.yaml line {n}) from" in err, err


def test_target_beyond_floor_area_names_the_limit(tmp_path):
    doc = yaml.safe_load((default_lines_dir() / "routes" / "sulfide-lpscl.yaml").read_text())
    doc["plant"]["floor_area"] = "30000 m^2"
    path = tmp_path / "small-site.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = run(str(path), "--capacity-gwh", "10")
    assert r.exit_code == 3
    assert "floor area" in r.stderr and "30,000 m²" in r.stderr


def test_no_plan_found_by_the_solver_is_explained_by_its_iis(monkeypatch, sulfide):
    """Without the structured checks, HiGHS's IIS names the step and its max_count."""
    import ssbfab.opt.solve as solve

    real = solve.numbers

    def unchecked(*a, **k):
        nb = real(*a, **k)
        nb.infeasible.clear()
        return nb

    monkeypatch.setattr(solve, "numbers", unchecked)
    plan = solve.optimize(sulfide, 1000.0, lines=1)
    assert plan.config is None and plan.status.status == "infeasible"
    assert "HiGHS IIS" in plan.status.reason and "max_count" in plan.status.reason


@pytest.mark.parametrize("args,field", [
    (["--capacity-gwh", "10", "--costing", "batpac6"], "costing"),
    (["--capacity-gwh", "-1"], "capacity_gwh"),
    (["--capacity-gwh", "10", "--gap", "-0.1"], "--gap"),
])
def test_bad_input_exits_2(args, field):
    r = run("sulfide-lpscl", *args)
    assert r.exit_code == 2
    assert field in r.stderr


def test_unknown_route_and_bad_stats_exit_2(tmp_path):
    r = run("no-such-route", "--capacity-gwh", "10")
    assert r.exit_code == 2 and "no route named" in r.stderr
    bad = tmp_path / "stats.json"
    bad.write_text("{}")
    r = run("sulfide-lpscl", "--capacity-gwh", "10", "--stats", str(bad))
    assert r.exit_code == 2 and "stats" in r.stderr


def test_simulate_reads_the_plan(tmp_path):
    r = run("sulfide-lpscl", "--capacity-gwh", "1", "--out", str(tmp_path))
    assert r.exit_code == 0, r.stderr
    s = CliRunner().invoke(app, ["simulate", "sulfide-lpscl", "--plan", str(tmp_path / "plan.json"),
                                 "--days", "20", "--warmup-days", "5", "--reps", "1",
                                 "--workers", "1", "--json"])
    assert s.exit_code == 0, s.stderr
    doc = json.loads(s.stdout)
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert {x["step"]: x["machines"] for x in doc["steps"]} == \
        {x["step"]: x["count"] for x in plan["steps"]}
