"""Benchmark: the transition planner on the shipped example.

Target (issue 13): the shipped example (15 years, six routes, four segments, endogenous
learning) builds and solves to a 0.1 % gap in under 60 s on the 2-core machine. Also how
the time grows with the number of periods (5, 10, 15, 30) and of routes (2, 4, 6). Line
designs come from the plant optimiser and are cached (the first run pays for them; the
figure below is the planner's build + solve, the designs are timed separately).

    .venv/bin/python benchmarks/bench_roadmap.py [--gap 0.001] [--time-limit 600] [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

TARGET_S = 60.0
FILE = Path(__file__).resolve().parents[1] / "studies" / "roadmaps" / "transition.yaml"


def variant(lr, *, end=None, routes=None, gap, time_limit):
    from ssbfab.roadmap.schema import Periods

    rm = lr.roadmap
    upd = {"gap": gap, "time_limit": time_limit}
    if end is not None:
        upd["periods"] = Periods(start=rm.periods.start, end=end, step=rm.periods.step)
    if routes is not None:
        upd["routes"] = {r: e for r, e in rm.routes.items() if r in routes}
        upd["owned"] = [o for o in rm.owned if o.route in routes]
        upd["segments"] = {g: s for g, s in rm.segments.items()
                           if any(lr.qualifies[(r, g)] for r in routes)}
    return replace(lr, roadmap=rm.model_copy(update=upd),
                   routes={r: x for r, x in lr.routes.items() if routes is None or r in routes})


def run(lr):
    from ssbfab.roadmap.solve import plan_roadmap

    # wall and CPU seconds: the CPU time of this process depends less on the machine's load
    t, c = time.perf_counter(), time.process_time()
    res = plan_roadmap(lr)
    return time.perf_counter() - t, time.process_time() - c, res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gap", type=float, default=1e-3)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--quick", action="store_true", help="only the headline figure")
    a = ap.parse_args()
    from ssbfab.roadmap.load import load_roadmap
    from ssbfab.roadmap.solve import designs_for

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    lr = load_roadmap(FILE)
    t = time.perf_counter()
    designs_for(lr)
    print(f"line designs (plant optimiser, cached after the first run): "
          f"{time.perf_counter() - t:.1f} s")
    s, cpu, res = run(variant(lr, gap=a.gap, time_limit=a.time_limit))
    gap = f"{100 * res.gap:.3f} %" if res.gap is not None else "n/a"
    print(f"shipped example, 15 years, 6 routes, 4 segments, endogenous learning, gap target "
          f"{100 * a.gap:g} %: {s:.1f} s (CPU {cpu:.1f} s), status {res.status}, gap {gap}, "
          f"NPV {res.npv / 1e6:.2f} MUSD; "
          f"target {TARGET_S:.0f} s, ratio {s / TARGET_S:.2f}")
    if a.quick:
        return
    start = lr.roadmap.periods.start
    for n in (5, 10, 15, 30):
        s, cpu, res = run(variant(lr, end=start + n - 1, gap=a.gap, time_limit=a.time_limit))
        print(f"  {n:2d} periods: {s:7.1f} s (CPU {cpu:6.1f} s)  status {res.status}  gap "
              f"{'n/a' if res.gap is None else f'{100 * res.gap:.3f} %'}")
    order = list(lr.roadmap.routes)
    for k in (2, 4, 6):
        keep = order[:k]
        s, cpu, res = run(variant(lr, routes=keep, gap=a.gap, time_limit=a.time_limit))
        print(f"  {k} routes: {s:7.1f} s (CPU {cpu:6.1f} s)  status {res.status}  gap "
              f"{'n/a' if res.gap is None else f'{100 * res.gap:.3f} %'}")


if __name__ == "__main__":
    main()
