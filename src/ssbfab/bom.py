"""Bill of materials: what is bought per good cell and what it costs.

Material bought per accepted cell = design amount / (yields from where it enters
the line to the end), net of recovery (`flow.requirements`). Materials the line
makes itself (a step with `makes:`) are not bought: their raw materials are, by the
recipe's mass fractions. Scrapped material earns its `scrap_credit` share back and
its `recycling_credit` per kg (`cost.credit_per_unit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import flow
from .cell import CellResult, design
from .data.schema import Route
from .graph import LineGraph, recipe_mass_fractions


@dataclass(frozen=True)
class BomLine:
    material: str
    quantity: float  # bought per good cell, in `unit`
    unit: str  # kg, m2 or m3
    design_quantity: float  # in the cell itself (0 for solvents and recipe raws)
    price: float  # USD per unit
    cost_per_cell: float  # USD, net of scrap credit

    def cost_per_kwh(self, cell: CellResult, delivered_kwh: float | None = None) -> float:
        """USD per kWh: per good cell over the energy it delivers (`delivered_kwh`,
        e.g. `delivered_energy_kwh`; None: the design's energy)."""
        return self.cost_per_cell / (cell.energy_kwh if delivered_kwh is None else delivered_kwh)


def bill_of_materials(route: Route, yields: Mapping[str, float],
                      cell: CellResult | None = None) -> list[BomLine]:
    from .cost import credit_per_unit  # cost reads the graph; imported on use

    cell = cell or design(route)
    req = flow.requirements(route, yields, cell.refs)
    mats = route.all_materials
    lines = []
    for name, qty in req.bought.items():
        m = mats[name]
        if m.price_per_unit is None:
            raise ValueError(f"material {name!r} is bought but has no price")
        price, unit = m.price_per_unit
        design_q = cell.design_bom[name].value if name in cell.design_bom else 0.0
        credit = credit_per_unit(m, price) * req.scrapped.get(name, 0.0)
        lines.append(BomLine(name, qty, unit, design_q, price, qty * price - credit))
    return lines


def delivered_energy_kwh(route: Route, cell: CellResult | None = None,
                         levels: Mapping[str, str] | None = None,
                         dew_point_class: str | None = None,
                         zone_classes: Mapping[str, str] | None = None) -> float:
    """kWh a good cell delivers: `cell`'s design energy × the capacity kept at the
    setting `levels` (step -> level; default each step's first) and after the nominal
    water doses in `dew_point_class` with the named zones in `zone_classes` (a zone not
    given: the plant's class; neither given: the driest allowed class and each zone its
    driest, the classes of `flow.default_yields`) (`LineGraph.cell_energy`)."""
    graph = LineGraph.of(route)
    cell = cell or design(route)
    dpc = dew_point_class if dew_point_class is not None else graph.driest
    if dew_point_class is None and zone_classes is None:
        zone_classes = graph.driest_zones
    return (cell.energy_kwh * graph.cell_energy(levels or {}, dpc, zone_classes=zone_classes)
            / graph.energy_kwh)


def materials_cost_per_kwh(route: Route, yields: Mapping[str, float],
                           cell: CellResult | None = None, *,
                           levels: Mapping[str, str] | None = None,
                           dew_point_class: str | None = None,
                           zone_classes: Mapping[str, str] | None = None) -> float:
    """USD of materials per kWh the good cells deliver: the bill of materials per good
    cell at `yields` over `delivered_energy_kwh` at `levels` in `dew_point_class` and
    `zone_classes` (give the levels and classes the yields are for), the divisor of
    `cost.evaluate`."""
    cell = cell or design(route)
    return (sum(b.cost_per_cell for b in bill_of_materials(route, yields, cell))
            / delivered_energy_kwh(route, cell, levels, dew_point_class, zone_classes))


@dataclass(frozen=True)
class RawShare:
    name: str
    mass_fraction: float
    cost_share: float
    price: float  # USD/kg


@dataclass(frozen=True)
class MadeMaterial:
    name: str
    step: str
    raw: list[RawShare]
    cost_per_kg: float  # raw-material cost of one kg of product (before synthesis yield)


def made_materials(route: Route) -> list[MadeMaterial]:
    """Each material the line makes itself, with the mass and cost share of its raws."""
    out = []
    mats = route.all_materials
    for node in LineGraph.of(route).in_file_order():
        s = node.spec
        if not s.makes:
            continue
        fr = recipe_mass_fractions(route, s.makes)
        prices = {}
        for raw in fr:
            pu = mats[raw].price_per_unit
            if pu is None or pu[1] != "kg":
                raise ValueError(f"raw material {raw!r} of {s.makes!r} needs a price per kg")
            prices[raw] = pu[0]
        cost = sum(fr[r] * prices[r] for r in fr)
        raws = [RawShare(r, fr[r], fr[r] * prices[r] / cost if cost else 0.0, prices[r]) for r in fr]
        out.append(MadeMaterial(s.makes, s.name, raws, cost))
    return out


# The seed's figure, kept as a check the data are compared with (never fitted to):
# Li2S is about 82 % of LPSCl's raw-material cost at 2.5 M CNY/t ([qu-seed]).
LI2S_CHECK_CNY_PER_T = 2.5e6


def raw_cost_share_at(route: Route, made: str, raw: str, cny_per_t: float) -> float:
    """Share (fraction) of `raw` in the raw-material cost of `made`, by its recipe, with
    `raw` priced at `cny_per_t` CNY per tonne converted at the rate of the year its own
    price is quoted in (the economics' currency year when it is not dated), and every
    other raw at the route's prices."""
    mats = route.all_materials
    econ = route.economics
    price = mats[raw].price
    year = getattr(price, "year", econ.currency_year)
    rates = econ.currency_rates_by_year.get(year, econ.currency_rates)
    fr = recipe_mass_fractions(route, made)
    usd = {r: cny_per_t / 1000.0 * rates["CNY"] for r in fr if r == raw}
    for r in fr:
        pu = mats[r].price_per_unit
        if r != raw:
            if pu is None:
                raise ValueError(f"raw material {r!r} of {made!r} has no price")
            usd[r] = pu[0]
    cost = sum(fr[r] * usd[r] for r in fr)
    return fr[raw] * usd[raw] / cost
