"""The compiled line graph (`ssbfab.graph.LineGraph`), checked by hand on a small
asymmetric line: topological order, edge ratios, material rates, sensitive kg,
yields per level and dry-room class, the allowed classes and the driest of them,
and the flow per good cell. Every expected number is computed here from the YAML
written here, never from what the graph returned. Then every command through the
CLI on a route whose moisture-sensitive step lacks one of the route's classes.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sim_lines import load_line, step, write_line
from ssbfab import bom, flow
from ssbfab.cli import app
from ssbfab.config import size_for_capacity
from ssbfab.data import load_route
from ssbfab.errors import InputError, SpecError
from ssbfab.graph import LineGraph
from ssbfab.opt import optimize
from ssbfab.sim import bare_config


def _moisture(factors: dict[str, str]) -> dict:
    return {"yield_factor": factors, "excursion": {"effect": "loss", "extra_loss": "5 %"}}


def _fork_line(coat_c: dict[str, str], coat_a: dict[str, str]) -> list[dict]:
    """A slurry step feeding two coaters (edge amounts 0.3 and 0.2 kg of its 0.5 kg per
    cell), each cut to sheets, merged at stacking, then tested at one of two levels.
    The file lists the steps out of topological order."""
    slurry = step("slurry", "kg", rate=100, lot=5, yield_="99 %", per_cell="0.5 kg",
                  materials=[{"material": "Li2S", "amount": "0.5 kg/kg"},
                             {"material": "NMP", "amount": "2 kg/kg", "recovered": "90 %"}])
    test = step("test", rate=50, lot=5, inputs=["stack"])
    test.pop("yield")
    test["levels"] = [{"name": "fast", "rate_factor": 2, "yield": "90 %", "energy_factor": 1.5},
                      {"name": "slow", "rate_factor": 1, "yield": "97 %"}]
    return [
        step("cut_a", "sheet", rate=400, lot=40, yield_="97 %", per_cell="2 sheet",
             inputs=["coat_a"]),
        step("coat_c", "m2", rate=60, lot=5, yield_="98 %", per_cell="0.5 m^2",
             environment="dry_room", moisture=_moisture(coat_c),
             inputs=[{"step": "slurry", "per_cell": "0.3 kg"}],
             materials=[{"material": "NMC811", "amount": "0.2 kg/m^2"}]),
        slurry,
        step("coat_a", "m2", rate=80, lot=5, yield_="96 %", per_cell="0.8 m^2",
             environment="dry_room", moisture=_moisture(coat_a),
             inputs=[{"step": "slurry", "per_cell": "0.2 kg"}]),
        step("cut_c", "sheet", rate=500, lot=40, yield_="99 %", per_cell="3 sheet",
             inputs=["coat_c"]),
        step("stack", rate=60, lot=5, yield_="95 %", environment="dry_room",
             inputs=["cut_c", "cut_a"]),
        test,
    ]


@pytest.fixture(scope="module")
def fork(tmp_path_factory, shared):
    # coat_c lacks dp-60 and coat_a lacks dp-40: only dp-50 is left of the three
    route = load_line(tmp_path_factory.mktemp("fork"),
                      _fork_line({"dp-40": "90 %", "dp-50": "95 %"},
                                 {"dp-50": "99 %", "dp-60": "100 %"}), shared=shared)
    return route, LineGraph.of(route)


def test_the_graph_is_built_once_per_route_object(fork, shared, tmp_path):
    route, graph = fork
    assert LineGraph.of(route) is graph
    again = load_line(tmp_path, _fork_line({"dp-40": "90 %", "dp-50": "95 %"},
                                           {"dp-50": "99 %", "dp-60": "100 %"}), shared=shared)
    assert LineGraph.of(again) is not graph  # another route object, its own graph


def test_steps_come_in_topological_order(fork):
    route, graph = fork
    listed = ["cut_a", "coat_c", "slurry", "coat_a", "cut_c", "stack", "test"]
    assert list(graph.listed) == listed
    order = list(graph.order)
    assert sorted(order) == sorted(listed)
    edges = [("slurry", "coat_c"), ("slurry", "coat_a"), ("coat_c", "cut_c"),
             ("coat_a", "cut_a"), ("cut_c", "stack"), ("cut_a", "stack"), ("stack", "test")]
    for u, c in edges:
        assert order.index(u) < order.index(c), (u, c)
    assert order[0] == "slurry" and graph.final.name == "test" and order[-1] == "test"
    assert graph.node("slurry").consumers == ("coat_c", "coat_a")  # in the file's order
    assert graph.node("stack").inputs == ("cut_c", "cut_a")
    assert graph.dry_steps == tuple(n for n in order if n in ("coat_c", "coat_a", "stack"))
    assert [n.position for n in graph.in_file_order()] == list(range(7))


def test_edge_ratios_and_material_rates_by_hand(fork):
    _, graph = fork
    expect = {
        ("slurry", "coat_c"): 0.3 / 0.5,  # kg of slurry per m² of cathode coating
        ("slurry", "coat_a"): 0.2 / 0.8,
        ("coat_c", "cut_c"): 0.5 / 3,  # m² per sheet
        ("coat_a", "cut_a"): 0.8 / 2,
        ("cut_c", "stack"): 3.0,  # sheets per cell
        ("cut_a", "stack"): 2.0,
        ("stack", "test"): 1.0,
    }
    assert set(graph.ratio) == set(expect)
    for k, v in expect.items():
        assert graph.ratio[k] == pytest.approx(v, rel=1e-12), k
    assert dict(graph.material_rates) == pytest.approx(
        {("slurry", "Li2S"): 0.5, ("slurry", "NMP"): 2 * (1 - 0.9), ("coat_c", "NMC811"): 0.2},
        rel=1e-12)
    # Li2S (moisture-sensitive) carried downstream through the ratios, kg per unit
    kg = {"slurry": 0.5, "coat_c": 0.6 * 0.5, "coat_a": 0.25 * 0.5}
    kg |= {"cut_c": 0.5 / 3 * kg["coat_c"], "cut_a": 0.4 * kg["coat_a"]}
    kg |= {"stack": 3 * kg["cut_c"] + 2 * kg["cut_a"]}
    kg |= {"test": kg["stack"]}
    for name, v in kg.items():
        assert graph.node(name).sensitive_kg == pytest.approx(v, rel=1e-12), name


def test_yields_per_level_and_class_by_hand(fork):
    _, graph = fork
    assert graph.classes == ("dp-50",)
    assert graph.driest == "dp-50"
    assert graph.yield_at("coat_c", "nominal", "dp-50") == pytest.approx(0.98 * 0.95)
    assert graph.yield_at("coat_a", "nominal", "dp-50") == pytest.approx(0.96 * 0.99)
    assert graph.yield_at("coat_c", "nominal", None) == pytest.approx(0.98)  # class unknown
    assert graph.yield_at("stack", "nominal", "dp-50") == pytest.approx(0.95)  # not sensitive
    assert graph.yield_at("test", "fast", "dp-50") == pytest.approx(0.90)
    assert graph.yield_at("test", "slow", "dp-50", 0.5) == pytest.approx(0.97 * 0.5)
    assert graph.yield_at("test", "slow", None, 1.2) == 1.0  # an observed factor never lifts y above 1
    for dpc, steps in (("dp-40", "'coat_a'"), ("dp-60", "'coat_c'")):
        with pytest.raises(InputError, match=f"{dpc}.*not allowed.*{steps}"):
            graph.yield_at("coat_c" if dpc == "dp-60" else "coat_a", "nominal", dpc)
    assert graph.class_problem("dp-50") is None
    assert "unknown dry-room class 'dp-55'" in graph.class_problem("dp-55")


def test_flow_per_good_cell_by_hand(fork):
    route, graph = fork
    y = {"slurry": 0.99, "coat_c": 0.98 * 0.95, "coat_a": 0.96 * 0.99, "cut_c": 0.99,
         "cut_a": 0.97, "stack": 0.95, "test": 0.97}
    s = {"test": 1 / 0.97}
    s["stack"] = s["test"] / 0.95
    s["cut_c"] = 3 * s["stack"] / 0.99
    s["cut_a"] = 2 * s["stack"] / 0.97
    s["coat_c"] = s["cut_c"] * 0.5 / 3 / (0.98 * 0.95)
    s["coat_a"] = s["cut_a"] * 0.4 / (0.96 * 0.99)
    s["slurry"] = (0.6 * s["coat_c"] + 0.25 * s["coat_a"]) / 0.99
    good, started = graph.flows(y)
    assert started == pytest.approx(s, rel=1e-12)
    assert good["slurry"] == pytest.approx(s["slurry"] * 0.99, rel=1e-12)
    yields = flow.nominal_yields(route, graph.driest, {"test": "slow"})
    assert yields == pytest.approx(y, rel=1e-12)
    req = flow.requirements(route, yields)
    assert req.bought == pytest.approx({"Li2S": 0.5 * s["slurry"], "NMP": 0.2 * s["slurry"],
                                        "NMC811": 0.2 * s["coat_c"]}, rel=1e-12)
    assert graph.flows({**y, "stack": 0.0})[1]["cut_a"] == math.inf  # a dead step starts "all"


@pytest.mark.parametrize("listed, coat_c, coat_a, allowed", [
    # the route lists its classes driest first: the order is still wettest to driest
    (["dp-60", "dp-40"], ["dp-40", "dp-60"], ["dp-40", "dp-50", "dp-60"], ("dp-40", "dp-60")),
    # dp-60 missing at one step, dp-50 not listed: the driest allowed is dp-40
    (["dp-40", "dp-60"], ["dp-40", "dp-50"], ["dp-40", "dp-60"], ("dp-40",)),
    # all classes (no dry_room_classes): each step removes one end
    (None, ["dp-40", "dp-50"], ["dp-50", "dp-60"], ("dp-50",)),
    (None, ["dp-40", "dp-50", "dp-60"], ["dp-50", "dp-60"], ("dp-50", "dp-60")),
])
def test_the_driest_allowed_class_with_asymmetric_class_sets(tmp_path, shared, listed, coat_c,
                                                            coat_a, allowed):
    factors = {"dp-40": "91 %", "dp-50": "96 %", "dp-60": "100 %"}
    doc = _fork_line({c: factors[c] for c in coat_c}, {c: factors[c] for c in coat_a})
    path = write_line(tmp_path, doc)
    if listed is not None:
        data = yaml.safe_load(path.read_text())
        data["dry_room_classes"] = listed
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    route = load_route(path, shared=shared)
    graph = LineGraph.of(route)
    assert graph.classes == allowed
    assert graph.driest == allowed[-1]
    assert bare_config(route).dew_point_class == allowed[-1]
    assert flow.nominal_yields(route, graph.driest)["coat_c"] == pytest.approx(
        0.98 * float(factors[allowed[-1]].rstrip(" %")) / 100)


def test_a_route_that_leaves_no_class_is_refused_with_file_line_and_field(tmp_path, shared):
    path = write_line(tmp_path, _fork_line({"dp-40": "90 %"}, {"dp-50": "99 %", "dp-60": "100 %"}))
    with pytest.raises(SpecError) as err:
        load_route(path, shared=shared)
    text = path.read_text().splitlines()
    # the first sensitive step in the file that lacks a class is coat_c (line.1)
    line = next(i for i, ln in enumerate(text, 1) if "yield_factor" in ln)
    msg = str(err.value)
    assert f"{path}:{line}: line.1.moisture.yield_factor" in msg, msg
    for word in ("no dry-room class is allowed", "'coat_c' has dp-40", "'coat_a' has dp-50, dp-60"):
        assert word in msg, msg


# ----------------------------------------------------------------------------- the CLI
# tests/data/sulfide-no-dp60.yaml is the shipped sulfide route with dp-60 removed from
# lpscl_classifying's yield_factor: it validates, so every command must run it (it used
# to end in ZeroDivisionError in `routes`, `cell` and `simulate`), in dp-40 or dp-50.

NO_DP60 = Path(__file__).resolve().parent / "data" / "sulfide-no-dp60.yaml"
LINES = Path(__file__).resolve().parents[1] / "lines"


def _cli(*args: str):
    result = CliRunner().invoke(app, list(args))
    out = result.stdout + result.stderr
    assert "Traceback" not in out and (result.exception is None
                                       or isinstance(result.exception, SystemExit)), out
    return result


def _lines_with(tmp_path: Path, route_file: Path) -> Path:
    """A lines folder with the shipped shared files and one route."""
    folder = tmp_path / "lines"
    (folder / "routes").mkdir(parents=True)
    for f in LINES.glob("*.yaml"):
        shutil.copy(f, folder / f.name)
    shutil.copy(route_file, folder / "routes" / route_file.name)
    return folder


def _materials_per_kwh(route, dpc: str) -> float:
    return bom.materials_cost_per_kwh(route, flow.nominal_yields(route, dpc), dew_point_class=dpc)


def test_a_class_missing_from_a_yield_factor_is_not_allowed_everywhere(sulfide):
    route = load_route(NO_DP60)
    graph = LineGraph.of(route)
    assert graph.classes == ("dp-40", "dp-50") and graph.driest == "dp-50"
    assert dict(graph.excluded) == {"dp-60": ("lpscl_classifying",)}
    assert LineGraph.of(sulfide).classes == ("dp-40", "dp-50", "dp-60")


def test_validate_routes_and_cell_run_in_the_driest_allowed_class(tmp_path, sulfide):
    r = _cli("validate", str(NO_DP60))
    assert r.exit_code == 0 and "ok" in r.stdout, r.stdout + r.stderr
    # the cell's materials at nominal yields in dp-50 (the shipped route, told dp-50)
    expect = _materials_per_kwh(sulfide, "dp-50")
    assert expect > _materials_per_kwh(sulfide, "dp-60")  # dp-50 loses 4 % at classifying
    r = _cli("cell", str(NO_DP60), "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["materials_cost_per_kwh"] == pytest.approx(expect, rel=1e-12)
    r = _cli("routes", "--lines", str(_lines_with(tmp_path, NO_DP60)), "--json")
    assert r.exit_code == 0, r.stderr
    (row,) = json.loads(r.stdout)
    assert row["name"] == "sulfide-lpscl-no-dp60"
    assert row["materials_cost_per_kwh"] == pytest.approx(expect, rel=1e-12)


def _shipped_without_zones(tmp_path: Path) -> Path:
    """The shipped sulfide route as one plant of one class (its `zones:` left out)."""
    doc = yaml.safe_load((LINES / "routes" / "sulfide-lpscl.yaml").read_text())
    del doc["zones"]
    path = tmp_path / "sulfide-lpscl.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_optimize_never_chooses_a_class_that_is_not_allowed(tmp_path):
    r = _cli("optimize", str(NO_DP60), "--capacity-gwh", "2", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["dew_point_class"] in ("dp-40", "dp-50")
    # the same as the shipped route (without zones) told to use dp-40 or dp-50 only:
    # dp-60 is the only thing the missing factor takes away
    ref = load_route(_shipped_without_zones(tmp_path), lines_dir=LINES,
                     overrides={"dry_room_classes": ["dp-40", "dp-50"]})
    plan = optimize(ref, 2.0)
    assert doc["cost_per_kwh"] == pytest.approx(plan.cost.cost_per_kwh, rel=1e-9)
    assert doc["dew_point_class"] == plan.config.dew_point_class


def test_simulate_runs_and_a_plan_or_stats_in_the_missing_class_is_refused(tmp_path):
    r = _cli("simulate", str(NO_DP60), "--capacity-gwh", "0.2", "--days", "12",
             "--warmup-days", "2", "--reps", "1", "--workers", "1", "--out", str(tmp_path / "sim"),
             "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["dew_point_class"] == "dp-50"
    (cls,) = [s for s in doc["steps"] if s["step"] == "lpscl_classifying"]
    assert cls["nominal_yield"] == pytest.approx(0.97 * 0.96, rel=1e-12)

    route = load_route(NO_DP60)
    plan = size_for_capacity(route, 0.2).to_dict()
    plan["dew_point_class"] = "dp-60"
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    r = _cli("simulate", str(NO_DP60), "--plan", str(plan_file), "--days", "5",
             "--warmup-days", "1", "--reps", "1")
    assert r.exit_code == 2, r.stdout + r.stderr
    for word in (str(plan_file), "dew_point_class", "'dp-60' is not allowed",
                 "'lpscl_classifying'", "dp-40, dp-50"):
        assert word in r.stderr, r.stderr

    stats = json.loads((tmp_path / "sim" / "stats.json").read_text())
    stats["dew_point_class"] = "dp-60"
    stats_file = tmp_path / "stats.json"
    stats_file.write_text(json.dumps(stats))
    r = _cli("optimize", str(NO_DP60), "--capacity-gwh", "0.2", "--stats", str(stats_file))
    assert r.exit_code == 2, r.stdout + r.stderr
    for word in (f"{stats_file}:", "dew_point_class: ", "'dp-60' is not allowed",
                 "'lpscl_classifying'"):
        assert word in r.stderr, r.stderr


def _no_class_left(tmp_path: Path) -> tuple[Path, int, int]:
    """The fixture with lpscl_classifying left with dp-40 only and separator_coating
    with dp-60 only: no class is left. Returns the file, the line of the first of the two
    yield_factors and that step's index in `line:`."""
    text = NO_DP60.read_text()
    old_a = 'yield_factor: {dp-40: "88 %", dp-50: "96 %"}'
    old_b = 'yield_factor: {dp-40: "90 %", dp-50: "97 %", dp-60: "100 %"}'
    assert text.count(old_a) == 1 and text.count(old_b) == 1
    text = text.replace(old_a, 'yield_factor: {dp-40: "88 %"}')
    text = text.replace(old_b, 'yield_factor: {dp-60: "100 %"}')
    path = tmp_path / "routes" / "sulfide-no-class.yaml"
    path.parent.mkdir()
    path.write_text(text.replace("name: sulfide-lpscl-no-dp60", "name: sulfide-no-class"))
    doc = yaml.safe_load(text)
    sensitive = [i for i, s in enumerate(doc["line"]) if "moisture" in s]
    lines = text.splitlines()
    marks = [i for i, ln in enumerate(lines, 1) if ln.strip().startswith("yield_factor:")]
    return path, marks[0], sensitive[0]


def test_a_route_with_no_class_left_is_refused_by_every_command(tmp_path):
    path, line, index = _no_class_left(tmp_path)
    folder = _lines_with(tmp_path / "data", path)
    where = f"{path}:{line}: line.{index}.moisture.yield_factor: "
    for args in (("validate", str(path)), ("cell", str(path)),
                 ("optimize", str(path), "--capacity-gwh", "1"),
                 ("simulate", str(path), "--days", "5", "--warmup-days", "1", "--reps", "1")):
        r = _cli(*args)
        assert r.exit_code == 2, (args, r.stdout + r.stderr)
        assert where in r.stderr and "no dry-room class is allowed" in r.stderr, r.stderr
    r = _cli("routes", "--lines", str(folder))
    assert r.exit_code == 2, r.stdout + r.stderr
    assert "line." + str(index) + ".moisture.yield_factor" in r.stderr, r.stderr


def test_the_fixture_is_the_shipped_route_but_for_one_factor():
    """If the shipped sulfide route changes, regenerate the fixture: its four comment
    lines, then the route without its zones (from their comment to `line:`), with the
    name sulfide-lpscl-no-dp60 and dp-60 dropped from lpscl_classifying's yield_factor."""
    text = (LINES / "routes" / "sulfide-lpscl.yaml").read_text()
    text = text[:text.index("# Zones of the dry room")] + text[text.index("\nline:\n") + 1:]
    shipped = text.splitlines()
    fixture = NO_DP60.read_text().splitlines()[4:]
    diff = [(a, b) for a, b in zip(shipped, fixture, strict=True) if a != b]
    assert diff == [("name: sulfide-lpscl", "name: sulfide-lpscl-no-dp60"),
                    ('      yield_factor: {dp-40: "88 %", dp-50: "96 %", dp-60: "100 %"}',
                     '      yield_factor: {dp-40: "88 %", dp-50: "96 %"}')]
