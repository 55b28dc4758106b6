"""The compiled line graph of a route: what flow, cost, the simulator, the optimiser
and the report read instead of walking the route file's `line:`.

`LineGraph.of(route)` compiles a checked `Route` once (cached on the route object)
into frozen, typed data. Every rule of the line is stated here, once:

- per_cell(s)   units of s's good output in one good cell, by design (before yields):
                a design reference of the cell ("cathode.area") or, on a bare line
                without a cell, a plain amount ("2 sheet");
- ratio(u→c)    units of u's good output consumed per unit of c started: the edge's
                per_cell (else u's own per_cell) over per_cell(c);
- rate(s, m)    material m bought per unit of s started, net of recovery, in m's
                price basis (kg, m² or m³); a step that makes a material (`makes:`)
                buys its recipe's raw materials by mass fraction per kg started;
- yield(s,l,d)  min(1, f · R_s(y_l · φ_s(d))): the level's yield, for a
                moisture-sensitive step × φ_s(d) = its `moisture.yield_factor` in
                dry-room class d, or 1 - loss(ppmv(d) × exposure) for a step with a
                `moisture.dose` curve (the nominal dose; the simulator uses the dose
                each lot meets) (the first-pass yield y1), with the rework of the step
                R_s(y1) = y1 + (1 - y1)·share·yield_rework (the scrap reworked and
                recovered), × an observed factor f (1 unless statistics give one);
- classes       the dry-room classes the route may use: its `dry_room_classes`
                (default: all of dry_rooms.yaml) that every moisture-sensitive step
                has a `yield_factor` for (docs/lines.md: "a class absent here is not
                allowed for this route"), wettest to driest; the driest allowed
                class is the last. The loader refuses a route that leaves none
                (`checks.check_route`), so every command can run what it accepts;
- flows         good(s) = Σ_c started(c)·ratio(s→c) (the final step: per_cell = 1
                cell), started(s) = good(s) / yield(s), per good cell;
- h2s(s, d)     m³ of H2S released per unit of s started in dry-room class d: its
                `moisture.h2s_release` (cm³/g at the reference dew point) × kg of
                sensitive material per unit × ppmv(d) / ppmv(reference), ppmv by the
                Magnus formula (`units.dew_point_to_ppmv`): linear in the water met,
                the simulator's rule too (sim/model.py); plus, whatever the class,
                the step's `h2s_process` (cm³/g started: a reagent's excess and
                vents, e.g. Li2S from LiOH and H2S);
- zones         the dry-room steps of a zone (route `zones:`) share one room whose
                class the zone chooses among its `classes` (default: the route's
                classes every one of its steps allows), or argon (`ARGON`, a
                mini-environment at `dry_rooms.argon_dew_point`, every step of the
                zone enclosed per machine, `Step.argon_enclosure`); the dry-room steps
                in no zone form the plant's zone (`PLANT_ZONE`), whose classes are
                `classes` above. A route without zones is one zone: today's plant.
                A step's yield, dose and H2S are those of its zone's class;
- energy        a good cell delivers the design's energy × the `capacity_factor` of
                the level chosen at the one step whose levels carry one (`energy_step`,
                e.g. warm isostatic pressing; None: the design's energy) × κ(d), the
                product over the steps with a `moisture.dose.conductivity` curve of
                the capacity fraction after their nominal dose in their zone's class
                d (argon included; `dose_capacity`; the simulator uses the dose each
                lot meets). These steps all sit in one zone (the loader's
                `checks._check_conductivity_zone`), so κ is a function of that
                zone's class alone: what keeps the optimiser's pairs exact.

Mappings are read-only views; the graph is never changed after it is built.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .cell import CellResult, DesignRef, design
from .data import units
from .data.schema import (
    ARGON,
    PLANT_ZONE,
    DryRoomClass,
    EquipmentOption,
    Level,
    Moisture,
    Route,
    Step,
)
from .errors import InputError, Problem, closest


@dataclass(frozen=True)
class OptionNode:
    """An equipment option of a step, with its nominal rate read once (pint is slow)."""

    name: str
    spec: EquipmentOption  # capex, power, footprint, operators, counts, failures as loaded
    rate_per_hour: float  # nominal units of the step's unit per operating hour (batch / cycle)
    availability: float  # nominal up fraction: MTBF/(MTBF+MTTR) and planned maintenance


@dataclass(frozen=True)
class ZoneNode:
    """A zone of the dry room: its steps and the classes it may choose."""

    name: str
    steps: tuple[str, ...]  # dry-room steps, in the route file's order
    classes: tuple[str, ...]  # wettest to driest; ARGON last where allowed


@dataclass(frozen=True)
class StepNode:
    """A step of the line and its place in the graph."""

    name: str
    position: int  # index in the route file's `line:` (messages name `line.<position>.…`)
    spec: Step  # the step as loaded: lot size, buffer, moisture excursion, makes, ...
    unit: str  # kg, m2, sheet or cell
    per_cell: float  # units of good output per good cell, by design (before yields)
    environment: str  # ambient, dry_room or argon
    inputs: tuple[str, ...]  # upstream steps, in the order of `inputs:`
    consumers: tuple[str, ...]  # downstream steps, in the order of the route file
    levels: tuple[Level, ...]  # setting levels; the first is the default
    level_yield: Mapping[str, float]  # level name -> the level's yield (fraction)
    options: tuple[OptionNode, ...]
    moisture: Mapping[str, float]  # class its zone allows -> yield_factor; empty if not sensitive
    sensitive_kg: float  # kg of moisture-sensitive material per unit of output, by design
    # class its zone allows -> share of the design capacity a cell delivers after the
    # nominal dose here (`moisture.dose.conductivity`); empty without a conductivity curve
    capacity: Mapping[str, float]
    zone: str | None = None  # its zone (dry-room steps only; PLANT_ZONE if no named zone)

    @property
    def sensitive(self) -> bool:
        """Moisture-sensitive: its yield depends on the dry-room class."""
        return self.spec.moisture is not None

    @property
    def dry_room(self) -> bool:
        return self.environment == "dry_room"

    @property
    def argon(self) -> bool:
        return self.environment == "argon"

    @property
    def final(self) -> bool:
        """The last step (end-of-line test): nothing consumes its output."""
        return not self.consumers

    def level(self, name: str) -> Level:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(name)


# One graph per live route object: routes are frozen once checked, and a route edited
# in memory (a study's overrides) is a new object, hence a new graph.
_GRAPHS: weakref.WeakKeyDictionary[Route, LineGraph] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class LineGraph:
    """A route's line compiled once; see the module docstring for the rules."""

    route: str
    file: str
    steps: tuple[StepNode, ...]  # topological order, upstream first; the last is the final step
    listed: tuple[str, ...]  # step names in the order of the route file (tables, sums)
    ratio: Mapping[tuple[str, str], float]  # (u, c) -> units of u's good output per unit of c started
    material_rates: Mapping[tuple[str, str], float]  # (step, material) -> basis units per unit started
    classes: tuple[str, ...]  # allowed dry-room classes, wettest to driest
    excluded: Mapping[str, tuple[str, ...]]  # listed class -> sensitive steps without a factor for it
    dry_rooms: Mapping[str, DryRoomClass]  # allowed class name -> its data
    cell: CellResult | None  # the cell design; None for a bare line (`form: line`)
    refs: Mapping[str, DesignRef]  # the cell's design references ({} for a bare line)
    design_bom: Mapping[str, float]  # material -> amount in one good cell, in its price basis
    prices: Mapping[str, tuple[float, str]]  # material -> (USD per basis unit, basis)
    water_ratio: Mapping[str, float]  # any zone's class -> ppmv at its dew point / ppmv at the H2S reference
    _index: Mapping[str, int]  # step name -> position in `steps`
    # the zones of the dry room: the route's named zones in file order, then the plant's
    # own (PLANT_ZONE, the dry-room steps in no named zone; classes = `classes`)
    zones: tuple[ZoneNode, ...] = ()

    # ---------------------------------------------------------------- building
    @classmethod
    def of(cls, route: Route) -> LineGraph:
        """The graph of a checked route, built on first use and kept with the route."""
        graph = _GRAPHS.get(route)
        if graph is None:
            graph = cls.build(route)
            _GRAPHS[route] = graph
        return graph

    @classmethod
    def build(cls, route: Route, refs: Mapping[str, DesignRef] | None = None) -> LineGraph:
        """Compile `route` (not cached). `refs`: design references to use instead of
        the route's own cell design (a bare line has none)."""
        cell = design(route) if route.cell is not None else None
        if refs is None:
            refs = cell.refs if cell is not None else {}
        order = route.order
        listed = tuple(s.name for s in route.line)
        consumers = route.consumers
        position = {name: i for i, name in enumerate(listed)}
        per_cell = {s.name: _amount(s.per_cell, refs) for s in route.line}
        ratio = _edge_ratios(route, refs, per_cell)
        zones = route_zones(route)
        # the plant's zone chooses `dew_point_class` (no plant zone: every step is zoned)
        plant = next((z.steps for z in zones if z.name == PLANT_ZONE), ())
        allowed, _, excluded = allowed_classes(route, plant if route.zones else None)
        by_zone = {z.name: z.classes for z in zones}
        zone_of = {st: z.name for z in zones for st in z.steps}
        sensitive = _sensitive_kg(route, refs, per_cell, ratio)
        nodes = []
        for name in order:
            s = route.step(name)
            levels = tuple(s.setting_levels)
            mo = s.moisture
            zone = zone_of.get(name)
            classes = by_zone[zone] if zone else allowed
            nodes.append(StepNode(
                name=name, position=position[name], spec=s, unit=s.unit,
                per_cell=per_cell[name], environment=s.environment,
                inputs=tuple(e.step for e in s.inputs), consumers=tuple(consumers[name]),
                levels=levels,
                level_yield=MappingProxyType({lv.name: float(lv.yield_ or 0.0) for lv in levels}),
                options=tuple(OptionNode(o.name, o, o.rate_per_hour, o.availability)
                              for o in s.options),
                moisture=MappingProxyType({} if mo is None else
                                          {c: moisture_factor(mo, route, c, s) for c in classes}),
                sensitive_kg=sensitive[name], zone=zone,
                capacity=MappingProxyType({c: capacity_after_dose(mo, route, c) for c in classes}
                                          if mo is not None and mo.dose is not None
                                          and mo.dose.conductivity is not None else {})))
        by_name = {c.name: c for c in route.shared.dry_rooms.classes}
        used = tuple(dict.fromkeys((*allowed, *(c for z in zones for c in z.classes))))
        # the design BOM is the references' "material.<name>" entries (cell.design_bom)
        bom = {k.removeprefix("material."): v.value for k, v in refs.items()
               if k.startswith("material.")}
        return cls(
            route=route.name, file=route.file, steps=tuple(nodes), listed=listed,
            ratio=MappingProxyType(ratio),
            material_rates=MappingProxyType(_material_rates(route, refs, per_cell)),
            classes=allowed, excluded=MappingProxyType(excluded),
            dry_rooms=MappingProxyType({c: by_name[c] for c in used if c != ARGON}),
            cell=cell, refs=MappingProxyType(dict(refs)), design_bom=MappingProxyType(bom),
            prices=MappingProxyType({n: p for n, m in route.all_materials.items()
                                     if (p := m.price_per_unit) is not None}),
            water_ratio=MappingProxyType(_water_ratios(route, used)),
            _index=MappingProxyType({n.name: i for i, n in enumerate(nodes)}),
            zones=tuple(z for z in zones if z.steps),
        )

    # ---------------------------------------------------------------- reading
    @property
    def order(self) -> tuple[str, ...]:
        """Step names in topological order (upstream first)."""
        return tuple(n.name for n in self.steps)

    @property
    def final(self) -> StepNode:
        return self.steps[-1]

    @property
    def dry_steps(self) -> tuple[str, ...]:
        """Steps in the dry room, in topological order."""
        return tuple(n.name for n in self.steps if n.dry_room)

    @property
    def driest(self) -> str | None:
        """The driest allowed dry-room class (safest yields); None if none is defined."""
        return self.classes[-1] if self.classes else None

    @property
    def energy_kwh(self) -> float:
        """Design energy of one good cell, kWh (NaN for a bare line, which has no cell)."""
        return self.cell.energy_kwh if self.cell is not None else math.nan

    @property
    def energy_step(self) -> str | None:
        """The step whose levels change the delivered capacity (at most one: the
        loader's `checks._check_capacity_step`), or None."""
        for n in self.steps:
            if any(lv.capacity_factor != 1.0 for lv in n.levels):
                return n.name
        return None

    @property
    def dose_capacity_steps(self) -> tuple[str, ...]:
        """Steps whose water dose lowers the delivered capacity (a conductivity curve)."""
        return tuple(n.name for n in self.steps if n.capacity)

    @property
    def dose_zone(self) -> str | None:
        """The zone whose class sets the capacity the doses leave (`dose_capacity_steps`
        all sit in it, the loader's `checks._check_conductivity_zone`): the steps' named
        zone, else the plant's (PLANT_ZONE); None without such steps."""
        steps = self.dose_capacity_steps
        if not steps:
            return None
        z = self.node(steps[0]).zone
        return z if z is not None else PLANT_ZONE

    def dose_capacity(self, dew_point_class: str | None,
                      factors: Mapping[str, float] | None = None,
                      zone_classes: Mapping[str, str] | None = None) -> float:
        """Share of the design capacity a good cell keeps after the nominal water doses:
        the product over `dose_capacity_steps` of their capacity fraction in the class of
        their zone (`step_classes(dew_point_class, zone_classes)`: a named zone's class in
        `zone_classes`, argon included, else the plant's), each × its observed factor in
        `factors` (step -> observed / nominal; 1 if absent). 1 without such steps; a class
        the step's zone may not choose is an InputError."""
        steps = self.dose_capacity_steps
        classes = self.step_classes(dew_point_class, zone_classes)
        k = 1.0
        for name in steps:
            node = self.node(name)
            d = classes[name]
            if d is None:
                raise InputError(Problem(self.file or self.route, None, "dew_point_class",
                                         f"step {name!r} loses capacity to the water dose: "
                                         "the energy of a cell needs the dry-room class"))
            if d not in node.capacity:
                self._refuse_class(node, d)
            k *= node.capacity[d] * (factors or {}).get(name, 1.0)
        return min(1.0, k)

    def cell_energy(self, levels: Mapping[str, str], dew_point_class: str | None = None,
                    factors: Mapping[str, float] | None = None,
                    zone_classes: Mapping[str, str] | None = None) -> float:
        """Energy a good cell delivers at these setting levels (step -> level) with the
        plant in `dew_point_class` and the named zones in `zone_classes` (a zone not
        given: the plant's class), kWh: the design's energy × the capacity_factor of the
        energy step's chosen level (its first level when `levels` does not name it) ×
        the capacity kept after the water doses (`dose_capacity`, with observed
        `factors`)."""
        es = self.energy_step
        e = self.energy_kwh * (self.dose_capacity(dew_point_class, factors, zone_classes)
                               if self.dose_capacity_steps else 1.0)
        if es is None:
            return e
        node = self.node(es)
        return e * node.level(levels.get(es, node.levels[0].name)).capacity_factor

    def node(self, name: str) -> StepNode:
        return self.steps[self._index[name]]

    @property
    def driest_zones(self) -> dict[str, str]:
        """Named zone -> its driest class (the last it lists: argon where allowed)."""
        return {z.name: z.classes[-1] for z in self.named_zones}

    @property
    def named_zones(self) -> tuple[ZoneNode, ...]:
        """The route's own zones (not the plant's): empty for a route without zones."""
        return tuple(z for z in self.zones if z.name != PLANT_ZONE)

    def zone(self, name: str) -> ZoneNode:
        return next(z for z in self.zones if z.name == name)

    def step_classes(self, dew_point_class: str | None,
                     zone_classes: Mapping[str, str] | None = None) -> dict[str, str | None]:
        """step -> the class it works in: its named zone's (`zone_classes`, zone ->
        class; a zone not given there: the plant's), else the plant's `dew_point_class`."""
        zc = zone_classes or {}
        out: dict[str, str | None] = {}
        for n in self.steps:
            z = n.zone
            out[n.name] = (zc.get(z, dew_point_class) if z is not None and z != PLANT_ZONE
                           else dew_point_class)
        return out

    def zone_problem(self, zone: str, dew_point_class: str) -> str | None:
        """None if named zone `zone` may choose the class, else why not (a sentence)."""
        names = [z.name for z in self.named_zones]
        if zone not in names:
            return (f"unknown zone {zone!r}{closest(zone, names)}; expected one of "
                    f"{', '.join(names) or '(none: the route has no zones)'}")
        classes = self.zone(zone).classes
        if dew_point_class in classes:
            return None
        return (f"zone {zone!r} may not choose class {dew_point_class!r}"
                f"{closest(str(dew_point_class), classes)}; expected one of {', '.join(classes)}")

    def in_file_order(self) -> list[StepNode]:
        """The steps in the order of the route file (the order of tables and sums)."""
        return [self.steps[self._index[n]] for n in self.listed]

    def class_problem(self, dew_point_class: str) -> str | None:
        """None if the route may use this dry-room class, else why not (a sentence)."""
        d = dew_point_class
        if d in self.classes:
            return None
        allowed = ", ".join(self.classes) or "(none)"
        if d in self.excluded:
            steps = ", ".join(map(repr, self.excluded[d]))
            return (f"dry-room class {d!r} is not allowed for this route: moisture-sensitive "
                    f"step(s) {steps} have no `moisture.yield_factor` for it; expected one "
                    f"of {allowed}")
        return f"unknown dry-room class {d!r}{closest(str(d), self.classes)}; expected one of {allowed}"

    def check_class(self, dew_point_class: str, field: str = "dew_point_class",
                    file: str | None = None) -> None:
        """Raise an InputError (exit 2) naming `field` if the class is not allowed."""
        why = self.class_problem(dew_point_class)
        if why is not None:
            raise InputError(Problem(file or self.file or self.route, None, field, why))

    def yield_at(self, step: str, level: str, dew_point_class: str | None,
                 factor: float = 1.0) -> float:
        """Yield of `step` at `level` in a dry-room class (fraction): min(1, `factor` ×
        the first-pass yield (level yield × the step's moisture yield_factor in that
        class) with the step's rework recovered). The class does
        not matter for a step that is not moisture-sensitive, nor when it is None (not
        known, e.g. statistics that do not say); a class the route may not use is an
        InputError."""
        y = self.first_pass_yield(step, level, dew_point_class)
        rw = self.steps[self._index[step]].spec.rework
        if rw is not None:
            y += (1.0 - y) * rw.share * rw.yield_
        return min(1.0, y * factor)

    def _refuse_class(self, node: StepNode, dew_point_class: str) -> None:
        """Raise the InputError for a class a step's tables lack: the zone's problem with
        it for a step of a named zone, else the route's (`check_class`)."""
        z = node.zone
        if z is not None and z != PLANT_ZONE:
            why = self.zone_problem(z, dew_point_class) or ""
            raise InputError(Problem(self.file or self.route, None, f"zones.{z}", why))
        self.check_class(dew_point_class)  # not an allowed class: raises

    def first_pass_yield(self, step: str, level: str, dew_point_class: str | None) -> float:
        """Yield before rework (fraction): level yield × moisture yield_factor in the class."""
        node = self.steps[self._index[step]]
        y = node.level_yield[level]
        if node.sensitive and dew_point_class is not None:
            if dew_point_class not in node.moisture:
                self._refuse_class(node, dew_point_class)
            y *= node.moisture[dew_point_class]
        return min(1.0, y)

    def rework_per_started(self, step: str, level: str, dew_point_class: str | None) -> float:
        """Units reworked per unit of `step` started: (1 - first-pass yield) × share."""
        rw = self.steps[self._index[step]].spec.rework
        if rw is None:
            return 0.0
        return (1.0 - self.first_pass_yield(step, level, dew_point_class)) * rw.share

    def h2s(self, step: str, dew_point_class: str | None) -> float:
        """m³ of H2S released per unit of `step` started in the class (module docstring):
        the moisture release (0 without `h2s_release` or when the class is unknown, None)
        plus the process's own (`h2s_process`, whatever the class)."""
        node = self.steps[self._index[step]]
        # cm³/g × kg → × 1000 g/kg × 1e-6 m³/cm³ (a step with h2s_process is in kg)
        out = node.spec.h2s_process * 1e-3
        mo = node.spec.moisture
        if mo is None or not mo.h2s_release or dew_point_class is None \
                or dew_point_class not in self.water_ratio:
            return out
        return out + mo.h2s_release * node.sensitive_kg * 1e-3 * self.water_ratio[dew_point_class]

    def flows(self, yields: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        """(good, started): units of good output and units started at each step per good
        cell, in the step's unit, with the given yield of each step (a yield of 0 starts
        an infinite amount)."""
        good: dict[str, float] = {}
        started: dict[str, float] = {}
        ratio = self.ratio
        for node in reversed(self.steps):
            name = node.name
            if not node.consumers:
                g = node.per_cell
            else:
                g = sum(started[c] * ratio[(name, c)] for c in node.consumers)
            good[name] = g
            y = yields[name]
            started[name] = g / y if y > 0 else math.inf
        return good, started


# ----------------------------------------------------------------------------- rules


def allowed_classes(route: Route, steps: tuple[str, ...] | None = None
                    ) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, tuple[str, ...]]]:
    """(allowed, listed, excluded): the route's dry-room classes (`dry_room_classes`,
    default all; wettest to driest) that every moisture-sensitive step (of `steps`,
    default all) has a `yield_factor` for; the listed classes; and per listed class not
    allowed, the sensitive steps that lack it."""
    listed = tuple(c.name for c in route.dry_room_options)
    excluded: dict[str, tuple[str, ...]] = {}
    for c in listed:
        lacking = tuple(s.name for s in route.line
                        if (steps is None or s.name in steps)
                        and s.moisture is not None and s.moisture.yield_factor is not None
                        and c not in s.moisture.yield_factor)
        if lacking:
            excluded[c] = lacking
    return tuple(c for c in listed if c not in excluded), listed, excluded


def route_zones(route: Route) -> tuple[ZoneNode, ...]:
    """The zones of the route's dry room (module docstring): its named zones, in file
    order, with their dry-room steps that the route runs (a step of an unchosen supply
    option is left out) and their classes; then the plant's zone with the dry-room steps
    in none (left out when a named zone holds every one). Assumes a checked route."""
    dry = [s.name for s in route.line if s.environment == "dry_room"]
    named = {st for z in route.zones for st in z.steps}
    out = []
    for z in route.zones:
        steps = tuple(st for st in dry if st in z.steps)
        if z.classes is not None:
            classes = tuple(z.classes)
        else:
            classes = allowed_classes(route, steps)[0]
        out.append(ZoneNode(z.name, steps, classes + ((ARGON,) if z.argon else ())))
    rest = tuple(st for st in dry if st not in named)
    if rest:
        out.append(ZoneNode(PLANT_ZONE, rest,
                            allowed_classes(route, rest if route.zones else None)[0]))
    return tuple(out)


def dew_point_of(route: Route, dew_point_class: str) -> float:
    """°C of a dry-room class, or of argon (`dry_rooms.argon_dew_point`)."""
    dr = route.shared.dry_rooms
    if dew_point_class == ARGON:
        assert dr.argon_dew_point is not None  # a zone may choose argon only then (checks)
        return dr.argon_dew_point
    return next(c for c in dr.classes if c.name == dew_point_class).dew_point


def nominal_dose(moisture: Moisture, route: Route, dew_point_class: str) -> float:
    """Water dose (ppmv·h) a lot meets at its nominal exposure in a dry-room class (or
    argon): ppmv at the class's dew point (Magnus formula over ice,
    `units.dew_point_to_ppmv`) × `dose.exposure` hours × `dose.open_share`. 0 for a step
    without a dose curve."""
    if moisture.dose is None:
        return 0.0
    d = moisture.dose
    return units.dew_point_to_ppmv(dew_point_of(route, dew_point_class)) * d.exposure * d.open_share


def moisture_factor(moisture: Moisture, route: Route, dew_point_class: str,
                    step: Step | None = None) -> float:
    """φ(d): the yield factor of a moisture-sensitive step in class d: its
    `yield_factor` entry (in argon: its enclosure's), or 1 - loss(dose) at the nominal
    dose in that class."""
    if moisture.dose is None:
        assert moisture.yield_factor is not None  # one of the two (the schema says so)
        if dew_point_class == ARGON:
            enc = step.argon_enclosure if step is not None else None
            assert enc is not None and enc.yield_factor is not None  # the loader's checks
            return enc.yield_factor
        return moisture.yield_factor[dew_point_class]
    return 1.0 - moisture.dose.loss_at(nominal_dose(moisture, route, dew_point_class))


def capacity_after_dose(moisture: Moisture, route: Route, dew_point_class: str) -> float:
    """Share of the design capacity a cell delivers after the nominal dose of a step in
    class d (its `dose.conductivity` curve; 1 without one)."""
    d = moisture.dose
    if d is None or d.conductivity is None:
        return 1.0
    return d.conductivity.capacity_at(nominal_dose(moisture, route, dew_point_class))


def _water_ratios(route: Route, allowed: tuple[str, ...]) -> dict[str, float]:
    """ppmv at each class's dew point over ppmv at the H2S reference dew point."""
    ref = units.dew_point_to_ppmv(route.shared.dry_rooms.h2s_reference_dew_point)
    return {c: units.dew_point_to_ppmv(dew_point_of(route, c)) / ref for c in allowed}


def edge_ratios(route: Route, refs: Mapping[str, DesignRef]) -> dict[tuple[str, str], float]:
    """ratio[(u, c)]: units of u's good output consumed per unit of c started, with the
    given design references (the rule of `LineGraph.ratio`)."""
    return _edge_ratios(route, refs, {s.name: _amount(s.per_cell, refs) for s in route.line})


def _edge_ratios(route: Route, refs: Mapping[str, DesignRef],
                 per_cell: Mapping[str, float]) -> dict[tuple[str, str], float]:
    uses = _use_rates(route, refs, per_cell)
    out = {}
    for c in route.line:
        pc = per_cell[c.name]
        for e in c.inputs:
            if e.material is not None and (c.name, e.material) in uses:
                # a supplied material: drawn at the rate the step uses it (its recipe's
                # mass fraction, or its `materials:` amount) instead of being bought
                out[(e.step, c.name)] = uses[(c.name, e.material)]
                continue
            # a bare line (no cell design) writes the edge as a plain amount, e.g. "2 sheet"
            amount = _amount(e.per_cell, refs) if e.per_cell else per_cell[e.step]
            out[(e.step, c.name)] = amount / pc
    return out


def _drawn(route: Route) -> set[tuple[str, str]]:
    """(step, material) pairs a step takes from a supply option rather than buying."""
    return {(s.name, e.material) for s in route.line for e in s.inputs if e.material}


def _amount(text: str, refs: Mapping[str, DesignRef]) -> float:
    """A design reference's value, or a plain amount in the step's unit ("2 sheet")."""
    if text in refs:
        return refs[text].value
    return units.parse_amount(text)[0]


def _material_rates(route: Route, refs: Mapping[str, DesignRef],
                    per_cell: Mapping[str, float]) -> dict[tuple[str, str], float]:
    drawn = _drawn(route)
    return {k: v for k, v in _use_rates(route, refs, per_cell).items() if k not in drawn}


def _use_rates(route: Route, refs: Mapping[str, DesignRef],
               per_cell: Mapping[str, float]) -> dict[tuple[str, str], float]:
    """(step, material) -> basis units used per unit started, net of recovery, whether
    bought or drawn from a supply option."""
    out: dict[tuple[str, str], float] = {}
    for s in route.line:
        pc = per_cell[s.name]
        for mu in s.materials:
            if mu.amount in refs:
                per_unit = refs[mu.amount].value / pc
            else:
                per_unit = _per_unit_quantity(mu.amount, s)
            key = (s.name, mu.material)
            out[key] = out.get(key, 0.0) + per_unit * (1 - mu.recovered)
        if s.makes:
            for raw, frac in recipe_mass_fractions(route, s.makes).items():
                key = (s.name, raw)
                out[key] = out.get(key, 0.0) + frac
    return out


def _per_unit_quantity(text: str, step: Step) -> float:
    """A quantity per unit of the step's output, e.g. "0.12 kg/m^2" on an m² step."""
    q = units._parse(text.strip())
    denom = units.STEP_UNITS[step.unit]
    for basis in ("kg", "m**2", "m**3"):
        try:
            return float(q.to(f"{basis}/({denom})").magnitude)
        except Exception:  # pint raises several types for incompatible units
            continue
    raise ValueError(f"{text!r} is not an amount per {step.unit}")


def recipe_mass_fractions(route: Route, material: str) -> dict[str, float]:
    """Mass fraction of each raw material in a made material, from its recipe (mol)."""
    mats = route.all_materials
    recipe = mats[material].recipe or {}
    masses = {raw: n * (mats[raw].molar_mass or 0.0) for raw, n in recipe.items()}
    total = sum(masses.values())
    return {raw: m / total for raw, m in masses.items()}


def _sensitive_kg(route: Route, refs: Mapping[str, DesignRef], per_cell: Mapping[str, float],
                  ratio: Mapping[tuple[str, str], float]) -> dict[str, float]:
    """kg of moisture-sensitive material (materials.yaml `moisture_sensitive`) in one
    unit of each step's output, by design: made here, added here, or carried in from
    upstream through the edge ratios."""
    mats = route.all_materials
    drawn = _drawn(route)
    member = route.supply_member()
    out: dict[str, float] = {}
    for name in route.order:
        s = route.step(name)
        if s.makes is not None:
            out[name] = 1.0 if mats[s.makes].moisture_sensitive else 0.0
            continue
        kg = 0.0
        pc = per_cell[name]
        for mu in s.materials:
            m = mats.get(mu.material)
            if m is None or not m.moisture_sensitive or (name, mu.material) in drawn:
                continue  # a drawn material comes in through its edge below
            if mu.amount in refs:
                if refs[mu.amount].unit == "kg":
                    kg += refs[mu.amount].value / pc
            else:
                try:
                    kg += _per_unit_quantity(mu.amount, s)
                except ValueError:
                    pass  # not an amount per unit of the step: nothing to count
        # inputs from alternative supply options of one material (the full route lists
        # every option's delivering step): one of them delivers, so count the most
        alt: dict[str, float] = {}
        for e in s.inputs:
            part = ratio[(e.step, name)] * out[e.step]
            if e.step in member:
                supplied = member[e.step][0]
                alt[supplied] = max(alt.get(supplied, 0.0), part)
            else:
                kg += part
        out[name] = kg + sum(alt.values())
    return out


def costed_graph(route: Route) -> LineGraph:
    """The route's line graph; a cost per kWh needs its cell design (a bare line has none)."""
    graph = LineGraph.of(route)
    if graph.cell is None:
        raise InputError(Problem(route.file, None, "cell", "this line has no cell design, so a "
                                 "cost per kWh cannot be computed"))
    return graph
