"""How much each step must make, and how much material must be bought, per good cell.

The line is a directed graph that merges at assembly. For a step s with yield y_s,
"started" units are good units / y_s, and scrap at s loses everything that entered
s, including material added there. Going upstream from the final step (1 good cell):

    good(s)    = Σ_c started(c) · ratio(s→c)        (final step: good = 1 cell)
    started(s) = good(s) / y_s
    ratio(s→c) = design units of s per design unit of c  (edge per_cell / per_cell(c))

Material m added at s: bought = started(s) · amount per unit of s / (1 - recovered).
A made material (a step with `makes:`) consumes its recipe's raw materials by mass
fraction per kg started. Everything is linear in the `started` amounts, which is
what lets the optimiser keep yields compounding without products of variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .cell import DesignRef, design
from .data import units
from .data.schema import Route, Step


def per_cell(route: Route, step: Step, refs: Mapping[str, DesignRef]) -> float:
    """Units of the step's good output in one good cell (by design, before yields)."""
    return _amount(step.per_cell, refs, step.unit)


def _amount(text: str, refs: Mapping[str, DesignRef], unit: str) -> float:
    if text in refs:
        return refs[text].value
    value, u = units.parse_amount(text)
    return value


def edge_ratios(route: Route, refs: Mapping[str, DesignRef]) -> dict[tuple[str, str], float]:
    """ratio[(u, c)]: units of u's good output consumed per unit of c started."""
    out = {}
    for c in route.line:
        pc = per_cell(route, c, refs)
        for e in c.inputs:
            u = route.step(e.step)
            # a bare line (no cell design) writes the edge as a plain amount, e.g. "2 sheet"
            amount = (_amount(e.per_cell, refs, u.unit) if e.per_cell
                      else per_cell(route, u, refs))
            out[(u.name, c.name)] = amount / pc
    return out


def material_rates(route: Route, refs: Mapping[str, DesignRef]) -> dict[tuple[str, str], float]:
    """rate[(step, material)]: material bought per unit of the step *started*
    (net of recovery), in the material's price basis (kg, m² or m³)."""
    out: dict[tuple[str, str], float] = {}
    mats = route.all_materials
    for s in route.line:
        pc = per_cell(route, s, refs)
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
    del mats
    return out


def _per_unit_quantity(text: str, step: Step) -> float:
    """A quantity per unit of the step's output, e.g. "0.12 kg/m^2" on an m² step."""
    q = units._parse(text.strip())
    denom = units.STEP_UNITS[step.unit]
    for basis in ("kg", "m**2", "m**3"):
        try:
            return float(q.to(f"{basis}/({denom})").magnitude)
        except Exception:
            continue
    raise ValueError(f"{text!r} is not an amount per {step.unit}")


def recipe_mass_fractions(route: Route, material: str) -> dict[str, float]:
    """Mass fraction of each raw material in a made material, from its recipe (mol)."""
    mats = route.all_materials
    recipe = mats[material].recipe or {}
    masses = {raw: n * mats[raw].molar_mass for raw, n in recipe.items()}
    total = sum(masses.values())
    return {raw: m / total for raw, m in masses.items()}


def recipe_molar_mass(route: Route, material: str) -> float:
    mats = route.all_materials
    return sum(n * mats[raw].molar_mass for raw, n in (mats[material].recipe or {}).items())


@dataclass(frozen=True)
class Requirements:
    good: dict[str, float]  # good output of each step per good cell, in the step's unit
    started: dict[str, float]  # units started at each step per good cell
    bought: dict[str, float]  # material bought per good cell, in its price basis
    scrapped: dict[str, float]  # material scrapped per good cell (for scrap credit)


def requirements(route: Route, yields: Mapping[str, float],
                 refs: Mapping[str, DesignRef] | None = None) -> Requirements:
    """Per good cell, with the given yield of each step."""
    if refs is None:  # a bare line has no cell design and so no references
        refs = design(route).refs if route.cell is not None else {}
    ratios = edge_ratios(route, refs)
    good: dict[str, float] = {}
    started: dict[str, float] = {}
    for name in reversed(route.order):
        consumers = route.consumers[name]
        if not consumers:
            good[name] = per_cell(route, route.step(name), refs)
        else:
            good[name] = sum(started[c] * ratios[(name, c)] for c in consumers)
        started[name] = good[name] / yields[name]
    bought: dict[str, float] = {}
    for (s, m), rate in material_rates(route, refs).items():
        bought[m] = bought.get(m, 0.0) + started[s] * rate
    # scrap of material m is what was bought less what ends in good cells (design BOM)
    scrapped = {}
    design_bom = {k.removeprefix("material."): v.value for k, v in refs.items()
                  if k.startswith("material.")}
    for m, q in bought.items():
        scrapped[m] = max(0.0, q - design_bom.get(m, 0.0))
    return Requirements(good=good, started=started, bought=bought, scrapped=scrapped)


def nominal_yields(route: Route, dew_point_class: str | None = None,
                   levels: Mapping[str, str] | None = None) -> dict[str, float]:
    """Each step's yield at its chosen (default: first) level and dew-point class."""
    levels = levels or {}
    out = {}
    for s in route.line:
        lv = s.level(levels[s.name]) if s.name in levels else s.setting_levels[0]
        y = lv.yield_
        if s.moisture is not None and dew_point_class is not None:
            y *= s.moisture.yield_factor.get(dew_point_class, 0.0)
        out[s.name] = y
    return out
