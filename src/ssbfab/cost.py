"""The one cost function: what a good kWh of a plant configuration costs, and why.

`evaluate(config, stats, costing)` prices a `PlantConfig` per kWh of good cells at
the config's target (capacity_gwh), by category and by step. The optimiser's
objective is built from the *same* coefficient functions below (`machine_costs`,
`energy_per_unit`, `material_cost_per_started`, `dry_room_costs`, `rollup`), so the
two cannot drift apart; the tests check that they agree to 1e-6.

Primary quantities (per year, USD of the economics' currency year):

- materials: bought per good cell through the line's yields (`flow`), priced per
  kg, m² or m³, less the scrap credit of what ends up scrapped;
- labour: operators per shift × machines × operating hours × labour rate;
- process energy: power × processing time × energy factor of the level × price.
  Processing time is load / rate, so it is linear in throughput. When a step has
  machines of several options, the load goes first to the option with the least
  energy per unit (merit order) — the dispatch the optimiser's LP also chooses;
- equipment capex: machines × installed capex;
- building capex: machine footprints × building cost, plus the dry-room class's
  extra building cost per m² of dry room;
- dry-room capex (dehumidification per m² by class) and dry-room energy
  (kW/m² × operating hours × price); BatPaC has no dry-room energy, ssbfab does.

Conventions turn these into a cost per year (`rollup`), linearly:

- `batpac5` (Argonne BatPaC 5.0, `[batpac5]` in docs/sources.md): straight-line depreciation
  (equipment and dry room over equipment_life, building over building_life);
  variable overhead = 40 % labour + 20 % depreciation; GS&A = 25 % (labour +
  variable overhead) + 25 % depreciation; R&D = 40 % depreciation. Launch cost
  (5 % materials + 10 % (labour + variable overhead)) and working capital (15 % of
  the annual variable cost) only enter the investment, hence only the optional
  profit (5 % of investment per year) and warranty (5.6 % of price), off by
  default as in BatPaC's cell costing.
- `annuity`: capital × capital recovery factor (discount rate, life), fixed O&M
  as a fraction of capex per year, and an overhead on labour.

Energies are variable costs in ssbfab (they enter working capital under batpac5).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from . import flow
from .data.schema import DryRoomClass, Economics, EquipmentOption, Level, Route, Step
from .errors import InputError, Problem, closest

COSTINGS = ("batpac5", "annuity")
CATEGORIES = ("materials", "equipment", "building", "dry_room", "dry_room_energy",
              "process_energy", "labour", "overheads")
PRIMARY = ("materials", "labour", "process_energy", "dry_room_energy", "equipment_capex",
           "building_capex", "dry_room_capex")


# ----------------------------------------------------------------------------- conventions


def capital_recovery_factor(rate: float, years: float) -> float:
    """Annual payment per unit of capital: r / (1 - (1 + r)^-n); 1/n when r = 0."""
    if rate == 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


def check_costing(costing: str) -> None:
    if costing not in COSTINGS:
        raise InputError(Problem("arguments", None, "costing", f"unknown costing convention {costing!r}"
                                 f"{closest(costing, COSTINGS)}; expected one of "
                                 f"{', '.join(COSTINGS)}"))


def rollup(primary: Mapping[str, float], econ: Economics, costing: str
           ) -> tuple[dict[str, float], dict[str, float]]:
    """Cost per year by category, and overhead/investment items, from the primary
    quantities (`PRIMARY`: $/yr for flows, $ for capex). Linear in `primary`.

    Returns (categories {CATEGORIES: $/yr}, items {name: $/yr or $}); the items
    detail `overheads` (and, for batpac5, give launch, working capital and
    investment in $ as information)."""
    check_costing(costing)
    p = {k: float(primary.get(k, 0.0)) for k in PRIMARY}
    cat = {c: 0.0 for c in CATEGORIES}
    cat["materials"] = p["materials"]
    cat["labour"] = p["labour"]
    cat["process_energy"] = p["process_energy"]
    cat["dry_room_energy"] = p["dry_room_energy"]
    items: dict[str, float] = {}
    if costing == "batpac5":
        b = econ.batpac5
        cat["equipment"] = p["equipment_capex"] / b.equipment_life
        cat["building"] = p["building_capex"] / b.building_life
        cat["dry_room"] = p["dry_room_capex"] / b.equipment_life
        dep = cat["equipment"] + cat["building"] + cat["dry_room"]
        lab = p["labour"]
        vo = b.variable_overhead_of_labour * lab + b.variable_overhead_of_depreciation * dep
        gsa = b.gsa_of_labour_and_overhead * (lab + vo) + b.gsa_of_depreciation * dep
        rnd = b.rnd_of_depreciation * dep
        items.update(variable_overhead=vo, gsa=gsa, rnd=rnd)
        variable = p["materials"] + lab + vo + p["process_energy"] + p["dry_room_energy"]
        launch = b.launch_of_materials * p["materials"] + b.launch_of_labour_and_overhead * (lab + vo)
        working = b.working_capital_of_variable_cost * variable
        investment = p["equipment_capex"] + p["building_capex"] + p["dry_room_capex"] + launch + working
        if b.include_profit_and_warranty:
            cost = sum(cat.values()) + vo + gsa + rnd
            profit = b.profit_of_investment * investment
            # warranty is a share of the price: price = (cost + profit) / (1 - w)
            warranty = b.warranty_of_price / (1.0 - b.warranty_of_price) * (cost + profit)
            items.update(profit=profit, warranty=warranty)
        cat["overheads"] = sum(items.values())
        info = {"launch_usd": launch, "working_capital_usd": working, "investment_usd": investment}
    else:
        a = econ.annuity
        crf_e = capital_recovery_factor(a.discount_rate, a.equipment_life)
        crf_b = capital_recovery_factor(a.discount_rate, a.building_life)
        cat["equipment"] = p["equipment_capex"] * crf_e
        cat["building"] = p["building_capex"] * crf_b
        cat["dry_room"] = p["dry_room_capex"] * crf_e
        capex = p["equipment_capex"] + p["building_capex"] + p["dry_room_capex"]
        items.update(fixed_om=a.fixed_om_of_capex * capex,
                     labour_overhead=a.overhead_of_labour * p["labour"])
        cat["overheads"] = sum(items.values())
        info = {"investment_usd": capex}
    return cat, {**items, **info}


def convention_weights(econ: Economics, costing: str) -> dict[str, float]:
    """Cost per year per unit of each primary quantity under a convention: the
    optimiser's objective coefficients come from these (the roll-up is linear, so
    rolling up a unit of each primary gives its total weight)."""
    out = {}
    for k in PRIMARY:
        cat, _ = rollup({k: 1.0}, econ, costing)
        out[k] = sum(cat.values())
    return out


# ----------------------------------------------------------------------------- coefficients


def hours_per_year(econ: Economics) -> float:
    """Operating hours per year of the plant calendar (machines, labour, dry room)."""
    return econ.operating_hours_per_year


@dataclass(frozen=True)
class MachineCosts:
    capex: float  # USD per machine, installed
    footprint: float  # m² per machine
    labour_per_year: float  # USD/yr per machine


def machine_costs(option: EquipmentOption, econ: Economics) -> MachineCosts:
    """Per installed machine: capex (USD), floor (m²) and direct labour (USD/yr)."""
    labour = option.operators_per_shift * hours_per_year(econ) * econ.labour_rate
    return MachineCosts(option.capex, option.footprint, labour)


def energy_per_unit(option: EquipmentOption, level: Level, econ: Economics,
                    rate_per_hour: float | None = None) -> float:
    """Process electricity in USD per unit of the step's unit started on this option
    at this level: power (kW) × energy_factor / (rate × rate_factor) (units/h) × price.
    `rate_per_hour` saves re-reading the option's rate (see `option_rates`)."""
    rate = option.rate_per_hour if rate_per_hour is None else rate_per_hour
    return option.power * level.energy_factor / (rate * level.rate_factor) * econ.electricity_price


def capacity_per_machine(option: EquipmentOption, level: Level, econ: Economics,
                         availability: float | None = None, derate: float = 1.0,
                         rate_per_hour: float | None = None) -> float:
    """Units a machine can start per year at this level: rate × rate_factor ×
    availability (observed when given, else MTBF/MTTR/maintenance) × derate × hours."""
    rate = option.rate_per_hour if rate_per_hour is None else rate_per_hour
    a = option.availability if availability is None else availability
    return rate * level.rate_factor * a * derate * hours_per_year(econ)


def option_rates(route: Route) -> dict[tuple[str, str], tuple[float, float]]:
    """(nominal rate per hour, nominal availability) of every (step, option), read once
    per route (parsing a rate with pint costs tens of microseconds)."""
    return _route_data(route).option_rates


@dataclass(frozen=True)
class DryRoomCosts:
    building_extra: float  # USD per m², on top of the plain building cost
    equipment: float  # USD per m²
    energy_per_year: float  # USD/yr per m²


def dry_room_costs(cls: DryRoomClass, econ: Economics) -> DryRoomCosts:
    """Per m² of dry room of a class. The dry room runs the plant's operating hours."""
    return DryRoomCosts(cls.building_extra_cost, cls.equipment_cost,
                        cls.power * hours_per_year(econ) * econ.electricity_price)


def material_prices(route: Route, prices: Mapping[str, float] | None = None
                    ) -> dict[str, tuple[float, str]]:
    """USD per basis unit (kg, m2, m3) of every priced material, with overrides."""
    out = dict(_route_data(route).prices)
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
    data = _route_data(route)
    pr = material_prices(route, prices)
    mats = route.all_materials
    per: dict[str, float] = {s.name: 0.0 for s in route.line}
    detail: dict[tuple[str, str], float] = {}
    bought: set[str] = set()
    for (s, m), rate in data.material_rates.items():
        if m not in pr:
            raise InputError(Problem(route.file, None, f"materials.{m}.price",
                                     f"material {m!r} is bought at step {s!r} but has no price"))
        c = rate * pr[m][0] * (1.0 - mats[m].scrap_credit)
        detail[(s, m)] = c
        per[s] += c
        bought.add(m)
    credit = 0.0
    for m in bought:
        if mats[m].scrap_credit and m in data.design_bom:
            credit += mats[m].scrap_credit * pr[m][0] * data.design_bom[m]
    return per, credit, detail


# ----------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class Observed:
    """What the simulator saw at a step, as the optimiser and the cost use it."""

    availability: float | None  # replaces the options' nominal availability
    yield_factor: float  # observed / nominal yield at the simulated level and class


def observed(route: Route, stats) -> dict[str, Observed]:
    """Per step: the observed availability (stats.extra['availability_operating'] when
    the simulator gives it, else the step's `availability`), and the factor of the
    observed over the nominal yield at the level and dew-point class that was
    simulated (stats.extra['levels'], stats.extra['dew_point_class']; if absent, the
    first level and a class with factor 1). Steps the stats do not cover keep
    nominal values. `stats`: a LineStats, or the path of a stats.json written by
    `simulate --out`."""
    if stats is None:
        return {}
    if isinstance(stats, (str, Path)):  # a stats.json (or its folder) from `simulate --out`
        from .stats import LineStats

        stats = LineStats.read(stats)
    if stats.route != route.name:
        raise InputError(Problem("arguments", None, "stats.route", f"the statistics are for route "
                                 f"{stats.route!r}, not {route.name!r}"))
    extra = stats.extra or {}
    levels = extra.get("levels") or {}
    dpc = extra.get("dew_point_class")
    # The simulator's `availability` counts idle hours as up (idle machines do not
    # fail), which flatters a lightly loaded step; its `availability_operating` (up
    # share of the hours the machines were wanted) is the one a capacity plan needs.
    operating = extra.get("availability_operating") or {}
    out = {}
    for s in route.line:
        st = stats.steps.get(s.name)
        if st is None:
            continue
        avail = _finite_positive((operating.get(s.name) or {}).get("mean"))
        if avail is None:
            avail = _finite_positive(st.availability.mean)
        y_obs = st.yield_.mean
        factor = 1.0
        if y_obs is not None and math.isfinite(y_obs):
            try:
                lv = s.level(levels[s.name]) if s.name in levels else s.setting_levels[0]
            except KeyError:
                lv = s.setting_levels[0]
            nominal = step_yield(s, lv, dpc, 1.0)
            factor = y_obs / nominal if nominal > 0 else 0.0
        out[s.name] = Observed(avail, factor)
    return out


def _finite_positive(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def step_yield(step: Step, level: Level, dew_point_class: str | None, factor: float = 1.0) -> float:
    """Yield of a step at a level and dry-room class, times an observed factor (≤ 1)."""
    y = level.yield_ * factor
    if step.moisture is not None and dew_point_class is not None:
        y *= step.moisture.yield_factor.get(dew_point_class, 0.0)
    return min(1.0, y)


# ----------------------------------------------------------------------------- route cache


@dataclass(frozen=True)
class RouteData:
    """What never changes for a route object: cell design, graph ratios, material rates."""

    energy_kwh: float
    refs: dict
    ratios: dict[tuple[str, str], float]
    material_rates: dict[tuple[str, str], float]
    design_bom: dict[str, float]
    per_cell: dict[str, float]
    option_rates: dict[tuple[str, str], tuple[float, float]]  # (rate/h, availability)
    prices: dict[str, tuple[float, str]]  # USD per basis unit, basis (kg, m2, m3)


# Keyed by id: routes are frozen but hold lists, so they cannot be hashed; the weak
# reference tells a live route from a dead one whose id was reused.
_CACHE: dict[int, tuple[weakref.ref, RouteData]] = {}


def _route_data(route: Route) -> RouteData:
    hit = _CACHE.get(id(route))
    if hit is not None and hit[0]() is route:
        return hit[1]
    from .cell import design

    if route.cell is None:
        raise InputError(Problem(route.file, None, "cell", "this line has no cell design, so a "
                                 "cost per kWh cannot be computed"))
    c = design(route)
    data = RouteData(
        energy_kwh=c.energy_kwh, refs=c.refs, ratios=flow.edge_ratios(route, c.refs),
        material_rates=flow.material_rates(route, c.refs),
        design_bom={k: v.value for k, v in c.design_bom.items()},
        per_cell={s.name: flow.per_cell(route, s, c.refs) for s in route.line},
        option_rates={(s.name, o.name): (o.rate_per_hour, o.availability)
                      for s in route.line for o in s.options},
        prices={n: m.price_per_unit for n, m in route.all_materials.items()
                if m.price_per_unit is not None},
    )
    if len(_CACHE) > 256:  # drop entries of routes that are gone
        for k in [k for k, (ref, _) in _CACHE.items() if ref() is None]:
            del _CACHE[k]
    _CACHE[id(route)] = (weakref.ref(route), data)
    return data


def started_per_cell(route: Route, yields: Mapping[str, float]) -> dict[str, float]:
    """Units started at each step per good cell (the flow of `flow.requirements`)."""
    data = _route_data(route)
    started: dict[str, float] = {}
    for name in reversed(route.order):
        consumers = route.consumers[name]
        if not consumers:
            good = data.per_cell[name]
        else:
            good = sum(started[c] * data.ratios[(name, c)] for c in consumers)
        started[name] = good / yields[name] if yields[name] > 0 else math.inf
    return started


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
    # (step, primary quantities) and the economics, rolled up per step on demand
    _step_primary: tuple = field(default=(), repr=False, compare=False)
    _economics: Economics | None = field(default=None, repr=False, compare=False)

    @property
    def feasible(self) -> bool:
        """True when every step's installed capacity covers its required input."""
        return not self.shortfall

    @cached_property
    def by_step(self):
        """pandas DataFrame: step, category, usd_per_year, usd_per_kwh."""
        import pandas as pd

        rows = []
        for step, prim in self._step_primary:
            cat, _ = rollup(prim, self._economics, self.costing)  # linear: steps add up
            rows.extend({"step": step, "category": c, "usd_per_year": v,
                         "usd_per_kwh": v / self.good_kwh_per_year} for c, v in cat.items())
        return pd.DataFrame(rows, columns=["step", "category", "usd_per_year", "usd_per_kwh"])

    def to_dict(self) -> dict:
        return {
            "cost_per_kwh": self.cost_per_kwh, "currency": self.currency,
            "currency_year": self.currency_year, "costing": self.costing,
            "breakdown": dict(self.by_category), "per_year": dict(self.per_year),
            "overhead_items": dict(self.overhead_items), "investment": dict(self.investment),
            "capex_total": self.capex_total, "floor_area_m2": self.floor_area_m2,
            "dry_room_area_m2": self.dry_room_area_m2, "dew_point_class": self.dew_point_class,
            "good_kwh_per_year": self.good_kwh_per_year,
            "good_cells_per_year": self.good_cells_per_year,
        }


def config_yields(config, obs: Mapping[str, Observed] | None = None) -> dict[str, float]:
    """Yield of each step at the config's levels and class, with observed factors."""
    obs = obs or {}
    route = config.route
    out = {}
    for s in route.line:
        lv = s.level(config.steps[s.name].level)
        f = obs[s.name].yield_factor if s.name in obs else 1.0
        out[s.name] = step_yield(s, lv, config.dew_point_class, f)
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


def evaluate(config, stats=None, costing: str = "batpac5", economics: Economics | None = None,
             *, prices: Mapping[str, float] | None = None) -> CostBreakdown:
    """Cost per kWh of good cells of a plant configuration at its target output.

    `config`: a PlantConfig (levels, machines per option, dew-point class,
    capacity_gwh = good GWh/yr). `stats`: a LineStats whose observed yields and
    availability replace the nominal ones. `costing`: "batpac5" or "annuity".
    `economics`: overrides the route's economics. `prices`: USD per kg/m²/m³ of
    materials, overriding the data (for sweeps). Returns a CostBreakdown in USD of
    the economics' currency year, per kWh and per year."""
    check_costing(costing)
    route: Route = config.route
    econ = economics or route.economics
    data = _route_data(route)
    obs = observed(route, stats)
    yields = config_yields(config, obs)
    cells = config.capacity_gwh * 1e6 / data.energy_kwh
    kwh = config.capacity_gwh * 1e6
    started = started_per_cell(route, yields)
    mat_per, credit, mat_detail = material_cost_per_started(route, prices)
    classes = {c.name: c for c in route.shared.dry_rooms.classes}
    dpc = config.dew_point_class
    dry = dry_room_costs(classes[dpc], econ) if dpc in classes else None

    # credit for material in good cells, shared among the steps that buy it
    credit_by_step: dict[str, float] = {}
    if credit:
        pr = material_prices(route, prices)
        mats = route.all_materials
        by_m: dict[str, list[tuple[str, float]]] = {}
        for (s, m), rate in data.material_rates.items():
            by_m.setdefault(m, []).append((s, started[s] * rate))
        for m, uses in by_m.items():
            sc = mats[m].scrap_credit
            if not sc or m not in data.design_bom:
                continue
            total = sum(q for _, q in uses)
            for s, q in uses:
                share = q / total if total > 0 else 1.0 / len(uses)
                credit_by_step[s] = credit_by_step.get(s, 0.0) + \
                    sc * pr[m][0] * data.design_bom[m] * share

    rows: list[tuple[str, dict]] = []
    total_primary = {k: 0.0 for k in PRIMARY}
    started_y: dict[str, float] = {}
    capacity_y: dict[str, float] = {}
    shortfall: dict[str, float] = {}
    floor = 0.0
    dry_area = 0.0
    for s in route.line:
        choice = config.steps[s.name]
        lv = s.level(choice.level)
        load = started[s.name] * cells
        started_y[s.name] = load
        o_obs = obs.get(s.name)
        avail = o_obs.availability if o_obs else None
        prim = {k: 0.0 for k in PRIMARY}
        prim["materials"] = load * mat_per[s.name] + credit_by_step.get(s.name, 0.0) * cells
        disp = []
        area = 0.0
        cap_total = 0.0
        for o in s.options:
            n = int(choice.machines.get(o.name, 0))
            mc = machine_costs(o, econ)
            prim["equipment_capex"] += n * mc.capex
            prim["labour"] += n * mc.labour_per_year
            area += n * mc.footprint
            rate = data.option_rates[(s.name, o.name)][0]
            cap = n * capacity_per_machine(o, lv, econ, avail, rate_per_hour=rate)
            cap_total += cap
            if n > 0 or len(s.options) == 1:
                disp.append((o.name, cap, energy_per_unit(o, lv, econ, rate)))
        capacity_y[s.name] = cap_total
        if load > cap_total * (1 + 1e-9):
            shortfall[s.name] = load - cap_total
        shares = dispatch(load, disp)
        epu = {name: c for name, _, c in disp}
        prim["process_energy"] = sum(q * epu[name] for name, q in shares.items())
        prim["building_capex"] = area * econ.building_cost
        floor += area
        if s.environment == "dry_room" and dry is not None:
            dry_area += area
            prim["building_capex"] += area * dry.building_extra
            prim["dry_room_capex"] = area * dry.equipment
            prim["dry_room_energy"] = area * dry.energy_per_year
        rows.append((s.name, prim))
        for k in PRIMARY:
            total_primary[k] += prim[k]
    per_year, items = rollup(total_primary, econ, costing)
    total = sum(per_year.values())
    info_keys = ("launch_usd", "working_capital_usd", "investment_usd")
    return CostBreakdown(
        cost_per_kwh=total / kwh, currency="USD", currency_year=econ.currency_year,
        costing=costing, by_category={c: v / kwh for c, v in per_year.items()},
        per_year=per_year,
        overhead_items={k: v / kwh for k, v in items.items() if k not in info_keys},
        investment={k: v for k, v in items.items() if k in info_keys},
        capex_total=(total_primary["equipment_capex"] + total_primary["building_capex"]
                     + total_primary["dry_room_capex"]),
        floor_area_m2=floor, dry_room_area_m2=dry_area, dew_point_class=dpc,
        good_kwh_per_year=kwh, good_cells_per_year=cells, started_per_year=started_y,
        capacity_per_year=capacity_y, shortfall=shortfall, _step_primary=tuple(rows),
        _economics=econ,
    )
