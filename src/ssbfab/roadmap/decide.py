"""Decisions under uncertainty, end to end: a roadmap's scenario tree solved by the
chosen solver (the extensive form on HiGHS, `ssbfab.roadmap.stochastic`, or progressive
hedging on MPI ranks, `ssbfab.roadmap.ph`) and the answers a board asks for. Kept apart
from both solvers so that neither imports the other."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from ..errors import InputError
from ..errors import Problem as Bad
from .load import LoadedRoadmap, load_roadmap
from .ph import check_ph, run_ph
from .solve import designs_for
from .stochastic import (
    Case,
    Job,
    StochasticResult,
    answers,
    informed_groups,
    make_problem,
    rp_groups,
    run_extensive,
    scenario_data,
    solve_alone,
)
from .tree import build_tree, check_reserve, mean_state


def solve_stochastic(lr: LoadedRoadmap | str, solver: str = "extensive", ranks: int = 2,
                     progress: Callable[[str], None] | None = None,
                     designs: dict | None = None, mpiexec: str | None = None
                     ) -> StochasticResult:
    """Solve a roadmap's scenario tree and compute the answers (module docstring).

    `solver`: "extensive" (HiGHS on the extensive form) or "ph" (progressive hedging
    with mpi-sppy on `ranks` MPI processes; needs the `mpi` extra). `designs`: line
    designs by (route, size) (default: the plant optimiser's, cached). Raises InputError
    for a bad tree and NoPlanError when a scenario has no feasible roadmap."""

    lr = lr if isinstance(lr, LoadedRoadmap) else load_roadmap(lr)
    say = progress or (lambda _msg: None)
    if solver not in ("extensive", "ph"):
        raise InputError(Bad("arguments", None, "--solver",
                             f"expected extensive or ph, found {solver!r}"))
    tree = build_tree(lr)
    check_reserve(lr)
    if solver == "ph":  # before any solve: the arguments and the mpi extra
        check_ph(ranks, len(tree.scenarios))
    designs = designs if designs is not None else designs_for(lr, progress)
    problem, tree, states = make_problem(lr, designs, tree)
    say(f"stochastic: {len(tree.scenarios)} scenarios, {len(tree.stages)} stages")
    # the expected-value plan: the same roadmap with every input at its expectation
    probs = [c.probability for c in problem.cases]
    ev_state = mean_state(states, probs)
    ev_case = Case("expected value", 1.0, scenario_data(lr, designs, ev_state),
                   {k.split(".")[1]: v for k, v in ev_state.items() if k.endswith(".yield")})
    say("expected-value plan")
    ev = solve_alone(ev_case, problem)
    jobs = [Job("rp", rp_groups(tree))]
    if ev.ok:
        jobs.append(Job("eev", rp_groups(tree), fix=ev.first))
    for name in tree.inputs:
        g = informed_groups(tree, name)
        if _partition(g) != _partition(jobs[0].groups):
            jobs.append(Job(f"evpi:{name}", g))
    if problem.reserve:
        jobs += [Job("reserve:force", rp_groups(tree), reserve="force"),
                 Job("reserve:forbid", rp_groups(tree), reserve="forbid")]
    if solver == "ph":
        results, ws = run_ph(problem, jobs, ranks, say, mpiexec=mpiexec)
    else:
        results, ws = run_extensive(problem, jobs, say)
    return answers(lr, tree, problem, results, ws, ev, solver, ranks)


def _partition(groups: list[list[Hashable]]) -> list[tuple]:
    """A grouping up to the names of its nodes: per stage, which scenarios share a node."""
    out = []
    for gs in groups:
        first: dict[Hashable, int] = {}
        out.append(tuple(first.setdefault(g, i) for i, g in enumerate(gs)))
    return out

__all__ = ["solve_stochastic"]
