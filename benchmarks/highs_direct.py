"""The same MILP as ssbfab.opt.build, built directly through highspy's array API.

A benchmark helper, not part of the package: it is the floor bench_opt.py measures
the Pyomo build against (DESIGN.md: a Pyomo build costs about 20x a direct array
build on a large model). Rows and columns follow `build.py` one for one, so HiGHS
gets the same matrix; `bench_opt.self_check` verifies that on the shipped routes
and small synthetic lines before any figure is printed (a constraint added to
`build.py` and not here fails it, and `make bench` stops).
"""

from __future__ import annotations

import math

import numpy as np

from ssbfab.data.schema import ARGON, PLANT_ZONE
from ssbfab.opt.data import Numbers, Structure, energy_pairs


class _Rows:
    """Rows collected as CSR arrays. Columns are numbered in the order rows first use
    them, as Pyomo's persistent interface numbers them, so that HiGHS gets the very
    same matrix (and follows the same path) from both builds."""

    def __init__(self) -> None:
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.starts: list[int] = []
        self.index: list[int] = []
        self.value: list[float] = []
        self.col: dict[tuple, int] = {}

    def add(self, keys, vals, lo, hi):
        self.starts.append(len(self.index))
        for key, v in zip(keys, vals, strict=True):
            j = self.col.setdefault(key, len(self.col))
            if v != 0.0:  # as the Pyomo interface does: zero coefficients are not sent
                self.index.append(j)
                self.value.append(v)
        self.lower.append(lo)
        self.upper.append(hi)


def build_highs(st: Structure, nb: Numbers):
    """A highspy.Highs holding the model, and the column index of every variable."""
    import highspy

    inf = highspy.kHighsInf
    bounds: dict[tuple, tuple[float, float, float, bool]] = {}  # lb, ub, cost, integer
    cs: list[tuple]  # the variable keys of one row (of several lengths)

    def var(key, lb, ub, c=0.0, is_int=False):
        bounds[key] = (lb, ub, c, is_int)

    for s in st.steps:
        for lv in st.levels[s]:
            var(("z", s, lv), 0.0, nb.zub[(s, lv)], is_int=True)
    zd = [(z, d) for z in st.zones for d in st.zones[z]]  # a class per zone of the dry room
    enc = [(s, e) for s in st.dry_steps if st.zone_of[s] in st.argon_zones for e in st.options[s]]
    for z, d in zd:  # plant costs of a scaled costing: the plant zone's class
        var(("w", z, d), 0.0, 1.0,
            nb.c_w.get(d, 0.0) if z == PLANT_ZONE and d != ARGON else 0.0, True)
    for k in st.gkeys():
        var(("g",) + k, 0.0, nb.gub[k], nb.c_g[k])
    for s in st.steps:
        for e in st.options[s]:
            var(("n", s, e), float(nb.nlb[(s, e)]), float(nb.nub[(s, e)]), nb.c_n[(s, e)], True)
    for s in st.steps:
        if s in st.multi:
            for lv in st.levels[s]:
                for e in st.options[s]:
                    var(("x", s, e, lv), 0.0, inf, nb.c_x[(s, e, lv)] / nb.inv_rf[(s, lv)])
    for mat in st.supply:  # make or buy: one binary per supply option
        for o in st.supply[mat]:
            var(("u", mat, o), 0.0, nb.uub.get((mat, o), 1.0), is_int=True)
    for z, d in zd:  # without a dry room, a = 0 (Pyomo sends the fixed column too)
        var(("a", z, d), 0.0, inf if st.dry_steps else 0.0,
            nb.c_a[d] * nb.amax if st.dry_steps and d != ARGON else 0.0)
    for k in enc:  # machines enclosed in argon
        var(("v",) + k, 0.0, inf, nb.c_enc[k])
    ep = energy_pairs(st)  # (energy step's level, dose zone's class): the capacity pair
    for k in ep:
        var(("p",) + k, 0.0, 1.0)

    r = _Rows()
    for s in st.steps:  # level_choice (a supply option's step: its levels sum to u)
        zs = [("z", s, lv) for lv in st.levels[s]]
        if s in st.member:
            r.add(zs + [("u",) + st.member[s]], [1.0] * len(zs) + [-1.0], 0.0, 0.0)
        else:
            r.add(zs, [1.0] * len(zs), 1.0, 1.0)
    for z in st.zones:  # class_choice
        r.add([("w", z, d) for d in st.zones[z]], [1.0] * len(st.zones[z]), 1.0, 1.0)
    for s in st.steps:  # level_link
        if len(st.levels[s]) > 1 or s in st.member:
            for lv in st.levels[s]:
                cs = [("g", s, lv, d) for d in st.flow_classes[s]] + [("z", s, lv)]
                r.add(cs, [1.0] * (len(cs) - 1) + [-nb.gmax[s]], -inf, 0.0)
    for s in st.steps:  # class_link
        if st.flow_classes[s][0] != "any":
            for d in st.flow_classes[s]:
                cs = [("g", s, lv, d) for lv in st.levels[s]] + [("w", st.zone_of[s], d)]
                r.add(cs, [1.0] * (len(cs) - 1) + [-nb.gmax[s]], -inf, 0.0)
    delivers = {t for opts in st.supply.values() for t in opts.values()}

    def drawn(u):
        return ([("g", c, lv, d) for c in st.consumers[u] for lv in st.levels[c]
                 for d in st.flow_classes[c]],
                [-nb.ratio[(u, c)] * nb.inv_y[(c, lv, d)] for c in st.consumers[u]
                 for lv in st.levels[c] for d in st.flow_classes[c]])

    for u in st.steps:  # flow_balance (the steps delivering a supplied material: below)
        if u in delivers:
            continue
        cs = [("g", u, lv, d) for lv in st.levels[u] for d in st.flow_classes[u]]
        vs = [1.0] * len(cs)
        if not st.consumers[u]:
            es = st.energy_step
            if st.dose_capacity:  # good cells per design cell at the chosen pair
                r.add(cs + [("p",) + k for k in ep], vs + [-nb.cells_ld[k] for k in ep],
                      0.0, 0.0)
            elif es is None:
                r.add(cs, vs, 1.0, 1.0)
            else:  # good cells per design cell follow the energy step's level
                r.add(cs + [("z", es, lv) for lv in st.levels[es]],
                      vs + [-nb.cells_at[lv] for lv in st.levels[es]], 0.0, 0.0)
            continue
        dk, dv = drawn(u)
        r.add(cs + dk, vs + dv, 0.0, 0.0)
    if st.dose_capacity:  # pair_class, pair_level: the pair's marginals are w[dz] and z[es]
        dz, es = st.dose_zone, st.energy_step
        for d in st.zones[dz]:
            pk = [("p",) + k for k in ep if k[1] == d]
            r.add(pk + [("w", dz, d)], [1.0] * len(pk) + [-1.0], 0.0, 0.0)
        for lv in (st.levels[es] if es else ()):
            pk = [("p",) + k for k in ep if k[0] == lv]
            r.add(pk + [("z", es, lv)], [1.0] * len(pk) + [-1.0], 0.0, 0.0)
    for mat in st.supply:  # supply_balance: whichever option is chosen feeds the consumers
        ts = list(st.supply[mat].values())
        cs = [("g", t, lv, d) for t in ts for lv in st.levels[t] for d in st.flow_classes[t]]
        dk, dv = drawn(ts[0])
        r.add(cs + dk, [1.0] * len(cs) + dv, 0.0, 0.0)
    for s in st.steps:  # capacity
        cs = [("n", s, e) for e in st.options[s]]
        vs = [nb.cap[(s, e)] * nb.derate[s] for e in st.options[s]]
        for lv in st.levels[s]:
            for d in st.flow_classes[s]:
                cs.append(("g", s, lv, d))
                vs.append(-nb.inv_y[(s, lv, d)] * nb.inv_rf[(s, lv)])
        r.add(cs, vs, 0.0, inf)
    for s in st.steps:  # dispatch
        if s in st.multi:
            for lv in st.levels[s]:
                cs = [("x", s, e, lv) for e in st.options[s]]
                vs = [1.0] * len(cs)
                for d in st.flow_classes[s]:
                    cs.append(("g", s, lv, d))
                    vs.append(-nb.inv_y[(s, lv, d)] * nb.inv_rf[(s, lv)])
                r.add(cs, vs, 0.0, 0.0)
    for s in st.steps:  # dispatch_capacity
        if s in st.multi:
            for e in st.options[s]:
                cs = [("x", s, e, lv) for lv in st.levels[s]] + [("n", s, e)]
                vs = [1.0] * len(st.levels[s]) + [-nb.cap[(s, e)]]
                r.add(cs, vs, -inf, 0.0)
    for s in st.steps:  # machines_needed
        cs = [("n", s, e) for e in st.options[s]] + [("z", s, lv) for lv in st.levels[s]]
        vs = [1.0] * len(st.options[s]) + [-float(nb.kmin[(s, lv)]) for lv in st.levels[s]]
        r.add(cs, vs, 0.0, inf)
    for s in st.steps:  # machine_cost_floor
        if s in st.multi:
            cs = [("n", s, e) for e in st.options[s]] + [("z", s, lv) for lv in st.levels[s]]
            vs = [nb.c_n[(s, e)] for e in st.options[s]] + [-nb.phi[(s, lv)] for lv in st.levels[s]]
            r.add(cs, vs, 0.0, inf)
    for s, e1, e2 in st.twins:  # twin_order
        r.add([("n", s, e1), ("n", s, e2)], [1.0, -1.0], 0.0, inf)
    dry_n = [(s, e) for s in st.dry_steps for e in st.options[s]]
    if st.dry_steps:
        for z in st.zones:  # dry_split
            zn = [k for k in dry_n if st.zone_of[k[0]] == z]
            r.add([("a", z, d) for d in st.zones[z]] + [("n",) + k for k in zn],
                  [1.0] * len(st.zones[z]) + [-nb.footprint[k] / nb.amax for k in zn], 0.0, 0.0)
        for z, d in zd:  # dry_class
            r.add([("a", z, d), ("w", z, d)], [1.0, -1.0], -inf, 0.0)
        for s, e in enc:  # enclosed: v >= n - nub (1 - w[zone, argon])
            nub = float(nb.nub[(s, e)])
            r.add([("v", s, e), ("n", s, e), ("w", st.zone_of[s], ARGON)], [1.0, -1.0, -nub],
                  -nub, inf)
    all_n = [(s, e) for s in st.steps for e in st.options[s]]
    r.add([("n",) + k for k in all_n], [nb.footprint[k] / nb.floor_limit for k in all_n],
          -inf, 1.0)
    if st.dry_steps:  # a zone that may choose argon counts only its area in a dry-room class
        in_dry = [k for k in dry_n if st.zone_of[k[0]] not in st.argon_zones]
        az = [(z, d) for z in st.argon_zones for d in st.zones[z] if d != ARGON]
        a_dry = nb.amax / nb.dry_limit if nb.dry_limit > 0 else 0.0
        r.add([("n",) + k for k in in_dry] + [("a",) + k for k in az],
              [nb.footprint[k] / nb.dry_limit for k in in_dry] + [a_dry] * len(az), -inf, 1.0)

    keys = list(st.gkeys())  # h2s_release: shares of the site's limit (none: all 0)
    lim = nb.h2s_limit
    r.add([("g",) + k for k in keys],
          [nb.h2s[k] / lim if math.isfinite(lim) else 0.0 for k in keys], -inf, 1.0)

    for mat in st.supply:  # supply_choice
        r.add([("u", mat, o) for o in st.supply[mat]], [1.0] * len(st.supply[mat]), 1.0, 1.0)
    for s in st.steps:  # supply_machines: an unchosen option's step installs nothing
        if s in st.member:
            for e in st.options[s]:
                r.add([("n", s, e)] + [("z", s, lv) for lv in st.levels[s]],
                      [1.0] + [-float(nb.nub[(s, e)])] * len(st.levels[s]), -inf, 0.0)
    for (mat, o), lim in nb.slim.items():  # supply_limit
        t = st.supply[mat][o]
        cs = [("g", t, lv, d) for lv in st.levels[t] for d in st.flow_classes[t]]
        r.add(cs + [("u", mat, o)], [1.0] * len(cs) + [-lim], -inf, 0.0)

    col = r.col
    for key in bounds:  # a variable no row uses comes last, as in Pyomo
        col.setdefault(key, len(col))
    n = len(col)
    lo = np.empty(n)
    hi = np.empty(n)
    cost = np.empty(n)
    integer = []
    for key, j in col.items():
        lo[j], hi[j], cost[j], is_int = bounds[key]
        if is_int:
            integer.append(j)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(n, np.asarray(lo, dtype=np.double), np.asarray(hi, dtype=np.double))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(cost, dtype=np.double))
    h.changeColsIntegrality(len(integer), np.asarray(integer, dtype=np.int32),
                            np.full(len(integer), highspy.HighsVarType.kInteger))
    h.addRows(len(r.lower), np.asarray(r.lower, dtype=np.double),
              np.asarray(r.upper, dtype=np.double), len(r.index),
              np.asarray(r.starts, dtype=np.int32), np.asarray(r.index, dtype=np.int32),
              np.asarray(r.value, dtype=np.double))
    h.changeObjectiveOffset(nb.c0)
    return h, col


def solve_highs(h, time_limit: float = 60, gap: float = 1e-4, threads: int | None = None):
    """Run HiGHS; return (model status name, objective, dual bound)."""
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    h.run()
    info = h.getInfo()
    return str(h.getModelStatus()), info.objective_function_value, info.mip_dual_bound
