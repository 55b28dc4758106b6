"""The transition planner's MILP (Pyomo, solved by HiGHS), built from `PlanningData`.

Decisions (integers): lines of each route and size started per period (`build`), lines
of one route converted into another (`convert`, per source cohort and period), lines
retired early (`retire`). Lines operating follow from them:

    operating[c, p] = n_c − Σ_{q ≤ p} (retire[c, q] + Σ_targets convert[c, t, q])

with n_c = build (new cohorts), Σ convert into it (converted cohorts) or the lines owned.
A cohort produces only in its periods (from its start to the end of its life); its input
(cells started, in GWh of good output at mature yield) is at most size × confirmed share
× operating lines per year, and what it makes is sold to the segments its cells qualify
for, up to their demand (or exactly their demand when they must be served). A new or
converted line's yield ramps up with its own cumulative good output (`_ramp_up`): its
good output is below its input until it matures, and materials are paid on the input.

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
    def most(k):
        return line_bound(d, coh[k], periods)

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
    gross = _ramp_up(m, d, coh, live, n_lines, most)
    # input (cells started, in GWh of good output at mature yield) is what a line's
    # machines and materials are sized for; with no ramp it is the good output
    m.gross = pyo.Expression(live, rule=lambda m, k, p: gross.get((k, p), m.prod[k, p]))
    m.capacity = pyo.Constraint(live, rule=lambda m, k, p: m.gross[k, p] <= coh[k].size
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

    m.fixed_cost = pyo.Expression(periods, rule=lambda m, p: sum(
        d.fixed[(k, p)] * operating(k, p) for k, c in coh.items() if (k, p) in m.prod))
    m.variable_cost = pyo.Expression(periods, rule=lambda m, p: sum(
        d.variable[(k, p)] * m.gross[k, p] for k, c in coh.items() if (k, p) in m.prod))
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

    capex = {p: 0 for p in periods}
    for k in new:
        capex[coh[k].decided] += d.capex[k] * m.build[k]
    for a in arcs:
        capex[a[2]] += d.capex[a[1]] * m.convert[a]
    # endogenous learning on capex: what a cohort's lines cost less than at the start
    rebate = _capex_rebate(m, d, coh, periods, n_lines, most, operating, retirable)
    for k, (_, at_start, _) in rebate.items():
        capex[coh[k].decided] -= at_start
    m.capex = pyo.Expression(periods, rule=lambda m, p: capex[p])
    if d.budget:
        m.budget = pyo.Constraint([p for p in periods if p in d.budget],
                                  rule=lambda m, p: m.capex[p] <= d.budget[p] * d.step)

    end = (1 + d.rate) ** -(d.years[P - 1] + d.step - d.years[0])
    # book value of what the lines cost (with the capex rebate of learning, if any)
    salvage = sum(d.salvage_share(coh[k], P) * (d.capex[k] * operating(k, P - 1)
                                                - (rebate[k][1] if k in rebate else 0))
                  for k in coh if (k, P - 1) in m.prod)
    # a line retired early is sold (or written off) at its remaining book value, so a
    # longer horizon with nothing to sell changes nothing before it
    salvage = end * salvage + sum(d.capex_discount(p) * d.book_share(coh[k], p) * (
        d.capex[k] * m.retire[k, p] - (rebate[k][2][p] if k in rebate else 0))
        for (k, p) in retirable)
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


def line_bound(d: PlanningData, c, periods) -> int:
    """No more lines in cohort c than its route's segments' largest demand over `periods`
    could use at the lowest yield the MILP gives it (more lines would only add cost and,
    sharing the output, ramp slower), nor than its period's budget buys."""
    peak = max(sum(d.demand[(g, p)] for g in d.segments if d.qualifies[(c.route, g)])
               for p in periods)
    low = min(d.ramp[(c.key, p)] for p in periods if (c.key, p) in d.ramp)
    if d.ramps(c):
        qs, gs = d.ramp_curve[c.route]
        low *= (qs[1] - qs[0]) / (gs[1] - gs[0])  # the first piece's yield
    most = math.ceil(peak / (c.size * low) - 1e-9)
    # nor more than the period's capital budget buys (at the price known in advance: not
    # for a route whose capex learns in the MILP)
    if c.decided in d.budget and d.capex[c.key] > 0 and c.route not in d.capex_curve:
        most = min(most, math.floor(d.budget[c.decided] * d.step / d.capex[c.key] + 1e-9))
    return most


def _ramp_up(m, d: PlanningData, coh: dict, live: list, n_lines, most) -> dict:
    """The yield ramp over each ramping cohort's cumulative good output Q (GWh): the input
    it took is n·G(Q/n) (n lines started, G per line concave: yields rise), a concave
    function, so the incremental form with binaries: Q = Σ_j q_j over pieces j of width
    n·w_j, `full_j` (piece j filled) allows the next, input X = Σ_j q_j / ȳ_j (ȳ_j the
    piece's yield, so X is exact at the breakpoints); the piece after the last is mature
    (ȳ = 1). Returns the input per year of period p, (X_p − X_{p−1}) / step, by (k, p).

    The lines are taken to share the cohort's output (identical lines), so its lines
    started are the divisor: a line converted out mid-ramp leaves its output with the
    rest, which then ramp no faster than they did (conservative, exact when none leave)."""
    keys = [(k, p) for k, p in live if d.ramps(coh[k], p)]
    if not keys:
        return {}
    L = d.step
    m.ramp = pyo.ConstraintList()
    # a piece can be full by period p only if the lines could have made that much by then
    # (at full load): the other binaries are left out, and the big-Ms shrink with it
    reach = {}  # (k, p) -> the most good output per line through p (years of output)
    for k, p in keys:
        c = coh[k]
        t = sum(1 for q in range(c.start, p + 1) if (k, q) in d.ramp)
        reach[(k, p)] = L * t * max(d.ramp[(k, q)] for q in range(c.start, p + 1))
    fulls = [(k, p, j) for k, p in keys for j in range(len(d.ramp_curve[coh[k].route][0]) - 1)
             if reach[(k, p)] >= d.ramp_curve[coh[k].route][0][j + 1] * (1 - 1e-9)]
    m.ramp_q = pyo.Var([(k, p, j) for k, p in keys
                        for j in range(len(d.ramp_curve[coh[k].route][0]))],
                       domain=pyo.NonNegativeReals)
    m.ramp_full = pyo.Var(fulls, domain=pyo.Binary)
    m.ramp_lines = pyo.Var(fulls, domain=pyo.NonNegativeReals)  # n · full: lines past piece j
    out = {}
    for c in coh.values():
        if not any((c.key, p) in reach for p in range(c.start, c.last + 1)):
            continue
        qs, gs = d.ramp_curve[c.route]
        K = len(qs) - 1
        w = [(qs[j + 1] - qs[j]) * c.size for j in range(K)]  # GWh per line in piece j
        slope = [(gs[j + 1] - gs[j]) / (qs[j + 1] - qs[j]) for j in range(K)] + [1.0]
        top = most(c.key)  # lines the cohort can have
        n = n_lines(c.key)
        if c.kind == "conv":
            m.ramp.add(n <= top)
        ps = [p for kk, p in keys if kk == c.key]
        before = 0.0
        for p in ps:
            q = [m.ramp_q[c.key, p, j] for j in range(K + 1)]
            past = [m.ramp_lines[c.key, p, j] if (c.key, p, j) in m.ramp_full else 0
                    for j in range(K)]
            # cumulative good output, period by period (sparse: one period's output each)
            m.ramp.add(sum(q) - (sum(m.ramp_q[c.key, p - 1, j] for j in range(K + 1))
                                 if p > ps[0] else 0) == L * m.prod[c.key, p])
            for j in range(K):
                m.ramp.add(q[j] <= w[j] * n)
                # piece j + 1 only on lines past piece j, at most what they could make by p
                room = c.size * min(qs[j + 2] - qs[j + 1] if j + 1 < K else math.inf,
                                    max(0.0, reach[(c.key, p)] - qs[j + 1]))
                m.ramp.add(q[j + 1] <= room * past[j])
                if (c.key, p, j) not in m.ramp_full:
                    continue
                # past_j = n · full_j (exact for binary full_j and integer n; the lines of
                # a cohort ramp together), written so the LP relaxation keeps the
                # perspective: output in a later piece needs output in the earlier ones
                f = m.ramp_full[c.key, p, j]
                m.ramp.add(past[j] <= n)
                m.ramp.add(past[j] <= top * f)
                m.ramp.add(past[j] >= n - top * (1 - f))
                m.ramp.add(q[j] >= w[j] * past[j])
                if j + 1 < K and (c.key, p, j + 1) in m.ramp_full:
                    m.ramp.add(m.ramp_full[c.key, p, j + 1] <= f)
                    m.ramp.add(m.ramp_lines[c.key, p, j + 1] <= past[j])
                if (c.key, p - 1, j) in m.ramp_full:
                    m.ramp.add(m.ramp_full[c.key, p - 1, j] <= f)
                    m.ramp.add(m.ramp_lines[c.key, p - 1, j] <= past[j])
            x = sum(slope[j] * q[j] for j in range(K + 1))
            out[(c.key, p)] = (x - before) / L
            before = x
    return out


def _capex_rebate(m, d: PlanningData, coh: dict, periods: list, n_lines, most, operating,
                  retirable: list) -> dict:
    """Endogenous learning on capex. A line started in period p pays its route's capex
    multiplier at the company's cumulative output when p starts, taken at the last
    breakpoint of the learning curve passed (exact at the breakpoints, never below the
    curve between them, since the multiplier falls): multiplier(x_0) − Σ_j Δ_j full_j
    with full_j the learning binaries of period p − 1 (piece j filled: Q ≥ x_{j+1}) and
    Δ_j = multiplier(x_j) − multiplier(x_{j+1}). The product full_j × lines is exact in
    linear form (binary times a bounded integer). Returns, per cohort, the rebate in USD
    on its lines started, on those still operating at the horizon's end (their book
    value), and on those retired in each period."""
    out: dict = {}
    if not d.capex_curve:
        return out
    m.rebate = pyo.ConstraintList()
    m.rebate_lines = pyo.VarList(domain=pyo.NonNegativeReals)

    def times(f, lines, top):
        z = m.rebate_lines.add()
        m.rebate.add(z <= lines)
        m.rebate.add(z <= top * f)
        m.rebate.add(z >= lines - top * (1 - f))
        return z

    last = periods[-1]
    for k, c in coh.items():
        if k not in d.capex_learns or c.decided < 1 or c.decided > last:
            continue
        mult = d.capex_curve[c.route]
        fulls = [(j, m.full[c.route, c.decided - 1, j]) for j in range(len(mult) - 2)
                 if (c.route, c.decided - 1, j) in m.full]
        if not fulls:
            continue
        top = most(k)
        n = n_lines(k)
        if c.kind == "conv":
            m.rebate.add(n <= top)
        per = {j: d.capex_learns[k] * (mult[j] - mult[j + 1]) for j, _ in fulls}

        def rebate(lines, fulls=fulls, top=top, per=per):
            return sum(per[j] * times(f, lines, top) for j, f in fulls)

        ending = rebate(operating(k, last)) if (k, last) in m.prod else 0
        retired = {p: rebate(m.retire[k, p]) for (kk, p) in retirable if kk == k}
        out[k] = (rebate(n), ending, retired)
    return out
