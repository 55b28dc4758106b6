"""Time `ssbfab compare` with its defaults, per route and per phase.

Target (issue 5): the whole default comparison in under 3 minutes on the 2-core
machine, replications using both cores. Prints wall time per route and phase
(optimise, simulate, report) and the ratio of the total to the 180 s target.

Issue 11: `--capacity-gwh 50` (a 50 GWh/yr plant per route, every plan certified by
simulation) must also finish in under 3 minutes.

Run: `make bench` (all benchmarks) or `.venv/bin/python benchmarks/bench_compare.py
[--capacity-gwh 50] [--workers 1]`. The machine may be shared: the load average is
printed, and with `--workers 1` (every replication in this process) the CPU time too,
which the load does not inflate. Per route it prints the replications each iteration's
certification used (`4+8`: 4 for the first plan, 8 for the second).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

TARGET_S = 180.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--capacity-gwh", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=None,
                    help="processes for replications (1: all in this process, so that its "
                         "CPU time is the whole work; default: the simulator's choice)")
    args = ap.parse_args()
    from ssbfab.comparison import compare

    load0 = os.getloadavg()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    with tempfile.TemporaryDirectory() as d:
        result = compare(capacity_gwh=args.capacity_gwh, out=os.path.join(d, "cmp"),
                         workers=args.workers)
    total = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    print(f"ssbfab compare ({args.capacity_gwh:g} GWh/yr, 120 days, 4 to 32 reps, "
          f"{os.cpu_count()} cores; load average {load0[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after)")
    print(f"{'route':26s} {'optimise s':>10s} {'simulate s':>10s} {'report s':>9s} "
          f"{'iterations':>10s} {'reps':>12s} {'certified':>9s}")
    for name, t in result.timings.items():
        loop = result.loops[name]
        # replications per iteration (the certification's sequential looks)
        reps = "+".join(str(it.reps) for it in loop.iterations)
        print(f"{name:26s} {t['optimise_s']:10.1f} {t['simulate_s']:10.1f} "
              f"{t.get('report_s', 0.0):9.1f} {len(loop.iterations):10d} {reps:>12s} "
              f"{str(loop.converged):>9s}")
    if args.workers == 1:
        # every replication ran in this process: its CPU time is the whole work, which a
        # shared machine's load does not inflate; on two idle cores the replications
        # would take about half their share of it
        sim = sum(t["simulate_s"] for t in result.timings.values())
        print(f"CPU time: {cpu:.1f} s in one process (wall {total:.1f} s at this load); "
              f"on two idle cores about {cpu - sim * cpu / total / 2:.0f} s")
    certified = sum(loop.converged for loop in result.loops.values())
    print(f"certified: {certified} of {len(result.loops)} routes (target: all)")
    print(f"total wall time: {total:.1f} s; target {TARGET_S:.0f} s; "
          f"ratio {total / TARGET_S:.2f} ({'meets' if total <= TARGET_S else 'MISSES'} target)")


if __name__ == "__main__":
    main()
