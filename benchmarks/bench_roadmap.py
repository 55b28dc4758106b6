"""Benchmark: the transition planner on the shipped example.

Target (issue 13): the shipped example (15 years, six routes, four segments, endogenous
learning) builds and solves to a 0.1 % gap in under 60 s on the 2-core machine. Also how
the time grows with the number of periods (5, 10, 15, 30) and of routes (2, 4, 6). Line
designs come from the plant optimiser and are cached (the first run pays for them; the
figure below is the planner's build + solve, the designs are timed separately).

    .venv/bin/python benchmarks/bench_roadmap.py [--gap 0.001] [--time-limit 600] [--quick]
        [--periods 5,10,15,30] [--routes 2,4,6]
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
    keep = set(rm.routes) if routes is None else set(routes)
    return replace(lr, roadmap=rm.model_copy(update=upd),
                   routes={r: x for r, x in lr.routes.items() if r in keep},
                   conversions={ab: c for ab, c in lr.conversions.items()
                                if ab[0] in keep and ab[1] in keep})


def run(lr):
    from ssbfab.roadmap.solve import plan_roadmap

    # wall and CPU seconds: the CPU time of this process depends less on the machine's load
    t, c = time.perf_counter(), time.process_time()
    res = plan_roadmap(lr)
    return time.perf_counter() - t, time.process_time() - c, res


def size(lr) -> tuple[int, int]:
    """Cohorts and integer variables of the planner's MILP for a roadmap."""
    import pyomo.environ as pyo

    from ssbfab.roadmap.data import compile_data
    from ssbfab.roadmap.model import build_model
    from ssbfab.roadmap.solve import designs_for

    d = compile_data(lr, designs_for(lr))
    m = build_model(d)
    ints = sum(1 for v in m.component_data_objects(pyo.Var) if v.is_integer())
    return len(d.cohorts), ints


def row(label, lr, base_s=None) -> float:
    cohorts, ints = size(lr)
    s, cpu, res = run(lr)
    gap = "n/a" if res.gap is None else f"{100 * res.gap:.3f} %"
    growth = f"{s / base_s:6.2f}" if base_s else "     -"
    print(f"{label:<22} {cohorts:>7} {ints:>8} {s:>8.1f} {cpu:>7.1f} {res.status:>9} {gap:>9} "
          f"{res.npv / 1e6:>10.1f} {s / TARGET_S:>6.2f} {growth}", flush=True)
    return s


HEADER = (f"{'case':<22} {'cohorts':>7} {'integers':>8} {'wall s':>8} {'CPU s':>7} "
          f"{'status':>9} {'gap':>9} {'NPV MUSD':>10} {'ratio':>6} {'growth':>6}")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gap", type=float, default=1e-3)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--quick", action="store_true", help="only the headline figure")
    ap.add_argument("--periods", default="5,10,15,30", help="horizons (years) to time")
    ap.add_argument("--routes", default="2,4,6", help="numbers of routes to time")
    ap.add_argument("--base-wall", type=float, default=None,
                    help="skip the shipped example; growth relative to this wall time (s)")
    a = ap.parse_args()
    from ssbfab.roadmap.load import load_roadmap
    from ssbfab.roadmap.solve import designs_for

    print(f"load average {load()} (1, 5, 15 min; 2 cores)", flush=True)
    lr = load_roadmap(FILE)
    t = time.perf_counter()
    designs_for(lr)
    print(f"line designs (plant optimiser, cached after the first run): "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    print(f"target: the shipped example (15 years, 6 routes, 4 segments, endogenous learning) "
          f"to a {100 * a.gap:g} % gap in {TARGET_S:.0f} s; ratio = wall / target, growth = "
          f"wall / the shipped example's; time limit {a.time_limit:g} s per solve", flush=True)
    print(HEADER)
    print("-" * len(HEADER))
    opts = {"gap": a.gap, "time_limit": a.time_limit}
    base = a.base_wall if a.base_wall else row("shipped example", variant(lr, **opts))
    if a.quick:
        print(f"load average {load()} at the end")
        return
    rm = lr.roadmap
    years, order = len(rm.periods.years), list(rm.routes)
    for n in (int(x) for x in a.periods.split(",") if x):
        if n == years:  # the shipped example itself
            print(f"{n} periods, {len(order)} routes: the shipped example (above)")
            continue
        row(f"{n} periods, {len(order)} routes",
            variant(lr, end=rm.periods.start + n - 1, **opts), base)
    for k in (int(x) for x in a.routes.split(",") if x):
        if k == len(order):
            print(f"{years} periods, {k} routes: the shipped example (above)")
            continue
        row(f"{years} periods, {k} routes", variant(lr, routes=order[:k], **opts), base)
    print(f"load average {load()} at the end")


if __name__ == "__main__":
    main()
