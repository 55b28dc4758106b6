"""Index sets and numbers of the optimiser's MILP, computed once from the data.

`Structure` is what the model's shape depends on (steps, options, levels,
dry-room classes, which steps are moisture-sensitive or have several options); it
is fixed when an `OptModel` is built. `Numbers` holds every coefficient, bound and
big-M for one scenario (target, statistics, derates, prices, economics); a sweep
re-solves by pushing new `Numbers` into the built model. The Pyomo model
(`build.py`) reads these two objects; so does the benchmark's direct highspy build
(benchmarks/highs_direct.py), which is how it measures the same model.

Scaling: flows are *per good cell* (the final step makes exactly 1), capacities are
per machine as a fraction of the yearly target, and the objective is USD per kWh of
good cells. All coefficients are then of order 1e-3..1e3, which keeps HiGHS's
tolerances meaningful whatever the plant size.

Every cost coefficient comes from the cost registry (`ssbfab.categories`: the
primaries' amounts per machine and per m² of dry room, `weights` of the convention)
and from `ssbfab.cost` (`energy_per_unit`, `material_cost_per_started`): the objective
is the same roll-up as `evaluate`. The steps, edges, yields and allowed dry-room classes
come from the route's line graph (`ssbfab.graph.LineGraph`), as they do for the cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import categories, cost
from ..data.schema import ARGON, PLANT_ZONE, Economics, EquipmentOption, Route
from ..graph import LineGraph, StepNode
from ..stats import LineStats

ANY = "any"  # the class index of a step whose yield does not depend on the dry room


@dataclass(frozen=True)
class Structure:
    route: str
    steps: tuple[str, ...]  # topological order
    final: str
    levels: dict[str, tuple[str, ...]]
    options: dict[str, tuple[str, ...]]
    classes: tuple[str, ...]  # allowed dry-room classes
    flow_classes: dict[str, tuple[str, ...]]  # per step: classes (sensitive) or (ANY,)
    multi: frozenset[str]  # steps with more than one option (they get a dispatch)
    dry_steps: tuple[str, ...]  # steps in the dry room
    consumers: dict[str, tuple[str, ...]]
    units: dict[str, str]
    # (step, e1, e2): options identical in every number; n[e1] >= n[e2] breaks the
    # symmetry between them (identical machines *within* an option need nothing: their
    # count is one integer, not one binary per machine)
    twins: tuple[tuple[str, str, str], ...] = ()
    # the step whose level sets the cell's delivered capacity (`LineGraph.energy_step`)
    energy_step: str | None = None
    # some step's water dose lowers the delivered capacity (`LineGraph.dose_capacity_steps`):
    # good cells per design cell then depend on the class of the zone those steps sit in
    # too (`dose_zone`, `LineGraph.dose_zone`; `Numbers.cells_ld`)
    dose_capacity: bool = False
    dose_zone: str = PLANT_ZONE
    # make or buy: material -> {supply option -> the step that delivers it}; step ->
    # (material, option) for every step of an option (their levels sum to the option's
    # binary u[material, option] instead of 1)
    supply: dict[str, dict[str, str]] = field(default_factory=dict)
    member: dict[str, tuple[str, str]] = field(default_factory=dict)
    # the dry room's zones (`LineGraph.zones`): zone -> the classes it may choose (ARGON
    # among them where it may choose argon); dry-room step -> its zone. A route without
    # zones has one, the plant's, choosing among `classes`
    zones: dict[str, tuple[str, ...]] = field(default_factory=dict)
    zone_of: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, route: Route) -> Structure:
        """The model's index sets for a route, from its line graph."""
        full = route.full  # every supply option's steps: the MILP chooses among them
        graph = LineGraph.of(full)
        zones = {z.name: z.classes for z in graph.zones}
        # the plant's zone is always there: `dew_point_class` (a free choice without steps)
        zones.setdefault(PLANT_ZONE, graph.classes)
        # the dry-room classes any zone may choose (the plant's first: a route without
        # zones has exactly the plant's)
        classes = tuple(dict.fromkeys(
            (*graph.classes, *(c for z in zones.values() for c in z if c != ARGON))))
        # a sensitive step's flow splits by class only when its zone has a class to choose
        own = {n.name: zones[n.zone] if n.zone is not None else graph.classes for n in graph.steps}
        flow_classes = {n.name: own[n.name] if n.sensitive and len(own[n.name]) > 1 else (ANY,)
                        for n in graph.steps}
        listed = graph.in_file_order()
        return cls(
            route=route.name, steps=graph.order, final=graph.final.name,
            levels={n.name: tuple(lv.name for lv in n.levels) for n in listed},
            options={n.name: tuple(o.name for o in n.options) for n in listed},
            classes=classes, flow_classes=flow_classes,
            multi=frozenset(n.name for n in listed if len(n.options) > 1),
            dry_steps=graph.dry_steps,
            consumers={n.name: n.consumers for n in graph.steps},
            units={n.name: n.unit for n in listed},
            twins=tuple(_twins(listed)),
            energy_step=graph.energy_step,
            dose_capacity=bool(graph.dose_capacity_steps),
            dose_zone=graph.dose_zone or PLANT_ZONE,
            supply={m: {o.name: o.steps[-1] for o in s.options} for m, s in full.supply.items()},
            member=full.supply_member(),
            zones=zones, zone_of={n.name: n.zone for n in graph.steps if n.zone is not None},
        )

    @property
    def argon_zones(self) -> tuple[str, ...]:
        """Zones that may choose an argon mini-environment."""
        return tuple(z for z, cs in self.zones.items() if ARGON in cs)

    def fixed_class(self, s: str) -> str | None:
        """The class a step's yield sees when its flow is not split by class (ANY): its
        zone's one class (else, outside any zone, the plant's one class), or None."""
        cs = self.zones.get(self.zone_of[s], ()) if s in self.zone_of else self.classes
        return cs[0] if len(cs) == 1 else None

    def gkeys(self) -> Iterator[tuple[str, str, str]]:
        """(step, level, class) of every flow variable."""
        for s in self.steps:
            for lv in self.levels[s]:
                for d in self.flow_classes[s]:
                    yield s, lv, d


def _twins(steps: list[StepNode]) -> Iterator[tuple[str, str, str]]:
    for node in steps:
        seen: dict[str, str] = {}
        for on in node.options:
            key = repr(sorted(on.spec.model_dump(exclude={"name"}).items()))
            if key in seen:
                yield node.name, seen[key], on.name  # a chain: n[a] >= n[b] >= n[c]
            seen[key] = on.name


@dataclass
class Numbers:
    """Every number of one scenario, keyed like the model's index sets."""

    # yields and flows (per good cell)
    yields: dict[tuple[str, str, str], float]  # y[s,l,d]
    inv_y: dict[tuple[str, str, str], float]  # 1/y (0 where y = 0: flow forced to 0)
    gub: dict[tuple[str, str, str], float]  # upper bound of good output g[s,l,d]
    zub: dict[tuple[str, str], float]  # 1 for an open level, 0 for a dominated one
    gmax: dict[str, float]  # largest good output of a step per good cell (big-M)
    gmin: dict[str, float]
    smax: dict[tuple[str, str], float]  # largest/smallest started per good cell at level l
    smin: dict[tuple[str, str], float]
    ratio: dict[tuple[str, str], float]  # units of u's good output per unit of c started
    inv_rf: dict[tuple[str, str], float]  # 1 / rate_factor of level l
    # machines
    cap: dict[tuple[str, str], float]  # nominal-rate units per machine per year / cells per year
    derate: dict[str, float]
    nlb: dict[tuple[str, str], int]
    nub: dict[tuple[str, str], int]
    kmin: dict[tuple[str, str], int]  # machines a step needs at least at level l
    # least machine cost (USD/kWh) that covers a step's smallest need at level l, for
    # steps with several options: whole machines, solved exactly per step (see
    # `min_cover_cost`); the row Σ c_n·n ≥ Σ phi·z states the rounding up front
    phi: dict[tuple[str, str], float]
    footprint: dict[tuple[str, str], float]
    floor_limit: float
    dry_limit: float
    amax: float  # largest dry-room area the plan can have (big-M of the class split)
    # objective (USD per kWh of good cells)
    c_n: dict[tuple[str, str], float]  # per machine
    c_g: dict[tuple[str, str, str], float]  # per unit of good output (materials + energy)
    c_x: dict[tuple[str, str, str], float]  # per unit started on option e at level l (energy)
    c_a: dict[str, float]  # per m² of dry room of class d
    c0: float  # constant: scrap credit of material that ends in good cells
    # H2S released, m³/yr per unit of g[s,l,d], and the site's limit (m³/yr; inf: none)
    h2s: dict[tuple[str, str, str], float]
    h2s_limit: float
    # good cells per design cell at each level of the energy step (1 / capacity_factor):
    # flows are per design cell, and the final step makes Σ_l cells_at[l]·z[l] of them
    cells_at: dict[str, float]
    # for reporting
    cells_per_year: float  # design cells per year (target / design energy)
    kwh_per_year: float
    infeasible: list[str] = field(default_factory=list)  # structured proofs of no plan
    # per dry-room class chosen (w[d] = 1): the volume-scaled costing's plant costs,
    # constants of the plan (`ssbfab.scaled`); 0 under machine-level costing
    c_w: dict[str, float] = field(default_factory=dict)
    # most good output per good cell a supply option may deliver (its `limit` / cells)
    slim: dict[tuple[str, str], float] = field(default_factory=dict)
    # largest value of each supply binary u[material, option]: 1, or 0 for the options a
    # volume-scaled costing leaves out (its plant constants c_w are the route's own supply
    # choice's, so the optimiser keeps that choice there; 1 missing means 1)
    uub: dict[tuple[str, str], float] = field(default_factory=dict)
    # per machine enclosed in argon (USD/kWh), at the steps of zones that may choose argon
    c_enc: dict[tuple[str, str], float] = field(default_factory=dict)
    # with `Structure.dose_capacity`: good cells per design cell at (energy step's level,
    # class d of the dose zone) = cells_at[level] / κ(d), κ the capacity kept after the
    # nominal doses in d (argon included; × observed factors); the level is "" without
    # an energy step (`energy_pairs`)
    cells_ld: dict[tuple[str, str], float] = field(default_factory=dict)


def numbers(route: Route, structure: Structure, capacity_gwh: float, *,
            stats: LineStats | str | Path | None = None, costing: str = "batpac5",
            economics: Economics | None = None, prices: Mapping[str, float] | None = None,
            derate: Mapping[str, float] | None = None, lines: int = 1) -> Numbers:
    """All coefficients of the MILP for one scenario (see the module docstring).

    Under a volume-scaled costing (`categories.costing_parts`) machines, floor and dry
    room cost nothing in the objective: BatPaC's scaled step costs of the plant
    (`lines` x `capacity_gwh`) are a constant per dry-room class (`c_w`), since the
    volumes are fixed by the target and the route's nominal yields (`ssbfab.scaled`).

    `capacity_gwh`: the target, good GWh/yr; `stats`: observed availability and yields
    (`cost.observed`); `prices`: USD per kg/m²/m³ of materials; `derate[step]`: a
    factor on the step's capacity. Coefficients are per good cell and USD per kWh.

    Besides the coefficients, it presolves with the data: a setting level that is no
    faster, no better-yielding and no more frugal than another level of its step
    (dominated) is closed, and so is an option whose machines cost more, do less,
    take more floor and more energy per unit than another option that could carry
    the step alone; big-Ms and machine bounds are then derived from the open levels.
    `lines`: the plant's identical lines this one is one of (a supplier's limit is
    the plant's: each line gets its share)."""
    from ..errors import InputError, Problem

    cost.check_costing(costing)
    if not capacity_gwh > 0 or not math.isfinite(capacity_gwh):
        raise InputError(Problem("arguments", None, "capacity_gwh", f"expected a positive number of "
                                 f"GWh/yr, found {capacity_gwh!r}"))
    econ = economics or route.economics
    plant = route.plant  # this line's share of the site; the steps are the full route's
    runs = route  # the supply choice the route runs (a volume-scaled costing keeps it)
    route = route.full
    graph = cost.costed_graph(route)
    obs = cost.observed(route, stats)
    derate = dict(derate or {})
    for k, v in derate.items():
        if k not in structure.levels:
            raise InputError(Problem("arguments", None, f"derate.{k}", f"unknown step {k!r}"))
        if not (v > 0 and math.isfinite(v)):
            raise InputError(Problem("arguments", None, f"derate.{k}", f"a derate must be positive, found {v!r}"))
    cells = capacity_gwh * 1e6 / graph.energy_kwh
    kwh = capacity_gwh * 1e6
    per_kwh = 1.0 / kwh
    hours = cost.hours_per_year(econ)
    w = categories.weights(econ, costing)
    is_scaled = categories.costing_parts(costing)[1]
    mat_per, credit, _ = cost.material_cost_per_started(route, prices)
    ratio = dict(graph.ratio)
    st = structure

    # -- yields and energy per (step, level, class); dominated levels are closed
    yields: dict[tuple[str, str, str], float] = {}
    inv_y: dict[tuple[str, str, str], float] = {}
    inv_rf: dict[tuple[str, str], float] = {}
    zub: dict[tuple[str, str], float] = {}
    for s_name in st.steps:
        node = graph.node(s_name)
        f = obs[s_name].yield_factor if s_name in obs else 1.0
        for level in node.levels:
            inv_rf[(s_name, level.name)] = 1.0 / level.rate_factor
            for d in st.flow_classes[s_name]:
                # a step that is not split by class still sees the one allowed class
                dd = d if d != ANY else st.fixed_class(s_name)
                y = max(0.0, graph.yield_at(s_name, level.name, dd, f))
                yields[(s_name, level.name, d)] = y
                inv_y[(s_name, level.name, d)] = 1.0 / y if y > 0 else 0.0
        for lvn, open_ in _open_levels(node, st, yields).items():
            zub[(s_name, lvn)] = 1.0 if open_ else 0.0

    def live(s_name: str) -> list[str]:
        return [lv for lv in st.levels[s_name] if zub[(s_name, lv)] > 0]

    es = st.energy_step
    cells_at = ({lv.name: 1.0 / lv.capacity_factor for lv in graph.node(es).levels
                 if zub[(es, lv.name)] > 0} if es is not None else {})
    cells_ld: dict[tuple[str, str], float] = {}
    if st.dose_capacity:
        k_obs = {s: o.capacity_factor for s, o in obs.items()}
        # κ(d) with the dose zone in class d (the plant's class d too when it is the
        # plant's; the steps with a curve sit in no other zone: the loader's checks)
        dz = st.dose_zone
        kappa = {d: graph.dose_capacity(d if dz == PLANT_ZONE else None, k_obs,
                                        None if dz == PLANT_ZONE else {dz: d})
                 for d in st.zones[dz]}
        cells_ld = {(lv, d): (cells_at.get(lv, 0.0) if es else 1.0) / kappa[d]
                    for lv, d in energy_pairs(st)}
    final_cells = list(cells_ld.values()) or list(cells_at.values()) or [1.0]
    final_cells = [c for c in final_cells if c > 0] or [1.0]

    positive: dict[str, list[float]] = {n: [] for n in st.steps}
    for (s_name, lv, _), y in yields.items():
        if y > 0 and zub[(s_name, lv)] > 0:
            positive[s_name].append(y)

    # -- bounds on flows: worst and best yields downstream (valid for every plan)
    gmax: dict[str, float] = {}
    gmin: dict[str, float] = {}
    infeasible: list[str] = []
    member = st.member
    for name in reversed(st.steps):
        if not positive[name]:
            infeasible.append(f"step {name!r} has no yield above zero at any of its levels "
                              f"in any allowed dry-room class ({', '.join(st.classes)})")
        cons = st.consumers[name]
        if not cons:
            gmax[name] = graph.node(name).per_cell * max(final_cells)
            gmin[name] = graph.node(name).per_cell * min(final_cells)
        else:
            gmax[name] = sum(gmax[c] / min(positive[c] or [1.0]) * ratio[(name, c)] for c in cons)
            # a consumer in another supply option may go unchosen (it needs nothing for
            # sure), unless that option is its material's only one
            gmin[name] = sum(gmin[c] / max(positive[c] or [1.0]) * ratio[(name, c)] for c in cons
                             if c not in member or member[c] == member.get(name)
                             or len(st.supply[member[c][0]]) == 1)
    smax: dict[tuple[str, str], float] = {}
    smin: dict[tuple[str, str], float] = {}
    gub: dict[tuple[str, str, str], float] = {}
    for (s_name, lv, d), y in yields.items():
        gub[(s_name, lv, d)] = gmax[s_name] if (y > 0 and zub[(s_name, lv)] > 0) else 0.0
    for s_name in st.steps:
        for lv in st.levels[s_name]:
            ys = [yields[(s_name, lv, d)] for d in st.flow_classes[s_name]
                  if gub[(s_name, lv, d)] > 0]
            smax[(s_name, lv)] = gmax[s_name] / min(ys) if ys else 0.0
            smin[(s_name, lv)] = gmin[s_name] / max(ys) if ys else math.inf

    # -- machines: capacity, costs, bounds; dominated options are closed
    cap: dict[tuple[str, str], float] = {}
    nlb: dict[tuple[str, str], int] = {}
    nub: dict[tuple[str, str], int] = {}
    kmin: dict[tuple[str, str], int] = {}
    footprint: dict[tuple[str, str], float] = {}
    c_n: dict[tuple[str, str], float] = {}
    c_g: dict[tuple[str, str, str], float] = {}
    c_x: dict[tuple[str, str, str], float] = {}
    phi: dict[tuple[str, str], float] = {}
    h2s_gk: dict[tuple[str, str, str], float] = {}
    short: list[tuple[float, str, str]] = []  # (most GWh/yr, step, message)
    for s_name in st.steps:
        node = graph.node(s_name)
        a_obs = obs[s_name].availability if s_name in obs else None
        dr = derate.get(s_name, 1.0)
        energy: dict[tuple[str, str], float] = {}
        for on in node.options:
            o = on.spec
            key = (s_name, o.name)
            rate = on.rate_per_hour
            a = on.availability if a_obs is None else a_obs
            # nominal-rate units per machine-year, as a fraction of the cells target
            cap[key] = rate * a * hours / cells
            footprint[key] = o.footprint
            c_n[key] = 0.0 if is_scaled else categories.machine_weight(o, econ, w) * per_kwh
            nlb[key] = o.min_count
            # machines that alone would carry the largest need of any open level
            need = max((smax[(s_name, lv)] * inv_rf[(s_name, lv)] / dr for lv in live(s_name)),
                       default=0.0)
            nub[key] = _ceil(need / cap[key])
            for level in node.levels:
                energy[(o.name, level.name)] = (cost.energy_per_unit(o, level, econ, rate)
                                                * w["process_energy"] * cells * per_kwh)
        specs = [on.spec for on in node.options]
        closed = _dominated_options(s_name, specs, cap, c_n, footprint, energy, nub,
                                    live(s_name))
        for o in specs:
            key = (s_name, o.name)
            nub[key] = 0 if o.name in closed else max(o.min_count, min(o.max_count, nub[key]))
        open_opts = [o for o in specs if nub[(s_name, o.name)] > 0] or specs
        best_cap = max(cap[(s_name, o.name)] for o in open_opts)
        items = [(cap[(s_name, o.name)], c_n[(s_name, o.name)], o.min_count,
                  nub[(s_name, o.name)]) for o in specs]
        for level in node.levels:
            need_lo = smin[(s_name, level.name)] * inv_rf[(s_name, level.name)] / dr
            kmin[(s_name, level.name)] = _ceil(need_lo / best_cap) if math.isfinite(need_lo) else 0
            if s_name in st.multi:
                phi[(s_name, level.name)] = (min_cover_cost(need_lo, items)
                                          if math.isfinite(need_lo) and zub[(s_name, level.name)] else 0.0)
            if s_name in st.multi:
                for o in specs:
                    c_x[(s_name, o.name, level.name)] = energy[(o.name, level.name)]
            for d in st.flow_classes[s_name]:
                gk = (s_name, level.name, d)
                dd = d if d != ANY else st.fixed_class(s_name)
                h2s_gk[gk] = inv_y[gk] * graph.h2s(s_name, dd) * cells  # m³/yr per unit of g
                unit = (mat_per[s_name] * w["materials"]
                        + cost.h2s_cost_per_started(graph, s_name, dd, econ) * w["h2s_abatement"]
                        + cost.rework_cost_per_started(graph, s_name, level.name, dd)
                        * w["rework"]) * cells * per_kwh
                if s_name not in st.multi:
                    unit += energy[(specs[0].name, level.name)]
                c_g[gk] = inv_y[gk] * unit
        # a step that cannot cover even its smallest need with every machine allowed
        room = {lv: sum(o.max_count * cap[(s_name, o.name)] for o in specs) * dr
                / inv_rf[(s_name, lv)] for lv in live(s_name)}
        if s_name not in member and room and all(smin[(s_name, lv)] > room[lv] * (1 + 1e-9) for lv in room):
            best = max(room, key=lambda lv: room[lv] / smin[(s_name, lv)])
            step_unit = st.units[s_name]
            opts = ", ".join(f"{o.name} max_count {o.max_count}" for o in specs)
            most = capacity_gwh * room[best] / smin[(s_name, best)]
            short.append((most, s_name,
                          f"step {s_name!r} must start at least {smin[(s_name, best)] * cells:,.4g} "
                          f"{step_unit}/yr for {capacity_gwh:g} GWh/yr (at its best level {best!r}, best "
                          f"yields downstream), but its machine limits ({opts}) allow at most "
                          f"{room[best] * cells:,.4g} {step_unit}/yr, i.e. at most {most:,.4g} GWh/yr"))
    if short:  # the tightest step in full, the others by name
        short.sort()
        msg = short[0][2]
        if len(short) > 1:
            msg += "; the machine limits of " + ", ".join(
                f"{n!r} (at most {g:,.4g} GWh/yr)" for g, n, _ in short[1:]) + " are also exceeded"
        infeasible.append(msg)

    # -- dry room and plant area
    assert plant is not None  # a route with a cell design has its plant (the schema says so)
    floor_limit = plant.floor_area
    dry_limit = plant.dry_room_area
    c_a: dict[str, float] = {}
    c_w: dict[str, float] = {d: 0.0 for d in st.classes}
    for d in st.classes:
        c_a[d] = 0.0 if is_scaled else categories.dry_room_weight(graph.dry_rooms[d], econ, w) * per_kwh
        if is_scaled:
            from .. import scaled

            klass = graph.dry_rooms[d] if graph.dry_steps else None
            fixed = scaled.primaries(runs, capacity_gwh * lines, klass, econ, share=1.0 / lines)
            c_w[d] = sum(w[k] * v for prim in fixed.values() for k, v in prim.items()) * per_kwh
    area_max = sum(footprint[(s, e)] * nub[(s, e)] for s in st.dry_steps for e in st.options[s])
    # a zone in argon holds no dry room, so the site's dry-room limit does not bound its area
    amax = max(1.0, area_max if st.argon_zones else min(dry_limit, area_max))
    # per machine enclosed in argon, at the steps of zones that may choose argon
    c_enc: dict[tuple[str, str], float] = {}
    for s in st.dry_steps:
        enc = graph.node(s).spec.argon_enclosure
        if st.zone_of[s] in st.argon_zones and enc is not None:  # every one has it (checks)
            for e in st.options[s]:  # machine-driven: BatPaC's scaled plant under -scaled
                c_enc[(s, e)] = 0.0 if is_scaled else categories.enclosure_weight(enc, econ, w) * per_kwh
    infeasible.extend(_area_checks(graph, st, smin, inv_rf, cap, footprint, derate,
                                   floor_limit, dry_limit, live))
    h2s_limit = plant.h2s_limit if plant.h2s_limit is not None else math.inf
    # the least H2S any plan releases: each step's smallest start in its cleanest class
    least_h2s = sum(min((smin[(s, lv)] * graph.h2s(s, d) for lv in live(s)
                         for d in st.zones.get(st.zone_of.get(s, ""), st.classes)
                         if math.isfinite(smin[(s, lv)])), default=0.0) for s in st.steps) * cells
    if least_h2s > h2s_limit * (1 + 1e-9):
        infeasible.append(f"the H2S release limit of the route's plant (plant.h2s_limit, "
                          f"{h2s_limit:,.4g} m³/yr) is too small: any plan for {capacity_gwh:g} "
                          f"GWh/yr releases at least {least_h2s:,.4g} m³/yr, even in the driest "
                          "allowed dry-room class")
    c0 = credit * w["materials"] * cells * per_kwh
    if es is not None or st.dose_capacity:
        # the credit is per good cell, and their number follows the energy step's level
        # (and, with a conductivity curve, the class)
        for gk in c_g:
            if gk[0] == st.final:
                c_g[gk] += c0
        c0 = 0.0
    slim = {(m, o.name): o.limit / lines / cells for m, sup in route.full.supply.items()
            for o in sup.options if o.limit is not None}
    chosen = runs.supply_choice
    uub = {(m, o): (1.0 if not is_scaled or chosen.get(m) == o else 0.0)
           for m, opts in st.supply.items() for o in opts}
    return Numbers(
        yields=yields, inv_y=inv_y, gub=gub, zub=zub, gmax=gmax, gmin=gmin, smax=smax, smin=smin,
        ratio=ratio, inv_rf=inv_rf, cap=cap, derate={s: derate.get(s, 1.0) for s in st.steps},
        nlb=nlb, nub=nub, kmin=kmin, phi=phi, footprint=footprint, floor_limit=floor_limit,
        dry_limit=dry_limit, amax=amax, c_n=c_n, c_g=c_g, c_x=c_x, c_a=c_a, c0=c0,
        cells_at={lv: cells_at.get(lv, 0.0) for lv in st.levels[es]} if es else {},
        h2s=h2s_gk, h2s_limit=h2s_limit,
        cells_per_year=cells, kwh_per_year=kwh, infeasible=infeasible, c_w=c_w, slim=slim, uub=uub,
        c_enc=c_enc, cells_ld=cells_ld,
    )


def energy_pairs(st: Structure) -> list[tuple[str, str]]:
    """(level of the energy step, class of the dose zone `Structure.dose_zone`, argon
    included) pairs that set good cells per design cell when the dose lowers capacity
    (`Structure.dose_capacity`): level "" without an energy step; empty otherwise."""
    if not st.dose_capacity:
        return []
    levels = st.levels[st.energy_step] if st.energy_step else ("",)
    return [(lv, d) for lv in levels for d in st.zones[st.dose_zone]]


def _open_levels(step: StepNode, st: Structure,
                 yields: Mapping[tuple[str, str, str], float]) -> dict[str, bool]:
    """A level is closed when another level of the step is at least as fast, yields at
    least as much in every class, and uses no more energy per unit (ties: the first
    level stays open) and delivers at least the same capacity. Materials per unit
    started do not depend on the level, so the other level is at least as good in
    every plan."""
    lvs = step.levels
    d_s = st.flow_classes[step.name]
    out = {}
    for i, a in enumerate(lvs):
        dominated = False
        for j, b in enumerate(lvs):
            if i == j:
                continue
            ge = (b.rate_factor >= a.rate_factor and b.capacity_factor >= a.capacity_factor
                  and all(yields[(step.name, b.name, d)] >= yields[(step.name, a.name, d)] for d in d_s)
                  and b.energy_factor / b.rate_factor <= a.energy_factor / a.rate_factor)
            strict = (b.rate_factor > a.rate_factor or b.capacity_factor > a.capacity_factor
                      or any(yields[(step.name, b.name, d)] > yields[(step.name, a.name, d)] for d in d_s)
                      or b.energy_factor / b.rate_factor < a.energy_factor / a.rate_factor)
            if ge and (strict or j < i):
                dominated = True
                break
        out[a.name] = not dominated
    return out


def _dominated_options(s: str, opts: list[EquipmentOption], cap: Mapping[tuple[str, str], float],
                       c_n: Mapping[tuple[str, str], float],
                       footprint: Mapping[tuple[str, str], float],
                       energy: Mapping[tuple[str, str], float],
                       need_n: Mapping[tuple[str, str], int], levels: list[str]) -> set[str]:
    """Options of step `s` whose every machine can be swapped for one of another option
    that costs no more, carries at least as much, takes no more floor and no more
    energy per unit at any open level — provided that other option may alone carry
    the step (its max_count covers the largest need) and the swapped option has no
    min_count."""
    closed: set[str] = set()
    for i, a in enumerate(opts):
        if a.min_count > 0:
            continue
        ka = (s, a.name)
        for j, b in enumerate(opts):
            kb = (s, b.name)
            if i == j or b.name in closed or b.max_count < need_n[kb]:
                continue
            ge = (c_n[kb] <= c_n[ka] and cap[kb] >= cap[ka] and footprint[kb] <= footprint[ka]
                  and all(energy[(b.name, lv)] <= energy[(a.name, lv)] for lv in levels))
            strict = (c_n[kb] < c_n[ka] or cap[kb] > cap[ka] or footprint[kb] < footprint[ka]
                      or any(energy[(b.name, lv)] < energy[(a.name, lv)] for lv in levels))
            if ge and (strict or j < i):
                closed.add(a.name)
                break
    return closed


def min_cover_cost(need: float, items: list[tuple[float, float, int, int]],
                   max_nodes: int = 20000) -> float:
    """Least cost of whole machines whose capacity covers `need`: items are (capacity,
    cost, min count, max count) per option. Depth-first branch and bound with the
    fractional (LP) bound; if the node budget runs out, the best proven lower bound
    is returned, so the result is always a valid lower bound on the true minimum."""
    base_cap = sum(lb * c for c, _, lb, _ in items)
    base_cost = sum(lb * k for _, k, lb, _ in items)
    rest = need - base_cap
    tol = 1e-9 * max(need, 1e-300)
    if rest <= tol:
        return base_cost
    its = sorted(((c, k, ub - lb) for c, k, lb, ub in items if ub > lb and c > 0),
                 key=lambda t: t[1] / t[0])
    if not its:
        return base_cost  # cannot cover: the model is infeasible anyway

    def lp(i: int, left: float) -> float:
        total = 0.0
        for c, k, room in its[i:]:
            if left <= tol:
                return total
            take = min(room, left / c)
            total += take * k
            left -= take * c
        return total if left <= tol else math.inf

    root = lp(0, rest)
    best = math.inf
    nodes = 0

    def dfs(i: int, left: float, cost: float) -> None:
        nonlocal best, nodes
        nodes += 1
        if left <= tol:
            best = min(best, cost)
            return
        if i == len(its) or nodes > max_nodes:
            return
        if cost + lp(i, left) >= best * (1 - 1e-12):
            return
        c, k, room = its[i]
        for n in range(min(room, _ceil(left / c)), -1, -1):
            dfs(i + 1, left - n * c, cost + n * k)

    dfs(0, rest, 0.0)
    if nodes > max_nodes or not math.isfinite(best):
        return base_cost + (root if math.isfinite(root) else 0.0)
    return base_cost + best


def _ceil(x: float) -> int:
    """Ceiling that forgives float noise (3.0000000001 machines is 3)."""
    return int(math.ceil(x * (1 - 1e-9) - 1e-12)) if x > 0 else 0


def _area_checks(graph: LineGraph, st: Structure, smin: Mapping[tuple[str, str], float],
                 inv_rf: Mapping[tuple[str, str], float], cap: Mapping[tuple[str, str], float],
                 footprint: Mapping[tuple[str, str], float], derate: Mapping[str, float],
                 floor_limit: float, dry_limit: float,
                 live: Callable[[str], list[str]]) -> list[str]:
    """Lower bounds on floor and dry-room area (m², the least footprint that covers each
    step's smallest need); a bound above the site's limit proves there is no plan."""
    least: dict[str, float] = {}
    for s in st.steps:
        if s in st.member:  # a supply option's step: it may go unchosen
            least[s] = 0.0
            continue
        options = graph.node(s).options
        dr = derate.get(s, 1.0)
        forced = sum(o.spec.min_count * footprint[(s, o.name)] for o in options)
        best = math.inf
        for lv in live(s):
            need = smin[(s, lv)] * inv_rf[(s, lv)] / dr
            if not math.isfinite(need):
                continue
            if len(options) == 1:
                e = options[0].name
                a = _ceil(need / cap[(s, e)]) * footprint[(s, e)]
            else:  # fractional cover by the option with the least area per unit
                a = need * min(footprint[(s, e)] / cap[(s, e)] for e in st.options[s])
            best = min(best, a)
        least[s] = max(forced, best if math.isfinite(best) else 0.0)
    out = []
    in_dry = tuple(s for s in st.dry_steps if st.zone_of.get(s) not in st.argon_zones)
    for what, steps, limit in (("site floor area", st.steps, floor_limit),
                               ("dry-room area", in_dry, dry_limit)):
        total = sum(least[s] for s in steps)
        if total > limit * (1 + 1e-9):
            top = sorted(steps, key=lambda s: -least[s])[:3]
            out.append(f"the {what} limit of the route's plant ({limit:,.0f} m²) is too small: "
                       f"the machines the target needs take at least {total:,.0f} m² "
                       f"(largest: " + ", ".join(f"{s} {least[s]:,.0f} m²" for s in top) + ")")
    return out
