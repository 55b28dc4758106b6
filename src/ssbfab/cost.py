"""The one cost function: what a good kWh of a plant configuration costs, and why.

`evaluate(config, stats, costing)` prices a `PlantConfig` per kWh of good cells at
the config's target (capacity_gwh), by category and by step. What the categories are,
which primary quantities they follow from and how each costing convention rolls them
up is declared once, in the cost registry (`ssbfab.categories`); the optimiser's
objective is built from the same registry and from the coefficient functions below
(`energy_per_unit`, `material_cost_per_started`), so the two cannot drift apart; the
tests check that they agree to 1e-6.

Primary quantities (per year, USD of the economics' currency year; the registry
declares each with its driver):

- materials: bought per good cell through the line's yields (`flow`), priced per
  kg, m² or m³, less the scrap credit of what ends up scrapped;
- process energy: power × processing time × energy factor of the level × price.
  Processing time is load / rate, so it is linear in throughput. When a step has
  machines of several options, the load goes first to the option with the least
  energy per unit (merit order) — the dispatch the optimiser's LP also chooses;
- per installed machine: equipment capex and direct labour (operators per shift ×
  operating hours × labour rate); per m² of machine floor: the building cost;
- per m² of dry room (the machine footprints of dry-room steps) of the plant's
  class: extra building cost, dehumidification capex and energy (kW/m² × operating
  hours × price); BatPaC has no dry-room energy, ssbfab does.

The conventions (`batpac5`, `annuity`) and their rules are in `ssbfab.categories`.
Under their volume-scaled forms (`batpac5-scaled`, `annuity-scaled`) every primary
driven by machines, floor or dry room is replaced by BatPaC 5.0's step volume scaling
for the whole plant (`ssbfab.scaled`), the line's share of it when the plant is
several lines (`config.meta["lines"]`); materials and process energy are the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from . import categories
from .categories import COSTING_CHOICES
from .data.schema import ARGON, Economics, EquipmentOption, Level, Material, Route
from .errors import InputError, Problem, closest
from .graph import LineGraph, costed_graph
from .stats import LineStats

if TYPE_CHECKING:
    import pandas as pd

    from .config import PlantConfig

def check_costing(costing: str) -> None:
    """An unknown costing convention is bad input (exit 2)."""
    if costing not in COSTING_CHOICES:
        raise InputError(Problem("arguments", None, "costing", f"unknown costing convention {costing!r}"
                                 f"{closest(costing, COSTING_CHOICES)}; expected one of "
                                 f"{', '.join(COSTING_CHOICES)}"))


# ----------------------------------------------------------------------------- coefficients


def hours_per_year(econ: Economics) -> float:
    """Operating hours per year of the plant calendar (machines, labour, dry room)."""
    return econ.operating_hours_per_year


def energy_per_unit(option: EquipmentOption, level: Level, econ: Economics,
                    rate_per_hour: float | None = None) -> float:
    """Process electricity in USD per unit of the step's unit started on this option
    at this level: power (kW) × energy_factor × (1 - energy_recovery) / (rate ×
    rate_factor) (units/h) × price; a regenerative cycler returns `energy_recovery` of
    what it draws. `rate_per_hour` saves re-reading the option's rate
    (`graph.OptionNode.rate_per_hour`)."""
    rate = option.rate_per_hour if rate_per_hour is None else rate_per_hour
    return (option.power * level.energy_factor * (1.0 - option.energy_recovery)
            / (rate * level.rate_factor) * econ.electricity_price)


def rework_cost_per_started(graph: LineGraph, step: str, level: str,
                            dew_point_class: str | None) -> float:
    """Rework in USD per unit of `step` started: units reworked per unit started
    (`LineGraph.rework_per_started`) × the step's `rework.cost` (USD/kg)."""
    rw = graph.node(step).spec.rework
    return 0.0 if rw is None else graph.rework_per_started(step, level, dew_point_class) * rw.cost


def h2s_cost_per_started(graph: LineGraph, step: str, dew_point_class: str | None,
                         econ: Economics) -> float:
    """H2S abatement in USD per unit of `step` started in the class: m³ released
    (`LineGraph.h2s`) × the economics' `h2s_abatement_cost` (USD/m³)."""
    return graph.h2s(step, dew_point_class) * econ.h2s_abatement_cost


def capacity_per_machine(option: EquipmentOption, level: Level, econ: Economics,
                         availability: float | None = None, derate: float = 1.0,
                         rate_per_hour: float | None = None) -> float:
    """Units a machine can start per year at this level: rate × rate_factor ×
    availability (observed when given, else MTBF/MTTR/maintenance) × derate × hours."""
    rate = option.rate_per_hour if rate_per_hour is None else rate_per_hour
    a = option.availability if availability is None else availability
    return rate * level.rate_factor * a * derate * hours_per_year(econ)


def material_prices(route: Route, prices: Mapping[str, float] | None = None
                    ) -> dict[str, tuple[float, str]]:
    """USD per basis unit (kg, m2, m3) of every priced material, with overrides."""
    out = dict(LineGraph.of(route).prices)
    for name, v in (prices or {}).items():
        if name not in route.all_materials:
            raise InputError(Problem("arguments", None, f"prices.{name}", f"unknown material {name!r}"
                                     f"{closest(name, route.all_materials)}"))
        basis = out.get(name, (0.0, "kg"))[1]
        out[name] = (float(v), basis)
    return out


def material_cost_per_started(route: Route, prices: Mapping[str, float] | None = None
                              ) -> tuple[dict[str, float], float, dict[tuple[str, str], float]]:
    """Materials, linear in the units started at each step.

    Returns (per_started {step: USD per unit started, net of (1 - scrap_credit)},
    credit_per_cell: USD per good cell given back for the design amount,
    detail {(step, material): USD per unit started}).
    Net cost = Σ started·per_started + credit_per_cell (the scrap credit of material
    m is credit·price·(bought - in the good cell), rewritten to stay linear)."""
    graph = LineGraph.of(route)
    pr = material_prices(route, prices)
    mats = route.all_materials
    per: dict[str, float] = {name: 0.0 for name in graph.listed}
    detail: dict[tuple[str, str], float] = {}
    bought: set[str] = set()
    for (s, m), rate in graph.material_rates.items():
        if m not in pr:
            raise InputError(Problem(route.file, None, f"materials.{m}.price",
                                     f"material {m!r} is bought at step {s!r} but has no price"))
        c = rate * (pr[m][0] - credit_per_unit(mats[m], pr[m][0]))
        detail[(s, m)] = c
        per[s] += c
        bought.add(m)
    credit = 0.0
    for m in bought:
        back = credit_per_unit(mats[m], pr[m][0])
        if back and m in graph.design_bom:
            credit += back * graph.design_bom[m]
    return per, credit, detail


def credit_per_unit(material: Material, price: float) -> float:
    """USD given back per basis unit of `material` that ends up scrapped: its
    `scrap_credit` share of `price` plus its `recycling_credit` (USD/kg; the loader
    allows one only on a material priced per kg)."""
    return material.scrap_credit * price + material.recycling_credit


# ----------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class Observed:
    """What the simulator saw at a step, as the optimiser and the cost use it."""

    availability: float | None  # replaces the options' nominal availability (fraction)
    yield_factor: float  # observed / nominal yield at the simulated level and class
    # observed / nominal capacity kept after the water dose (a conductivity curve; else 1)
    capacity_factor: float = 1.0


def observed(route: Route, stats: LineStats | str | Path | None) -> dict[str, Observed]:
    """Per step the statistics cover: the availability a capacity plan uses
    (`StepStats.availability_operating`, the up share of the hours the machines were
    wanted; when a hand-made or older statistics file lacks it, `availability`; when
    neither is a positive number, None: the options' nominal availability), and the
    factor of the observed over the nominal yield at the level (`StepStats.level`;
    unknown or absent: the step's first level) and dry-room class
    (`LineStats.dew_point_class`, a named zone's `LineStats.zone_classes`; absent: no
    moisture factor) that were simulated.
    `stats`: a LineStats, or the path of a stats.json written by `simulate --out`."""
    if stats is None:
        return {}
    if isinstance(stats, (str, Path)):  # a stats.json (or its folder) from `simulate --out`
        stats = LineStats.read(stats)
    if stats.route != route.name:
        raise InputError(Problem("arguments", None, "stats.route", f"the statistics are for route "
                                 f"{stats.route!r}, not {route.name!r}"))
    graph = LineGraph.of(route)
    dpc = stats.dew_point_class
    if dpc is not None and any(n.sensitive for n in graph.steps):
        graph.check_class(dpc, "stats.dew_point_class", "arguments")
    for z, c in stats.zone_classes.items():
        if (why := graph.zone_problem(z, c)) is not None:
            raise InputError(Problem("arguments", None, f"stats.zones.{z}", why))
    classes = graph.step_classes(dpc, stats.zone_classes)
    # The simulator's `availability` counts idle hours as up (idle machines do not
    # fail), which flatters a lightly loaded step; `availability_operating` (up
    # share of the hours the machines were wanted) is the one a capacity plan needs.
    out = {}
    for node in graph.in_file_order():
        st = stats.steps.get(node.name)
        if st is None:
            continue
        avail = _finite_positive(st.availability_operating.mean)
        if avail is None:
            avail = _finite_positive(st.availability.mean)
        y_obs = st.yield_.mean
        factor = 1.0
        if y_obs is not None and math.isfinite(y_obs):
            level = st.level if st.level is not None and st.level in node.level_yield \
                else node.levels[0].name
            nominal = graph.yield_at(node.name, level, classes[node.name])
            factor = y_obs / nominal if nominal > 0 else 0.0
        # the capacity the doses seen left the cells, over the nominal dose's (the
        # simulated class's), fed back as the yield is
        k_obs = st.capacity_retained.mean
        k_factor = 1.0
        d = classes[node.name]  # the step's zone's class (argon included)
        if node.capacity and d is not None and k_obs is not None and math.isfinite(k_obs):
            k_factor = k_obs / node.capacity[d]
        out[node.name] = Observed(avail, factor, k_factor)
    return out


def _finite_positive(v: float | None) -> float | None:
    """v if it is a finite positive number (a measured availability), else None."""
    return float(v) if v is not None and math.isfinite(v) and v > 0 else None


# ----------------------------------------------------------------------------- evaluate


@dataclass(frozen=True)
class CostBreakdown:
    """Cost per kWh of good cells, by category and step. USD of `currency_year`."""

    cost_per_kwh: float
    currency: str
    currency_year: int
    costing: str
    by_category: dict[str, float]  # USD/kWh, sums to cost_per_kwh
    per_year: dict[str, float]  # USD/yr, same categories
    overhead_items: dict[str, float]  # USD/kWh: the parts of `overheads`
    investment: dict[str, float]  # USD: investment items (information)
    capex_total: float  # USD: equipment + building + dry room
    floor_area_m2: float
    dry_room_area_m2: float
    dew_point_class: str
    good_kwh_per_year: float
    good_cells_per_year: float
    started_per_year: dict[str, float]  # units started at each step per year
    capacity_per_year: dict[str, float]  # units each step can start per year (installed)
    shortfall: dict[str, float] = field(default_factory=dict)  # steps short of capacity
    h2s_m3_per_year: float = 0.0  # H2S the line releases in its class, m³/yr (`LineGraph.h2s`)
    # the dry room all-in, USD/kWh: its floor's building share (plain + extra cost per m²)
    # + its dehumidification plant + its energy (a view across three categories)
    dry_room_all_in: float = 0.0
    # zoned plant: zone -> {class, area_m2 (dry room, or enclosed floor in argon),
    # machines enclosed in argon, usd_per_kwh: its dry room all-in or its enclosures and
    # their argon}; empty for a route without named zones
    zones: dict[str, dict[str, object]] = field(default_factory=dict)
    # (step, primary quantities) and the economics, rolled up per step on demand
    _step_primary: tuple = field(default=(), repr=False, compare=False)
    _economics: Economics | None = field(default=None, repr=False, compare=False)

    @property
    def primary_by_step(self) -> dict[str, dict[str, float]]:
        """Primary quantities of each step (`categories.PRIMARIES`: USD/yr for flows,
        USD for capital)."""
        return {step: dict(prim) for step, prim in self._step_primary}

    @property
    def primary(self) -> dict[str, float]:
        """Primary quantities of the plant (sums of `primary_by_step`)."""
        names = categories.primary_names()
        out = {k: 0.0 for k in names}
        for _, prim in self._step_primary:
            for k in names:
                out[k] += prim.get(k, 0.0)
        return out

    @property
    def feasible(self) -> bool:
        """True when every step's installed capacity covers its required input."""
        return not self.shortfall

    @cached_property
    def by_step(self) -> pd.DataFrame:
        """pandas DataFrame: step, category, usd_per_year, usd_per_kwh."""
        import pandas as pd

        rows: list[dict[str, object]] = []
        for step, prim in self._step_primary:
            assert self._economics is not None
            # the roll-up is linear: the steps add up to the plant
            cat = categories.rollup(prim, self._economics, self.costing).categories
            rows.extend({"step": step, "category": c, "usd_per_year": v,
                         "usd_per_kwh": v / self.good_kwh_per_year} for c, v in cat.items())
        return pd.DataFrame(rows, columns=["step", "category", "usd_per_year", "usd_per_kwh"])

    def to_dict(self) -> dict[str, object]:
        """The headline numbers as JSON-ready values (USD, USD/kWh, m², per year)."""
        return {
            "cost_per_kwh": self.cost_per_kwh, "currency": self.currency,
            "currency_year": self.currency_year, "costing": self.costing,
            "breakdown": dict(self.by_category), "per_year": dict(self.per_year),
            "overhead_items": dict(self.overhead_items), "investment": dict(self.investment),
            "capex_total": self.capex_total, "floor_area_m2": self.floor_area_m2,
            "dry_room_area_m2": self.dry_room_area_m2, "dew_point_class": self.dew_point_class,
            "good_kwh_per_year": self.good_kwh_per_year,
            "good_cells_per_year": self.good_cells_per_year,
            "h2s_m3_per_year": self.h2s_m3_per_year, "dry_room_all_in": self.dry_room_all_in,
            **({"zones": {z: dict(v) for z, v in self.zones.items()}} if self.zones else {}),
        }


def config_yields(config: PlantConfig, obs: Mapping[str, Observed] | None = None
                  ) -> dict[str, float]:
    """Yield (fraction) of each step at the config's levels and its zone's dry-room
    class, times the observed factors, in the order of the route file."""
    obs = obs or {}
    graph = LineGraph.of(config.route)
    classes = config.step_classes()
    out = {}
    for name in graph.listed:
        f = obs[name].yield_factor if name in obs else 1.0
        out[name] = graph.yield_at(name, config.steps[name].level, classes[name], f)
    return out


def dispatch(load: float, options: list[tuple[str, float, float]]) -> dict[str, float]:
    """Share `load` (units/yr) among options [(name, capacity/yr, cost/unit)] in merit
    order (cheapest per unit first). Load beyond the installed capacity goes to the
    dearest installed option (the config is short; `evaluate` reports the shortfall)."""
    out = {name: 0.0 for name, _, _ in options}
    rest = load
    ranked = sorted(options, key=lambda o: o[2])
    for name, cap, _ in ranked:
        take = min(rest, cap)
        out[name] += take
        rest -= take
        if rest <= 0:
            break
    if rest > 0 and ranked:
        installed = [o for o in ranked if o[1] > 0] or ranked
        out[installed[-1][0]] += rest
    return out


def _scaled_rows(config: PlantConfig, rows: list[tuple[str, dict[str, float]]], dry,
                 econ: Economics) -> tuple[list[tuple[str, dict[str, float]]],
                                           dict[str, float], float, float]:
    """The rows of a volume-scaled costing: each step's flow primaries (materials,
    process energy) as machine-level costing gives them, the machine-, floor- and
    dry-room-driven ones from BatPaC's scaling (`scaled.primaries`) for the plant of
    `lines` x the config's target, the line's share; the plant-wide items as rows of
    their own. Returns (rows, plant primaries, floor m², dry room m²) of the line."""
    from . import scaled

    n = int(config.meta.get("lines", 1) or 1)
    plant_gwh = config.capacity_gwh * n
    flows = {p.name for p in categories.PRIMARIES if p.flow}
    add = scaled.primaries(config.route, plant_gwh, dry, econ, share=1.0 / n)
    names = categories.primary_names()
    out = []
    for step, prim in rows:
        new = {k: (v if k in flows else 0.0) for k, v in prim.items()}
        for k, v in add.pop(step, {}).items():
            new[k] += v
        out.append((step, new))
    out.extend((k, {name: v.get(name, 0.0) for name in names}) for k, v in add.items())
    total = {k: sum(p[k] for _, p in out) for k in names}
    floor, dry_area = scaled.areas(config.route, plant_gwh)
    return out, total, floor / n, dry_area / n


def _zone_classes_checked(config: PlantConfig, graph: LineGraph) -> dict[str, str]:
    """The config's class of every named zone (one it does not name: the plant's
    `dew_point_class`); an unknown zone or a class it may not choose is bad input
    naming the field."""
    file = config.meta.get("file") or config.route.file
    out = {z.name: config.dew_point_class for z in graph.named_zones}  # not given: the plant's
    out.update(config.zone_classes)
    for name, c in out.items():
        if (why := graph.zone_problem(name, c)) is not None:
            raise InputError(Problem(file, None, f"zones.{name}", why))
    return out


def evaluate(config: PlantConfig, stats: LineStats | str | Path | None = None,
             costing: str = "batpac5", economics: Economics | None = None,
             *, prices: Mapping[str, float] | None = None) -> CostBreakdown:
    """Cost per kWh of good cells of a plant configuration at its target output.

    `config`: a PlantConfig (levels, machines per option, dew-point class,
    capacity_gwh = good GWh/yr). `stats`: a LineStats whose observed yields and
    availability replace the nominal ones (or the path of a stats.json). `costing`: "batpac5" or
    "annuity", or either with "-scaled" (BatPaC's step volume scaling, `ssbfab.scaled`).
    `economics`: overrides the route's economics. `prices`: USD per kg/m²/m³ of
    materials, overriding the data (for sweeps). Returns a CostBreakdown in USD of
    the economics' currency year, per kWh and per year."""
    check_costing(costing)
    route: Route = config.route
    econ = economics or route.economics
    graph = costed_graph(route)
    obs = observed(route, stats)
    yields = config_yields(config, obs)
    kwh = config.capacity_gwh * 1e6
    _, started = graph.flows(yields)
    mat_per, credit, _ = material_cost_per_started(route, prices)
    dpc = config.dew_point_class
    dry = None
    if graph.dry_steps:  # the class prices the dry room; a line without one needs none
        graph.check_class(dpc, "dew_point_class", config.meta.get("file"))
        dry = graph.dry_rooms[dpc]
    classes = _zone_classes_checked(config, graph)
    step_class = graph.step_classes(dpc, classes)
    # cost per kWh divides by the energy the good cells deliver at the chosen levels,
    # after the water doses of their zones' classes (observed ones with statistics)
    cells = config.capacity_gwh * 1e6 / graph.cell_energy(
        {s: c.level for s, c in config.steps.items()}, dpc,
        {s: o.capacity_factor for s, o in obs.items()}, classes)
    names = categories.primary_names()
    # (primary, its amount per driver unit), by driver, in the registry's order
    per_machine = [(p.name, p.per_machine) for p in categories.PRIMARIES
                   if p.per_machine is not None]
    per_floor = [(p.name, p.per_floor_m2) for p in categories.PRIMARIES
                 if p.per_floor_m2 is not None]
    per_dry = [(p.name, p.per_dry_room_m2) for p in categories.PRIMARIES
               if p.per_dry_room_m2 is not None]
    per_enclosure = [(p.name, p.per_enclosure) for p in categories.PRIMARIES
                     if p.per_enclosure is not None]

    # credit for material in good cells, shared among the steps that buy it
    credit_by_step: dict[str, float] = {}
    if credit:
        pr = material_prices(route, prices)
        mats = route.all_materials
        by_m: dict[str, list[tuple[str, float]]] = {}
        for (s, m), rate in graph.material_rates.items():
            by_m.setdefault(m, []).append((s, started[s] * rate))
        for m, uses in by_m.items():
            back = credit_per_unit(mats[m], pr[m][0])
            if not back or m not in graph.design_bom:
                continue
            total = sum(q for _, q in uses)
            for s, q in uses:
                share = q / total if total > 0 else 1.0 / len(uses)
                credit_by_step[s] = credit_by_step.get(s, 0.0) + \
                    back * graph.design_bom[m] * share

    rows: list[tuple[str, dict[str, float]]] = []
    total_primary = {k: 0.0 for k in names}
    started_y: dict[str, float] = {}
    capacity_y: dict[str, float] = {}
    shortfall: dict[str, float] = {}
    floor = 0.0
    dry_area = 0.0
    h2s_total = 0.0
    # per zone: area (m²), machines enclosed in argon, primaries of its room or enclosures
    zone_area = {z.name: 0.0 for z in graph.zones}
    zone_enclosed = {z.name: 0 for z in graph.zones}
    zone_prim: dict[str, dict[str, float]] = {z.name: {} for z in graph.zones}
    for node in graph.in_file_order():
        name = node.name
        choice = config.steps[name]
        lv = node.level(choice.level)
        cls = step_class[name]
        load = started[name] * cells
        started_y[name] = load
        o_obs = obs.get(name)
        avail = o_obs.availability if o_obs else None
        prim = {k: 0.0 for k in names}
        prim["materials"] = load * mat_per[name] + credit_by_step.get(name, 0.0) * cells
        rw = node.spec.rework
        if rw is not None:  # off-spec powder re-milled / re-annealed, per kg reworked
            prim["rework"] = load * graph.rework_per_started(name, choice.level, cls) * rw.cost
        h2s_m3 = load * graph.h2s(name, cls)
        h2s_total += h2s_m3
        prim["h2s_abatement"] = h2s_m3 * econ.h2s_abatement_cost
        disp = []
        area = 0.0
        cap_total = 0.0
        for on in node.options:
            o = on.spec
            n = int(choice.machines.get(o.name, 0))
            for k, amount in per_machine:
                prim[k] += n * amount(o, econ)
            area += n * o.footprint
            cap = n * capacity_per_machine(o, lv, econ, avail, rate_per_hour=on.rate_per_hour)
            cap_total += cap
            if n > 0 or len(node.options) == 1:
                disp.append((o.name, cap, energy_per_unit(o, lv, econ, on.rate_per_hour)))
        capacity_y[name] = cap_total
        if load > cap_total * (1 + 1e-9):
            shortfall[name] = load - cap_total
        shares = dispatch(load, disp)
        epu = {name: c for name, _, c in disp}
        prim["process_energy"] = sum(q * epu[name] for name, q in shares.items())
        for k, per_m2 in per_floor:
            prim[k] += area * per_m2(econ)
        floor += area
        if node.dry_room and node.zone is not None:
            # the zone's own room, at its class; in argon each machine is enclosed instead
            zp = zone_prim[node.zone]
            zone_area[node.zone] += area
            if cls == ARGON:
                enc = node.spec.argon_enclosure
                assert enc is not None  # a zone may choose argon only then (checks)
                n_all = sum(int(v) for v in choice.machines.values())
                zone_enclosed[node.zone] += n_all
                for k, per_enc in per_enclosure:
                    prim[k] += n_all * per_enc(enc, econ)
                    zp[k] = zp.get(k, 0.0) + n_all * per_enc(enc, econ)
            else:
                assert cls is not None  # every zone has its class (checked above)
                room = graph.dry_rooms[cls]
                dry_area += area
                for k, per_dry_m2 in per_dry:
                    prim[k] += area * per_dry_m2(room, econ)
                    zp[k] = zp.get(k, 0.0) + area * per_dry_m2(room, econ)
        rows.append((name, prim))
        for k in names:
            total_primary[k] += prim[k]
    scaled = categories.costing_parts(costing)[1]
    if scaled:
        # BatPaC's dry room is one, at the plant's zone's class: under a scaled costing the
        # other zones' classes change their steps' yields, not what the room costs
        rows, total_primary, floor, dry_area = _scaled_rows(config, rows, dry, econ)
    r = categories.rollup(total_primary, econ, costing)
    per_year = r.categories
    dry_building = 0.0
    if dry is not None:
        per_building = categories.rollup({"building_capex": 1.0}, econ, costing).categories["building"]
        dry_building = dry_area * (econ.building_cost + dry.building_extra_cost) * per_building
    zones: dict[str, dict[str, object]] = {}
    if graph.named_zones:
        per_building = categories.rollup({"building_capex": 1.0}, econ, costing).categories["building"]
        if not scaled:  # (scaled: BatPaC's one room, priced above)
            dry_building = 0.0
        for z in graph.zones:
            zc = classes.get(z.name, dpc)
            if zc != ARGON and not scaled:  # its floor at the plain and the extra cost per m²
                dry_building += (zone_area[z.name] * econ.building_cost
                                 + zone_prim[z.name].get("building_capex", 0.0)) * per_building
            # what its environment adds over plain floor, rolled up with the overheads (not
            # priced per zone under a scaled costing)
            usd = math.nan if scaled else categories.rollup(zone_prim[z.name], econ, costing).total
            zones[z.name] = {"class": zc, "steps": list(z.steps), "area_m2": zone_area[z.name],
                             "enclosed_machines": zone_enclosed[z.name], "usd_per_kwh": usd / kwh}
    return CostBreakdown(
        cost_per_kwh=r.total / kwh, currency="USD", currency_year=econ.currency_year,
        costing=costing, by_category={c: v / kwh for c, v in per_year.items()},
        per_year=per_year,
        overhead_items={k: v / kwh for k, v in r.items.items()},
        investment=dict(r.info),
        capex_total=sum(total_primary[p.name] for p in categories.PRIMARIES if p.capital),
        floor_area_m2=floor, dry_room_area_m2=dry_area, dew_point_class=dpc,
        good_kwh_per_year=kwh, good_cells_per_year=cells, started_per_year=started_y,
        capacity_per_year=capacity_y, shortfall=shortfall, h2s_m3_per_year=h2s_total,
        dry_room_all_in=(dry_building + per_year["dry_room"] + per_year["dry_room_energy"]) / kwh,
        zones=zones,
        _step_primary=tuple(rows),
        _economics=econ,
    )
