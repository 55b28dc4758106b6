"""Time `ssbfab compare` with its defaults, per route and per phase.

Target (issue 5): the whole default comparison in under 3 minutes on the 2-core
machine, replications using both cores. Prints wall time per route and phase
(optimise, simulate, report) and the ratio of the total to the 180 s target.

Run: `make bench` (all benchmarks) or `.venv/bin/python benchmarks/bench_compare.py`.
"""

from __future__ import annotations

import os
import tempfile
import time

TARGET_S = 180.0


def main() -> None:
    from ssbfab.comparison import compare

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        result = compare(capacity_gwh=2.0, out=os.path.join(d, "cmp"))
    total = time.perf_counter() - t0
    print(f"ssbfab compare (defaults: 2 GWh/yr, 120 days, 4 reps, {os.cpu_count()} cores)")
    print(f"{'route':26s} {'optimise s':>10s} {'simulate s':>10s} {'report s':>9s} "
          f"{'iterations':>10s} {'converged':>9s}")
    for name, t in result.timings.items():
        loop = result.loops[name]
        print(f"{name:26s} {t['optimise_s']:10.1f} {t['simulate_s']:10.1f} "
              f"{t.get('report_s', 0.0):9.1f} {len(loop.iterations):10d} "
              f"{str(loop.converged):>9s}")
    print(f"total wall time: {total:.1f} s; target {TARGET_S:.0f} s; "
          f"ratio {total / TARGET_S:.2f} ({'meets' if total <= TARGET_S else 'MISSES'} target)")


if __name__ == "__main__":
    main()
