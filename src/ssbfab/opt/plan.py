"""What the optimiser returns: a Plan (configuration, cost, per-step table, solver record).

A Plan is a value: a non-optimal solve gives a Plan whose `status` says why and
whose `config` is None (or, after a time limit, the best plan found, with its gap).
A plant is `lines` identical lines: `config`, `cost` and `rows` are those of one line
(its target is `line_capacity_gwh`); the cost per kWh is the plant's, and the plant's
capex and areas are `lines` times the line's (`capex_total`, `floor_area_m2`,
`dry_room_area_m2`). `to_dict()` is the plan.json document: it holds both the
`ssbfab optimize --json` fields of each step and the PlantConfig fields (machines,
lot_size) of one line, so that `PlantConfig.read(route, "plan.json")` and `ssbfab
simulate --plan` read one line back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import PlantConfig
from ..cost import CostBreakdown


@dataclass(frozen=True)
class SolveStatus:
    status: str  # optimal | feasible (time limit, with a plan) | infeasible | time_limit | error
    reason: str  # why, in words (names the step and limit when there is no plan)
    gap: float | None  # relative gap between the plan's objective and the bound
    build_s: float  # seconds to build the model (0 for a re-solve)
    solve_s: float  # seconds in the solver (including the hand-off to HiGHS)
    objective: float | None  # USD/kWh: the MILP's objective at the returned plan
    bound: float | None = None  # USD/kWh: the solver's lower bound
    solver_objective: float | None = None  # the incumbent objective HiGHS reported
    nodes: int | None = None

    def to_dict(self) -> dict:
        return {"status": self.status, "reason": self.reason, "gap": self.gap,
                "build_s": self.build_s, "solve_s": self.solve_s, "objective": self.objective,
                "bound": self.bound, "nodes": self.nodes}


@dataclass(frozen=True)
class StepRow:
    step: str
    option: str  # option names joined by '+' when a step mixes options
    count: int
    machines: dict[str, int]
    level: str
    required_per_year: float  # units the step must start per year (its input)
    capacity_per_year: float  # units the installed machines can start per year (derated)
    unit: str
    lot_size: float
    slack: float  # capacity - required, units/yr
    binding: bool  # within 2 % of capacity, or an option at its max_count
    limit: str  # what binds: "capacity", "max_count <option>", "min_count <option>" or ""

    def to_dict(self) -> dict:
        return {"step": self.step, "option": self.option, "count": self.count,
                "level": self.level, "required_per_year": self.required_per_year,
                "capacity_per_year": self.capacity_per_year, "unit": self.unit,
                "machines": dict(self.machines), "lot_size": self.lot_size,
                "slack": self.slack, "binding": self.binding, "limit": self.limit}


@dataclass(frozen=True)
class LineTry:
    """One number of lines the optimiser tried, and what came of it."""

    lines: int
    status: str
    cost_per_kwh: float | None

    def to_dict(self) -> dict:
        return {"lines": self.lines, "status": self.status, "cost_per_kwh": self.cost_per_kwh}


@dataclass(frozen=True)
class Plan:
    route: str
    capacity_gwh: float
    costing: str
    status: SolveStatus
    config: PlantConfig | None = None
    cost: CostBreakdown | None = None
    rows: tuple[StepRow, ...] = ()
    derate: dict[str, float] = field(default_factory=dict)
    lines: int = 1  # identical lines of the plant; config, cost and rows are one line's
    line_search: tuple[LineTry, ...] = ()  # the numbers of lines tried, in order

    @property
    def line_capacity_gwh(self) -> float:
        """Good GWh/yr of one line."""
        return self.capacity_gwh / self.lines

    @property
    def capex_total(self) -> float | None:
        """USD: equipment, building and dry room of all the lines."""
        return self.lines * self.cost.capex_total if self.cost else None

    @property
    def floor_area_m2(self) -> float | None:
        return self.lines * self.cost.floor_area_m2 if self.cost else None

    @property
    def dry_room_area_m2(self) -> float | None:
        return self.lines * self.cost.dry_room_area_m2 if self.cost else None

    @property
    def ok(self) -> bool:
        """An optimal plan (within the requested gap)."""
        return self.status.status == "optimal" and self.config is not None

    @property
    def dew_point_class(self) -> str | None:
        return self.config.dew_point_class if self.config else None

    @property
    def steps(self):
        """pandas DataFrame, one row per step: option, count, level, required and
        installed capacity per year (step's unit), slack, binding."""
        import pandas as pd

        cols = ["step", "option", "count", "level", "required_per_year", "capacity_per_year",
                "unit", "slack", "binding", "limit"]
        return pd.DataFrame([{c: getattr(r, c) for c in cols} for r in self.rows], columns=cols)

    @property
    def zone_costs(self) -> dict[str, dict]:
        """Per zone of a zoned plant (`CostBreakdown.zones`), areas and enclosures for
        all the plant's lines."""
        if self.cost is None:
            return {}
        return {z: {**v, "area_m2": self.lines * float(v["area_m2"]),  # type: ignore[arg-type]
                    "enclosed_machines": self.lines * int(v["enclosed_machines"])}  # type: ignore[call-overload]
                for z, v in self.cost.zones.items()}

    @property
    def binding_steps(self) -> list[str]:
        return [r.step for r in self.rows if r.binding]

    def to_dict(self) -> dict:
        """The plan.json document (also what `ssbfab optimize --json` prints)."""
        doc = {
            "route": self.route,
            "route_file": self.config.route.file if self.config else None,
            "capacity_gwh": self.capacity_gwh,
            "lines": self.lines,
            "line_capacity_gwh": self.line_capacity_gwh,
            "costing": self.costing,
            "dew_point_class": self.dew_point_class,
            # a zoned plant: each named zone's class (the plant's own is dew_point_class)
            **({"zones": dict(self.config.zone_classes)}
               if self.config is not None and self.config.zone_classes else {}),
            # make or buy: the chosen supply option of each material (None: not needed)
            "supply": self.config.supply if self.config else {},
            "cost_per_kwh": self.cost.cost_per_kwh if self.cost else None,
            "currency": self.cost.currency if self.cost else "USD",
            "currency_year": self.cost.currency_year if self.cost else None,
            "breakdown": dict(self.cost.by_category) if self.cost else {},
            "overhead_items": dict(self.cost.overhead_items) if self.cost else {},
            "capex_total": self.capex_total,
            "floor_area_m2": self.floor_area_m2,
            "dry_room_area_m2": self.dry_room_area_m2,
            # the dry room all-in (USD/kWh) and the H2S all the lines release (m³/yr)
            "dry_room_all_in": self.cost.dry_room_all_in if self.cost else None,
            "h2s_m3_per_year": self.lines * self.cost.h2s_m3_per_year if self.cost else None,
            # a zoned plant: per zone its class, steps, area (m², all lines), machines
            # enclosed in argon and what its environment adds (USD/kWh)
            **({"zone_costs": self.zone_costs} if self.cost and self.cost.zones else {}),
            "binding_steps": self.binding_steps,
            "solver": self.status.to_dict(),
            "line_search": [t.to_dict() for t in self.line_search],
            "steps": [r.to_dict() for r in self.rows],
        }
        if self.config is not None:
            doc["meta"] = dict(self.config.meta)
        return doc
