"""A plant configuration: a route plus the decisions that make it a plant.

Decisions per step: the setting level, how many machines of each equipment option,
and the lot size; globally: the dry-room class and the target of good GWh per year.
The simulator runs a configuration; the optimiser returns one (inside its Plan);
`plan.json` stores one so that `ssbfab simulate --plan` can read it back.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from . import flow
from .cell import design
from .data.schema import Route
from .errors import InputError, Problem, closest


@dataclass(frozen=True)
class StepChoice:
    level: str
    machines: dict[str, int]  # option name -> count
    lot_size: float  # in the step's unit

    @property
    def count(self) -> int:
        return sum(self.machines.values())


@dataclass(frozen=True)
class PlantConfig:
    route: Route
    steps: dict[str, StepChoice]
    dew_point_class: str
    capacity_gwh: float  # target of good GWh per year
    meta: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- derived
    def yields(self) -> dict[str, float]:
        """Nominal yield of each step at its chosen level and the dew-point class."""
        return flow.nominal_yields(self.route, self.dew_point_class,
                                   {s: c.level for s, c in self.steps.items()})

    def good_cells_per_year(self) -> float:
        return self.capacity_gwh * 1e6 / design(self.route).energy_kwh

    def to_dict(self) -> dict:
        return {
            "route": self.route.name,
            "route_file": self.route.file,
            "capacity_gwh": self.capacity_gwh,
            "dew_point_class": self.dew_point_class,
            "steps": [
                {"step": name, "level": c.level, "machines": dict(c.machines),
                 "lot_size": c.lot_size}
                for name, c in self.steps.items()
            ],
        }

    @classmethod
    def from_dict(cls, route: Route, data: dict, file: str = "<plan>") -> PlantConfig:
        """Read a plan; every name is checked against the route (exit 2 on error)."""
        problems: list[Problem] = []

        def bad(field_: str, msg: str):
            problems.append(Problem(file, None, field_, msg))

        if not isinstance(data, dict) or "steps" not in data:
            raise InputError(Problem(file, None, "", "expected a plan with `steps`"))
        if data.get("route") not in (None, route.name):
            bad("route", f"plan is for route {data.get('route')!r}, not {route.name!r}")
        classes = [c.name for c in route.dry_room_options]
        dpc = data.get("dew_point_class", classes[0] if classes else "")
        if classes and dpc not in classes:
            bad("dew_point_class", f"unknown dry-room class {dpc!r}{closest(str(dpc), classes)}")
        names = {s.name for s in route.line}
        given: dict[str, StepChoice] = {}
        for i, row in enumerate(data["steps"]):
            name = row.get("step")
            if name not in names:
                bad(f"steps[{i}].step", f"unknown step {name!r}{closest(str(name), names)}")
                continue
            step = route.step(name)
            level = row.get("level", step.setting_levels[0].name)
            if level not in [lv.name for lv in step.setting_levels]:
                bad(f"steps[{i}].level", f"unknown level {level!r} of step {name!r}"
                    f"{closest(str(level), [lv.name for lv in step.setting_levels])}")
            machines = row.get("machines", {})
            for opt, n in machines.items():
                if opt not in [o.name for o in step.options]:
                    bad(f"steps[{i}].machines.{opt}", f"unknown option {opt!r} of step {name!r}"
                        f"{closest(opt, [o.name for o in step.options])}")
                elif not isinstance(n, int) or n < 0:
                    bad(f"steps[{i}].machines.{opt}", f"expected a whole number >= 0, found {n!r}")
            if sum(v for v in machines.values() if isinstance(v, int)) == 0:
                bad(f"steps[{i}].machines", f"step {name!r} must produce but has zero machines")
            lot = float(row.get("lot_size", step.lot))
            if lot <= 0:
                bad(f"steps[{i}].lot_size", f"lot size must be positive, found {lot}")
            for o in step.options:
                if o.is_batch and machines.get(o.name, 0) and lot > o.batch_size:
                    bad(f"steps[{i}].lot_size", f"lot of {lot:g} {step.unit} is larger than "
                        f"the batch of {o.name!r} ({o.batch_size:g} {step.unit})")
            given[name] = StepChoice(level=level, machines=dict(machines), lot_size=lot)
        for name in names - set(given):
            bad("steps", f"the plan has no entry for step {name!r}")
        # a plan of several identical lines lists one line's machines: its target is the line's
        cap = data.get("line_capacity_gwh", data.get("capacity_gwh"))
        if route.cell is None and cap is None:
            cap = math.nan  # a bare line has no cell energy, hence no GWh target
        elif not isinstance(cap, (int, float)) or cap <= 0:
            bad("capacity_gwh", f"expected a positive number, found {cap!r}")
        if problems:
            raise InputError(problems)
        ordered = {s.name: given[s.name] for s in route.line}
        return cls(route=route, steps=ordered, dew_point_class=dpc, capacity_gwh=float(cap),
                   meta=dict(data.get("meta", {})))

    @classmethod
    def read(cls, route: Route, path: str | Path) -> PlantConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(Problem(str(path), None, "", "file not found")) from None
        except json.JSONDecodeError as exc:
            raise InputError(Problem(str(path), exc.lineno, "", f"not valid JSON: {exc.msg}")) from None
        if isinstance(data, dict) and "plan" in data and "steps" not in data:
            data = data["plan"]  # a full optimiser result with the configuration inside
        return cls.from_dict(route, data, str(path))


def required_per_hour(route: Route, capacity_gwh: float, yields: dict[str, float]) -> dict[str, float]:
    """Units each step must *start* per operating hour to ship the target."""
    cell = design(route)
    cells_per_year = capacity_gwh * 1e6 / cell.energy_kwh
    hours = route.economics.operating_hours_per_year
    req = flow.requirements(route, yields, cell.refs)
    return {s: req.started[s] * cells_per_year / hours for s in req.started}


def size_for_capacity(route: Route, capacity_gwh: float | None = None,
                      dew_point_class: str | None = None) -> PlantConfig:
    """A simple configuration: per step the first level, the option with the least
    capex per unit of capacity, and enough machines to meet the target at nominal
    availability. Used before (and as a check on) the optimiser."""
    capacity_gwh = capacity_gwh if capacity_gwh is not None else route.plant.default_capacity
    classes = route.dry_room_options
    dpc = dew_point_class or classes[-1].name  # the driest allowed class: safest yields
    levels = {s.name: s.setting_levels[0].name for s in route.line}
    yields = flow.nominal_yields(route, dpc, levels)
    need = required_per_hour(route, capacity_gwh, yields)
    steps = {}
    for s in route.line:
        lv = s.level(levels[s.name])
        best = min(s.options, key=lambda o: o.capex / (o.rate_per_hour * o.availability))
        per_machine = best.rate_per_hour * lv.rate_factor * best.availability
        n = max(best.min_count, 1, math.ceil(need[s.name] / per_machine - 1e-9))
        lot = s.lot
        if best.is_batch:
            lot = min(lot, best.batch_size)
        steps[s.name] = StepChoice(level=lv.name, machines={best.name: n}, lot_size=lot)
    return PlantConfig(route=route, steps=steps, dew_point_class=dpc, capacity_gwh=capacity_gwh,
                       meta={"sized_by": "size_for_capacity"})
