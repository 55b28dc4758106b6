"""Benchmark: the stochastic roadmap's extensive form and progressive hedging, and how
they grow with the tree (issue 14's performance section).

The roadmap is the shipped example studies/roadmaps/uncertain.yaml (15 years, 2026-2040
in three-year periods, three routes, four segments, endogenous learning of the sulfide
route; --step 1 or 2 for finer periods) with generated trees of 3 branches per stage:

    9 scenarios:  stages 2026, 2029 (premium EV demand), 2032 (Li2S price)
   27 scenarios:  ... and 2035 (robots demand)
   81 scenarios:  ... and 2038 (mass EV demand)
(with --step 2 the stage years are the nearest period years: 2028, 2032, 2036, 2038).

For each tree: the extensive form on HiGHS to the target gap (wall and CPU seconds, the
gap reached), and, with --ph, progressive hedging on --ranks MPI ranks (needs the `mpi`
extra): wall seconds, its objective against the extensive form's, its gap.
Only the stochastic programme itself (RP) is timed, not the answers built on it (EEV,
EVPI, reserve: each is one more solve of the same size).

    python benchmarks/bench_stochastic.py                  # 9 and 27 scenarios, EF only
    python benchmarks/bench_stochastic.py --sizes 9,27,81 --ph --ranks 2   # ~15 min, mpi extra

(81 scenarios is left to --sizes: about 4-5 minutes each for the EF and PH on an idle
machine, which `make bench` should not spend by default.)

Targets: the 27-scenario extensive form to a 0.5 % gap in under 120 s on the 2-core
machine. CPU seconds are printed too: on a shared machine the wall time is what the
other jobs leave.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
EXAMPLE = ROOT / "studies" / "roadmaps" / "uncertain.yaml"
TARGET_S, TARGET_GAP = 120.0, 0.005

INPUTS = [  # (stage year wanted, input, distribution of its factor)
    (2029, "segments.premium_ev.demand", {"distribution": "lognormal", "median": 1,
                                          "sigma": 0.4}),
    (2032, "prices.Li2S", {"distribution": "triangular", "low": 0.3, "mode": 1, "high": 2}),
    (2035, "segments.robots.demand", {"distribution": "uniform", "low": 0.3, "high": 1.7}),
    (2038, "segments.mass_ev.demand", {"distribution": "uniform", "low": 0.7, "high": 1.3}),
]


def tree_file(n_scenarios: int, folder: Path, time_limit: float, step: int) -> Path:
    """The example with a generated tree of 3 branches per stage and n scenarios."""
    k = {9: 2, 27: 3, 81: 4}[n_scenarios]
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["periods"]["step"] = step
    years = list(range(doc["periods"]["start"], doc["periods"]["end"] + 1, step))
    chosen = []
    for y, name, dist in INPUTS[:k]:  # the nearest later period year not yet a stage
        free = [x for x in years[1:] if x not in {c[0] for c in chosen}]
        chosen.append((min(free, key=lambda x: (abs(x - y), x)), name, dist))
    stages = sorted({years[0], *(y for y, _, _ in chosen)})
    doc["uncertainty"] = {
        "stages": stages, "gap": TARGET_GAP, "time_limit": time_limit,
        "generate": {"seed": 14, "branches": 3,
                     "inputs": {name: {**dist, "stage": y} for y, name, dist in chosen}}}
    path = folder / f"tree{n_scenarios}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="9,27", help="scenario counts among 9, 27, 81")
    ap.add_argument("--ph", action="store_true", help="also progressive hedging (mpi extra)")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=600.0, help="seconds per solve")
    ap.add_argument("--step", type=int, default=3, help="years per period (shipped: 3)")
    args = ap.parse_args()

    from ssbfab.roadmap.load import load_roadmap
    from ssbfab.roadmap.solve import designs_for
    from ssbfab.roadmap.stochastic import Job, make_problem, rp_groups, solve_job_extensive

    # a shared machine: the wall times below are what the other jobs leave
    print("load average (1, 5, 15 min) at the start: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in args.sizes.split(",")]:
            lr = load_roadmap(tree_file(n, Path(tmp), args.time_limit, args.step))
            designs = designs_for(lr)
            t0 = time.perf_counter()
            problem, tree, _ = make_problem(lr, designs)
            build_s = time.perf_counter() - t0
            job = Job("rp", rp_groups(tree))
            c0, t0 = time.process_time(), time.perf_counter()
            ef = solve_job_extensive(problem, job)
            ef_wall, ef_cpu = time.perf_counter() - t0, time.process_time() - c0
            row = {"scenarios": len(tree.scenarios), "data_s": build_s, "ef_wall": ef_wall,
                   "ef_cpu": ef_cpu, "ef_status": ef.status, "ef_gap": ef.gap,
                   "ef_obj": ef.objective}
            print(f"{n:3d} scenarios: data {build_s:5.1f} s; extensive form {ef.status}, "
                  f"gap {_pct(ef.gap)}, {ef_wall:6.1f} s wall, {ef_cpu:6.1f} s CPU, "
                  f"objective {_musd(ef.objective)}", flush=True)
            if args.ph:
                from ssbfab.roadmap.ph import run_ph

                c0, t0 = cpu_children(), time.perf_counter()
                res, _ = run_ph(problem, [job], args.ranks, lambda m: None)
                ph = res["rp"]
                row.update(ph_wall=time.perf_counter() - t0, ph_cpu=cpu_children() - c0,
                           ph_status=ph.status, ph_gap=ph.gap, ph_obj=ph.objective,
                           ph_iters=ph.extra.get("iterations"))
                same = ph.ok and ef.ok and ph.first == ef.first
                diff = (ph.objective - ef.objective) / abs(ef.objective) if ph.ok and ef.ok \
                    else float("nan")
                print(f"      PH on {args.ranks} ranks: {ph.status}, "
                      f"{ph.extra.get('iterations')} iterations, gap {_pct(ph.gap)}, "
                      f"{row['ph_wall']:6.1f} s wall, {row['ph_cpu']:6.1f} s CPU (ranks), "
                      f"objective {_musd(ph.objective)} ({diff:+.3%} vs EF), first stage "
                      f"{'= EF' if same else '!= EF'}", flush=True)
            rows.append(row)
    print()
    print("scenarios  EF wall s  EF CPU s  EF gap   " + ("PH wall s  PH/EF obj" if args.ph
                                                          else ""))
    for r in rows:
        line = (f"{r['scenarios']:9d}  {r['ef_wall']:9.1f}  {r['ef_cpu']:8.1f}  "
                f"{_pct(r['ef_gap']):>7}")
        if "ph_wall" in r and r["ph_obj"] is not None and r["ef_obj"] is not None:
            line += f"  {r['ph_wall']:9.1f}  {r['ph_obj'] / r['ef_obj']:9.5f}"
        print(line)
    for r in rows:
        if r["scenarios"] == 27:
            ok = r["ef_status"] == "optimal" and r["ef_wall"] < TARGET_S
            print(f"\ntarget (27 scenarios, EF to {TARGET_GAP:.1%} gap in < {TARGET_S:.0f} s): "
                  f"{r['ef_wall']:.0f} s wall = {r['ef_wall'] / TARGET_S:.2f} x target "
                  f"({r['ef_cpu'] / TARGET_S:.2f} x in CPU seconds), gap "
                  f"{_pct(r['ef_gap'])} -> {'met' if ok else 'NOT met'}")
    print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"growth {a['scenarios']} -> {b['scenarios']} scenarios "
              f"({b['scenarios'] / a['scenarios']:.0f}x): EF wall x"
              f"{b['ef_wall'] / a['ef_wall']:.1f}, CPU x{b['ef_cpu'] / max(a['ef_cpu'], 1e-9):.1f}"
              + (f", PH wall x{b['ph_wall'] / a['ph_wall']:.1f}" if "ph_wall" in a else ""))
    return 0


def _pct(g) -> str:
    return "-" if g is None else f"{g:.2%}"


def _musd(v) -> str:
    return "-" if v is None else f"{v / 1e6:,.1f} MUSD"


if __name__ == "__main__":
    sys.exit(main())
