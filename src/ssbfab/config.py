"""A plant configuration: a route plus the decisions that make it a plant.

Decisions per step: the setting level, how many machines of each equipment option,
and the lot size; globally: the dry-room class and the target of good GWh per year.
The simulator runs a configuration; the optimiser returns one (inside its Plan);
`plan.json` stores one so that `ssbfab simulate --plan` can read it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from . import flow
from .cell import design
from .data.schema import Route, Strict
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
    def from_dict(cls, route: Route, data: dict, file: str = "<plan>",
                  marks: dict | None = None, root: tuple = ()) -> PlantConfig:
        """Read a plan: its shape is checked by `PlanFile`, then every name against the
        route; an InputError names `file`, the line (from `marks`, under `root`) and
        the field."""
        from pydantic import ValidationError

        from .data.problems import _validation_problems
        from .data.yamlio import line_of

        marks = marks or {}
        try:
            plan = PlanFile.model_validate(data)
        except ValidationError as exc:
            raise InputError(_validation_problems(exc, file, marks, root, model=PlanFile,
                                                  data=data)) from None
        problems: list[Problem] = []

        def bad(path: tuple, msg: str):
            full = root + path
            problems.append(Problem(file, line_of(marks, full), ".".join(map(str, full)), msg))

        if plan.route not in (None, route.name):
            bad(("route",), f"plan is for route {plan.route!r}, not {route.name!r}")
        classes = [c.name for c in route.dry_room_options]
        dpc = plan.dew_point_class or (classes[0] if classes else "")
        if classes and dpc not in classes:
            bad(("dew_point_class",), f"unknown dry-room class {dpc!r} for route {route.name!r}"
                f"{closest(dpc, classes)}; expected one of: {', '.join(classes)}")
        names = {s.name for s in route.line}
        given: dict[str, StepChoice] = {}
        meant: set[str] = set()  # steps an unknown name was taken for ("did you mean")
        for i, row in enumerate(plan.steps):
            name = row.step
            if name not in names:
                hint = closest(name, names)
                meant.update(n for n in names if hint.endswith(f"{n!r}?)"))
                bad(("steps", i, "step"), f"unknown step {name!r}{hint}; "
                    f"expected one of: {', '.join(route.order)}")
                continue
            if name in given:
                bad(("steps", i, "step"), f"step {name!r} is listed twice")
                continue
            step = route.step(name)
            levels = [lv.name for lv in step.setting_levels]
            level = row.level if row.level is not None else levels[0]
            if level not in levels:
                bad(("steps", i, "level"), f"unknown level {level!r} of step {name!r}"
                    f"{closest(level, levels)}; expected one of: {', '.join(levels)}")
            options = {o.name: o for o in step.options}
            for opt, n in row.machines.items():
                if opt not in options:
                    bad(("steps", i, "machines", opt), f"unknown option {opt!r} of step "
                        f"{name!r}{closest(opt, options)}; expected one of: "
                        f"{', '.join(options)}")
                elif n > options[opt].max_count:
                    bad(("steps", i, "machines", opt), f"{n} machines, but the route allows "
                        f"at most {options[opt].max_count} of {opt!r} (max_count)")
            total = sum(row.machines.values())
            if total == 0:
                bad(("steps", i, "machines"), f"step {name!r} must produce but has zero "
                    "machines; expected a mapping option -> count, e.g. "
                    f"{{\"{step.options[0].name}\": 1}}")
            if row.count is not None and row.count != total:
                bad(("steps", i, "count"), f"count {row.count} differs from the machines' "
                    f"sum ({total}); edit `machines`, which the simulator reads")
            lot = step.lot if row.lot_size is None else row.lot_size
            for o in step.options:
                if o.is_batch and row.machines.get(o.name, 0) and lot > o.batch_size:
                    bad(("steps", i, "lot_size"), f"lot of {lot:g} {step.unit} is larger "
                        f"than the batch of {o.name!r} ({o.batch_size:g} {step.unit})")
            given[name] = StepChoice(level=level, machines=dict(row.machines), lot_size=lot)
        for name in route.order:
            if name not in given and name not in meant:
                bad(("steps",), f"the plan has no entry for step {name!r}")
        cap = plan.capacity_gwh
        if cap is None:
            if route.cell is not None:
                bad(("capacity_gwh",), "required for a route with a cell design; expected "
                    "the target in good GWh per year, e.g. 2.0")
            cap = math.nan  # a bare line has no cell energy, hence no GWh target
        if problems:
            raise InputError(problems)
        ordered = {s.name: given[s.name] for s in route.line}
        return cls(route=route, steps=ordered, dew_point_class=dpc, capacity_gwh=float(cap),
                   meta=dict(plan.meta))

    @classmethod
    def read(cls, route: Route, path: str | Path) -> PlantConfig:
        """Read a plan.json (as `optimize --out` writes it, or an optimiser result with
        the configuration under `plan`)."""
        from .io import read_json

        path = Path(path)
        if path.is_dir() and (path / "plan.json").is_file():
            path = path / "plan.json"  # the folder `optimize --out` wrote
        data, marks = read_json(path, "a plan written by `ssbfab optimize --out`")
        root: tuple = ()
        if isinstance(data, dict) and "plan" in data and "steps" not in data:
            data, root = data["plan"], ("plan",)  # the configuration inside a full result
        return cls.from_dict(route, data, str(path), marks, root)


# ----------------------------------------------------------------------------- plan.json schema
# The decisions the simulator reads are checked strictly (whole counts, finite
# positive numbers); what the optimiser writes beside them for people (costs, rows'
# required and installed capacity, solver) is accepted and not read back.

Count = Annotated[int, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]


class _PlanModel(Strict):
    model_config = ConfigDict(strict=True, allow_inf_nan=False)


class PlanStep(_PlanModel):
    step: str
    level: str | None = None  # default: the step's first level
    machines: dict[str, Count] = Field(default_factory=dict)
    # absent: the step's lot; given, a positive number (null is refused: the default
    # applies only when the key is absent, pydantic does not validate defaults)
    lot_size: Positive = None  # type: ignore[assignment]
    count: Count | None = None  # written by the optimiser; must match `machines`
    option: Any = None
    required_per_year: Any = None
    capacity_per_year: Any = None
    unit: Any = None
    slack: Any = None
    binding: Any = None
    limit: Any = None


class PlanFile(_PlanModel):
    steps: list[PlanStep]
    route: str | None = None
    route_file: str | None = None
    capacity_gwh: Positive | None = None  # good GWh/yr; none for a bare line
    dew_point_class: str | None = None  # default: the route's first allowed class
    meta: dict[str, Any] = Field(default_factory=dict)
    costing: Any = None
    cost_per_kwh: Any = None
    currency: Any = None
    currency_year: Any = None
    breakdown: Any = None
    overhead_items: Any = None
    capex_total: Any = None
    floor_area_m2: Any = None
    dry_room_area_m2: Any = None
    binding_steps: Any = None
    solver: Any = None


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
