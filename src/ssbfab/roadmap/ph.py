"""Progressive hedging of a roadmap's scenario tree with mpi-sppy, on MPI ranks.

The driver (`run_ph`, called by `solve_stochastic(..., solver="ph")`) writes the problem
(the scenarios' PlanningData, the tree, the jobs) to a temporary folder and starts

    mpiexec -n RANKS python -m ssbfab.roadmap.ph PROBLEM.pkl RESULT.pkl

Every rank builds the planner's MILP of its own scenarios (`model.build_model`); mpi-sppy
runs PH on them: the integer decisions of each tree node are its non-anticipative
variables, the proximal term is linearised (HiGHS solves MILPs, not MIQPs), rho is
proportional to each decision's objective coefficient (mpi-sppy's CoeffRho). CVaR adds
its free variable eta to the root node and a shortfall per scenario, as in the
extensive form. When PH stops (converged, or at its iteration limit) a few whole-line
plans are held in every scenario and every scenario re-solved: the consensus rounded, and
plans taking each node's decisions from one of its scenarios; the best is the answer,
and its objective (E[NPV] + weight·CVaR, exact) the inner bound (the forced-reserve
and the reserve cases also try the first stages of the RP and the EEV with a reserve line
added, or with the reserve's route removed, and keep the best); the outer bound is the
best of PH's trivial bound (no non-anticipativity)
and its Lagrangian bound from the final weights; the gap is their distance.

A job whose first stage is split by what is known (EVPI of one input: scenarios with a
different value of that input may decide differently from the start) gets an artificial
root holding only eta (fixed at 0 without risk), so that mpi-sppy's single-root tree
describes it.

Rank layout: mpi-sppy's own (contiguous scenarios per rank, in tree order). Across the
nodes of a cluster: `SSBFAB_MPIEXEC` gives the launcher (e.g. "mpiexec -f hosts" or
"srun --mpi=pmi2"; `-n RANKS` is appended) and `SSBFAB_PH_DIR` a folder every node sees;
see docs/roadmap.md.
"""

from __future__ import annotations

import math
import os
import pickle
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable
from pathlib import Path

import pyomo.environ as pyo

from .stochastic import (
    Case,
    Job,
    JobResult,
    Problem,
    decision_keys,
    decisions,
    first_stage_key,
    reads_back,
    restrict,
    risk_objective,
    scenario_report,
    shared_bounds,
    solve_alone,
    value_expr,
    widen,
)

MARK = "@ssbfab "  # lines the driver forwards as progress
MPIEXEC_ENV = "SSBFAB_MPIEXEC"  # launcher command, e.g. "mpiexec -f hosts" or "srun --mpi=pmi2"
DIR_ENV = "SSBFAB_PH_DIR"  # where the problem file goes (shared by all nodes on a cluster)

PH_OPTIONS = {
    "iterations": 60,  # PH iteration limit
    "convthresh": 1e-4,  # mpi-sppy's convergence metric (mean |x - xbar|) to stop at
    "rho_multiplier": 0.2,  # rho = multiplier x |objective coefficient| (MUSD per line)
    "default_rho": 1.0,
}


# ----------------------------------------------------------------------------- the driver


def mpi_available(python: str | None = None) -> str:
    """'' when the `mpi` extra is importable by `python` (default: this one), else why."""
    python = python or sys.executable
    code = "import mpi4py, mpisppy; from mpi4py import MPI"
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return "" if r.returncode == 0 else (r.stderr.strip().splitlines() or ["?"])[-1]


def find_mpiexec(python: str | None = None) -> str | None:
    """mpiexec next to the Python (the mpich wheel installs it there), else on PATH."""
    here = Path(python or sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def check_ph(ranks: int, scenarios: int | None = None) -> None:
    """InputError (an argument) unless PH can run on `ranks` ranks for that many
    scenarios here: at least 1 rank, at most one per scenario, the `mpi` extra installed."""
    from ..errors import InputError, Problem

    if ranks < 1:
        raise InputError(Problem("arguments", None, "--ranks",
                                 f"expected at least 1 MPI rank, found {ranks}"))
    if scenarios is not None and ranks > scenarios:
        raise InputError(Problem("arguments", None, "--ranks",
                                 f"{ranks} ranks for {scenarios} scenarios; expected at most "
                                 "one rank per scenario"))
    why = mpi_available()
    if why:
        raise InputError(Problem("arguments", None, "--solver",
                                 "ph needs mpi-sppy, mpi4py and an MPI runtime, not installed "
                                 f"here: pip install -e '.[mpi]' ({why})"))


def launcher_of(mpiexec: str | None = None) -> list[str]:
    """The MPI launcher: `mpiexec`, else $SSBFAB_MPIEXEC, else the mpiexec of the mpich
    wheel beside this Python or on PATH (InputError when there is none)."""
    from ..errors import InputError, Problem

    found = find_mpiexec()
    launcher = shlex.split(mpiexec or os.environ.get(MPIEXEC_ENV, "")) or \
        ([found] if found else [])
    if not launcher:
        raise InputError(Problem("arguments", None, "--solver",
                                 "ph: no mpiexec found (pip install -e '.[mpi]' brings one "
                                 f"with the mpich wheel, or set {MPIEXEC_ENV})"))
    return launcher


def run_ph(problem: Problem, jobs: list[Job], ranks: int, say: Callable[[str], None],
           mpiexec: str | None = None, options: dict | None = None
           ) -> tuple[dict[str, JobResult], list]:
    """Run the jobs (and the wait-and-see solves) with PH on `ranks` MPI processes."""
    check_ph(ranks, len(problem.cases))
    launcher = launcher_of(mpiexec)
    # the ranks read the problem from this folder: on a cluster, a shared file system
    with tempfile.TemporaryDirectory(prefix="ssbfab-ph-", dir=os.environ.get(DIR_ENV)) as tmp:
        src, out = Path(tmp) / "problem.pkl", Path(tmp) / "result.pkl"
        src.write_bytes(pickle.dumps((problem, jobs, {**PH_OPTIONS, **(options or {})})))
        cmd = [*launcher, "-n", str(ranks), sys.executable, "-m", "ssbfab.roadmap.ph",
               str(src), str(out)]
        say(f"progressive hedging: {' '.join(launcher)} -n {ranks} ... ({len(jobs)} jobs)")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[2])]
            + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
        log: list[str] = []
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=env) as proc:
            assert proc.stdout is not None  # piped above
            for line in proc.stdout:
                if line.startswith(MARK):
                    say(line[len(MARK):].rstrip())
                else:
                    log.append(line.rstrip())
            rc = proc.wait()
        if rc != 0 or not out.exists():
            tail = "\n".join(log[-30:])
            raise RuntimeError(f"progressive hedging failed (mpiexec exit {rc}):\n{tail}")
        return pickle.loads(out.read_bytes())


# ----------------------------------------------------------------------------- the tree


def ph_tree(problem: Problem, job: Job) -> tuple[list[int], list[list[Hashable]], bool]:
    """The levels of the job's tree that PH must hold together: (stages, their node per
    scenario, artificial root?). Trailing stages in which every scenario is alone carry
    no non-anticipativity and are left to recourse."""
    groups = job.groups
    keep = 0
    for t, gs in enumerate(groups):
        if len(set(gs)) < len(gs):
            keep = t + 1
    stages = list(range(keep))
    levels = [groups[t] for t in stages]
    artificial = bool(levels) and len(set(levels[0])) > 1
    if artificial:
        root: list[Hashable] = ["root"] * len(problem.cases)
        levels = [root, *levels]
        stages = [-1] + stages  # the artificial root decides only eta
    return stages, levels, artificial


def tree_names(levels: list[list[Hashable]]) -> tuple[list[int], list[list[str]], list[str]]:
    """mpi-sppy's names (ROOT, ROOT_0, ROOT_0_1, ... and the leaves) for nested levels:
    (scenario order, node names per scenario in that order, all node names)."""
    S = len(levels[0])
    order: list[int] = []
    names: dict[int, list[str]] = {}
    alln: list[str] = []

    def walk(members: list[int], level: int, name: str, path: list[str]) -> None:
        alln.append(name)
        path = [*path, name]
        if level + 1 == len(levels):
            for k, i in enumerate(members):
                order.append(i)
                names[i] = path
                if len(levels) > 1:
                    alln.append(f"{name}_{k}")  # leaves are named in a multistage tree
            return
        kids: dict[Hashable, list[int]] = {}
        for i in members:
            kids.setdefault(levels[level + 1][i], []).append(i)
        for k, idx in enumerate(kids.values()):
            walk(idx, level + 1, f"{name}_{k}", path)

    walk(list(range(S)), 0, "ROOT", [])
    return order, [names[i] for i in order], alln


# ----------------------------------------------------------------------------- the ranks


def _say(comm, msg: str) -> None:
    if comm.Get_rank() == 0:
        print(MARK + msg, flush=True)


def _scenario_model(problem: Problem, i: int, job: Job, stages: list[int], node_names,
                    node_keys: dict[str, list], node_prob: dict[str, float],
                    artificial: bool, bounds: dict[str, int]):
    """Scenario i's MILP with its mpi-sppy node list (minimising minus the value)."""
    from mpisppy.scenario_tree import ScenarioNode

    case = problem.cases[i]
    m = build(case)
    widen(m, bounds)
    why = restrict(m, case.data, problem, job)
    if why:
        raise _Infeasible(f"scenario {case.name}: {why}")
    dec = decisions(m)
    v = value_expr(m, case.data)
    m.obj.deactivate()
    m.eta = pyo.Var()  # MUSD: CVaR's value at risk (a root decision)
    w, a = problem.weight, problem.alpha
    if w > 0:
        m.shortfall = pyo.Var(domain=pyo.NonNegativeReals)
        m.tail = pyo.Constraint(expr=m.shortfall >= m.eta - v)
        m.ph_obj = pyo.Objective(expr=-(v + w * (m.eta - m.shortfall / (1 - a))))
    else:
        m.eta.fix(0.0)
        m.ph_obj = pyo.Objective(expr=-v)
    m.zero = pyo.Expression(expr=0.0)
    nodes = []
    for level, name in enumerate(node_names):
        t = stages[level]
        vars_ = [m.eta] if level == 0 and (w > 0 or artificial) else []
        if t >= 0:
            keys = node_keys[name]
            missing = [k for k in keys if k not in dec]
            if missing:  # decisions a sibling can make and this scenario cannot: zero
                pad = pyo.Var(range(len(missing)), bounds=(0, 0))
                m.add_component(f"pad_{level}", pad)
                pad.fix(0)
            slot = {k: j for j, k in enumerate(missing)}
            vars_ += [dec[k][1] if k in dec else m.component(f"pad_{level}")[slot[k]]
                      for k in keys]
        parent = node_names[level - 1] if level else None
        cond = node_prob[name] / node_prob[parent] if parent else 1.0
        nodes.append(ScenarioNode(name, cond, level + 1, m.zero, vars_, m,
                                  parent_name=parent))
    m._mpisppy_node_list = nodes
    m._mpisppy_probability = case.probability
    m._ssbfab_value = v
    m._ssbfab_dec = dec
    return m


class _Infeasible(Exception):
    pass


def build(case: Case):
    from .model import build_model

    m = build_model(case.data)
    assert set(decisions(m)) == decision_keys(case.data), \
        "decision_keys() no longer mirrors build_model's decisions"
    return m


def _ph_job(problem: Problem, job: Job, comm, opts: dict) -> JobResult:
    """One job with PH on all ranks; every rank returns the same JobResult."""
    import mpisppy.opt.ph
    import mpisppy.utils.sputils as sputils
    from mpisppy.extensions.coeff_rho import CoeffRho

    t0 = time.perf_counter()
    stages, levels, artificial = ph_tree(problem, job)
    cases = problem.cases
    probs = [c.probability for c in cases]
    if not levels:  # no non-anticipativity at all: every scenario on its own
        return _alone_job(problem, job, comm, t0)
    order, node_names, alln = tree_names(levels)
    # probability of each node; the union of the decisions it holds, in a fixed order
    node_prob: dict[str, float] = {}
    held: dict[str, dict] = {}  # node -> its decisions (a dict keeps their first order)
    stage_of = problem.stage_of
    for pos, i in enumerate(order):
        keys = decision_keys(cases[i].data, with_period=True)
        for level, name in enumerate(node_names[pos]):
            node_prob[name] = node_prob.get(name, 0.0) + probs[i]
            t = stages[level]
            if t >= 0:
                mine = held.setdefault(name, {})
                for k, p in keys.items():
                    if stage_of[p] == t:
                        mine[k] = None
    node_keys = {n: sorted(ks, key=repr) for n, ks in held.items()}
    snames = [f"s{i}" for i in order]
    bounds = shared_bounds(cases)
    pos_of = {f"s{i}": pos for pos, i in enumerate(order)}

    def creator(sname: str):
        i = int(sname[1:])
        return _scenario_model(problem, i, job, stages, node_names[pos_of[sname]], node_keys,
                               node_prob, artificial, bounds)

    gap = problem.gap
    options = {
        "solver_name": "appsi_highs", "PHIterLimit": int(opts["iterations"]),
        "defaultPHrho": float(opts["default_rho"]), "convthresh": float(opts["convthresh"]),
        "verbose": False, "display_timing": False, "display_progress": False,
        "display_convergence_detail": False, "toc": False, "smoothed": 0,
        "asynchronousPH": False, "tee-rank0-solves": False,
        "linearize_proximal_terms": True, "proximal_linearization_tolerance": 1e-2,
        "linearize_binary_proximal_terms": False, "turn_off_names_check": True,
        "time_limit": None,
        "coeff_rho_options": {"multiplier": float(opts["rho_multiplier"])},
        "solver_options_layers": [sputils.solver_options_layer(
            "default", {"mip_rel_gap": gap, "threads": 1,
                        "time_limit": float(problem.time_limit)})],
    }
    try:
        ph = mpisppy.opt.ph.PH(options, snames, creator, None,
                               all_nodenames=alln if len(levels) > 1 else None,
                               mpicomm=comm, extensions=CoeffRho)
    except _Infeasible as exc:
        return JobResult(job.label, False, "infeasible", None, None, None, reason=str(exc))
    conv, _, trivial = ph.ph_main()
    iters = int(getattr(ph, "_PHIter", opts["iterations"]))
    members: dict[str, list[str]] = {}
    for pos, names in enumerate(node_names):
        for ndn in names:
            members.setdefault(ndn, []).append(snames[pos])
    cands = _candidates(ph, comm, members)  # before the bound's solves overwrite them
    bound = None
    try:
        bound = ph.post_solve_bound(solver_options={"mip_rel_gap": gap, "threads": 1},
                                    verbose=False)
    except Exception:  # noqa: BLE001 - a bound is optional; the plan is what matters
        bound = None
    return _evaluate(problem, job, ph, comm, t0, trivial, bound, conv, iters, cands)


def _gather(comm, local: dict) -> dict:
    out: dict = {}
    for part in comm.allgather(local):
        out.update(part)
    return out


def _candidates(ph, comm, members: dict[str, list[str]], n_more: int = 3) -> list[dict]:
    """Plans to try, node by node: the consensus (xbar) rounded to whole lines, and
    plans that take each node's decisions from one of its scenarios (the 1st, 2nd, ...),
    whose own solutions are whole already. Each is non-anticipative by construction."""
    mine, bars = {}, {}
    for sname, s in ph.local_scenarios.items():
        mine[sname] = {nj: var.value for nj, var in s._mpisppy_data.nonant_indices.items()}
        bars.update({nj: s._mpisppy_model.xbars[nj].value
                     for nj in s._mpisppy_data.nonant_indices})
    own, xbar = _gather(comm, mine), _gather(comm, bars)
    out = [{nj: round(v) for nj, v in xbar.items()}]
    for j in range(n_more):
        out.append({(ndn, i): round(own[members[ndn][j % len(members[ndn])]][(ndn, i)])
                    for (ndn, i) in xbar})
    unique = []
    for c in out:
        if c not in unique:
            unique.append(c)
    return unique


def _evaluate(problem: Problem, job: Job, ph, comm, t0: float, trivial, bound, conv,
              iters: int, cands: list[dict]) -> JobResult:
    """Hold each candidate plan in every local scenario, re-solve each scenario, gather,
    and keep the best (the objective computed exactly from the scenarios' values)."""
    from .solve import _solve

    S = len(problem.cases)
    probs = [c.probability for c in problem.cases]
    stage_of = problem.stage_of
    held = {}  # scenario -> the nonants a candidate may fix (not eta, not fixed already)
    for sname, s in ph.local_scenarios.items():
        # mpi-sppy's W and prox terms live on the objective it was given; the value
        # alone is what a held plan is judged by (risk is computed from the values)
        for obj in list(s.component_objects(pyo.Objective, active=True)):
            obj.deactivate()
        s.eval_obj = pyo.Objective(expr=-s._ssbfab_value)
        held[sname] = [(nj, var) for nj, var in s._mpisppy_data.nonant_indices.items()
                       if var is not s.eta and not var.fixed]
    best = None
    tried = 0
    for cand in cands:
        local = {}
        for sname, s in ph.local_scenarios.items():
            i = int(sname[1:])
            for nj, var in held[sname]:
                var.fix(cand[nj])
            status, ok, g = _solve(s, problem.time_limit, problem.gap)
            rep, first, value = None, {}, None
            if ok:
                value = 1e6 * pyo.value(s._ssbfab_value)
                first = {k: round(pyo.value(var)) for k, (p, var) in s._ssbfab_dec.items()
                         if stage_of[p] == 0}
                if reads_back(job.label):
                    rep = scenario_report(problem, problem.cases[i], s, status, g)
            for _, var in held[sname]:
                var.unfix()
            local[i] = (ok, value, rep, first)
        res = _gather(comm, local)
        tried += 1
        if not all(res[i][0] for i in range(S)):
            continue
        values = [res[i][1] for i in range(S)]
        f = risk_objective(values, probs, problem.alpha, problem.weight)
        if best is None or f > best[0]:
            best = (f, values, res)
    dt = time.perf_counter() - t0
    extra = {"iterations": iters, "convergence": conv, "plans_tried": tried}
    if best is None:
        return JobResult(job.label, False, "infeasible", None, None, None, solve_s=dt,
                         reason="no plan from the PH consensus is feasible in every scenario",
                         extra=extra)
    inner, values, res = best
    outers = [-1e6 * b for b in (trivial, bound) if b is not None and math.isfinite(b)]
    outer = min(outers) if outers else None
    gap = (max(0.0, outer - inner) / max(abs(inner), 1e-9)) if outer is not None else None
    firsts = {first_stage_key(res[i][3]) for i in range(S)}
    assert len(firsts) == 1 or job.label.startswith("evpi:"), "first stage differs"
    reps = [res[i][2] for i in range(S)] if reads_back(job.label) else None
    status = "converged" if conv is not None and conv < 1e-3 else "iteration_limit"
    return JobResult(job.label, True, status, gap, inner, values, res[0][3], dt,
                     reports=reps, bound=outer,
                     extra={**extra, "outer_bound": outer, "inner_bound": inner})


def _alone_job(problem: Problem, job: Job, comm, t0: float) -> JobResult:
    """A job without non-anticipativity: the scenarios solved one by one across ranks."""
    rank, size = comm.Get_rank(), comm.Get_size()
    local = {}
    for i, c in enumerate(problem.cases):
        if i % size == rank:
            local[i] = solve_alone(c, problem, job)
    allres = {}
    for part in comm.allgather(local):
        allres.update(part)
    S = len(problem.cases)
    dt = time.perf_counter() - t0
    res = [allres[i] for i in range(S)]
    if not all(x.ok for x in res):
        return JobResult(job.label, False, "infeasible", None, None, None, solve_s=dt)
    probs = [c.probability for c in problem.cases]
    gaps = [x.gap for x in res if x.gap is not None]
    a, w = problem.alpha, problem.weight
    bound = None if any(x.bound is None for x in res) else \
        risk_objective([x.bound for x in res], probs, a, w)
    return JobResult(job.label, True, "optimal", max(gaps) if gaps else None,
                     risk_objective([x.value for x in res], probs, a, w),
                     [x.value for x in res], res[0].first, dt, bound=bound)


def _wait_and_see(problem: Problem, comm) -> list:
    rank, size = comm.Get_rank(), comm.Get_size()
    local = {i: solve_alone(c, problem) for i, c in enumerate(problem.cases)
             if i % size == rank}
    allres = {}
    for part in comm.allgather(local):
        allres.update(part)
    return [allres[i] for i in range(len(problem.cases))]


def reserve_alternatives(problem: Problem, job: Job, results: dict[str, JobResult]
                         ) -> list[tuple[str, Job]]:
    """For a reserve case, first stages to hold instead of PH's own (PH finds it hard to
    agree on *which* period starts a forced line, or to give one up): the first stages of
    the RP and of the EEV, each with one reserve line added in the earliest first-stage
    period that can start it (forced; kept as it is if it has one) or with every line of
    the reserve's route removed (forbidden). (description, job) pairs, without repeats."""
    if job.reserve is None or problem.reserve is None:
        return []
    route, size = problem.reserve
    stage_of = problem.stage_of
    keys = decision_keys(problem.cases[0].data, with_period=True)
    new = sorted((p, k) for k, p in keys.items() if k[0] == "build" and stage_of[p] == 0
                 and k[1].startswith(f"new:{route}:{size:g}:"))
    out: list[tuple[str, Job]] = []
    seen: set[tuple] = set()
    for base in ("rp", "eev"):
        r = results.get(base)
        if r is None or not r.ok:
            continue
        fix = dict(r.first)
        if job.reserve == "force":
            if not any(v and k[0] == "build" and k[1].startswith(f"new:{route}:{size:g}:")
                       for k, v in fix.items()):
                if not new:
                    continue
                fix[new[0][1]] = fix.get(new[0][1], 0) + 1
            what = f"the {base} first stage with a reserve line"
        else:
            fix = {k: (0 if k[0] in ("build", "convert") and _into_route(k) == route else v)
                   for k, v in fix.items()}
            what = f"the {base} first stage without lines of {route}"
        if first_stage_key(fix) in seen:
            continue
        seen.add(first_stage_key(fix))
        out.append((what, Job(job.label, job.groups, fix=fix, reserve=job.reserve)))
    return out


def _into_route(k: tuple) -> str:
    """The route a build or convert decision adds lines to (cohort keys new:ROUTE:...,
    conv:A>B:...)."""
    part = (k[1] if k[0] == "build" else k[2]).split(":")[1]
    return part.split(">")[-1]


def main(argv: list[str] | None = None) -> int:
    """Entry point of every MPI rank: `python -m ssbfab.roadmap.ph PROBLEM RESULT`."""
    from mpi4py import MPI

    argv = sys.argv[1:] if argv is None else argv
    src, out = Path(argv[0]), Path(argv[1])
    comm = MPI.COMM_WORLD
    problem, jobs, opts = pickle.loads(src.read_bytes())
    results: dict[str, JobResult] = {}
    for job in jobs:
        _say(comm, f"progressive hedging: {job.label} on {comm.Get_size()} ranks")
        r = _ph_job(problem, job, comm, opts)
        for what, alt in reserve_alternatives(problem, job, results):
            r2 = _ph_job(problem, alt, comm, opts)
            if r2.ok and (not r.ok or r2.obj > r.obj):
                # r2's bound is for its held first stage only; the reserve case's own
                # PH run gives the bound (if it has one)
                outer = r.extra.get("outer_bound") if r.ok else None
                gap = None if outer is None else \
                    max(0.0, outer - r2.obj) / max(abs(r2.obj), 1e-9)
                r2.bound, r2.gap = outer, gap
                r2.extra = {**r2.extra, "outer_bound": outer, "plan": what}
                r2.solve_s += r.solve_s
                r = r2
        results[job.label] = r
        _say(comm, f"  {job.label}: {r.status}, objective "
                   f"{(r.objective or float('nan')) / 1e6:,.1f} MUSD, gap "
                   f"{'-' if r.gap is None else f'{r.gap:.2%}'}, {r.solve_s:.1f} s"
                   + (f", {r.extra.get('iterations')} iterations" if r.extra else ""))
        if job.label == "rp" and not r.ok:
            break
    _say(comm, "wait-and-see: each scenario alone, across ranks")
    ws = _wait_and_see(problem, comm)
    if comm.Get_rank() == 0:
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps((results, ws)))
        tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
