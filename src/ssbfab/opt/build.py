"""The Pyomo model, assembled by a short sequence of named functions.

    z[s,l]   ∈ {0,1}  setting level l chosen at step s             (Σ_l z = 1)
                      (at the energy step, if any, the final step makes
                      Σ_l z[l] / capacity_factor[l] good cells per design cell)
    w[z,d]   ∈ {0,1}  class d chosen for zone z of the dry room    (Σ_d w[z,·] = 1;
                      a route without zones has one, the plant's; d may be argon)
    g[s,l,d] ≥ 0      good output of s per good cell at level l, made in class d
                      (d = "any" where the step's yield does not depend on the class);
                      started units = Σ g / y[s,l,d], so yields compound linearly
    n[s,e]   ∈ ℤ≥0    machines of option e at step s (min_count..max_count)
    x[s,e,l] ≥ 0      work on option e at level l, in units at the nominal rate
                      (units started / rate_factor), for steps with several options:
                      the dispatch that prices process energy
    a[z,d]   ∈ [0,1]  zone z's area in class d, as a share of the largest it can be
    v[s,e]   ≥ 0      machines of option e at step s enclosed in argon (steps of zones
                      that may choose argon): v ≥ n - nub·(1 - w[z,argon])
    u[m,o]   ∈ {0,1}  supply option o chosen for material m (make or buy; Σ_o u = 1);
                      the levels of o's steps sum to u[m,o], so an unchosen option's
                      steps carry no flow and install no machine
    p[l,d]   ∈ [0,1]  where a water dose lowers the delivered capacity: the pair (energy
                      step's level l, class d of the dose zone zd, the one zone the steps
                      with a conductivity curve sit in, argon included) chosen,
                      Σ_d p = z[es,l], Σ_l p = w[zd,d] (with one-hot z and w[zd,·] the
                      only solution is p = z·w, so no binary is needed); the final step
                      makes Σ cells_ld[l,d]·p[l,d] good cells per design cell

Every coefficient is a mutable Param filled from `data.Numbers`, so a sweep changes
numbers and re-solves the built model (`OptModel.solve`). Constraint names carry the
step, option, level and class names, so the solver's messages (and the IIS) map back
to the data: `capacity[stacking]`, `dispatch_capacity[stacking,z_stacker]`,
`flow_balance[cathode_mixing]`, `floor_area`, `dry_room_area`.

Tightness: every big-M comes from the data (largest good output a step can need per
good cell, largest dry-room area the machine bounds allow); machine counts are
bounded by what the worst-case need requires; `machines_needed[s]` states the least
number of machines of each level's best need, which lets HiGHS round capacity cuts
early; `machine_cost_floor[s]` does the same for the cost of steps with several
options (the least cost of whole machines that covers the smallest need at each
level, solved exactly per step); dominated levels and options are closed by
bounds; identical options are ordered (`twin_order`).
"""

from __future__ import annotations

import math

import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from ..data.schema import ARGON, PLANT_ZONE
from .data import Numbers, Structure, energy_pairs


def build_model(st: Structure, nb: Numbers) -> pyo.ConcreteModel:
    """The whole MILP for a route's structure, with the scenario's numbers."""
    m = pyo.ConcreteModel(name=f"ssbfab_{st.route}")
    m._structure = st
    add_sets(m, st)
    add_parameters(m, st, nb)
    add_variables(m, st)
    add_flow_balance(m, st)
    add_capacity(m, st)
    add_dry_room(m, st)
    add_limits(m, st)
    add_supply(m, st)
    add_objective(m, st)
    return m


def add_sets(m, st: Structure) -> None:
    m.S = pyo.Set(initialize=st.steps, ordered=True)
    m.SL = pyo.Set(initialize=[(s, lv) for s in st.steps for lv in st.levels[s]], dimen=2,
                   ordered=True)
    m.SE = pyo.Set(initialize=[(s, e) for s in st.steps for e in st.options[s]], dimen=2,
                   ordered=True)
    m.SLD = pyo.Set(initialize=list(st.gkeys()), dimen=3, ordered=True)
    m.D = pyo.Set(initialize=st.classes, ordered=True)
    m.Z = pyo.Set(initialize=list(st.zones), ordered=True)
    m.ZD = pyo.Set(initialize=[(z, d) for z in st.zones for d in st.zones[z]], dimen=2,
                   ordered=True)
    m.ENC = pyo.Set(initialize=[(s, e) for s in st.dry_steps if st.zone_of[s] in st.argon_zones
                                for e in st.options[s]], dimen=2, ordered=True)
    m.SEL = pyo.Set(initialize=[(s, e, lv) for s in st.steps if s in st.multi
                                for e in st.options[s] for lv in st.levels[s]], dimen=3,
                    ordered=True)
    # (u, c, l, d): good output of u drawn by each unit of c's good output at (l, d)
    m.U = pyo.Set(initialize=[(mat, o) for mat in st.supply for o in st.supply[mat]], dimen=2,
                  ordered=True)
    m.DRAW = pyo.Set(initialize=[(u, c, lv, d) for u in st.steps for c in st.consumers[u]
                                 for lv in st.levels[c] for d in st.flow_classes[c]], dimen=4,
                     ordered=True)


def _p(index, values, **kw):
    return pyo.Param(index, mutable=True, initialize=values, within=pyo.Any, **kw)


def parameter_values(st: Structure, nb: Numbers) -> dict[str, dict]:
    """The value of every Param of the model for a scenario (used at build and re-solve)."""
    work = {}  # nominal-rate work per unit of good output: 1/(y·rate_factor)
    for (s, lv, d) in st.gkeys():
        work[(s, lv, d)] = nb.inv_y[(s, lv, d)] * nb.inv_rf[(s, lv)]
    draw = {(u, c, lv, d): nb.ratio[(u, c)] * nb.inv_y[(c, lv, d)]
            for u in st.steps for c in st.consumers[u]
            for lv in st.levels[c] for d in st.flow_classes[c]}
    cap_derated = {(s, e): nb.cap[(s, e)] * nb.derate[s] for s in st.steps for e in st.options[s]}
    # areas enter as shares of their limit (rows ≤ 1) and the dry room as a share of its
    # largest possible area (a ∈ [0, 1]): coefficients of order 1 instead of 1e5..1e9 m²
    fp = nb.footprint
    return {
        "zub": nb.zub,
        "floor_share": {k: v / nb.floor_limit for k, v in fp.items()},
        "dry_share": {k: v / nb.dry_limit for k, v in fp.items()},
        "area_share": {k: v / nb.amax for k, v in fp.items()},
        "inv_y": nb.inv_y, "gub": nb.gub, "gmax": nb.gmax, "work": work, "draw": draw,
        "inv_rf": nb.inv_rf, "cap": nb.cap, "cap_derated": cap_derated, "nlb": nb.nlb,
        "nub": nb.nub, "kmin": nb.kmin, "phi": nb.phi, "footprint": nb.footprint,
        "floor_limit": {None: nb.floor_limit}, "dry_limit": {None: nb.dry_limit},
        "c_n": nb.c_n, "c_g": nb.c_g,
        "c_x": {(s, e, lv): v / nb.inv_rf[(s, lv)] for (s, e, lv), v in nb.c_x.items()},
        "c_a": {d: v * nb.amax for d, v in nb.c_a.items()}, "c0": {None: nb.c0},
        "c_w": {d: nb.c_w.get(d, 0.0) for d in st.classes},
        "c_enc": dict(nb.c_enc),
        # the share of the site's dry-room limit one unit of a[z,d] is
        "a_dry": {None: nb.amax / nb.dry_limit if nb.dry_limit > 0 else 0.0},
        "cells_at": nb.cells_at,
        "cells_ld": nb.cells_ld,
        "h2s_share": {k: (v / nb.h2s_limit if math.isfinite(nb.h2s_limit) else 0.0)
                      for k, v in nb.h2s.items()},
        "slim": {k: v for k, v in nb.slim.items()},
        "uub": {k: nb.uub.get(k, 1.0) for mat in st.supply for k in ((mat, o) for o in st.supply[mat])},
    }


def add_parameters(m, st: Structure, nb: Numbers) -> None:
    v = parameter_values(st, nb)
    m.zub = _p(m.SL, v["zub"])
    m.floor_share = _p(m.SE, v["floor_share"])
    m.dry_share = _p(m.SE, v["dry_share"])
    m.area_share = _p(m.SE, v["area_share"])
    m.inv_y = _p(m.SLD, v["inv_y"])
    m.gub = _p(m.SLD, v["gub"])
    m.gmax = _p(m.S, v["gmax"])
    m.work = _p(m.SLD, v["work"])
    m.draw = _p(m.DRAW, v["draw"])
    m.inv_rf = _p(m.SL, v["inv_rf"])
    m.cap = _p(m.SE, v["cap"])
    m.cap_derated = _p(m.SE, v["cap_derated"])
    m.nlb = _p(m.SE, v["nlb"])
    m.nub = _p(m.SE, v["nub"])
    m.kmin = _p(m.SL, v["kmin"])
    m.phi = _p([(s, lv) for s in st.steps if s in st.multi for lv in st.levels[s]], v["phi"])
    m.footprint = _p(m.SE, v["footprint"])
    # the limits themselves, for messages (the rows use the shares above)
    m.floor_limit = pyo.Param(mutable=True, initialize=nb.floor_limit)
    m.dry_limit = pyo.Param(mutable=True, initialize=nb.dry_limit)
    m.c_n = _p(m.SE, v["c_n"])
    m.c_g = _p(m.SLD, v["c_g"])
    m.c_x = _p(m.SEL, v["c_x"])
    m.c_a = _p(m.D, v["c_a"])
    m.c0 = pyo.Param(mutable=True, initialize=nb.c0)
    m.c_w = _p(m.D, v["c_w"])
    m.c_enc = _p(m.ENC, v["c_enc"])
    m.a_dry = pyo.Param(mutable=True, initialize=v["a_dry"][None])
    m.h2s_share = _p(m.SLD, v["h2s_share"])
    m.h2s_limit = pyo.Param(mutable=True, initialize=nb.h2s_limit)
    es = st.energy_step
    m.cells_at = _p(list(st.levels[es]) if es else [], v["cells_at"])
    m.EP = pyo.Set(initialize=energy_pairs(st), dimen=2, ordered=True)
    m.cells_ld = _p(m.EP, v["cells_ld"])
    m.slim = _p(list(v["slim"]), v["slim"])
    m.uub = _p(m.U, v["uub"])


def set_parameters(m, st: Structure, nb: Numbers) -> None:
    """Push a scenario's numbers into a built model (no rebuild)."""
    for name, values in parameter_values(st, nb).items():
        comp = getattr(m, name)
        if None in values:
            comp.set_value(values[None])
        else:
            comp.store_values(values)


def add_variables(m, st: Structure) -> None:
    m.z = pyo.Var(m.SL, domain=pyo.Binary, bounds=lambda m, s, lv: (0, m.zub[s, lv]))
    m.w = pyo.Var(m.ZD, domain=pyo.Binary)
    m.g = pyo.Var(m.SLD, domain=pyo.NonNegativeReals, bounds=lambda m, s, lv, d: (0, m.gub[s, lv, d]))
    m.n = pyo.Var(m.SE, domain=pyo.NonNegativeIntegers,
                  bounds=lambda m, s, e: (m.nlb[s, e], m.nub[s, e]))
    m.x = pyo.Var(m.SEL, domain=pyo.NonNegativeReals)
    m.a = pyo.Var(m.ZD, domain=pyo.NonNegativeReals)
    m.v = pyo.Var(m.ENC, domain=pyo.NonNegativeReals)
    m.u = pyo.Var(m.U, domain=pyo.Binary, bounds=lambda m, mat, o: (0, m.uub[mat, o]))
    m.p = pyo.Var(m.EP, domain=pyo.NonNegativeReals, bounds=(0, 1))


def lin(terms, constant=0.0):
    """Σ coef·var as one LinearExpression (building it term by term with `+` costs
    several times more on large rows)."""
    coefs, vars_ = [], []
    for c, v in terms:
        coefs.append(c)
        vars_.append(v)
    return LinearExpression(constant=constant, linear_coefs=coefs, linear_vars=vars_)


def add_flow_balance(m, st: Structure) -> None:
    """One level per step, one class per zone; flows only at the chosen level and
    class (of the step's zone); the good output of each step feeds what its consumers
    start."""
    def level_choice(m, s):
        if s in st.member:  # a supply option's step: a level only if its option is chosen
            return lin([(1.0, m.z[s, lv]) for lv in st.levels[s]]
                       + [(-1.0, m.u[st.member[s]])]) == 0
        return lin((1.0, m.z[s, lv]) for lv in st.levels[s]) == 1

    m.level_choice = pyo.Constraint(m.S, rule=level_choice)
    m.class_choice = pyo.Constraint(
        m.Z, rule=lambda m, z: lin((1.0, m.w[z, d]) for d in st.zones[z]) == 1)
    multi_level = [(s, lv) for s in st.steps if len(st.levels[s]) > 1 or s in st.member
                   for lv in st.levels[s]]
    m.level_link = pyo.Constraint(
        multi_level, rule=lambda m, s, lv: lin([(1.0, m.g[s, lv, d]) for d in st.flow_classes[s]]
                                               + [(-m.gmax[s], m.z[s, lv])]) <= 0)
    split = [(s, d) for s in st.steps if st.flow_classes[s][0] != "any" for d in st.flow_classes[s]]
    m.class_link = pyo.Constraint(
        split, rule=lambda m, s, d: lin([(1.0, m.g[s, lv, d]) for lv in st.levels[s]]
                                        + [(-m.gmax[s], m.w[st.zone_of[s], d])]) <= 0)

    # the steps that deliver a supplied material share one balance: what the consumers
    # draw comes from whichever option is chosen (`supply_balance[material]`)
    delivers = {t: mat for mat, opts in st.supply.items() for t in opts.values()}

    def balance(m, u):
        if u in delivers:
            return pyo.Constraint.Skip
        good = [(1.0, m.g[u, lv, d]) for lv in st.levels[u] for d in st.flow_classes[u]]
        if not st.consumers[u]:
            es = st.energy_step
            if st.dose_capacity:  # per design cell: cells_ld good cells at the chosen pair
                return lin(good + [(-m.cells_ld[k], m.p[k]) for k in m.EP]) == 0
            if es is None:
                return lin(good) == 1.0  # per good cell
            # per design cell: 1 / capacity_factor good cells at the energy step's level
            return lin(good + [(-m.cells_at[lv], m.z[es, lv]) for lv in st.levels[es]]) == 0
        drawn = [(-m.draw[u, c, lv, d], m.g[c, lv, d]) for c in st.consumers[u]
                 for lv in st.levels[c] for d in st.flow_classes[c]]
        return lin(good + drawn) == 0

    m.flow_balance = pyo.Constraint(m.S, rule=balance)
    # the (level, class) pair of the delivered capacity: its marginals are z[es] and w
    es = st.energy_step
    # (the class of the dose zone, whose class alone sets κ: the loader's checks)
    zd = st.dose_zone
    m.pair_class = pyo.Constraint(
        [d for d in st.zones.get(zd, ()) if st.dose_capacity],
        rule=lambda m, d: lin([(1.0, m.p[k]) for k in m.EP if k[1] == d]
                              + [(-1.0, m.w[zd, d])]) == 0)
    m.pair_level = pyo.Constraint(
        [lv for lv in (st.levels[es] if es and st.dose_capacity else ())],
        rule=lambda m, lv: lin([(1.0, m.p[k]) for k in m.EP if k[0] == lv]
                               + [(-1.0, m.z[es, lv])]) == 0)

    def supply_balance(m, mat):
        ts = list(st.supply[mat].values())
        good = [(1.0, m.g[t, lv, d]) for t in ts for lv in st.levels[t]
                for d in st.flow_classes[t]]
        t0 = ts[0]  # every option's last step feeds the same consumers at the same rate
        drawn = [(-m.draw[t0, c, lv, d], m.g[c, lv, d]) for c in st.consumers[t0]
                 for lv in st.levels[c] for d in st.flow_classes[c]]
        return lin(good + drawn) == 0

    m.supply_balance = pyo.Constraint(list(st.supply), rule=supply_balance)


def add_capacity(m, st: Structure) -> None:
    """Installed capacity (availability × derate) covers what each step starts; with
    several options, a dispatch shares the load among them within their capacity."""

    def capacity(m, s):
        return lin([(m.cap_derated[s, e], m.n[s, e]) for e in st.options[s]]
                   + [(-m.work[s, lv, d], m.g[s, lv, d]) for lv in st.levels[s]
                      for d in st.flow_classes[s]]) >= 0

    m.capacity = pyo.Constraint(m.S, rule=capacity)
    multi_sl = [(s, lv) for s in st.steps if s in st.multi for lv in st.levels[s]]
    m.dispatch = pyo.Constraint(
        multi_sl, rule=lambda m, s, lv: lin([(1.0, m.x[s, e, lv]) for e in st.options[s]]
                                            + [(-m.work[s, lv, d], m.g[s, lv, d])
                                               for d in st.flow_classes[s]]) == 0)
    multi_se = [(s, e) for s in st.steps if s in st.multi for e in st.options[s]]
    m.dispatch_capacity = pyo.Constraint(
        multi_se, rule=lambda m, s, e: lin([(1.0, m.x[s, e, lv]) for lv in st.levels[s]]
                                           + [(-m.cap[s, e], m.n[s, e])]) <= 0)
    m.machines_needed = pyo.Constraint(
        m.S, rule=lambda m, s: lin([(1.0, m.n[s, e]) for e in st.options[s]]
                                   + [(-m.kmin[s, lv], m.z[s, lv]) for lv in st.levels[s]]) >= 0)
    m.machine_cost_floor = pyo.Constraint(
        [s for s in st.steps if s in st.multi],
        rule=lambda m, s: lin([(m.c_n[s, e], m.n[s, e]) for e in st.options[s]]
                              + [(-m.phi[s, lv], m.z[s, lv]) for lv in st.levels[s]]) >= 0)
    m.twin_order = pyo.Constraint(
        range(len(st.twins)), rule=lambda m, i: m.n[st.twins[i][0], st.twins[i][1]]
        >= m.n[st.twins[i][0], st.twins[i][2]])


def add_dry_room(m, st: Structure) -> None:
    """Each zone's area is priced by its chosen class: split it by class. A zone in
    argon encloses every machine of its steps instead (`enclosed`)."""
    if not st.dry_steps:
        m.a.fix(0)
        return
    m.dry_split = pyo.Constraint(
        m.Z, rule=lambda m, z: lin([(1.0, m.a[z, d]) for d in st.zones[z]]
                                   + [(-m.area_share[s, e], m.n[s, e]) for s in st.dry_steps
                                      if st.zone_of[s] == z for e in st.options[s]]) == 0)
    m.dry_class = pyo.Constraint(m.ZD, rule=lambda m, z, d: m.a[z, d] - m.w[z, d] <= 0)
    m.enclosed = pyo.Constraint(
        m.ENC, rule=lambda m, s, e: lin([(1.0, m.v[s, e]), (-1.0, m.n[s, e]),
                                         (-m.nub[s, e], m.w[st.zone_of[s], ARGON])],
                                        constant=m.nub[s, e]) >= 0)


def add_limits(m, st: Structure) -> None:
    """The site: floor area for all machines, and the largest dry room it can hold."""
    m.floor_area = pyo.Constraint(expr=lin((m.floor_share[k], m.n[k]) for k in m.SE) <= 1)
    if st.dry_steps:
        # a zone that may choose argon counts only its area in a dry-room class
        argon = st.argon_zones
        m.dry_room_area = pyo.Constraint(
            expr=lin([(m.dry_share[s, e], m.n[s, e]) for s in st.dry_steps
                      if st.zone_of[s] not in argon for e in st.options[s]]
                     + [(m.a_dry, m.a[z, d]) for z in argon for d in st.zones[z] if d != ARGON])
            <= 1)
    # the site's H2S permit, as a share of the limit (a limit of none: every share 0)
    m.h2s_release = pyo.Constraint(expr=lin((m.h2s_share[k], m.g[k]) for k in m.SLD) <= 1)


def add_supply(m, st: Structure) -> None:
    """Make or buy: one supply option per material; an unchosen option's steps install
    no machine (their levels, hence their flows, are already zero); a supplier's limit
    caps what an option delivers."""
    m.supply_choice = pyo.Constraint(
        list(st.supply), rule=lambda m, mat: lin((1.0, m.u[mat, o]) for o in st.supply[mat]) == 1)
    se = [(s, e) for s in st.steps if s in st.member for e in st.options[s]]
    m.supply_machines = pyo.Constraint(
        se, rule=lambda m, s, e: lin([(1.0, m.n[s, e])]
                                     + [(-m.nub[s, e], m.z[s, lv]) for lv in st.levels[s]]) <= 0)

    def limit(m, mat, o):
        t = st.supply[mat][o]
        return lin([(1.0, m.g[t, lv, d]) for lv in st.levels[t] for d in st.flow_classes[t]]
                   + [(-m.slim[mat, o], m.u[mat, o])]) <= 0

    m.supply_limit = pyo.Constraint(list(m.slim.keys()), rule=limit)


def add_objective(m, st: Structure) -> None:
    """USD per kWh of good cells: the roll-up of `cost.evaluate` (same coefficients)."""
    terms = ([(m.c_n[k], m.n[k]) for k in m.SE] + [(m.c_g[k], m.g[k]) for k in m.SLD]
             + [(m.c_x[k], m.x[k]) for k in m.SEL]
             + [(m.c_a[d], m.a[z, d]) for z, d in m.ZD if d != ARGON]
             + [(m.c_enc[k], m.v[k]) for k in m.ENC]
             # plant costs of a scaled costing: BatPaC's one dry room, at the plant zone's class
             + [(m.c_w[d], m.w[PLANT_ZONE, d]) for d in st.zones[PLANT_ZONE]])
    m.cost = pyo.Objective(expr=lin(terms, constant=m.c0), sense=pyo.minimize)
