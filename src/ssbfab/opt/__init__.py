"""The optimiser: equipment counts, options, setting levels and dry-room class that
minimise cost per kWh of good cells, as an exact MILP (Pyomo, solved by HiGHS).

    from ssbfab.opt import optimize, OptModel, Plan
    plan = optimize(route, 10.0)                 # one solve
    model = OptModel(route)                      # build once ...
    plans = [model.solve(c) for c in (5, 10, 20)]  # ... re-solve with new numbers
    plan.lines, plan.config                      # identical lines, and one line's plan

Parts: `data` (index sets and every number, from `ssbfab.cost`'s coefficients),
`build` (the Pyomo model by named functions), `solve` (HiGHS, polishing, Plan),
`explain` (why there is no plan), `plan` (the result objects). The same model built
straight through highspy's arrays, the floor the benchmark measures Pyomo against,
lives with the benchmark (benchmarks/highs_direct.py), not here.
"""

from .plan import LineTry, Plan, SolveStatus, StepRow
from .solve import OptModel, optimize

__all__ = ["LineTry", "OptModel", "Plan", "SolveStatus", "StepRow", "optimize"]
