"""Time the optimiser: shipped routes, a large synthetic line, and a re-solve.

Targets (issue 4):
- every shipped route builds and solves at 10 GWh/yr in under 2 s;
- on a synthetic line of 30 steps x 10 options x 50 levels x 3 dew-point classes,
  build + solve through Pyomo takes at most 2x the build + solve of the same model
  through highspy's array API (the floor), in the same process;
- that MILP reaches a 1e-4 relative gap in under 60 s;
- a sweep that changes only numbers re-solves without rebuilding the model.

Both builds start from the same `opt.data.numbers` (counted in both) and hand HiGHS
the same matrix in the same order, so the solves follow the same path and the ratio
measures the cost of building through Pyomo. Each figure is printed with its target
and the ratio to it.

Run: `make bench` (all benchmarks) or `.venv/bin/python benchmarks/bench_opt.py`.
"""

from __future__ import annotations

import os
import tempfile
import time

ROUTE_TARGET_S = 2.0
RATIO_TARGET = 2.0
GAP = 1e-4
GAP_TARGET_S = 60.0
SYNTHETIC = dict(n_steps=30, n_options=10, n_levels=50, n_classes=3, seed=7)
CELLS_PER_HOUR = 5000.0


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def shipped_routes() -> None:
    from ssbfab.data import load_shared, resolve_route, route_files
    from ssbfab.opt import optimize

    shared = load_shared()
    routes = [resolve_route(str(p), shared=shared) for p in route_files()]
    optimize(routes[0], 1.0)  # first imports of Pyomo and HiGHS are not model building
    print(f"shipped routes at 10 GWh/yr (target < {ROUTE_TARGET_S:g} s each, build + solve)")
    print(f"{'route':26s} {'build s':>8s} {'solve s':>8s} {'total s':>8s} {'ratio':>6s} "
          f"{'status':>8s} {'$/kWh':>8s}")
    worst = 0.0
    for r in routes:
        t0 = time.perf_counter()
        plan = optimize(r, 10.0)
        total = time.perf_counter() - t0
        worst = max(worst, total)
        s = plan.status
        cost = f"{plan.cost.cost_per_kwh:8.2f}" if plan.cost else f"{'-':>8s}"
        print(f"{r.name:26s} {s.build_s:8.3f} {s.solve_s:8.3f} {total:8.3f} "
              f"{total / ROUTE_TARGET_S:6.2f} {s.status:>8s} {cost}")
    print(f"slowest route: {worst:.3f} s; ratio {worst / ROUTE_TARGET_S:.2f} "
          f"({_verdict(worst < ROUTE_TARGET_S)} target)\n")


def synthetic_line() -> None:
    from ssbfab.data import load_shared
    from ssbfab.opt import OptModel
    from ssbfab.opt.data import Structure, numbers
    from ssbfab.opt.direct import build_highs, solve_highs
    from ssbfab.opt.synthetic import capacity_for, synthetic_route

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        route = synthetic_route(d, SYNTHETIC["n_steps"], SYNTHETIC["n_options"],
                                SYNTHETIC["n_levels"], SYNTHETIC["n_classes"], SYNTHETIC["seed"],
                                cells_per_hour=CELLS_PER_HOUR, machines=(3, 30),
                                shared=load_shared())
        load_s = time.perf_counter() - t0
    cap = capacity_for(route, CELLS_PER_HOUR)
    print(f"synthetic line: {SYNTHETIC['n_steps']} steps x {SYNTHETIC['n_options']} options x "
          f"{SYNTHETIC['n_levels']} levels x {SYNTHETIC['n_classes']} dew-point classes, "
          f"{cap:.3g} GWh/yr, seed {SYNTHETIC['seed']} (route file loaded in {load_s:.1f} s)")

    # the floor: the same numbers, straight into highspy's arrays
    t0 = time.perf_counter()
    st = Structure.of(route)
    nb = numbers(route, st, cap)
    numbers_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    h, _ = build_highs(st, nb)
    direct_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    status, direct_obj, _ = solve_highs(h, time_limit=2 * GAP_TARGET_S, gap=GAP)
    direct_solve = time.perf_counter() - t0
    direct_total = numbers_s + direct_build + direct_solve
    print(f"  highspy arrays: numbers {numbers_s:.2f} s + build {direct_build:.2f} s "
          f"({h.getNumCol()} columns, {h.getNumRow()} rows, {h.getNumNz()} nonzeros) + "
          f"solve {direct_solve:.2f} s = {direct_total:.2f} s; {status}, {direct_obj:.4f} $/kWh")
    del h

    model = OptModel(route)
    t0 = time.perf_counter()
    plan = model.solve(cap, time_limit=2 * GAP_TARGET_S, gap=GAP)
    pyomo_total = time.perf_counter() - t0
    s = plan.status
    print(f"  Pyomo (persistent highs): build + hand-off {s.build_s:.2f} s + solve "
          f"{s.solve_s:.2f} s = {pyomo_total:.2f} s (with reading the plan back); {s.status}, "
          f"{s.objective:.4f} $/kWh, gap {s.gap:.2e}")
    ratio = pyomo_total / direct_total
    print(f"  Pyomo / highspy build + solve: {ratio:.2f} (target <= {RATIO_TARGET:g}: "
          f"{_verdict(ratio <= RATIO_TARGET)})")
    print(f"  time to a {GAP:g} gap through Pyomo: {pyomo_total:.1f} s; ratio "
          f"{pyomo_total / GAP_TARGET_S:.2f} to the {GAP_TARGET_S:g} s target "
          f"({_verdict(s.status == 'optimal' and pyomo_total < GAP_TARGET_S)})")
    if s.objective is not None:
        print(f"  same optimum both ways: |Δ| = {abs(s.objective - direct_obj):.2e} $/kWh "
              f"(each within the {GAP:g} gap)")

    # a sweep step: new target and a new price, same model, numbers pushed in place
    t0 = time.perf_counter()
    again = model.solve(cap * 1.1, time_limit=2 * GAP_TARGET_S, gap=GAP,
                        prices={"syn_powder": 30.0})
    resolve_total = time.perf_counter() - t0
    a = again.status
    print(f"  re-solve without rebuild (target +10 %, a new material price): push numbers "
          f"{a.build_s:.2f} s + solve {a.solve_s:.2f} s = {resolve_total:.2f} s; build of the "
          f"first solve was {s.build_s:.2f} s ({s.build_s / max(a.build_s, 1e-9):.0f}x); "
          f"{a.status}, {a.objective:.4f} $/kWh")


def main() -> None:
    print(f"ssbfab optimiser benchmark ({os.cpu_count()} cores)\n")
    shipped_routes()
    synthetic_line()


if __name__ == "__main__":
    main()
