"""The transition planner's MILP (Pyomo, solved by HiGHS), built from `PlanningData`.

Decisions (integers): lines of each route and size started per period (`build`), lines
of one route converted into another (`convert`, per source cohort and period), lines
retired early (`retire`). Lines operating follow from them:

    operating[c, p] = n_c − Σ_{q ≤ p} (retire[c, q] + Σ_targets convert[c, t, q])

with n_c = build (new cohorts), Σ convert into it (converted cohorts) or the lines owned.
A cohort produces only in its periods (from its start to the end of its life), at most
size × ramp share × operating lines of good GWh per year, and what it makes is sold to
the segments its cells qualify for, up to their demand (or exactly their demand when
they must be served).

Objective: NPV = Σ_p discounted (revenue − fixed − variable cost − learning premium)
− discounted capex + discounted remaining book value at the horizon's end; or the
discounted cost of serving the demand (the same terms without revenue). Endogenous
learning adds, per route, a piecewise-linear cumulative-cost curve over the company's
own cumulative output with binaries (exact at its breakpoints).

Constraint and variable names carry route, cohort and period, so a solver message maps
back to the roadmap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyomo.environ as pyo

from .data import PlanningData


@dataclass
class Fixed:
    """Integer decisions held fixed (myopic mode, or a check of a given plan)."""

    build: dict[str, int]
    convert: dict[tuple[str, str, int], int]
    retire: dict[tuple[str, int], int]


def build_model(d: PlanningData, last: int | None = None, fixed: Fixed | None = None,
                slack: bool = False) -> pyo.ConcreteModel:
    """The MILP over periods 0..last (default all). `slack` adds unmet demand at a
    high price to find which segment and period make a strict model infeasible."""
    P = len(d.years) if last is None else last + 1
    periods = list(range(P))
    m = pyo.ConcreteModel(name=f"roadmap-{d.name}")
    coh = {c.key: c for c in d.cohorts if c.decided < P and (c.start < P)}
    m.C = pyo.Set(initialize=list(coh), ordered=True)
    new = [k for k, c in coh.items() if c.kind == "new"]
    # no more lines of a route than its segments' largest demand could use
    def most(k):
        c = coh[k]
        peak = max(sum(d.demand[(g, p)] for g in d.segments if d.qualifies[(c.route, g)])
                   for p in periods)
        return math.ceil(peak / (c.size * min(d.ramp.get((k, p), 1.0) for p in periods
                                              if (k, p) in d.ramp)) - 1e-9)

    m.build = pyo.Var(new, domain=pyo.NonNegativeIntegers, bounds=lambda m, k: (0, most(k)))
    # conversion arcs: (source cohort, target cohort, period)
    arcs = [(s, t, p) for s, lst in d.conversions.items() if s in coh
            for t, p in lst if t in coh and p < P]
    m.convert = pyo.Var(arcs, domain=pyo.NonNegativeIntegers)
    live = [(k, p) for k, c in coh.items() for p in periods if c.produces_in(p)]
    # early retirement of every cohort, or only of the lines owned at the start (a smaller
    # model: new lines then run to the end of their life or are converted)
    retirable = [(k, p) for k, p in live if d.retire == "all" or coh[k].kind == "owned"]
    m.retire = pyo.Var(retirable, domain=pyo.NonNegativeIntegers)
    m.prod = pyo.Var(live, domain=pyo.NonNegativeReals)  # good GWh/yr
    sells = [(r, g, p) for r in d.routes for g in d.segments for p in periods
             if d.qualifies[(r, g)]]
    m.sell = pyo.Var(sells, domain=pyo.NonNegativeReals)
    unmet_keys = [(g, p) for g in d.segments for p in periods
                  if d.must_serve[g] and (slack or d.unmet_penalty is not None)]
    m.unmet = pyo.Var(unmet_keys, domain=pyo.NonNegativeReals)

    def n_lines(k):
        c = coh[k]
        if c.kind == "new":
            return m.build[k]
        if c.kind == "owned":
            return c.owned_lines
        return sum(m.convert[a] for a in arcs if a[1] == k)

    out_arcs: dict[tuple[str, int], list] = {}
    for a in arcs:
        out_arcs.setdefault((a[0], a[2]), []).append(a)

    def operating(k, p):
        c = coh[k]
        gone = sum((m.retire[k, q] if (k, q) in m.retire else 0)
                   + sum(m.convert[a] for a in out_arcs.get((k, q), []))
                   for q in range(c.start, p + 1))
        return n_lines(k) - gone

    m.operating_nonneg = pyo.Constraint(live, rule=lambda m, k, p: operating(k, p) >= 0)
    m.capacity = pyo.Constraint(live, rule=lambda m, k, p: m.prod[k, p] <= coh[k].size
                                * d.ramp[(k, p)] * operating(k, p))
    m.balance = pyo.ConstraintList()
    for r in d.routes:
        for p in periods:
            made = [m.prod[k, p] for k, c in coh.items() if c.route == r and (k, p) in m.prod]
            sold = [m.sell[r, g, p] for g in d.segments if (r, g, p) in m.sell]
            if made or sold:
                m.balance.add(sum(sold) == sum(made))
    m.demand = pyo.ConstraintList()
    for g in d.segments:
        for p in periods:
            sold = sum(m.sell[r, g, p] for r in d.routes if (r, g, p) in m.sell)
            if d.must_serve[g]:
                gap = m.unmet[g, p] if (g, p) in m.unmet else 0
                m.demand.add(sold + gap == d.demand[(g, p)])
            else:
                m.demand.add(sold <= d.demand[(g, p)])
    # conversions only of lines that stand: counted in operating_nonneg; a cohort cannot
    # convert lines before it exists (arcs start at its first period)

    capex = {p: 0 for p in periods}
    for k in new:
        capex[coh[k].decided] += d.capex[k] * m.build[k]
    for a in arcs:
        capex[a[2]] += d.capex[a[1]] * m.convert[a]
    m.capex = pyo.Expression(periods, rule=lambda m, p: capex[p])
    if d.budget:
        m.budget = pyo.Constraint([p for p in periods if p in d.budget],
                                  rule=lambda m, p: m.capex[p] <= d.budget[p] * d.step)
    m.fixed_cost = pyo.Expression(periods, rule=lambda m, p: sum(
        d.fixed[(k, p)] * operating(k, p) for k, c in coh.items() if (k, p) in m.prod))
    m.variable_cost = pyo.Expression(periods, rule=lambda m, p: sum(
        d.variable[(k, p)] * m.prod[k, p] for k, c in coh.items() if (k, p) in m.prod))
    m.revenue = pyo.Expression(periods, rule=lambda m, p: sum(
        1e6 * d.price[(g, p)] * m.sell[r, g, p] for (r, g, q) in sells if q == p))

    # Endogenous learning: the premium E(Q) over the company's cumulative output Q of a
    # route is concave (unit costs fall), so it needs binaries: the incremental form
    # Q = X0 + Σ δ_j, δ_j ≤ w_j, δ_j ≥ w_j·full_j, δ_{j+1} ≤ w_{j+1}·full_j, exact at the
    # breakpoints; `full` never falls from one period to the next (Q only grows).
    learn = dict(d.learning_curve)
    if learn:
        inc = [(r, p, j) for r, (xs, _, _) in learn.items() for p in periods
               for j in range(len(xs) - 1)]
        full = [(r, p, j) for r, (xs, _, _) in learn.items() for p in periods
                for j in range(len(xs) - 2)]
        m.delta = pyo.Var(inc, domain=pyo.NonNegativeReals)
        m.full = pyo.Var(full, domain=pyo.Binary)
        m.pwl = pyo.ConstraintList()
        cum_premium = {}
        for r, (xs, es, q0) in learn.items():
            J = len(xs) - 1
            w = [(xs[j + 1] - xs[j]) / 1e6 for j in range(J)]  # GWh
            slope = [(es[j + 1] - es[j]) / (w[j] * 1e6) if w[j] > 0 else 0.0 for j in range(J)]
            for p in periods:
                made = sum(m.prod[k, q] for k, c in coh.items() if c.route == r
                           for q in range(p + 1) if (k, q) in m.prod)
                m.pwl.add((xs[0] - q0) / 1e6 + sum(m.delta[r, p, j] for j in range(J))
                          == d.step * made)
                for j in range(J):
                    m.pwl.add(m.delta[r, p, j] <= w[j] * (m.full[r, p, j - 1] if j > 0 else 1))
                    if j < J - 1:
                        m.pwl.add(m.delta[r, p, j] >= w[j] * m.full[r, p, j])
                        if p > 0:
                            m.pwl.add(m.full[r, p - 1, j] <= m.full[r, p, j])
                cum_premium[(r, p)] = es[0] + sum(slope[j] * 1e6 * m.delta[r, p, j]
                                                  for j in range(J))

        def prem(m, p):
            total = 0
            for r, (xs, es, q0) in learn.items():
                before = cum_premium[(r, p - 1)] if p > 0 else _premium_at(xs, es, q0)
                total += cum_premium[(r, p)] - before
            return total

        m.premium = pyo.Expression(periods, rule=prem)
    else:
        m.premium = pyo.Expression(periods, rule=lambda m, p: 0)

    end = (1 + d.rate) ** -(d.years[P - 1] + d.step - d.years[0])
    salvage = sum(d.salvage_share(coh[k], P) * d.capex[k] * operating(k, P - 1)
                  for k in coh if (k, P - 1) in m.prod)
    # a line retired early is sold (or written off) at its remaining book value, so a
    # longer horizon with nothing to sell changes nothing before it
    salvage = end * salvage + sum(d.capex_discount(p) * d.book_share(coh[k], p) * d.capex[k]
                                  * m.retire[k, p] for (k, p) in retirable)
    m.salvage = pyo.Expression(expr=salvage)
    penalty = d.unmet_penalty if d.unmet_penalty is not None else 0.0
    if slack:
        penalty = max(penalty, 1e4)  # USD/kWh: far above any kWh's worth
    m.unmet_cost = pyo.Expression(periods, rule=lambda m, p: sum(
        1e6 * penalty * m.unmet[g, q] for (g, q) in unmet_keys if q == p))

    def pv(p, expr):
        return d.flow_discount(p) * expr

    net = sum(pv(p, m.revenue[p] - m.fixed_cost[p] - m.variable_cost[p] - m.unmet_cost[p])
              - d.flow_discount(p) / d.step * m.premium[p]
              - d.capex_discount(p) * m.capex[p] for p in periods) + m.salvage
    if d.objective == "npv":
        m.obj = pyo.Objective(expr=net / 1e6, sense=pyo.maximize)  # MUSD
    else:
        m.obj = pyo.Objective(expr=-(net - sum(pv(p, m.revenue[p]) for p in periods)) / 1e6,
                              sense=pyo.minimize)
    if fixed is not None:
        for k, v in fixed.build.items():
            if k in m.build:
                m.build[k].fix(v)
        for a, v in fixed.convert.items():
            if a in m.convert:
                m.convert[a].fix(v)
        for kp, v in fixed.retire.items():
            if kp in m.retire:
                m.retire[kp].fix(v)
    m._coh = coh
    m._arcs = arcs
    m._periods = periods
    m._operating = operating
    return m


def _premium_at(xs, es, q):
    for j in range(len(xs) - 1):
        if xs[j] <= q <= xs[j + 1]:
            t = (q - xs[j]) / (xs[j + 1] - xs[j]) if xs[j + 1] > xs[j] else 0.0
            return es[j] + t * (es[j + 1] - es[j])
    return es[0] if q <= xs[0] else es[-1]
