"""Mutation testing of ssbfab's core modules with mutmut (`make mutation`).

Each core module is mutated on its own, against the fast tests that check it (the
table `MODULES`), in a scratch copy of the project under build/mutation/<module>/:
mutmut reads its settings from the pyproject.toml of the folder it runs in, so the
copy gets the project's `[tool.mutmut]` table with the module and its tests filled
in. mutmut runs, for each mutant, only the selected tests that call the mutated
function, and stops at the first failure.

The score printed is killed / (total - judged equivalent): a mutant that survives
and is listed in docs/mutation.md (by module, function and the changed line) is
equivalent — no test can tell it from the original — and leaves the denominator;
every other survivor, and a mutant no selected test reaches, counts against the
score. So does a timeout: on a loaded machine a mutant's tests can outrun mutmut's wall
clock limit without the mutant changing anything, so a timeout is not taken as a kill
(the line printed counts them apart).

    python tests/mutation.py                 # every module
    python tests/mutation.py cell flow       # some modules
    python tests/mutation.py cost --fresh    # forget the results kept from a past run
    python tests/mutation.py cost --sample 200   # a seeded random sample of the mutants

A sample estimates the score of a module whose full run takes too long; the printed
line then gives the share of the sample killed with its 95 % (Wilson) interval.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"
EQUIVALENT_DOC = ROOT / "docs" / "mutation.md"
TARGET = 0.85  # the target share of non-equivalent mutants killed

# module -> (source file, the tests that check it). Keep the tests fast: a survivor
# runs every selected test that calls its function.
MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "cell": ("src/ssbfab/cell.py", (
        "tests/test_cell.py", "tests/test_cell_design_rules.py")),
    "flow": ("src/ssbfab/flow.py", (
        "tests/test_cell.py", "tests/test_flow.py", "tests/test_cost_parts.py")),
    "cost": ("src/ssbfab/cost.py", (
        "tests/test_cost_parts.py", "tests/test_cost_batpac.py", "tests/test_cost_rollup.py",
        "tests/test_cost_primaries.py")),
    "opt.data": ("src/ssbfab/opt/data.py", (
        "tests/test_opt_presolve.py", "tests/test_opt_bruteforce.py", "tests/test_opt_model.py",
        "tests/test_opt_numbers.py")),
    "opt.build": ("src/ssbfab/opt/build.py", (
        "tests/test_opt_presolve.py", "tests/test_opt_bruteforce.py", "tests/test_opt_model.py",
        "tests/test_opt_plan.py", "tests/test_opt_numbers.py", "tests/test_opt_build.py")),
    "sim.model": ("src/ssbfab/sim/model.py", (
        "tests/test_sim_analytic.py", "tests/test_sim_properties.py", "tests/test_sim_dryroom.py",
        "tests/test_sim_counts.py", "tests/test_sim_excursions.py")),
    "loop": ("src/ssbfab/loop.py", ("tests/test_loop.py",)),
}
# graph.py joins when it lands (the line graph of issue 9)
if (ROOT / "src" / "ssbfab" / "graph.py").exists():
    MODULES["graph"] = ("src/ssbfab/graph.py", (
        "tests/test_cell.py", "tests/test_flow.py", "tests/test_cost_parts.py",
        "tests/test_opt_presolve.py", "tests/test_cost_primaries.py"))

KILLED = {1, 3}  # a test failed; pytest's internal error
TIMEOUT = {36, -24, 24, 152, 255}
SURVIVED = 0
NO_TESTS = {5, 33}


@dataclass(frozen=True)
class Score:
    module: str
    total: int
    killed: int
    survived: int
    no_tests: int
    timeouts: int
    other: int
    equivalent: int
    seconds: float
    population: int = 0  # mutants of the module when `total` is a sample of them

    @property
    def score(self) -> float:
        live = self.total - self.equivalent
        return self.killed / live if live else 1.0

    def line(self) -> str:
        text = (f"{self.module:10s} {self.score:6.1%}  killed {self.killed} / "
                f"({self.total} - {self.equivalent} equivalent); survived "
                f"{self.survived - self.equivalent}, no test {self.no_tests}, timeout "
                f"{self.timeouts}, other {self.other}; {self.seconds / 60:.1f} min")
        if self.population:
            lo, hi = wilson(self.killed, self.total - self.equivalent)
            text += (f"; a random sample of {self.total} of {self.population} mutants, "
                     f"95 % interval {lo:.1%}-{hi:.1%}")
        return text


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, c - h), min(1.0, c + h)


def _toml_array(values: list[str]) -> str:
    # JSON strings are valid TOML basic strings (same escapes for what we write)
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def prepare(module: str, fresh: bool) -> Path:
    """The scratch copy for one module, with its mutmut settings."""
    src, tests = MODULES[module]
    work = WORK / module
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for d in ("src", "tests", "lines"):
        # copy2 keeps modification times, which mutmut uses to keep unchanged results
        shutil.copytree(ROOT / d, work / d, dirs_exist_ok=True, copy_function=shutil.copy2,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis"))
    text = (ROOT / "pyproject.toml").read_text()
    settings = tomllib.loads(text)["tool"]["mutmut"]
    head = text[:text.index("[tool.mutmut]")]
    # drop what the copy gets from this table, keep the rest of the project's file
    head = re.sub(r"\n# Mutation testing[^\[]*$", "\n", head)
    selected = [t for t in tests if (ROOT / t).exists()]
    table = dict(settings, only_mutate=[src], pytest_add_cli_args_test_selection=selected)
    body = "\n".join(f"{k} = {_toml_array(v) if isinstance(v, list) else json.dumps(v)}"
                     for k, v in table.items())
    (work / "pyproject.toml").write_text(head + "[tool.mutmut]\n" + body + "\n")
    return work


def equivalents() -> dict[str, set[tuple[str, str, str]]]:
    """The survivors judged equivalent in docs/mutation.md: per module, (function,
    original line, mutated line), whitespace collapsed."""
    out: dict[str, set[tuple[str, str, str]]] = {}
    pat = re.compile(r"^- `(?P<mod>[\w.]+):(?P<func>[\w.]+)` `(?P<old>.+?)` → `(?P<new>.*?)` — ")
    for line in EQUIVALENT_DOC.read_text().splitlines() if EQUIVALENT_DOC.exists() else []:
        m = pat.match(line)
        if m:
            out.setdefault(m["mod"], set()).add((m["func"], _norm(m["old"]), _norm(m["new"])))
    return out


def _norm(code: str) -> str:
    return " ".join(code.split())


def _function_of(mutant: str) -> str:
    """'ssbfab.cell.x_design__mutmut_3' -> 'design'; methods as 'Class.method'."""
    name = mutant.rsplit(".", 1)[-1]
    name = name.rsplit("__mutmut_", 1)[0]
    if name.startswith("xǁ"):
        cls, meth = name[2:].split("ǁ", 1)
        return f"{cls}.{meth}"
    return name[2:] if name.startswith("x_") else name


def changed_lines(diff: str) -> tuple[str, str]:
    old = [ln[1:] for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    new = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return _norm(" ".join(old)), _norm(" ".join(new))


def results(module: str, work: Path, seconds: float, show: bool) -> Score:
    """Read mutmut's results in `work` (run in that folder: mutmut reads its settings)."""
    src, _ = MODULES[module]
    meta = json.loads((work / "mutants" / (src + ".meta")).read_text())["exit_code_by_key"]
    population = 0
    sample_file = work / "sample.json"
    if sample_file.exists():  # the last run tested a sample: count it alone
        sample = json.loads(sample_file.read_text())
        population = len(meta)
        meta = {k: meta[k] for k in sample}
    code = (
        "import json, sys\n"
        "from mutmut.mutation.diff_apply import get_diff_for_mutant\n"
        "names = json.loads(sys.stdin.read())\n"
        f"print(json.dumps({{n: get_diff_for_mutant(n, path={src!r}) for n in names}}))\n")
    survivors = sorted(k for k, v in meta.items() if v == SURVIVED)
    diffs = json.loads(subprocess.run(
        [sys.executable, "-c", code], cwd=work, input=json.dumps(survivors), text=True,
        capture_output=True, check=True).stdout) if survivors else {}
    known = equivalents().get(module, set())
    equivalent = 0
    for name in survivors:
        key = (_function_of(name), *changed_lines(diffs[name]))
        if key in known:
            equivalent += 1
        elif show:
            print(f"\n# survived: {name}\n{diffs[name]}")
    if show:
        for k, v in sorted(meta.items()):
            if v in NO_TESTS:
                print(f"# no test reaches: {k}")
    counts = list(meta.values())
    return Score(module, len(counts), sum(v in KILLED for v in counts),
                 sum(v == SURVIVED for v in counts), sum(v in NO_TESTS for v in counts),
                 sum(v in TIMEOUT for v in counts),
                 sum(v not in KILLED | TIMEOUT | NO_TESTS and v != SURVIVED for v in counts),
                 equivalent, seconds, population)


def run(module: str, fresh: bool, max_children: int, show: bool, sample: int = 0,
        seed: int = 1) -> Score:
    work = prepare(module, fresh)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SSBFAB_LINES")}
    t0 = time.perf_counter()
    mutmut = Path(sys.executable).with_name("mutmut")
    log = work / "mutmut.log"
    names: list[str] = []
    sample_file = work / "sample.json"
    sample_file.unlink(missing_ok=True)
    if sample:
        meta_file = work / "mutants" / (MODULES[module][0] + ".meta")
        if not meta_file.exists():  # generate the mutants (and the test map) only
            with log.open("w") as f:
                subprocess.run([str(mutmut), "run", "--max-children", str(max_children),
                                "no-such-mutant*"], cwd=work, env=env, stdout=f,
                               stderr=subprocess.STDOUT)
        every = sorted(json.loads(meta_file.read_text())["exit_code_by_key"])
        names = sorted(random.Random(seed).sample(every, min(sample, len(every))))
        sample_file.write_text(json.dumps(names))
    with log.open("a" if sample else "w") as f:
        proc = subprocess.run([str(mutmut), "run", "--max-children", str(max_children), *names],
                              cwd=work, env=env, stdout=f, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"mutmut failed on {module} (exit {proc.returncode}); see {log}")
    return results(module, work, seconds, show)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", help=f"default: all of {', '.join(MODULES)}")
    ap.add_argument("--fresh", action="store_true", help="start from no kept results")
    ap.add_argument("--max-children", type=int, default=2, help="parallel mutants (default 2)")
    ap.add_argument("--report-only", action="store_true",
                    help="re-read the last run's results (after editing docs/mutation.md)")
    ap.add_argument("--quiet", action="store_true", help="do not print the survivors' diffs")
    ap.add_argument("--sample", type=int, default=0,
                    help="test a seeded random sample of this many mutants per module")
    ap.add_argument("--seed", type=int, default=1, help="seed of the sample (default 1)")
    a = ap.parse_args(argv)
    unknown = [m for m in a.modules if m not in MODULES]
    if unknown:
        ap.error(f"unknown module(s) {', '.join(unknown)}; expected {', '.join(MODULES)}")
    scores = []
    for m in a.modules or list(MODULES):
        if a.report_only:
            s = results(m, WORK / m, 0.0, not a.quiet)
        else:
            s = run(m, a.fresh, a.max_children, not a.quiet, a.sample, a.seed)
        scores.append(s)
        print(s.line(), flush=True)
    if len(scores) > 1:
        killed = sum(s.killed for s in scores)
        live = sum(s.total - s.equivalent for s in scores)
        print(f"{'all':10s} {killed / live:6.1%}  killed {killed} / {live} non-equivalent")
    return 0 if all(s.score >= TARGET for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
