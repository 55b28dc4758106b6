"""BatPaC 5.0's step volume scaling: what a plant's steps cost by their volume.

Under a `*-scaled` costing convention (`batpac5-scaled`, `annuity-scaled`; see
`categories.costing_parts`) the machine-driven primaries of the cost (equipment,
labour, floor, dry room) are not summed over whole machines but taken from BatPaC
5.0's baseline plant, step by step:

    X = X0 · (V / V0)^p        for labour hours, equipment USD and area m²,

V being the step's own volume per year (accepted cells, electrode area, active mass
bought, energy, solvent evaporated), with BatPaC's extra factors: coating equipment
× (solvent evaporated per m² / baseline)^0.2, stacking and formation × (cell Ah /
68)^e. The plant-wide items (dry room, solvent recovery, rejected-cell recycling,
control laboratory, warehouse, building support systems) are a plant-level block.

The volumes are fixed by the target and the route: design quantities of the accepted
cells (areas, cells, energy), and masses bought and units started at the route's
*nominal* yields (each step's first level, no moisture factor). They do not depend
on the plan's decisions (levels, dew-point class, machines), so the scaled costs are
constants of the optimiser (exactly `evaluate`'s, whatever the plan), and the concave
X(V) needs no piecewise-linear formulation. What a plan's yields change is the
materials and energy, which stay linear in the flows.

The data (baseline table, volume kinds, each route's step mapping) are in
lines/batpac5_scaling.yaml; docs/lines.md, "Volume-scaled costing", describes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .data import units
from .data.schema import DryRoomClass, Economics, Route
from .data.yamlio import line_of, load_yaml
from .errors import InputError, Problem, SpecError
from .graph import LineGraph, costed_graph

FILE = "batpac5_scaling.yaml"
# volume kind -> the unit its baseline is given in (parse_quantity kind, or None: a ratio)
KINDS: dict[str, str | None] = {
    "cells": "count", "energy": "energy", "positive_area": "area", "negative_area": "area",
    "electrode_area": "area", "positive_mass": "mass", "negative_mass": "mass",
    "solvent_mass": "mass", "dry_room": None,
}
_STEP_UNIT_KIND = {"kg": "mass", "m2": "area", "cell": "count", "sheet": None}


@dataclass(frozen=True)
class Scaled:
    """One quantity of a baseline step: X0 and its exponent p."""

    value: float
    exponent: float

    def at(self, ratio: float) -> float:
        """X0 · ratio^p (0 at a zero volume; a zero exponent is a fixed amount)."""
        if self.exponent == 0:
            return self.value
        return self.value * ratio ** self.exponent if ratio > 0 else 0.0


@dataclass(frozen=True)
class BaselineStep:
    name: str
    volume: str  # a volume kind
    labour_h: Scaled  # h/yr
    equipment: Scaled  # USD
    area: Scaled  # m²
    in_dry_room: bool = False  # its area is counted in the dry room's
    solvent: Scaled | None = None  # baseline kg/m² evaporated, exponent on equipment
    cell_ah_exponent: float = 0.0  # equipment, labour and area x (Ah / Ah0)^e


@dataclass(frozen=True)
class Use:
    """How one route step is costed: as BatPaC steps, or covered by another step."""

    step: str
    as_: tuple[str, ...]
    covered_by: str | None
    volume: str | None  # None: each BatPaC step's own kind; "started"; or a kind
    dry_room: bool | None = None  # its BatPaC steps' floor is dry room (None: as the route's step)


@dataclass(frozen=True)
class Baseline:
    file: str
    volumes: dict[str, float]  # kind -> baseline volume per year (kg, m², cells, kWh; 1)
    cell_ah: float
    steps: dict[str, BaselineStep]
    plant: tuple[str, ...]
    routes: dict[str, dict[str, Use]]


@dataclass(frozen=True)
class StepCost:
    """A BatPaC step as scaled for a plant (per year; per plant, not per line)."""

    name: str  # the BatPaC step
    carrier: str  # the route step that carries it, or "plant"
    ratio: float  # V / V0
    labour_h: float  # h/yr
    equipment: float  # USD
    area: float  # m² (of the dry room when in_dry_room)
    in_dry_room: bool  # BatPaC counts its floor in its dry room's area (area 0 here)
    # the route keeps the step dry where BatPaC does not (solid-state routes make and
    # coat in the dry room): its area is dry room of the plant's class, not plain floor
    dry_floor: bool = False


def baseline_file(route: Route) -> Path:
    """lines/batpac5_scaling.yaml beside the route's shared economics file."""
    return Path(route.shared.files["economics"]).parent / FILE


def baseline(route: Route) -> Baseline:
    """The scaling data the route's data set ships (bad or missing: InputError)."""
    path = baseline_file(route)
    if not path.exists():
        raise InputError(Problem(str(path), None, "", "the scaled costing needs this file "
                                 "(BatPaC 5.0's step table; see docs/lines.md)"))
    return _load(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load(path: str, _mtime: int) -> Baseline:
    from .data.bibliography import check_citations

    raw, marks = load_yaml(path)
    problems = list(check_citations(raw, path, marks))

    def bad(where: tuple, msg: str) -> None:
        problems.append(Problem(path, line_of(marks, where), ".".join(map(str, where)), msg))

    def quantity(v, kind: str | None, where: tuple) -> float:
        v = v.get("value") if isinstance(v, dict) else v
        try:
            if kind is None:
                x = float(v)
            elif kind == "count":  # cells: an amount in the step unit `cell`
                x, unit = units.parse_amount(v)
                if unit != "cell":
                    raise ValueError(f"expected a number of cells, found {v!r}")
            else:
                x = units.parse_quantity(v, kind)
        except (units.UnitParseError, TypeError, ValueError) as e:
            bad(where, str(e))
            return math.nan
        if not (math.isfinite(x) and x >= 0):
            bad(where, f"expected a finite amount >= 0, found {v!r}")
        return x

    def scaled(v, kind: str, where: tuple) -> Scaled:
        if not isinstance(v, dict) or "exponent" not in v:
            bad(where, "expected {value: ..., exponent: p}")
            return Scaled(math.nan, 0.0)
        p = quantity(v["exponent"], None, where + ("exponent",))
        if p > 1:
            bad(where + ("exponent",), f"expected an exponent within 0..1, found {p!r}")
        return Scaled(quantity(v["value"], kind, where + ("value",)), p)

    if not isinstance(raw, dict):
        raise SpecError(Problem(path, 1, "", "expected a mapping"))
    volumes = {}
    for kind, unit in KINDS.items():
        if kind not in raw.get("volumes", {}):
            bad(("volumes",), f"missing volume kind {kind!r}")
            continue
        volumes[kind] = quantity(raw["volumes"][kind], unit, ("volumes", kind))
        if not volumes[kind] > 0:
            bad(("volumes", kind), "a baseline volume must be positive")
    cell_ah = quantity(raw.get("cell_capacity"), "charge", ("cell_capacity",))
    steps = {}
    for name, s in (raw.get("steps") or {}).items():
        w = ("steps", name)
        if not isinstance(s, dict):
            bad(w, "expected a mapping {volume, labour, equipment, area}")
            continue
        if s.get("volume") not in KINDS:
            bad(w + ("volume",), f"expected a volume kind ({', '.join(KINDS)}), found "
                f"{s.get('volume')!r}")
            continue
        zero = {"value": "0 m^2", "exponent": 0}
        steps[name] = BaselineStep(
            name, s["volume"], scaled(s.get("labour"), "time", w + ("labour",)),
            scaled(s.get("equipment"), "money", w + ("equipment",)),
            scaled(s.get("area", zero), "area", w + ("area",)),
            bool(s.get("in_dry_room", False)),
            scaled(s["solvent"], "areal_mass", w + ("solvent",)) if "solvent" in s else None,
            quantity(s.get("cell_ah_exponent", 0), None, w + ("cell_ah_exponent",)))
    plant = tuple(raw.get("plant_wide") or ())
    for i, name in enumerate(plant):
        if name not in steps:
            bad(("plant_wide", i), f"unknown step {name!r}")
    routes: dict[str, dict[str, Use]] = {}
    for rname, r in (raw.get("routes") or {}).items():
        uses = {}
        if not isinstance(r, dict) or not isinstance(r.get("steps"), dict):
            bad(("routes", rname), "expected `steps:`, a mapping of the route's steps")
            continue
        for sname, u in r["steps"].items():
            rw: tuple = ("routes", rname, "steps", sname)
            if not isinstance(u, dict):
                bad(rw, "expected `{as: [BatPaC steps]}` or `{covered_by: step}`")
                continue
            as_ = tuple(u.get("as") or ())
            cov = u.get("covered_by")
            if bool(as_) == bool(cov):
                bad(rw, "expected either `as: [BatPaC steps]` or `covered_by: step`")
            for b in as_:
                if b not in steps or b in plant:
                    bad(rw + ("as",), f"unknown line step {b!r} of the baseline")
            vol = u.get("volume")
            if vol is not None and vol != "started" and vol not in KINDS:
                bad(rw + ("volume",), f"expected `started` or a volume kind, found {vol!r}")
            dry = u.get("dry_room")
            if dry is not None and not isinstance(dry, bool):
                bad(rw + ("dry_room",), f"expected true or false, found {dry!r}")
            uses[sname] = Use(sname, as_, cov, vol, dry)
        routes[rname] = uses
    if problems:
        raise SpecError(problems)
    return Baseline(path, volumes, cell_ah, steps, plant, routes)


def check_file(path: str | Path, routes: list[Route]) -> None:
    """`ssbfab validate` of a scaling file: its own checks, and each mapped route's
    mapping against that route's steps (`routes`: the loaded routes of the data folder;
    the loader passes them, so this module never reads route files itself)."""
    path = Path(path)
    b = _load(str(path), path.stat().st_mtime_ns)
    for route in routes:
        if route.name in b.routes:
            _uses(route, b)


def _uses(route: Route, b: Baseline) -> dict[str, Use]:
    """The route's step mapping, checked against its steps (every step once)."""
    graph = LineGraph.of(route)
    uses = b.routes.get(route.name)
    if uses is None:
        raise InputError(Problem(b.file, None, f"routes.{route.name}", "the scaled costing needs "
                                 "this route's steps mapped to BatPaC steps; routes mapped: "
                                 + ", ".join(b.routes)))
    problems = []
    # every step of every supply option is mapped, not only the choice the route runs
    known = set(graph.listed) | {s.name for s in route.full.line}
    for name in sorted(known, key=[s.name for s in route.full.line].index):
        if name not in uses:
            problems.append(Problem(b.file, None, f"routes.{route.name}.steps.{name}",
                                    "step not mapped: give `as: [BatPaC steps]` or `covered_by:`"))
    for name, u in uses.items():
        if name not in known:
            problems.append(Problem(b.file, None, f"routes.{route.name}.steps.{name}",
                                    f"the route has no step {name!r}"))
        elif u.covered_by is not None and (u.covered_by not in uses or uses[u.covered_by].as_ == ()):
            problems.append(Problem(b.file, None, f"routes.{route.name}.steps.{name}.covered_by",
                                    f"expected a step of the route costed `as` BatPaC steps, "
                                    f"found {u.covered_by!r}"))
    if problems:
        raise InputError(problems)
    return uses


def volumes(route: Route, plant_gwh: float) -> dict[str, float]:
    """The plant's volume of each kind per year (kg, m², cells, kWh), and each route
    step's units started per year (key `started:<step>`), at the target and the route's
    nominal yields. See the module docstring for why nominal."""
    from .flow import nominal_yields

    graph = costed_graph(route)
    cell = route.cell
    assert cell is not None  # costed_graph refuses a line without a design
    cells = plant_gwh * 1e6 / graph.energy_kwh
    _, started = graph.flows(nominal_yields(route))
    refs = graph.refs

    def bought(material: str) -> float:
        return sum(rate * started[s] for (s, m), rate in graph.material_rates.items()
                   if m == material) * cells

    # a lithium-metal cell has an anode area but may have no anode electrode design
    pos = refs["cathode.area"].value * cells
    neg = refs["anode.area"].value * cells if "anode.area" in refs else pos
    out = {"cells": cells, "energy": plant_gwh * 1e6, "positive_area": pos,
           "negative_area": neg, "electrode_area": pos + neg,
           "positive_mass": bought(cell.cathode.active or ""),
           "negative_mass": bought(cell.anode.active) if cell.anode and cell.anode.active else 0.0,
           "solvent_mass": sum(solvent_per_unit(route, s) * graph.node(s).per_cell
                               for s in graph.listed) * cells}
    out.update({f"started:{s}": started[s] * cells for s in graph.listed})
    return out


def solvent_per_unit(route: Route, step: str) -> float:
    """Solvent evaporated at a step per unit of its output, kg (materials the step
    recovers in part, before recovery; see graph._material_rates for the amounts)."""
    from .graph import _per_unit_quantity

    graph = LineGraph.of(route)
    node = graph.node(step)
    total = 0.0
    for mu in node.spec.materials:
        if mu.recovered > 0:
            if mu.amount in graph.refs:
                total += graph.refs[mu.amount].value / node.per_cell
            else:
                total += _per_unit_quantity(mu.amount, node.spec)
    return total


def step_costs(route: Route, plant_gwh: float) -> list[StepCost]:
    """Every BatPaC step of a plant of `plant_gwh` good GWh/yr, scaled (in the order
    of the route file, then the plant-wide items)."""
    b = baseline(route)
    uses = _uses(route, b)
    vol = volumes(route, plant_gwh)
    graph = LineGraph.of(route)
    cell = route.cell
    assert cell is not None
    ah = cell.capacity / b.cell_ah
    out = []

    def one(bs: BaselineStep, carrier: str, ratio: float, solvent: float | None,
            dry: bool = False) -> StepCost:
        f = ah ** bs.cell_ah_exponent if bs.cell_ah_exponent else 1.0
        eq = bs.equipment.at(ratio) * f
        if bs.solvent is not None and solvent is not None and bs.solvent.value > 0:
            eq *= (solvent / bs.solvent.value) ** bs.solvent.exponent
        return StepCost(bs.name, carrier, ratio, bs.labour_h.at(ratio) * f, eq,
                        bs.area.at(ratio) * f, bs.in_dry_room, dry and not bs.in_dry_room)

    for name in graph.listed:
        u = uses[name]
        node = graph.node(name)
        for bname in u.as_:
            bs = b.steps[bname]
            kind = u.volume or bs.volume
            if kind == "started":
                if _STEP_UNIT_KIND[node.unit] != KINDS[bs.volume]:
                    raise InputError(Problem(b.file, None, f"routes.{route.name}.steps.{name}.volume",
                                             f"`started` measures {name!r} in {node.unit}, but "
                                             f"{bname!r} scales by {bs.volume}: name a volume kind"))
                v = vol[f"started:{name}"]
            else:
                v = vol[kind]
            # a coating's solvent per m²: the route's own where its step evaporates one
            sol = solvent_per_unit(route, name) if node.unit == "m2" else 0.0
            out.append(one(bs, name, v / b.volumes[bs.volume if kind == "started" else kind],
                           sol or None, node.dry_room if u.dry_room is None else u.dry_room))
    ratio_dry = max(vol["cells"] / b.volumes["cells"],
                    vol["electrode_area"] / b.volumes["electrode_area"])
    for bname in b.plant:
        bs = b.steps[bname]
        if bs.volume == "dry_room":
            if not graph.dry_steps:
                continue  # a line with no dry step has no dry room
            r = ratio_dry
        else:
            r = vol[bs.volume] / b.volumes[bs.volume]
        out.append(one(bs, "plant", r, None))
    return out


def primaries(route: Route, plant_gwh: float, dry: DryRoomClass | None,
              econ: Economics, share: float = 1.0) -> dict[str, dict[str, float]]:
    """The scaled machine-driven primaries by carrier (route step or "plant: <item>"):
    equipment_capex, labour (USD/yr), building_capex, dry_room_capex, dry_room_energy
    (`categories.PRIMARIES`), times `share` (a line's share of the plant).

    The dry room's area is the dry-room step's scaled area (BatPaC counts the in-room
    steps' floor in it), priced by the plant's class: its building at building_cost +
    the class's building_extra_cost, its equipment BatPaC's scaled 7.3 M$ times the
    class's equipment cost per m² over the baseline's (7.3 M$ / 61,000 m²), its
    electricity the class's power (BatPaC has no dry-room energy term). A step the route
    keeps in the dry room whose BatPaC step is not in BatPaC's (`StepCost.dry_floor`)
    adds its scaled area to the dry room, at the class's cost per m²."""
    b = baseline(route)
    out: dict[str, dict[str, float]] = {}
    for sc in step_costs(route, plant_gwh):
        key = sc.carrier if sc.carrier != "plant" else f"plant: {sc.name}"
        p = out.setdefault(key, {})
        p["labour"] = p.get("labour", 0.0) + sc.labour_h * econ.labour_rate * share
        if sc.name == "dry_room":
            assert dry is not None  # a line with dry steps is given its class
            base = b.steps["dry_room"]
            per_m2 = base.equipment.value / base.area.value
            p["dry_room_capex"] = sc.equipment * dry.equipment_cost / per_m2 * share
            p["building_capex"] = sc.area * (econ.building_cost + dry.building_extra_cost) * share
            p["dry_room_energy"] = (sc.area * dry.power * econ.operating_hours_per_year
                                    * econ.electricity_price * share)
            continue
        p["equipment_capex"] = p.get("equipment_capex", 0.0) + sc.equipment * share
        if sc.dry_floor and dry is not None:  # dry room of the class, at its cost per m²
            p["building_capex"] = p.get("building_capex", 0.0) + sc.area * (
                econ.building_cost + dry.building_extra_cost) * share
            p["dry_room_capex"] = p.get("dry_room_capex", 0.0) + sc.area * dry.equipment_cost * share
            p["dry_room_energy"] = p.get("dry_room_energy", 0.0) + (
                sc.area * dry.power * econ.operating_hours_per_year * econ.electricity_price * share)
        elif not sc.in_dry_room:
            p["building_capex"] = p.get("building_capex", 0.0) + sc.area * econ.building_cost * share
    return out


def areas(route: Route, plant_gwh: float) -> tuple[float, float]:
    """(plant floor, of which dry room) in m² under the scaled costing."""
    floor = dry = 0.0
    for sc in step_costs(route, plant_gwh):
        if sc.name == "dry_room" or sc.dry_floor:
            dry += sc.area
        if not sc.in_dry_room:
            floor += sc.area
    return floor, dry
