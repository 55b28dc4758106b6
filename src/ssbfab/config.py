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
from .data.schema import ARGON, Route, Strict
from .errors import InputError, NoPlanError, Problem, closest
from .graph import LineGraph


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
    # zoned plant: named zone -> its class (a dry-room class or argon); the plant's own
    # zone (the dry-room steps in no named zone) is in `dew_point_class`
    zone_classes: dict[str, str] = field(default_factory=dict)

    # ---------------------------------------------------------------- derived
    def yields(self) -> dict[str, float]:
        """Nominal yield of each step at its chosen level and its zone's class."""
        return flow.nominal_yields(self.route, self.dew_point_class,
                                   {s: c.level for s, c in self.steps.items()},
                                   self.zone_classes)

    def step_classes(self) -> dict[str, str | None]:
        """step -> the class it works in (its zone's; `LineGraph.step_classes`)."""
        return LineGraph.of(self.route).step_classes(self.dew_point_class, self.zone_classes)

    @property
    def supply(self) -> dict[str, str | None]:
        """material -> the supply option this plant runs (None: not needed, e.g. Li2S
        when LPSCl is bought), for every material the route may make or buy."""
        run = self.route.supply_choice
        return {m: run.get(m) for m in self.route.full.supply}

    def good_cells_per_year(self) -> float:
        """Good cells a year the target needs, each delivering the energy of the
        chosen levels after the nominal water doses of their zones' classes
        (`LineGraph.cell_energy`)."""
        levels = {s: c.level for s, c in self.steps.items()}
        return self.capacity_gwh * 1e6 / LineGraph.of(self.route).cell_energy(
            levels, self.dew_point_class, zone_classes=self.zone_classes)

    def to_dict(self) -> dict:
        return {
            "route": self.route.name,
            "route_file": self.route.file,
            "capacity_gwh": self.capacity_gwh,
            "dew_point_class": self.dew_point_class,
            **({"zones": dict(self.zone_classes)} if self.zone_classes else {}),
            "supply": self.supply,
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
        chosen = {k: v for k, v in plan.supply.items() if v is not None}
        for k, v in chosen.items():
            sup = route.full.supply.get(k)
            known = [o.name for o in sup.options] if sup is not None else []
            if sup is None:
                bad(("supply", k), f"material {k!r} has no supply options in this route"
                    f"{closest(k, route.full.supply)}")
            elif v not in known:
                bad(("supply", k), f"unknown supply option {v!r} of {k!r}{closest(v, known)}; "
                    f"expected one of: {', '.join(known)}")
        if chosen and not problems:
            route = route.with_supply(chosen)
        graph = LineGraph.of(route)
        dpc = plan.dew_point_class or (graph.classes[0] if graph.classes else "")
        why = graph.class_problem(dpc) if graph.classes else None
        if why is not None:
            bad(("dew_point_class",), why)
        # a zone the plan does not name: the plant's class where it may, else its first
        zone_classes = {z.name: dpc if dpc in z.classes else z.classes[0]
                        for z in graph.named_zones}
        for z, c in plan.zones.items():
            why = graph.zone_problem(z, c)
            if why is not None:
                bad(("zones", z), why)
            zone_classes[z] = c
        names = set(graph.listed)
        given: dict[str, StepChoice] = {}
        meant: set[str] = set()  # steps an unknown name was taken for ("did you mean")
        for i, row in enumerate(plan.steps):
            name = row.step
            if name not in names:
                hint = closest(name, names)
                meant.update(n for n in names if hint.endswith(f"{n!r}?)"))
                bad(("steps", i, "step"), f"unknown step {name!r}{hint}; "
                    f"expected one of: {', '.join(graph.order)}")
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
        for name in graph.order:
            if name not in given and name not in meant:
                bad(("steps",), f"the plan has no entry for step {name!r}")
        # a plan of several identical lines lists one line's machines: its target is the line's
        cap = plan.capacity_gwh if plan.line_capacity_gwh is None else plan.line_capacity_gwh
        if (plan.lines is not None and plan.line_capacity_gwh is not None
                and plan.capacity_gwh is not None
                and not math.isclose(plan.lines * plan.line_capacity_gwh, plan.capacity_gwh,
                                     rel_tol=1e-9)):
            bad(("line_capacity_gwh",), f"{plan.lines} lines of {plan.line_capacity_gwh:g} "
                f"GWh/yr are not the plant's capacity_gwh of {plan.capacity_gwh:g}")
        if cap is None:
            if route.cell is not None:
                bad(("capacity_gwh",), "required for a route with a cell design; expected "
                    "the target in good GWh per year, e.g. 2.0")
            cap = math.nan  # a bare line has no cell energy, hence no GWh target
        if problems:
            raise InputError(problems)
        ordered = {name: given[name] for name in graph.listed}
        return cls(route=route, steps=ordered, dew_point_class=dpc, capacity_gwh=float(cap),
                   meta=dict(plan.meta), zone_classes=zone_classes)

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
    lines: Annotated[int, Field(ge=1)] | None = None  # identical lines of the plant
    line_capacity_gwh: Positive | None = None  # good GWh/yr of the one line the steps list
    line_search: Any = None
    dew_point_class: str | None = None  # default: the route's first allowed class
    # zoned plant: zone -> class (default: each zone's first class)
    zones: dict[str, str] = Field(default_factory=dict)
    # make or buy: material -> chosen supply option (None: the material is not needed)
    supply: dict[str, str | None] = Field(default_factory=dict)
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
    dry_room_all_in: Any = None
    zone_costs: Any = None
    h2s_m3_per_year: Any = None
    binding_steps: Any = None
    solver: Any = None


def required_per_hour(route: Route, capacity_gwh: float, yields: dict[str, float],
                      cell_kwh: float) -> dict[str, float]:
    """Units each step must *start* per operating hour to ship the target, each good
    cell delivering `cell_kwh` (`LineGraph.cell_energy` at the levels and class the
    yields are for)."""
    cell = design(route)
    cells_per_year = capacity_gwh * 1e6 / cell_kwh
    hours = route.economics.operating_hours_per_year
    req = flow.requirements(route, yields, cell.refs)
    return {s: req.started[s] * cells_per_year / hours for s in req.started}


# A target above this is not one plant (about a third of the world's cell output in
# 2024, twenty 50 GWh/yr gigafactories): a typo such as 1e12, refused as bad input.
MAX_CAPACITY_GWH = 1000.0


def check_capacity(capacity_gwh: object, field_: str = "capacity_gwh") -> float:
    """A target of good GWh per year: a finite number in (0, MAX_CAPACITY_GWH]."""
    if isinstance(capacity_gwh, bool) or not isinstance(capacity_gwh, (int, float)):
        raise InputError(Problem("arguments", None, field_,
                                 f"expected a number of GWh per year, found {capacity_gwh!r}"))
    v = float(capacity_gwh)
    if not (math.isfinite(v) and 0 < v <= MAX_CAPACITY_GWH):
        raise InputError(Problem(
            "arguments", None, field_,
            f"expected a finite number of GWh per year above 0 and at most "
            f"{MAX_CAPACITY_GWH:,.0f} (one plant), found {v:g}"))
    return v


def size_for_capacity(route: Route, capacity_gwh: float | None = None,
                      dew_point_class: str | None = None,
                      within_limits: bool = True) -> PlantConfig:
    """A simple configuration: per step the first level, the option with the least
    capex per unit of capacity, and enough machines to meet the target (good GWh per
    year) at nominal availability. Used before (and as a check on) the optimiser.

    The route's limits are the optimiser's: an option at its `max_count` hands the
    rest of the need to the next cheapest option, and the machines must fit the
    plant's `floor_area` and `dry_room_area`. A target they cannot hold raises
    `NoPlanError` naming the step, option or area and the data field to raise; with
    `within_limits=False` the line is sized anyway (the cheapest option alone where
    the options run out) and `meta["beyond_limits"]` says what it exceeds."""
    if capacity_gwh is None:
        assert route.plant is not None, "a bare line (form: line) has no default capacity"
        capacity_gwh = route.plant.default_capacity
    capacity_gwh = check_capacity(capacity_gwh)
    graph = LineGraph.of(route)
    dpc = dew_point_class or graph.driest or ""  # the driest allowed class: safest yields
    if dew_point_class is not None and graph.dry_steps:
        graph.check_class(dew_point_class)
    steps_ = graph.in_file_order()
    levels = {n.name: n.levels[0].name for n in steps_}
    zones = {} if dew_point_class else graph.driest_zones  # a forced class: every zone's
    yields = flow.nominal_yields(route, dpc, levels, zones)
    need = required_per_hour(route, capacity_gwh, yields,
                             graph.cell_energy(levels, dpc if graph.dry_steps else None,
                                               zone_classes=zones))
    steps = {}
    short: list[str] = []
    for node in steps_:
        s = node.spec
        lv = node.level(levels[s.name])

        def per_machine(o, lv=lv) -> float:
            return o.rate_per_hour * lv.rate_factor * o.availability

        order = sorted(s.options, key=lambda o: o.capex / (o.rate_per_hour * o.availability))
        best = order[0]
        alone = max(best.min_count, 1, math.ceil(need[s.name] / per_machine(best) - 1e-9))
        machines = {best.name: alone}
        if alone > best.max_count:
            machines, rest = {}, need[s.name]
            for o in order:
                n = min(o.max_count, max(o.min_count, math.ceil(rest / per_machine(o) - 1e-9)))
                if n > 0:
                    machines[o.name] = n
                    rest -= n * per_machine(o)
                if rest <= 1e-9 * need[s.name]:
                    break
            if rest > 1e-9 * need[s.name]:
                room = sum(o.max_count * per_machine(o) for o in s.options)
                short.append(_machine_limit(route, s, capacity_gwh, need[s.name], room))
                machines = {best.name: alone}  # beyond the limits: the cheapest option alone
        lot = s.lot
        for o in s.options:
            if o.is_batch and o.name in machines:
                lot = min(lot, o.batch_size)
        steps[s.name] = StepChoice(level=lv.name, machines=machines, lot_size=lot)
    config = PlantConfig(route=route, steps=steps, dew_point_class=dpc,
                         capacity_gwh=capacity_gwh, meta={"sized_by": "size_for_capacity"},
                         zone_classes=zones)
    over = short + area_limit_problems(config)
    if over and within_limits:
        raise NoPlanError(
            f"{route.name} at {capacity_gwh:g} GWh/yr: sized with the cheapest option per "
            f"step, the line exceeds the route's limits:\n  - " + "\n  - ".join(over)
            + "\n(`ssbfab optimize` searches every option and may find a line that fits)")
    if over:
        config.meta["beyond_limits"] = over
    return config


def _where(route: Route, *path) -> str:
    line = route.line_of(*path)
    return f"{route.file}:{line}" if line else route.file


def _machine_limit(route: Route, step, capacity_gwh: float, need: float, room: float) -> str:
    """Why a step's options at their max_count cannot start `need` units per hour."""
    i = [s.name for s in route.line].index(step.name)
    hours = route.economics.operating_hours_per_year
    fields = ", ".join(
        f"line.{step.name}.options.{o.name}.max_count = {o.max_count} "
        f"({_where(route, 'line', i, 'options', j, 'max_count')})"
        for j, o in enumerate(step.options))
    return (f"step {step.name!r} must start {need * hours:,.0f} {step.unit}/yr, but all the "
            f"machines its options allow ({fields}) start at most {room * hours:,.0f} "
            f"{step.unit}/yr at nominal availability, i.e. at most "
            f"{capacity_gwh * room / need:,.4g} GWh/yr; raise max_count or add an option")


def area_limit_problems(config: PlantConfig) -> list[str]:
    """The plant's floor and dry-room areas the configuration's machines exceed (as the
    optimiser counts them: machine footprints, the dry room holding its steps' machines)."""
    route = config.route
    plant = route.plant
    if plant is None:
        return []
    floor = dry = 0.0
    classes = config.step_classes()
    for s in route.line:
        c = config.steps.get(s.name)
        if c is None:
            continue
        area = sum(n * s.option(o).footprint for o, n in c.machines.items())
        floor += area
        if s.environment == "dry_room" and classes.get(s.name) != ARGON:  # argon: enclosed
            dry += area
    out = []
    for field_, what, used, limit in (("floor_area", "floor", floor, plant.floor_area),
                                      ("dry_room_area", "dry room", dry, plant.dry_room_area)):
        if used > limit * (1 + 1e-9):
            most = (f", i.e. roughly {config.capacity_gwh * limit / used:,.3g} GWh/yr"
                    if math.isfinite(config.capacity_gwh) else "")
            out.append(f"its machines need {used:,.0f} m² of {what}, but plant.{field_} is "
                       f"{limit:,.0f} m² ({_where(route, 'plant', field_)}){most}; raise "
                       f"plant.{field_}")
    return out
