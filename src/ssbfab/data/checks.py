"""Checks that need the whole route: names, the line graph, material and design
references, dry-room classes. Each problem names file, line and field."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from ..errors import Problem, SpecError, closest, shorten
from ..graph import allowed_classes
from . import units
from .schema import ARGON, PLANT_ZONE, Material, Route, _toposort
from .sources import _NUMBER_TEXT
from .yamlio import line_of


def _check_recipes(materials: dict[str, Material], file: str, marks) -> None:
    problems = []
    for name, m in materials.items():
        for raw in (m.recipe or {}):
            if raw not in materials:
                problems.append(Problem(file, line_of(marks, ("materials", name, "recipe", raw)),
                                        f"materials.{name}.recipe.{raw}",
                                        f"unknown material {shorten(raw)}{closest(raw, materials)}"))
            elif materials[raw].molar_mass is None:
                problems.append(Problem(file, line_of(marks, ("materials", raw)),
                                        f"materials.{raw}.molar_mass",
                                        f"{raw} is used in the recipe of {name} and needs a molar_mass"))
    if problems:
        raise SpecError(problems)


# ----------------------------------------------------------------------------- whole-route checks


def check_route(route: Route) -> None:
    """Checks that need the whole route: names, graph, references, dry-room classes."""
    file = route.file
    problems: list[Problem] = []

    def add(path: Iterable, msg: str):
        path = tuple(path)
        problems.append(Problem(file, route.line_of(*path), ".".join(map(str, path)), msg))

    names = [s.name for s in route.line]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            add(("line", i, "name"), f"duplicate step name {shorten(n)} (first used by line[{seen[n]}] "
                                     f"at line {route.line_of('line', seen[n], 'name')}); "
                                     "expected unique names")
        seen.setdefault(n, i)
    mats = route.all_materials
    class_names = [c.name for c in route.shared.dry_rooms.classes]
    for c in route.dry_room_classes or []:
        if c not in class_names:
            add(("dry_room_classes",), f"unknown dry-room class {shorten(c)}{closest(c, class_names)}; "
                                       f"known: {', '.join(class_names)}")
    for i, s in enumerate(route.line):
        for j, e in enumerate(s.inputs):
            if e.step == "" and e.material is not None:
                add(("line", i, "inputs", j, "supply"),
                    f"the route has no supply options for {shorten(e.material)}"
                    f"{closest(e.material, route.supply)}; expected a material under "
                    f"`supply:` ({', '.join(route.supply) or 'none'})")
            elif e.step not in seen:
                add(("line", i, "inputs", j), f"unknown upstream step {shorten(e.step)}{closest(e.step, seen)}")
            elif e.step == s.name:
                add(("line", i, "inputs", j), "a step cannot feed itself")
        for j, mu in enumerate(s.materials):
            if mu.material not in mats:
                add(("line", i, "materials", j, "material"),
                    f"unknown material {shorten(mu.material)}{closest(mu.material, mats)}")
        if s.makes is not None:
            if s.makes not in mats:
                add(("line", i, "makes"), f"unknown material {shorten(s.makes)}{closest(s.makes, mats)}")
            elif not mats[s.makes].recipe:
                add(("line", i, "makes"), f"material {shorten(s.makes)} has no recipe to make it from")
            if s.unit != "kg":
                add(("line", i, "unit"), "a step that makes a material works in kg")
        if s.moisture is not None:
            for c in s.moisture.yield_factor or {}:
                if c not in class_names:
                    add(("line", i, "moisture", "yield_factor", c),
                        f"unknown dry-room class {shorten(c)}{closest(c, class_names)}")
    _check_supply(route, seen, add)
    _check_zones(route, seen, add)
    if problems:
        raise SpecError(problems)
    # graph: cycles, dead ends, one final step
    order = _toposort(route)
    if len(order) != len(route.line):
        stuck = [n for n in names if n not in order]
        cycle = _find_cycle(route, stuck)
        add(("line", names.index(stuck[0]), "inputs"),
            f"the line graph has a cycle: {' -> '.join(cycle)}")
        raise SpecError(problems)
    sinks = [n for n in names if not route.consumers[n]]
    final = names[-1]
    for n in sinks:
        if n != final:
            add(("line", names.index(n), "name"),
                f"nothing uses the output of step {shorten(n)}; every step but the last "
                f"({shorten(final)}) must feed another step")
    if route.final_step.unit != "cell":
        add(("line", len(names) - 1, "unit"), "the last step (end-of-line test) must work in cells")
    if route.cell is not None:
        _check_design_refs(route, add)
    else:
        _check_bare_amounts(route, add)
    if route.dry_room_classes is not None and not route.dry_room_options:
        add(("dry_room_classes",), "no dry-room class is allowed")
    else:
        _check_moisture_classes(route, add)
    _check_capacity_step(route, add)
    _check_recycling_credits(route, problems)
    if problems:
        raise SpecError(problems)


def _check_recycling_credits(route: Route, problems: list[Problem]) -> None:
    """A recycling credit is USD per kg of scrapped material: the material needs a
    price per kg, and credit + scrap credit may not exceed it (else the plant would be
    paid to scrap)."""
    for name, m in route.all_materials.items():
        if not m.recycling_credit:
            continue
        own = name in route.materials and "recycling_credit" in route.materials[name].model_fields_set
        file = route.file if own else route.shared.files.get("materials", "materials.yaml")
        line = route.line_of("materials", name, "recycling_credit") if own else None
        field = f"materials.{name}.recycling_credit"
        p = m.price_per_unit
        if p is None or p[1] != "kg":
            problems.append(Problem(file, line, field, "a recycling credit (USD/kg) needs a "
                                    f"price per kg for material {shorten(name)}"))
        elif m.recycling_credit + m.scrap_credit * p[0] > p[0] * (1 + 1e-12):
            problems.append(Problem(file, line, field, f"recycling_credit {m.recycling_credit:g} "
                                    f"USD/kg plus the scrap credit exceeds the price {p[0]:g} "
                                    "USD/kg; expected at most the price"))


def _check_capacity_step(route: Route, add) -> None:
    """At most one step may have levels that change the cell's delivered capacity: the
    optimiser states the delivered energy as linear in that one step's level choice
    (good cells per design cell = 1 / capacity_factor of the chosen level)."""
    steps = [(i, s) for i, s in enumerate(route.line)
             if any(lv.capacity_factor != 1.0 for lv in s.setting_levels)]
    if len(steps) > 1:
        i, s = steps[1]
        j = next(k for k, lv in enumerate(s.levels) if lv.capacity_factor != 1.0)
        add(("line", i, "levels", j, "capacity_factor"),
            f"step {shorten(s.name)} has a level with a capacity_factor, but so has step "
            f"{shorten(steps[0][1].name)}; expected at most one step per route whose levels "
            "change the delivered capacity")
    # a conductivity curve sets the energy of every good cell from the dry-room class:
    # a step that may go unchosen (a supply option's) would tie it to the supply choice
    in_supply = {st for sup in route.supply.values() for o in sup.options for st in o.steps}
    for i, s in enumerate(route.line):
        if (s.name in in_supply and s.moisture is not None and s.moisture.dose is not None
                and s.moisture.dose.conductivity is not None):
            add(("line", i, "moisture", "dose", "conductivity"),
                f"step {shorten(s.name)} belongs to a supply option, which may go unchosen; "
                "expected a conductivity curve only on a step every plan runs")
    # the optimiser pairs the energy step's level with the class of ONE zone (p[l, d]):
    # the capacity the doses leave must be a function of that zone's class alone
    zone_of = {st: z.name for z in route.zones for st in z.steps}
    first: tuple[str, str] | None = None  # (step, its zone) of the first curve
    for i, s in enumerate(route.line):
        if s.moisture is None or s.moisture.dose is None or s.moisture.dose.conductivity is None:
            continue
        zone = zone_of.get(s.name, PLANT_ZONE)
        if first is None:
            first = (s.name, zone)
        elif zone != first[1]:
            add(("line", i, "moisture", "dose", "conductivity"),
                f"step {shorten(s.name)} (zone {shorten(zone)}) has a conductivity curve, but "
                f"so has step {shorten(first[0])} in zone {shorten(first[1])}; expected the "
                "steps whose dose lowers the delivered capacity all in one zone")


def _check_supply(route: Route, steps: Mapping[str, int], add) -> None:
    """Supply options (make or buy): each names a known material and known steps; a
    step belongs to at most one option (choosing one option must not force another's
    steps, or choosing exactly one would be impossible); an option's steps have no
    `min_count` (an unchosen option installs nothing)."""
    mats = route.all_materials
    owner: dict[str, tuple[str, str]] = {}
    for m, sup in route.supply.items():
        if m not in mats:
            add(("supply", m), f"unknown material {shorten(m)}{closest(m, mats)}; a supply "
                               "option supplies a material of materials.yaml or the route")
        for i, o in enumerate(sup.options):
            for j, st in enumerate(o.steps):
                where = ("supply", m, "options", i, "steps", j)
                if st not in steps:
                    add(where, f"unknown step {shorten(st)}{closest(st, steps)}")
                    continue
                if st in owner:
                    add(where, f"step {shorten(st)} is already in supply option "
                               f"{owner[st][0]}.{owner[st][1]}; expected each step in one "
                               "option at most (exactly one option per material is chosen)")
                    continue
                owner[st] = (m, o.name)
                s = route.line[steps[st]]
                for k, eo in enumerate(s.options):
                    if eo.min_count > 0:
                        add(("line", steps[st], "options", k, "min_count"),
                            f"step {shorten(st)} belongs to supply option {m}.{o.name}, "
                            "which may go unchosen; expected min_count 0")
    for i, s in enumerate(route.line):
        for j, e in enumerate(s.inputs):
            if e.material is not None and s.name in owner and owner[s.name][0] == e.material:
                add(("line", i, "inputs", j), f"step {shorten(s.name)} draws {e.material} from "
                                              "its own supply")


def _check_zones(route: Route, steps: Mapping[str, int], add) -> None:
    """Zones of the dry room: unique names (not the plant's own), known dry-room steps,
    each step in one zone at most; each class a zone lists is one the route may use and
    every step of the zone allows (a `moisture.yield_factor` for it), argon only where
    every step has an `argon_enclosure` and dry_rooms.yaml an `argon_dew_point`; a zone
    left with no class is refused."""
    listed = [c.name for c in route.dry_room_options]
    argon_dp = route.shared.dry_rooms.argon_dew_point
    owner: dict[str, str] = {}
    names: set[str] = set()
    for i, z in enumerate(route.zones):
        if z.name == PLANT_ZONE or z.name in names:
            add(("zones", i, "name"), f"zone name {shorten(z.name)} is "
                + ("the plant's own zone (the dry-room steps in no zone)"
                   if z.name == PLANT_ZONE else "used twice") + "; expected another name")
        names.add(z.name)
        members = []
        for j, st in enumerate(z.steps):
            where = ("zones", i, "steps", j)
            if st not in steps:
                add(where, f"unknown step {shorten(st)}{closest(st, steps)}")
                continue
            if st in owner:
                add(where, f"step {shorten(st)} is already in zone {shorten(owner[st])}; "
                           "expected each step in one zone at most")
                continue
            s = route.line[steps[st]]
            if s.environment != "dry_room":
                add(where, f"step {shorten(st)} works in {s.environment}, not in the dry room; "
                           "expected dry_room steps only")
                continue
            owner[st] = z.name
            members.append(s)
        if z.argon:
            if argon_dp is None:
                add(("zones", i, "argon"), "argon needs `argon_dew_point` in dry_rooms.yaml (the water an "
                           "argon mini-environment holds)")
            bare = [s.name for s in members if s.argon_enclosure is None]
            if bare:
                add(("zones", i, "argon"), f"argon is not allowed for step(s) {', '.join(map(repr, bare))}: "
                           "expected an `argon_enclosure` (capex and argon_flow per machine) "
                           "on every step of a zone that may choose argon")
        for k, c in enumerate(z.classes or []):
            where = ("zones", i, "classes", k)
            if c == ARGON:
                add(where, "argon is not a dry-room class; write `argon: true` on the zone")
                continue
            if c not in listed:
                add(where, f"class {shorten(c)} is not one the route may use{closest(c, listed)}; "
                           f"expected one of {', '.join(listed + [ARGON])}")
                continue
            lacking = [s.name for s in members if s.moisture is not None
                       and s.moisture.yield_factor is not None and c not in s.moisture.yield_factor]
            if lacking:
                add(where, f"class {shorten(c)} is not allowed for step(s) "
                           f"{', '.join(map(repr, lacking))}: no `moisture.yield_factor` for it")
        if z.classes is None and members and not allowed_classes(route, tuple(s.name for s in members))[0]:
            add(("zones", i, "steps"), "no dry-room class is allowed for this zone: every "
                                       "class lacks a moisture.yield_factor of one of its steps")


def _check_moisture_classes(route: Route, add) -> None:
    """A class absent from a moisture-sensitive step's `yield_factor` is not allowed for
    the route (the line graph's rule): refuse a route that leaves no class at all."""
    zoned = {st for z in route.zones for st in z.steps}
    plant = tuple(s.name for s in route.line if s.name not in zoned)
    allowed, listed, _ = allowed_classes(route, plant if zoned else None)
    if allowed or not listed:
        return
    sensitive = [(i, s.name, list(s.moisture.yield_factor))
                 for i, s in enumerate(route.line)
                 if s.moisture is not None and s.moisture.yield_factor is not None
                 and s.name in plant]
    first = next(i for i, _, has in sensitive if set(listed) - set(has))
    has = "; ".join(f"{name!r} has {', '.join(classes) or 'no class'}"
                    for _, name, classes in sensitive)
    add(("line", first, "moisture", "yield_factor"),
        f"no dry-room class is allowed for this route: a class is allowed when it is in "
        f"dry_room_classes ({', '.join(listed)}) and every moisture-sensitive step has a "
        f"yield_factor for it, but {has}; expected one class that all of them list")


def _find_cycle(route: Route, stuck: list[str]) -> list[str]:
    inputs = {s.name: [e.step for e in s.inputs] for s in route.line}
    start = stuck[0]
    path = [start]
    seen = {start}
    cur = start
    while True:
        nxt = next(u for u in inputs[cur] if u in stuck)
        if nxt in seen:
            return path[path.index(nxt):] + [nxt]
        path.append(nxt)
        seen.add(nxt)
        cur = nxt


def _check_design_refs(route: Route, add) -> None:
    """Design references exist and have the unit they are used in: a step's per_cell in
    the step's unit, an edge's per_cell in the upstream step's unit, a material amount
    in the material's price basis (kg, m2 or m3), a per-unit quantity in basis/step unit.
    A mismatch would silently mix kg with m² in the flow, so it is an error here."""
    from ..cell import CellDesignError, design_refs

    try:
        refs = design_refs(route)
    except CellDesignError as exc:
        add(("cell",) + tuple(exc.path), str(exc))
        return
    units_of = {s.name: s.unit for s in route.line}
    mats = route.all_materials
    made = {s.makes for s in route.line if s.makes}
    for i, s in enumerate(route.line):
        if _is_quantity(s.per_cell):
            try:
                _, unit = units.parse_amount(s.per_cell)
            except units.UnitParseError as exc:
                add(("line", i, "per_cell"), str(exc))
            else:
                if unit != s.unit:
                    add(("line", i, "per_cell"), f"per_cell {shorten(s.per_cell)} is in {unit}; expected "
                                                 f"an amount of the step's unit {s.unit}")
        elif s.per_cell not in refs:
            add(("line", i, "per_cell"), f"unknown design reference {shorten(s.per_cell)}"
                f"{closest(s.per_cell, refs)}")
        elif refs[s.per_cell].unit != s.unit:
            add(("line", i, "per_cell"),
                f"design reference {shorten(s.per_cell)} is in {refs[s.per_cell].unit}, but the step "
                f"works in {s.unit}; expected a reference in {s.unit}"
                f"{_refs_in(refs, s.unit)}")
        else:
            _positive_ref(("line", i, "per_cell"), s.per_cell, refs, add)
        for j, e in enumerate(s.inputs):
            if e.per_cell is None:
                continue
            if _is_quantity(e.per_cell):
                try:
                    _, unit = units.parse_amount(e.per_cell)
                except units.UnitParseError as exc:
                    add(("line", i, "inputs", j, "per_cell"), str(exc))
                    continue
                if e.step in units_of and unit != units_of[e.step]:
                    add(("line", i, "inputs", j, "per_cell"),
                        f"per_cell {shorten(e.per_cell)} is in {unit}; expected an amount of upstream "
                        f"step {shorten(e.step)}'s unit {units_of[e.step]}")
            elif e.per_cell not in refs:
                add(("line", i, "inputs", j, "per_cell"),
                    f"unknown design reference {shorten(e.per_cell)}{closest(e.per_cell, refs)}")
            elif e.step in units_of and refs[e.per_cell].unit != units_of[e.step]:
                add(("line", i, "inputs", j, "per_cell"),
                    f"design reference {shorten(e.per_cell)} is in {refs[e.per_cell].unit}, but "
                    f"upstream step {shorten(e.step)} works in {units_of[e.step]}; expected a "
                    f"reference in {units_of[e.step]}{_refs_in(refs, units_of[e.step])}")
            else:
                _positive_ref(("line", i, "inputs", j, "per_cell"), e.per_cell, refs, add)
        for j, mu in enumerate(s.materials):
            m = mats.get(mu.material)
            basis = _basis(m)
            if _is_quantity(mu.amount):
                problem = _per_unit_problem(mu.amount, basis, s.unit)
                if problem:
                    add(("line", i, "materials", j, "amount"), problem)
            elif mu.amount not in refs:
                add(("line", i, "materials", j, "amount"),
                    f"unknown design reference {shorten(mu.amount)}{closest(mu.amount, refs)}")
            elif refs[mu.amount].unit != basis:
                add(("line", i, "materials", j, "amount"),
                    f"design reference {shorten(mu.amount)} is in {refs[mu.amount].unit}, but "
                    f"{shorten(mu.material)} is priced per {basis}; expected a reference in {basis}"
                    f"{_refs_in(refs, basis)}")
            if m is not None and m.price is None and mu.material not in made:
                add(("line", i, "materials", j, "material"),
                    f"material {shorten(mu.material)} is bought here but has no `price`; add one "
                    "in lines/materials.yaml or under the route's `materials:`")
        if s.makes and s.makes in mats:
            for raw in mats[s.makes].recipe or {}:
                r = mats.get(raw)
                if r is not None and (r.price_per_unit is None or r.price_per_unit[1] != "kg"):
                    add(("line", i, "makes"), f"raw material {shorten(raw)} of {shorten(s.makes)} needs a "
                                              "price per kg (e.g. \"26 USD/kg\")")


def _positive_ref(path: tuple, name: str, refs, add) -> None:
    """A per_cell by design reference must come out positive (the flow divides by it): a
    zero packaging mass named as a step's output per cell is not a step's output."""
    if not refs[name].value > 0:
        add(path, f"design reference {shorten(name)} is {refs[name].value:g} "
                  f"{refs[name].unit} per cell; expected a positive amount per cell")


def _check_bare_amounts(route: Route, add) -> None:
    """A bare line (no `cell:`) has no design references: every per_cell is a plain
    amount ("1 cell", "2 sheet", "0.05 kg") of the unit it counts."""
    units_of = {s.name: s.unit for s in route.line}
    mats = route.all_materials

    def check(path: tuple, text: str, unit: str, what: str) -> None:
        if not _is_quantity(text):
            add(path, f"{shorten(text)} is a design reference, but this line file has no `cell:`; "
                      f"expected an amount of {what}'s unit {unit} (e.g. \"1 {unit}\")")
            return
        try:
            _, found = units.parse_amount(text)
        except units.UnitParseError as exc:
            add(path, str(exc))
            return
        if found != unit:
            add(path, f"{shorten(text)} is in {found}; expected an amount of {what}'s unit {unit}")

    for i, s in enumerate(route.line):
        check(("line", i, "per_cell"), s.per_cell, s.unit, "the step")
        for j, e in enumerate(s.inputs):
            if e.per_cell is not None and e.step in units_of:
                check(("line", i, "inputs", j, "per_cell"), e.per_cell, units_of[e.step],
                      f"upstream step {shorten(e.step)}")
        for j, mu in enumerate(s.materials):
            if not _is_quantity(mu.amount):
                add(("line", i, "materials", j, "amount"),
                    f"{shorten(mu.amount)} is a design reference, but this line file has no `cell:`; "
                    f"expected a quantity per {s.unit} (e.g. \"0.1 kg/{s.unit}\")")
                continue
            problem = _per_unit_problem(mu.amount, _basis(mats.get(mu.material)), s.unit)
            if problem:
                add(("line", i, "materials", j, "amount"), problem)


def _basis(material: Material | None) -> str:
    """What a material is counted in: its price basis (kg, m2, m3), kg if unpriced."""
    return material.price_per_unit[1] if material is not None and material.price_per_unit else "kg"


def _refs_in(refs, unit: str) -> str:
    names = sorted(k for k, r in refs.items() if r.unit == unit)
    shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
    return f" (such as: {shown})" if names else ""


_BASIS_UNITS = {"kg": "kg", "m2": "m**2", "m3": "m**3"}


def _per_unit_problem(text: str, basis: str, step_unit: str) -> str | None:
    """None if `text` is an amount of `basis` per unit of the step, else the message."""
    target = f"{_BASIS_UNITS[basis]}/({units.STEP_UNITS[step_unit]})"
    try:
        q = units._parse(text.strip())
    except Exception as exc:  # pint raises several types for unreadable text
        return f"cannot read quantity {shorten(text)}: {exc}"
    try:
        value = q.to(target).magnitude
    except Exception:
        return (f"{shorten(text)} is not an amount of {basis} per {step_unit}; expected e.g. "
                f"\"0.05 {basis.replace('2', '^2').replace('3', '^3')}/"
                f"{step_unit.replace('2', '^2')}\" (the material is priced per {basis})")
    if not 0 <= value < math.inf:
        return f"expected a finite amount of at least 0, found {shorten(text)}"
    return None


def _is_quantity(text: str) -> bool:
    return bool(_NUMBER_TEXT.match(text))


