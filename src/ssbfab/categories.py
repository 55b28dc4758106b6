"""The cost registry: every quantity and every line of the cost, declared once.

`PRIMARIES` are what a plant physically spends before any costing convention: flows
in USD/yr, capital in USD. Each says what drives it, and how much per unit of driver:

- per installed machine of an option (`per_machine(option, economics)`);
- per m² of machine floor (`per_floor_m2(economics)`);
- per m² of dry room of the plant's class (`per_dry_room_m2(dry_room_class, economics)`;
  a zoned plant prices each zone's area at the zone's class);
- per machine enclosed in argon, where a zone chooses an argon mini-environment
  (`per_enclosure(argon_enclosure, economics)`; its floor is then plain floor);
- or per unit started at a step, through the line's flows (`flow=True`): materials
  (`cost.material_cost_per_started`), process energy (`cost.energy_per_unit`,
  shared among a step's options in merit order), H2S abatement
  (`cost.h2s_cost_per_started`) and rework (`cost.rework_cost_per_started`).

`cost.evaluate` sums the primaries over a plan's machines, floor and dry room; the
optimiser prices its variables with the very same amounts (`machine_weight`,
`dry_room_weight`), weighted by what a unit of each primary costs per year under the
convention (`weights`).

`LINES` are what the cost reports, in report order: the *categories* (a column
`cost_<name>` of every table, a bar of the report's stack; they add up to the cost
per kWh), the *items* whose sum is the category they are `part_of` (the overheads),
and *information* (investment amounts, USD, not part of the cost). Each line gives,
per costing convention, its value from the primaries `p` and the lines before it `v`
(in USD/yr, or USD for information); a line with no rule for a convention, or whose
rule answers None, does not exist under that convention.

Every rule is linear in the primaries, so the weight of a primary in the total cost
is the roll-up of one unit of it, and the optimiser's objective is `evaluate`'s total
by construction. Adding a category is one `Line` here (and one `Primary` if it is
driven by something no primary measures yet); the tables, the report, the CLI, the
breakdown and the objective all read these two tables. See docs/architecture.md,
"Adding a cost category".

Conventions:

- `batpac5` (Argonne BatPaC 5.0, `[batpac5]` in docs/sources.md): straight-line
  depreciation (equipment and dry room over equipment_life, building over
  building_life); variable overhead = 40 % labour + 20 % depreciation; GS&A = 25 %
  (labour + variable overhead) + 25 % depreciation; R&D = 40 % depreciation. Launch cost (5 % materials + 10 % (labour + variable
  overhead)) and working capital (15 % of the annual variable cost) enter only the
  investment, hence only the optional profit (5 % of investment per year) and
  warranty (5.6 % of the price), off by default as in BatPaC's cell costing.
  Energies are variable costs here (they enter working capital).
- `annuity`: capital × capital recovery factor (discount rate, life), fixed O&M as a
  fraction of capex per year, and an overhead on labour.

Each comes volume-scaled too (`batpac5-scaled`, `annuity-scaled`): the same roll-up of
primaries that `cost.evaluate` takes from BatPaC's step volume scaling (`ssbfab.scaled`)
instead of whole machines; `costing_parts` splits the name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from .data.schema import ArgonEnclosure, DryRoomClass, Economics, EquipmentOption

COSTINGS = ("batpac5", "annuity")  # the financial conventions (how capital becomes USD/yr)
# Each also comes volume-scaled: BatPaC 5.0's step volume scaling (`ssbfab.scaled`)
# instead of whole machines for the machine-driven primaries; the roll-up is the same.
SCALED = "-scaled"
COSTING_CHOICES = COSTINGS + tuple(c + SCALED for c in COSTINGS)


def costing_parts(costing: str) -> tuple[str, bool]:
    """(financial convention, volume-scaled?) of a costing name such as "batpac5-scaled"."""
    if costing.endswith(SCALED):
        return costing.removesuffix(SCALED), True
    return costing, False

Kind = Literal["category", "item", "info"]
# rule(primaries, lines so far, economics) -> value, or None where the line does not apply
Rule = Callable[[Mapping[str, float], Mapping[str, float], Economics], "float | None"]


@dataclass(frozen=True)
class Primary:
    """A physical quantity of spending, and what drives it (see the module docstring)."""

    name: str
    unit: str  # "USD/yr" (a flow) or "USD" (capital)
    label: str
    per_machine: Callable[[EquipmentOption, Economics], float] | None = None
    per_floor_m2: Callable[[Economics], float] | None = None
    per_dry_room_m2: Callable[[DryRoomClass, Economics], float] | None = None
    per_enclosure: Callable[[ArgonEnclosure, Economics], float] | None = None
    flow: bool = False  # per unit started, computed by cost from the line's flows

    @property
    def capital(self) -> bool:
        return self.unit == "USD"


@dataclass(frozen=True)
class Line:
    """A reported line of the cost (see the module docstring)."""

    name: str
    kind: Kind
    unit: str  # "USD/yr", or "USD" for information
    label: str  # how tables and the report name it
    rules: Mapping[str, Rule] = field(default_factory=dict)  # costing convention -> rule
    part_of: str | None = None  # an item: the category that is the sum of its items

    @property
    def column(self) -> str:
        """Its column in the comparison and study tables (categories)."""
        return f"cost_{self.name}"


def capital_recovery_factor(rate: float, years: float) -> float:
    """Annual payment per unit of capital: r / (1 - (1 + r)^-n); 1/n when r = 0."""
    if rate == 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


def _crf_equipment(e: Economics) -> float:
    return capital_recovery_factor(e.annuity.discount_rate, e.annuity.equipment_life)


def _crf_building(e: Economics) -> float:
    return capital_recovery_factor(e.annuity.discount_rate, e.annuity.building_life)


def _depreciation(v: Mapping[str, float]) -> float:
    return v["equipment"] + v["building"] + v["dry_room"]


def _capex(p: Mapping[str, float]) -> float:
    return p["equipment_capex"] + p["building_capex"] + p["dry_room_capex"]


def _price_before_warranty(v: Mapping[str, float]) -> float:
    """Every category and item so far (the cost, plus profit when it is on)."""
    total = 0.0
    for kind in ("category", "item"):
        for line in LINES:
            if line.kind == kind and line.name in v:
                total += v[line.name]
    return total


def _warranty(p, v, e: Economics) -> float | None:
    b = e.batpac5
    if not b.include_profit_and_warranty:
        return None
    # warranty is a share of the price: price = (cost + profit) / (1 - w)
    return b.warranty_of_price / (1.0 - b.warranty_of_price) * _price_before_warranty(v)


def _same(name: str) -> Rule:
    """A category that is a primary as it is, under every convention."""
    return lambda p, v, e: p[name]


def _both(rule: Rule) -> dict[str, Rule]:
    return {c: rule for c in COSTINGS}


def _hours(e: Economics) -> float:
    """Operating hours per year: machines, labour and the dry room run the plant calendar."""
    return e.operating_hours_per_year


# A machine's and a m² of dry room's objective coefficients add the primaries in
# this order (and `evaluate` its capital in it): keep it, or the last digits move.
PRIMARIES: tuple[Primary, ...] = (
    Primary("materials", "USD/yr", "materials bought, net of scrap credit", flow=True),
    Primary("process_energy", "USD/yr", "process electricity", flow=True),
    Primary("equipment_capex", "USD", "equipment, installed",
            per_machine=lambda o, e: o.capex, per_enclosure=lambda a, e: a.capex),
    Primary("building_capex", "USD", "building and land",
            per_floor_m2=lambda e: e.building_cost,
            per_dry_room_m2=lambda c, e: c.building_extra_cost),
    Primary("labour", "USD/yr", "direct labour",
            per_machine=lambda o, e: o.operators_per_shift * _hours(e) * e.labour_rate),
    Primary("dry_room_capex", "USD", "dry-room dehumidification plant",
            per_dry_room_m2=lambda c, e: c.equipment_cost),
    Primary("dry_room_energy", "USD/yr", "dry-room electricity",
            per_dry_room_m2=lambda c, e: c.power * _hours(e) * e.electricity_price),
    # argon machines purge and leak all the hours the plant runs, busy or not
    Primary("inert_gas", "USD/yr", "argon consumed and purified",
            per_machine=lambda o, e: o.argon_flow * _hours(e) * e.argon_price,
            per_enclosure=lambda a, e: a.argon_flow * _hours(e) * e.argon_price),
    # per m³ of H2S released by the units started (`LineGraph.h2s`), in the plant's class
    Primary("h2s_abatement", "USD/yr", "H2S scrubbing, detection and ventilation", flow=True),
    # per kg of off-spec output reworked (`cost.rework_cost_per_started`)
    Primary("rework", "USD/yr", "rework of off-spec powder", flow=True),
)

# Tables and the report show the categories in this order; a line's rule may read
# any line above it.
LINES: tuple[Line, ...] = (
    # categories (USD/yr); they add up to the cost
    Line("materials", "category", "USD/yr", "materials", _both(_same("materials"))),
    Line("equipment", "category", "USD/yr", "equipment", {
        "batpac5": lambda p, v, e: p["equipment_capex"] / e.batpac5.equipment_life,
        "annuity": lambda p, v, e: p["equipment_capex"] * _crf_equipment(e)}),
    Line("building", "category", "USD/yr", "building", {
        "batpac5": lambda p, v, e: p["building_capex"] / e.batpac5.building_life,
        "annuity": lambda p, v, e: p["building_capex"] * _crf_building(e)}),
    Line("dry_room", "category", "USD/yr", "dry-room plant", {
        "batpac5": lambda p, v, e: p["dry_room_capex"] / e.batpac5.equipment_life,
        "annuity": lambda p, v, e: p["dry_room_capex"] * _crf_equipment(e)}),
    Line("dry_room_energy", "category", "USD/yr", "dry-room energy",
         _both(_same("dry_room_energy"))),
    Line("process_energy", "category", "USD/yr", "process energy",
         _both(_same("process_energy"))),
    Line("inert_gas", "category", "USD/yr", "argon", _both(_same("inert_gas"))),
    Line("h2s_abatement", "category", "USD/yr", "H2S abatement", _both(_same("h2s_abatement"))),
    Line("rework", "category", "USD/yr", "rework", _both(_same("rework"))),
    Line("labour", "category", "USD/yr", "labour", _both(_same("labour"))),
    Line("overheads", "category", "USD/yr", "overheads"),  # the sum of its items below
    # items of the overheads (USD/yr)
    Line("variable_overhead", "item", "USD/yr", "variable overhead", {
        "batpac5": lambda p, v, e: (e.batpac5.variable_overhead_of_labour * v["labour"]
                                    + e.batpac5.variable_overhead_of_depreciation
                                    * _depreciation(v))}, part_of="overheads"),
    Line("gsa", "item", "USD/yr", "general, sales and administration", {
        "batpac5": lambda p, v, e: (e.batpac5.gsa_of_labour_and_overhead
                                    * (v["labour"] + v["variable_overhead"])
                                    + e.batpac5.gsa_of_depreciation * _depreciation(v))},
         part_of="overheads"),
    Line("rnd", "item", "USD/yr", "research and development", {
        "batpac5": lambda p, v, e: e.batpac5.rnd_of_depreciation * _depreciation(v)},
         part_of="overheads"),
    # investment (USD, information; under batpac5 it carries the optional profit)
    Line("launch_usd", "info", "USD", "launch cost", {
        "batpac5": lambda p, v, e: (e.batpac5.launch_of_materials * v["materials"]
                                    + e.batpac5.launch_of_labour_and_overhead
                                    * (v["labour"] + v["variable_overhead"]))}),
    Line("working_capital_usd", "info", "USD", "working capital", {
        "batpac5": lambda p, v, e: e.batpac5.working_capital_of_variable_cost * (
            v["materials"] + v["labour"] + v["variable_overhead"] + v["process_energy"]
            + v["dry_room_energy"] + v["inert_gas"] + v["h2s_abatement"] + v["rework"])}),
    Line("investment_usd", "info", "USD", "investment", {
        "batpac5": lambda p, v, e: _capex(p) + v["launch_usd"] + v["working_capital_usd"],
        "annuity": lambda p, v, e: _capex(p)}),
    Line("profit", "item", "USD/yr", "profit on the investment", {
        "batpac5": lambda p, v, e: (e.batpac5.profit_of_investment * v["investment_usd"]
                                    if e.batpac5.include_profit_and_warranty else None)},
         part_of="overheads"),
    Line("warranty", "item", "USD/yr", "warranty", {"batpac5": _warranty},
         part_of="overheads"),
    Line("fixed_om", "item", "USD/yr", "fixed operation and maintenance", {
        "annuity": lambda p, v, e: e.annuity.fixed_om_of_capex * _capex(p)},
         part_of="overheads"),
    Line("labour_overhead", "item", "USD/yr", "overhead on labour", {
        "annuity": lambda p, v, e: e.annuity.overhead_of_labour * p["labour"]},
         part_of="overheads"),
)


def line(name: str) -> Line:
    """The registered line called `name`."""
    for ln in LINES:
        if ln.name == name:
            return ln
    raise KeyError(name)


def categories() -> list[Line]:
    """The categories, in report order."""
    return [ln for ln in LINES if ln.kind == "category"]


def primary_names() -> list[str]:
    return [p.name for p in PRIMARIES]


@dataclass(frozen=True)
class Rollup:
    """One roll-up of primary quantities under a convention."""

    categories: dict[str, float]  # USD/yr by category, in report order; sums to the cost
    items: dict[str, float]  # USD/yr: the parts of the categories made of items
    info: dict[str, float]  # USD: investment information

    @property
    def total(self) -> float:
        """Cost per year, USD/yr."""
        return sum(self.categories.values())


def rollup(primary: Mapping[str, float], econ: Economics, costing: str) -> Rollup:
    """Cost per year by line from the primary quantities (USD/yr for flows, USD for
    capital; a primary not given is 0), under `costing`. Linear in `primary`."""
    costing = costing_parts(costing)[0]  # scaling changes the primaries, not the roll-up
    if costing not in COSTINGS:  # users are told by cost.check_costing, before this
        raise ValueError(f"unknown costing convention {costing!r}; expected one of {COSTINGS}")
    p = {k: float(primary.get(k, 0.0)) for k in primary_names()}
    v: dict[str, float] = {}
    summed = {ln.part_of for ln in LINES if ln.part_of}
    for ln in LINES:
        if ln.name in summed:
            continue  # a sum of items: known once every item is
        rule = ln.rules.get(costing)
        x = rule(p, v, econ) if rule is not None else None
        if x is not None:
            v[ln.name] = x
    for name in summed:
        v[name] = sum(v[ln.name] for ln in LINES if ln.part_of == name and ln.name in v)
    kinds = {ln.name: ln.kind for ln in LINES}
    return Rollup(
        categories={ln.name: v.get(ln.name, 0.0) for ln in LINES if ln.kind == "category"},
        items={k: x for k, x in v.items() if kinds[k] == "item"},
        info={k: x for k, x in v.items() if kinds[k] == "info"},
    )


def weights(econ: Economics, costing: str) -> dict[str, float]:
    """Cost per year of one unit of each primary quantity under a convention (1/yr
    for capital, dimensionless for flows): the optimiser's objective weights. The
    roll-up is linear, so rolling up a unit of each primary gives its weight."""
    return {k: rollup({k: 1.0}, econ, costing).total for k in primary_names()}


def machine_weight(option: EquipmentOption, econ: Economics, w: Mapping[str, float]) -> float:
    """What one installed machine of `option` adds to the cost per year under weights
    `w` (USD/yr): its per-machine primaries and its footprint's per-m² ones."""
    total = 0.0
    for p in PRIMARIES:
        if p.per_machine is not None:
            total += p.per_machine(option, econ) * w[p.name]
        if p.per_floor_m2 is not None:
            total += option.footprint * p.per_floor_m2(econ) * w[p.name]
    return total


def enclosure_weight(enc: ArgonEnclosure, econ: Economics, w: Mapping[str, float]) -> float:
    """What enclosing one machine in argon adds to the cost per year under weights `w`
    (USD/yr per machine): the enclosure's capital and its argon."""
    total = 0.0
    for p in PRIMARIES:
        if p.per_enclosure is not None:
            total += p.per_enclosure(enc, econ) * w[p.name]
    return total


def dry_room_weight(cls: DryRoomClass, econ: Economics, w: Mapping[str, float]) -> float:
    """What one m² of dry room of class `cls` adds to the cost per year under weights
    `w` (USD/yr per m²), over the plain floor its machines already pay."""
    total = 0.0
    for p in PRIMARIES:
        if p.per_dry_room_m2 is not None:
            total += p.per_dry_room_m2(cls, econ) * w[p.name]
    return total
