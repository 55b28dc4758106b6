"""Make or buy: what one kg of a supplied material costs by each of its supply options.

A route's `supply:` lists, per material, options that are small lines of their own
(buy it at a receiving step, or make it on site); the optimiser chooses one per
material with the rest of the plant (`opt.build.add_supply`). This module prices each
option on its own, for `ssbfab materials` and the notebook, at the route's prices and
its default plant size (`plant.default_capacity`), with each step at its first level
and the driest allowed dry-room class:

    cost per kg = [ Σ_s started_s · (materials_s · w_materials + energy_s · w_energy
                                     + h2s_s · w_h2s)
                    + Σ_s n_s · machine_s ] / delivered

per year, over the option's steps s; started_s follows from the kg delivered and the
steps' yields (`LineGraph.flows`), n_s = whole machines of the step's first option
that carry started_s (rate × availability × operating hours), machine_s = what one
machine adds to the cost per year (`categories.machine_weight`: capex, labour, floor),
h2s_s the H2S abatement per unit started (`cost.h2s_cost_per_started`: the moisture
release in the driest class and the process's own, e.g. Li2S from LiOH and H2S), w the
convention's weights (`categories.weights`: the overheads the convention adds). Good
cells per year deliver the energy of the first levels in the driest class.
Left out: the dry room of an option's dry-room steps (it is priced by the plant's
class, chosen with the whole plant) and the convention's plant-wide items that are not
proportional to these primaries. The optimiser, not this table, makes the choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import categories, cost
from .data.schema import Route
from .flow import default_yields
from .graph import LineGraph


@dataclass(frozen=True)
class OptionCost:
    material: str
    option: str
    steps: tuple[str, ...]
    kg_per_year: float  # kg delivered per year at the route's default plant size
    materials: float  # USD per kg delivered (with the convention's weight on materials),
    # including what the option draws from another supplied material, at that
    # material's cheapest option (Li2S for LPSCl made on site)
    energy: float  # USD/kg
    machines: float  # USD/kg: whole machines (capex, labour, floor, argon) per year over kg
    machine_counts: dict[str, int]  # step -> machines of its first option
    h2s: float = 0.0  # USD/kg: H2S abatement of what the option's steps release

    @property
    def total(self) -> float:
        """USD per kg delivered."""
        return self.materials + self.energy + self.machines + self.h2s


def option_costs(route: Route, costing: str = "batpac5",
                 capacity_gwh: float | None = None) -> list[OptionCost]:
    """Cost per kg of every supply option of every material of `route` (see the module
    docstring); `capacity_gwh` good GWh/yr, default the route's `plant.default_capacity`."""
    full = route.full
    econ = full.economics
    w = categories.weights(econ, costing)
    hours = cost.hours_per_year(econ)
    plant = full.plant
    gwh = capacity_gwh if capacity_gwh is not None else (plant.default_capacity if plant else 1.0)
    out: list[OptionCost] = []
    cheapest: dict[str, float] = {}  # material -> USD/kg by its cheapest option so far
    # materials whose options draw another supplied material come after it
    order = sorted(full.supply, key=lambda m: any(
        e.material for o in full.supply[m].options for s in o.steps
        for e in full.step(s).inputs))
    for m in order:
        sup = full.supply[m]
        for o in sup.options:
            # the other materials at their first option; a material another option of
            # this one needs (Li2S for made LPSCl) is then supplied the first way
            r = full.with_supply({**full.supply_choice, m: o.name})
            graph = LineGraph.of(r)
            if graph.cell is None:
                continue
            dpc = graph.driest
            # each zone in its driest class, as `default_yields`
            cells = gwh * 1e6 / graph.cell_energy({}, dpc, zone_classes=graph.driest_zones)
            good, started = graph.flows(default_yields(r))
            per_started, _, _ = cost.material_cost_per_started(r)
            delivered = good[o.steps[-1]] * cells
            mat = en = mach = gas = 0.0
            counts = {}
            for s in o.steps:
                node = graph.node(s)
                lv = node.levels[0]
                opt = node.options[0]
                mat += started[s] * cells * per_started[s] * w["materials"]
                gas += (started[s] * cells * cost.h2s_cost_per_started(graph, s, dpc, econ)
                        * w["h2s_abatement"])
                for e in node.spec.inputs:
                    if e.material is not None and e.material in cheapest:
                        mat += (started[s] * cells * graph.ratio[(e.step, s)]
                                * cheapest[e.material])
                en += (started[s] * cells * cost.energy_per_unit(opt.spec, lv, econ, opt.rate_per_hour)
                       * w["process_energy"])
                need = started[s] * cells / (opt.rate_per_hour * lv.rate_factor
                                             * opt.availability * hours)
                n = max(opt.spec.min_count, math.ceil(need - 1e-9))
                counts[s] = n
                mach += n * categories.machine_weight(opt.spec, econ, w)
            oc = OptionCost(m, o.name, tuple(o.steps), delivered, mat / delivered,
                            en / delivered, mach / delivered, counts, gas / delivered)
            out.append(oc)
            cheapest[m] = min(cheapest.get(m, math.inf), oc.total)
    return sorted(out, key=lambda c: list(full.supply).index(c.material))
