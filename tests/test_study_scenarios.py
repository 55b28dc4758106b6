"""Scenario files: strict checks with file/line/field, scenario counts, stable ids."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from ssbfab.errors import InputError
from ssbfab.study.scenarios import load_study

EXAMPLE = Path(__file__).parent / "data" / "study-polymer.yaml"


def write(tmp_path: Path, body: str, lines_dir: Path, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(f"lines: {lines_dir}\n" + textwrap.dedent(body))
    return p


def err(tmp_path, body, lines_dir) -> str:
    with pytest.raises(InputError) as exc:
        load_study(write(tmp_path, body, lines_dir))
    return str(exc.value)


def test_grid_gives_points_times_routes(tmp_path, lines_dir):
    s = load_study(write(tmp_path, f"""
        study: g
        job: materials
        routes: [sulfide-lpscl, {EXAMPLE}]
        grid:
          materials.Li2S.price: ["1e6 CNY/t", "2e6 CNY/t", "3e6 CNY/t"]
          economics.labour_rate: ["20 USD/h", "30 USD/h"]
        """, lines_dir))
    sc = s.scenarios()
    assert len(sc) == 3 * 2 * 2
    assert len({x.scenario_id for x in sc}) == len(sc)
    assert s.parameters["materials.Li2S.price"].unit == "CNY/t"
    assert sorted({x.numbers["materials.Li2S.price"] for x in sc}) == [1e6, 2e6, 3e6]


def test_one_at_a_time_and_samples_counts(tmp_path, lines_dir):
    oat = load_study(write(tmp_path, """
        study: t
        job: materials
        routes: [sulfide-lpscl]
        base: {economics.electricity_price: "0.1 USD/kWh"}
        one_at_a_time:
          materials.Li2S.price: ["1e6 CNY/t", "3e6 CNY/t"]
          economics.labour_rate: ["20 USD/h", "25 USD/h", "30 USD/h"]
        """, lines_dir, "t.yaml"))
    assert len(oat.scenarios()) == 1 + 2 + 3
    assert all(s.overrides["economics.electricity_price"] == "0.1 USD/kWh"
               for s in oat.scenarios())
    mc = load_study(write(tmp_path, f"""
        study: m
        job: materials
        routes: [sulfide-lpscl, {EXAMPLE}]
        seed: 4
        samples:
          n: 9
          parameters:
            materials.Li2S.price: {{distribution: triangular, low: "1e6 CNY/t", mode: "2e6 CNY/t", high: "3e6 CNY/t"}}
            economics.labour_rate: {{distribution: normal, mean: "25 USD/h", sd: "3 USD/h", low: "15 USD/h"}}
        """, lines_dir, "m.yaml"))
    sc = mc.scenarios()
    assert len(sc) == 9 * 2
    # the same sample point for both routes: paired comparisons
    by_point = {}
    for s in sc:
        by_point.setdefault(s.point, []).append(s.overrides)
    assert all(a == b for a, b in by_point.values())
    again = load_study(tmp_path / "m.yaml").scenarios()
    assert [s.scenario_id for s in again] == [s.scenario_id for s in sc]
    assert [s.overrides for s in again] == [s.overrides for s in sc]


def test_ids_change_with_the_data_and_the_seed_policy(tmp_path, lines_dir):
    copy = tmp_path / "lines"
    shutil.copytree(lines_dir, copy)
    body = """
        study: i
        job: materials
        routes: [sulfide-lpscl]
        grid: {materials.Li2S.price: ["1e6 CNY/t", "2e6 CNY/t"]}
        """
    a = [s.scenario_id for s in load_study(write(tmp_path, body, copy)).scenarios()]
    assert a == [s.scenario_id for s in load_study(write(tmp_path, body, copy)).scenarios()]
    eco = copy / "economics.yaml"
    eco.write_text(eco.read_text().replace('"25 USD/h"', '"26 USD/h"'))
    b = [s.scenario_id for s in load_study(write(tmp_path, body, copy)).scenarios()]
    assert set(a).isdisjoint(b)
    per = load_study(write(tmp_path, body + "seeds: per_scenario\n", copy)).scenarios()
    assert len({s.seed for s in per}) == 2


@pytest.mark.parametrize("body,words", [
    ("study: x\njob: materials\nroutes: [sulfide-lpscl]\ngird: {}\n",
     ["s.yaml:5: gird:", "did you mean 'grid'"]),
    ("study: x\njob: materials\nroutes: [sulfide-lpsc]\n",
     ["s.yaml:4: routes.0:", "did you mean 'sulfide-lpscl'"]),
    ("study: x\njob: optimise\nroutes: [sulfide-lpscl]\n",
     ["s.yaml:3: job:", "did you mean 'optimize'"]),
    ("study: x\njob: materials\nroutes: [sulfide-lpscl]\noptions: {replicatons: 3}\n",
     ["options.replicatons", "did you mean 'replications'"]),
    ("study: x\njob: materials\nroutes: [sulfide-lpscl]\ngrid: {a.b: [1]}\nsamples: {n: 2, "
     "parameters: {c.d: {distribution: uniform, low: 0, high: 1}}}\n",
     ["at most one design"]),
    ("study: x\njob: materials\nroutes: [sulfide-lpscl]\nsamples: {n: 2, parameters: "
     "{materials.Li2S.price: {distribution: triangular, low: 1, high: 2}}}\n",
     ["needs low, mode, high", "missing mode"]),
    ("study: x\njob: materials\nroutes: [sulfide-lpscl]\nsamples: {n: 2, parameters: "
     "{materials.Li2S.price: {distribution: uniform, low: \"2 USD/kg\", high: \"1 USD/kg\"}}}\n",
     ["need low < high"]),
    ("study: x\njob: materials\nroutes: [sulfide-lpscl]\ngrid:\n  materials.Li2S.prise: "
     "[\"1 USD/kg\"]\n", ["s.yaml:6: materials.Li2S.prise:", "did you mean 'price'"]),
    ("study: x\njob: materials\nroutes: [sulfide-lpscl]\ngrid:\n  plant.floor_area: "
     "[\"1 m^2\", \"2 kg\"]\n", ["grid.plant.floor_area", "cannot be converted"]),
    ("study: x\njob: materials\nroutes: [sulfide-lpscl]\noptions: {dew_point_class: dp-45}\n",
     ["options.dew_point_class", "dp-40, dp-50, dp-60"]),
    ("study: x\njob: nosuchmodule:run\nroutes: [sulfide-lpscl]\n",
     ["s.yaml:3: job:", "is an import path", "jobs: ", "optimize, simulate",
      "register(name, function)"]),
    ("study: x y\njob: materials\nroutes: [sulfide-lpscl]\n", ["s.yaml:2: study:"]),
])
def test_bad_scenario_files_name_line_field_and_fix(tmp_path, lines_dir, body, words):
    msg = err(tmp_path, body, lines_dir)
    for w in words:
        assert w in msg, msg


def test_path_known_to_one_route_only_is_a_warning(tmp_path, lines_dir):
    s = load_study(write(tmp_path, f"""
        study: w
        job: materials
        routes: [sulfide-lpscl, {EXAMPLE}]
        grid:
          line.cathode_mixing.yield: ["97 %", "99 %"]
        """, lines_dir))
    assert len(s.warnings) == 1 and "line.cathode_mixing.yield" in s.warnings[0]


@pytest.mark.parametrize("name", ["li2s_price", "dew_point", "tornado", "tornado_oxide",
                                  "monte_carlo", "plant_size"])
def test_example_studies_load(name):
    s = load_study(Path(__file__).parents[1] / "studies" / f"{name}.yaml")
    assert s.warnings == []
    assert len(s.scenarios()) == len(s.points) * len(s.spec.routes)


def test_a_value_listed_twice_is_an_error(tmp_path, lines_dir):
    msg = err(tmp_path, """
        study: d
        job: materials
        routes: [sulfide-lpscl]
        grid: {materials.Li2S.price: ["1e6 CNY/t", "2e6 CNY/t", "1e6 CNY/t"]}
        """, lines_dir)
    assert "value listed twice" in msg and "grid" in msg


def test_study_modules_import_no_cycle():
    # every import between ssbfab.study modules, at the top or inside a function:
    # the graph has no cycle (scenarios imports jobs and options, never the reverse)
    import ast

    folder = Path(__file__).parents[1] / "src" / "ssbfab" / "study"
    names = {p.stem for p in folder.glob("*.py")} - {"__init__"}
    graph = {}
    for n in names:
        tree = ast.parse((folder / f"{n}.py").read_text())
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                mods = [node.module] if node.module else [a.name for a in node.names]
                deps |= {m.split(".")[0] for m in mods} & names
        graph[n] = deps
    assert "scenarios" not in graph["jobs"] and "scenarios" not in graph["options"]

    def visit(n, path):
        assert n not in path, " -> ".join([*path, n])
        for d in graph[n]:
            visit(d, [*path, n])

    for n in graph:
        visit(n, [])


def test_the_shipped_monte_carlo_samples_its_inputs_independently():
    """No correlation is stated between the Monte Carlo inputs, so none is sampled: the
    rank correlation of every pair of the 64 Latin-hypercube draws stays within what
    independent draws give (sd of rho about 1/sqrt(63) = 0.126; over 21 pairs a false
    alarm rate of 1e-3 needs 5e-5 per pair, z = 4.06, |rho| < 0.51), and every draw lies
    in its range (the price deck's low-high for prices)."""
    import numpy as np
    from scipy.stats import spearmanr

    s = load_study(Path(__file__).parents[1] / "studies" / "monte_carlo.yaml")
    names = list(s.points[0].values)
    assert {"materials.Li2S.price", "materials.P2S5.price", "materials.Li_metal.price",
            "line.eol_test.yield"} <= set(names)
    x = np.array([[float(p.values[n].split()[0]) for n in names] for p in s.points])
    rho = spearmanr(x).statistic
    off = np.abs(rho[~np.eye(len(names), dtype=bool)])
    assert off.max() < 0.51, dict(zip(names, rho.round(2).tolist(), strict=True))
    li2s = x[:, names.index("materials.Li2S.price")]
    assert li2s.min() >= 1.5e6 and li2s.max() <= 3e6
