"""`ssbfab sweep` and `ssbfab study summarize` as a user meets them: bad scenario files,
unsafe jobs, huge designs, damaged stores and the exit codes scripts rely on."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ssbfab.cli import app
from ssbfab.study import load

HEAD = "study: s\njob: materials\nroutes: [sulfide-lpscl]\n"


def cli(*args: str):
    res = CliRunner().invoke(app, list(args))
    # user errors end in SystemExit with a code; anything else is a traceback
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output, res.output
    return res, " ".join(res.output.split())  # rich wraps long lines


def write(tmp_path: Path, body: str, lines_dir: Path, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(f"lines: {lines_dir}\n" + body)
    return p


def _grid(n: int, unit: str, start: float, step: float) -> str:
    return "[" + ", ".join(f'"{start + i * step:g} {unit}"' for i in range(n)) + "]"


BAD = {
    "values equal after unit conversion": (
        HEAD + "grid:\n  materials.Li2S.price:\n    - 1e6 CNY/t\n    - 2e6 CNY/t\n"
               "    - 1000 CNY/kg\n",
        ["s.yaml:9: grid.materials.Li2S.price:", "value listed twice", "'1000 CNY/kg' equals "
         "'1e6 CNY/t' (value 1) after unit conversion"]),
    "the same value twice": (
        HEAD + 'grid: {materials.Li2S.price: ["1e6 CNY/t", "1e6 CNY/t"]}\n',
        ["s.yaml:5: grid.materials.Li2S.price:", "is also value 1"]),
    "a seed of 2**70": (
        HEAD + f"seed: {2**70}\n", ["s.yaml:5: seed:", "from 0 to 2**63 - 1", str(2**70)]),
    "a negative seed": (HEAD + "seed: -3\n", ["s.yaml:5: seed:", "found -3"]),
    "a seed that is not a whole number": (HEAD + "seed: true\n", ["s.yaml:5: seed:", "integer"]),
    "a negative sample seed": (
        HEAD + "samples: {n: 4, seed: -1, parameters: {materials.Li2S.price: "
               '{distribution: uniform, low: "1e6 CNY/t", high: "2e6 CNY/t"}}}\n',
        ["s.yaml:5: samples.seed:", "found -1"]),
    "an overflowing grid value": (
        HEAD + 'grid: {materials.Li2S.price: ["1e6 CNY/t", "1e400 CNY/t"]}\n',
        ["s.yaml:5: grid.materials.Li2S.price:", "finite", "1e400"]),
    "an infinite capacity": (
        HEAD + "options: {capacity_gwh: .inf}\n", ["s.yaml:5: options.capacity_gwh:", "finite"]),
    "a NaN override": (
        HEAD + "base: {economics.discount_rate: .nan}\n",
        ["s.yaml:5: base.economics.discount_rate:", "finite"]),
    "an infinite distribution bound": (
        HEAD + "samples: {n: 4, parameters: {economics.labour_rate: "
               '{distribution: uniform, low: "10 USD/h", high: "1e999 USD/h"}}}\n',
        ["s.yaml:5: samples.parameters.economics.labour_rate:", "finite"]),
    "a misspelt job": (
        "study: s\njob: optimise\nroutes: [sulfide-lpscl]\n",
        ["s.yaml:3: job:", "did you mean 'optimize'", "jobs: ", "loop", "materials",
         "optimize, simulate"]),
    "a job as an import path": (
        "study: s\njob: os:system\nroutes: [sulfide-lpscl]\n",
        ["s.yaml:3: job:", "'os:system' is an import path", "register(name, function)"]),
    "a design above the work limit": (
        HEAD + "grid:\n"
               f"  materials.Li2S.price: {_grid(13, 'CNY/t', 1e6, 1e5)}\n"
               f"  economics.labour_rate: {_grid(13, 'USD/h', 10, 1)}\n"
               f"  economics.electricity_price: {_grid(12, 'USD/kWh', 0.05, 0.01)}\n",
        ["s.yaml:5: grid:", "2,028 scenarios (2,028 design points x 1 route)",
         "work limit of 2,000", "--yes"]),
}


@pytest.mark.parametrize("body,words", BAD.values(), ids=BAD.keys())
def test_bad_study_files_exit_2_naming_file_line_field(tmp_path, lines_dir, body, words):
    p = write(tmp_path, body, lines_dir)
    out = tmp_path / "out"
    res, text = cli("sweep", str(p), "--workers", "0", "--out", str(out))
    assert res.exit_code == 2, res.output
    for w in words:
        assert w in text, text
    assert not out.exists()  # refused before anything is written


def test_a_job_named_by_module_imports_nothing(tmp_path, lines_dir, monkeypatch):
    # a module whose import would leave a mark: naming it as a job must not import it
    mark = tmp_path / "imported"
    (tmp_path / "evil_job.py").write_text(f"open({str(mark)!r}, 'w').close()\n"
                                         "def run(route, options, seed):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    p = write(tmp_path, "study: s\njob: evil_job:run\nroutes: [sulfide-lpscl]\n", lines_dir)
    for cmd in (["sweep", str(p), "--workers", "0", "--out", str(tmp_path / "o")],
                ["sweep", str(p), "--dry-run"]):
        res, text = cli(*cmd)
        assert res.exit_code == 2 and "s.yaml:3: job:" in text and "import path" in text
    assert not mark.exists() and "evil_job" not in sys.modules


def test_registered_jobs_are_names_from_python_only(monkeypatch):
    from ssbfab.study import jobs

    monkeypatch.setattr(jobs, "_registry", dict(jobs._registry))  # leave no name behind

    with pytest.raises(ValueError, match="built-in"):
        jobs.register("optimize", jobs.materials)
    with pytest.raises(ValueError, match="letters, digits"):
        jobs.register("pkg.mod:fn", jobs.materials)
    with pytest.raises(TypeError):
        jobs.register("not-a-function", "ssbfab.study.jobs:materials")
    fn = jobs.register("materials-again", jobs.materials)
    assert jobs.get_job("materials-again") is fn and "materials-again" in jobs.job_names()


def test_the_work_limit_is_lifted_by_yes(tmp_path, lines_dir, monkeypatch):
    from ssbfab.study import runner

    monkeypatch.setattr(runner, "MAX_SCENARIOS", 2)
    p = write(tmp_path, HEAD + 'grid: {materials.Li2S.price: ["1e6 CNY/t", "2e6 CNY/t", '
                               '"3e6 CNY/t"]}\n', lines_dir)
    out = tmp_path / "out"
    res, text = cli("sweep", str(p), "--dry-run")
    assert res.exit_code == 0 and "3 scenarios" in text and "only with --yes" in text
    res, text = cli("sweep", str(p), "--workers", "0", "--out", str(out))
    assert res.exit_code == 2 and "3 scenarios" in text and "work limit of 2 " in text
    assert not out.exists()
    res, text = cli("sweep", str(p), "--workers", "0", "--out", str(out), "--yes")
    assert res.exit_code == 0, text
    assert len(load(out)) == 3


@pytest.fixture(scope="module")
def store(tmp_path_factory, lines_dir) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("store")
    p = write(d, HEAD + 'grid: {materials.Li2S.price: ["1e6 CNY/t", "2e6 CNY/t"]}\n', lines_dir)
    out = d / "out"
    res, text = cli("sweep", str(p), "--workers", "0", "--out", str(out))
    assert res.exit_code == 0, text
    return p, out


DAMAGE = {
    "truncated": lambda b: b[: len(b) // 2],
    "a checksum broken": lambda b: b[:50] + b"\xff" * 64 + b[114:],
    "not a database": lambda b: b"these are not the rows you are looking for\n" * 20,
    "empty": lambda b: b"",
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_store_is_named_with_what_to_do(tmp_path, store, damage):
    import shutil

    p, good = store
    out = tmp_path / "out"
    shutil.copytree(good, out)
    f = out / "results.duckdb"
    f.write_bytes(damage(f.read_bytes()))
    for cmd in (["sweep", str(p), "--workers", "0", "--out", str(out)],
                ["study", "summarize", str(out), "--no-figures"]):
        res, text = cli(*cmd)
        assert res.exit_code == 2, text
        assert f"{f}:" in text and "damaged" in text
        assert "delete the file" in text and "another --out" in text


def test_out_that_is_a_file_is_refused(tmp_path, store):
    p, _ = store
    f = tmp_path / "a-file"
    f.write_text("x")
    res, text = cli("sweep", str(p), "--workers", "0", "--out", str(f))
    assert res.exit_code == 2 and str(f) in text and "--out" in text
    assert f.read_text() == "x"


def test_exit_codes_all_ok_some_failed_and_rerun(tmp_path, store, lines_dir):
    _, out = store
    res, text = cli("sweep", str(store[0]), "--workers", "0", "--out", str(out))
    assert res.exit_code == 0 and "2 already done (skipped)" in text  # all ok: 0
    # a yield of 150 % fails its scenarios (bad override value): 4, every row written
    p = write(tmp_path, HEAD + "grid:\n  line.cathode_coating.levels.fast.yield: "
                               '["88 %", "150 %"]\n', lines_dir, "f.yaml")
    out = tmp_path / "out"
    res, text = cli("sweep", str(p), "--workers", "0", "--out", str(out))
    assert res.exit_code == 4, text
    assert "1 of 2 scenarios failed" in text and "exit code 4" in text
    assert sorted(load(out)["status"]) == ["failed", "ok"]
    # the rerun skips both, and the study still has a failed scenario: still 4
    res, text = cli("sweep", str(p), "--workers", "0", "--out", str(out))
    assert res.exit_code == 4 and "2 already done (skipped)" in text


def _two_route_store(tmp_path, lines_dir, design: str) -> Path:
    p = write(tmp_path, "study: two\njob: materials\n"
                        "routes: [sulfide-lpscl, liquid-nmc811-graphite]\n"
                        "baseline: liquid-nmc811-graphite\n" + design, lines_dir)
    out = tmp_path / "out"
    res, text = cli("sweep", str(p), "--workers", "0", "--out", str(out))
    assert res.exit_code == 0, text
    return out


def test_summarize_a_grid_shows_the_range_and_a_crossover_sentence(tmp_path, lines_dir):
    out = _two_route_store(tmp_path, lines_dir, 'grid: {materials.Li2S.price: '
                                                '["0.5e6 CNY/t", "1e6 CNY/t", "3e6 CNY/t"]}\n')
    res, text = cli("study", "summarize", str(out), "--no-figures")
    assert res.exit_code == 0
    assert "p10" not in text.lower() and "P50" not in text and "two: range" in text
    # what the sentence must say, from the rows by hand: the liquid route has no Li2S
    df = load(out).pivot(index="materials.Li2S.price", columns="route", values="cost_per_kwh")
    d = (df["sulfide-lpscl"] - df["liquid-nmc811-graphite"]).sort_index()
    assert (d > 0).all() or (d < 0).all() or "costs the same" in text
    if (d > 0).all():
        x = d.abs().idxmin()
        assert (f"no crossover with liquid-nmc811-graphite for materials.Li2S.price between "
                f"500,000 CNY/t and 3,000,000 CNY/t; at {x:,.0f} CNY/t it is still "
                f"{d[x]:.2f} USD/kWh dearer") in text
    assert "extrapolat" not in text


def test_summarize_samples_shows_percentiles_and_partial_rank_correlations(tmp_path, lines_dir):
    out = _two_route_store(tmp_path, lines_dir, textwrap.dedent("""\
        samples:
          n: 6
          seed: 3
          parameters:
            materials.Li2S.price: {distribution: uniform, low: "0.5e6 CNY/t", high: "3e6 CNY/t"}
            economics.labour_rate: {distribution: uniform, low: "15 USD/h", high: "40 USD/h"}
        """))
    res, text = cli("study", "summarize", str(out), "--no-figures", "--json")
    assert res.exit_code == 0
    import json

    (doc,) = json.loads(res.stdout)
    assert {r["route"] for r in doc["percentiles"]} == {"sulfide-lpscl", "liquid-nmc811-graphite"}
    assert "range" not in doc
    sens = {(r["route"], r["parameter"]): r for r in doc["sensitivity"]}
    # the materials job's cost does not depend on the labour rate at all: no effect
    for route in ("sulfide-lpscl", "liquid-nmc811-graphite"):
        r = sens[(route, "economics.labour_rate")]["prcc"]
        assert r is None or r == 0.0
    # nor does the liquid route's cost depend on the price of Li2S
    assert sens[("liquid-nmc811-graphite", "materials.Li2S.price")]["prcc"] is None
    assert sens[("sulfide-lpscl", "materials.Li2S.price")]["prcc"] == pytest.approx(1.0)


def test_a_store_held_by_another_process_is_named(tmp_path, store):
    import shutil
    import subprocess

    p, good = store
    out = tmp_path / "out"
    shutil.copytree(good, out)
    f = out / "results.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               f"c = duckdb.connect({str(f)!r}); print('held', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        res, text = cli("sweep", str(p), "--workers", "0", "--out", str(out))
        assert res.exit_code == 2 and f"{f}:" in text and "in use by another process" in text
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_a_study_name_that_is_not_a_plain_name_never_becomes_a_folder(tmp_path):
    import yaml as _yaml
    from typer.testing import CliRunner

    from ssbfab.cli import app

    src = Path(__file__).resolve().parents[1] / "studies" / "dew_point.yaml"
    doc = _yaml.safe_load(src.read_text())
    doc["study"] = "../../escaped"
    f = tmp_path / "odd.yaml"
    f.write_text(_yaml.safe_dump(doc, sort_keys=False))
    r = CliRunner().invoke(app, ["sweep", str(f), "--dry-run"])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and f"{f}:1: study:" in r.output
    assert not (tmp_path.parent.parent / "escaped").exists()
