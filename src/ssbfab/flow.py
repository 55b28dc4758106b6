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

The rules (ratios, material rates, yields by level and dry-room class) are the line
graph's (`ssbfab.graph`); this module rolls them up per good cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .cell import DesignRef
from .data.schema import Route
from .graph import LineGraph, edge_ratios

__all__ = ["Requirements", "edge_ratios", "nominal_yields", "requirements"]


@dataclass(frozen=True)
class Requirements:
    good: dict[str, float]  # good output of each step per good cell, in the step's unit
    started: dict[str, float]  # units started at each step per good cell
    bought: dict[str, float]  # material bought per good cell, in its price basis
    scrapped: dict[str, float]  # material scrapped per good cell (for scrap credit)


def requirements(route: Route, yields: Mapping[str, float],
                 refs: Mapping[str, DesignRef] | None = None) -> Requirements:
    """Per good cell, with the given yield (fraction) of each step: good output and
    units started at each step (the step's unit), material bought and scrapped (its
    price basis: kg, m² or m³). `refs`: design references other than the route's own
    cell design (by default, and for a bare line, the route's)."""
    graph = LineGraph.of(route)
    if refs is not None and refs != graph.refs:
        graph = LineGraph.build(route, refs)
    good, started = graph.flows(yields)
    bought: dict[str, float] = {}
    for (s, m), rate in graph.material_rates.items():
        bought[m] = bought.get(m, 0.0) + started[s] * rate
    # scrap of material m is what was bought less what ends in good cells (design BOM)
    bom = graph.design_bom
    scrapped = {m: max(0.0, q - bom.get(m, 0.0)) for m, q in bought.items()}
    return Requirements(good=good, started=started, bought=bought, scrapped=scrapped)


def nominal_yields(route: Route, dew_point_class: str | None = None,
                   levels: Mapping[str, str] | None = None,
                   zone_classes: Mapping[str, str] | None = None) -> dict[str, float]:
    """Each step's yield (fraction) at its chosen (default: first) level in a dry-room
    class (None: without the moisture factor; a step of a named zone: its zone's class
    in `zone_classes`), in the order of the route file."""
    graph = LineGraph.of(route)
    levels = levels or {}
    cls = graph.step_classes(dew_point_class, zone_classes)
    return {n.name: graph.yield_at(n.name, levels.get(n.name, n.levels[0].name), cls[n.name])
            for n in graph.in_file_order()}


def default_yields(route: Route) -> dict[str, float]:
    """Nominal yields at each step's first level in the driest allowed dry room (each
    zone in its driest class)."""
    graph = LineGraph.of(route)
    return nominal_yields(route, graph.driest, zone_classes=graph.driest_zones)
