"""Benchmark of study sweeps (issue 6). Run: `.venv/bin/python benchmarks/bench_sweep.py`
(or `make bench`). Prints each figure next to its target and the ratio to it.

The study: 200 optimise-only scenarios (sulfide-lpscl and the liquid baseline x 10 Li2S
prices x 10 labour rates, 10 GWh/yr). Each figure is the wall time of a fresh Python
process, so every variant pays its own imports and first-solve warm-up:

1. plain loop: load the route under the scenario's overrides and call
   `ssbfab.opt.optimize` (threads=1), one scenario after another, no store;
2. `sweep(..., workers=1)`: the study machinery on one local Dask worker (cluster
   start-up, tasks, rows written to DuckDB one by one);
3. `sweep(..., workers=2)`.

Targets: 2 workers <= 0.6 x the 1-worker time; overhead of the machinery over the
plain loop ((1) vs (2), per scenario) < 20 %. The machine's load average is printed:
other processes on the same cores change every figure.

Options: --n N scenarios (default 200, rounded to 2 routes x a square grid),
--serial adds `sweep(..., workers=0)` (the machinery without Dask), --repeat K keeps
the fastest of K runs of each variant. CPU seconds (the process and its children) are
printed too: they show the machinery's own cost when other load distorts wall times.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUTES = ["sulfide-lpscl", "liquid-nmc811-graphite"]

PLAIN = """
import sys, time
from ssbfab.data import resolve_route
from ssbfab.study.scenarios import load_study
from ssbfab.opt import optimize
study = load_study(sys.argv[1])
times = []
for s in study.scenarios():
    t = time.perf_counter()
    route = resolve_route(s.route, study.lines_dir, overrides=s.overrides)
    plan = optimize(route, 10.0, threads=1)
    assert plan.config is not None, plan.status.reason
    times.append(time.perf_counter() - t)
times.sort()
print(times[len(times) // 2])
"""

SWEEP = """
import shutil, sys
from ssbfab.study import sweep, load
if __name__ == "__main__":
    shutil.rmtree(sys.argv[2], ignore_errors=True)  # a fresh store: nothing to skip
    r = sweep(sys.argv[1], out=sys.argv[2], workers=int(sys.argv[3]))
    assert r.ok == r.total, (r.failed, r.errors[:1])
    s = load(sys.argv[2])["seconds"].sort_values().to_numpy()
    print(s[len(s) // 2])
"""


def study_file(folder: Path, n: int) -> Path:
    k = max(1, round(math.sqrt(n / len(ROUTES))))
    prices = [f"{0.5 + 3.0 * i / max(k - 1, 1):.4f}e6 CNY/t" for i in range(k)]
    labour = [f"{15 + 25 * i / max(k - 1, 1):.3f} USD/h" for i in range(k)]
    p = folder / "bench.yaml"
    p.write_text(textwrap.dedent(f"""\
        study: bench
        job: optimize
        lines: {ROOT / "lines"}
        routes: {ROUTES}
        options: {{capacity_gwh: 10}}
        grid:
          materials.Li2S.price: {prices}
          economics.labour_rate: {labour}
        """))
    return p


def timed(args: list[str], repeat: int = 1) -> tuple[float, float, float]:
    """(wall s, CPU s of the process and its children, median seconds per scenario it
    printed); the fastest of `repeat` runs (other load on the machine only slows)."""
    best = None
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode:
            sys.exit(f"failed: {' '.join(args[:2])}\n{out.stderr}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        run = (wall, cpu, float(out.stdout.strip().splitlines()[-1]))
        best = run if best is None or run[0] < best[0] else best
    return best


def line(name: str, value: float, unit: str, target: float | None = None) -> None:
    if target is None:
        print(f"{name:<52} {value:>10.3f} {unit}")
        return
    ratio = value / target
    print(f"{name:<52} {value:>10.3f} {unit:<6} target <= {target:g}   "
          f"ratio to target {ratio:.2f}  {'OK' if ratio <= 1 else 'MISSED'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--serial", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="keep the fastest of N runs of each")
    a = ap.parse_args()
    try:
        import ssbfab.opt  # noqa: F401
    except ImportError:
        sys.exit("ssbfab.opt is not available: the benchmark needs the optimiser")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        f = study_file(d, a.n)
        from ssbfab.study.scenarios import load_study

        n = len(load_study(f).scenarios())
        print(f"{n} optimise-only scenarios ({' and '.join(ROUTES)})")
        r = a.repeat
        plain, plain_cpu, plain_med = timed(["-c", PLAIN, str(f)], r)
        line("plain loop (load + optimize), wall", plain, "s")
        line("plain loop, CPU (process)", plain_cpu, "s")
        line("plain loop, median per scenario", plain_med, "s")
        if a.serial:
            w0, w0_cpu, _ = timed(["-c", SWEEP, str(f), str(d / "w0"), "0"], r)
            line("sweep, in-process (workers=0), wall", w0, "s")
            line("  overhead over the plain loop (wall)", 100 * (w0 - plain) / plain, "%", 20.0)
        w1, w1_cpu, w1_med = timed(["-c", SWEEP, str(f), str(d / "w1"), "1"], r)
        line("sweep, 1 worker, wall", w1, "s")
        line("sweep, 1 worker, CPU (driver + scheduler + worker)", w1_cpu, "s")
        line("sweep, 1 worker, median per scenario on the worker", w1_med, "s")
        line("overhead of the machinery over the plain loop (wall)", 100 * (w1 - plain) / plain,
             "%", 20.0)
        line("  per scenario (wall)", 1000 * (w1 - plain) / n, "ms")
        line("  the same in CPU time", 100 * (w1_cpu - plain_cpu) / plain_cpu, "%")
        w2, w2_cpu, _ = timed(["-c", SWEEP, str(f), str(d / "w2"), "2"], r)
        line("sweep, 2 workers, wall", w2, "s")
        line("2 workers / 1 worker (wall)", w2 / w1, "x", 0.6)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
