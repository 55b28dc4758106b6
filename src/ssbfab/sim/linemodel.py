"""What the simulator runs: a plant configuration compiled to plain numbers.

`compile_config` turns a `PlantConfig` (route + decisions) into a `LineModel` of
frozen dataclasses holding only floats, ints and strings. Why: worker processes
receive this small picklable object instead of re-reading route files, so a route
changed in memory (a what-if study overriding a rate or a price) simulates exactly
as given, and nothing slow (pydantic, pint) runs inside a replication.

Compilation is also where a configuration is checked for what would make a run
meaningless or endless: zero machines, a lot larger than a batch machine, a buffer
that can never hold one downstream lot's input (a deadlock), a horizon shorter
than its warm-up, or a run so long it would look like a hang. Each is an
`InputError` naming the file, the field, what was found and what was expected.

Conventions (documented for users in docs/lines.md, "Simulating a bare line"):
- Simulated time is *operating* time in hours. A calendar day holds
  operating_hours_per_year / 365 operating hours (320 days x 24 h -> 21.04 h), so
  `days=365` simulates one operating year (7,680 h) and results are annualised
  with operating_hours_per_year. Non-operating days are not simulated: nothing is
  produced then, and time-based steps (formation, ageing) do not advance either.
- Processing time per lot of a continuous machine: lot / (rate x level rate_factor);
  per batch cycle: cycle_time / rate_factor, whatever the fill. `cv` is the
  coefficient of variation of that lot (or cycle) time.
- A batch machine runs floor(batch / lot) lots per cycle and waits until it has
  loaded all of them (one machine of a station loads at a time, so parallel
  machines do not split the arriving lots between half-empty batches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING

from ..errors import InputError, Problem

if TYPE_CHECKING:  # worker processes unpickle a LineModel without loading pint/pydantic
    from ..config import PlantConfig
    from ..data.schema import Route
    from ..graph import LineGraph

# Scrap is drawn over round(lot) pieces; more than 2^53 would not be exact integers
# in a float (or fit numpy's binomial), and no real lot is near it.
MAX_PIECES = float(2**53)
# A run of more lot operations than this per replication is refused: at ~50,000
# operations/s it would take over half an hour, which a user would take for a hang.
MAX_OPERATIONS = 1e8
# Lot operations per second of one core, the full model (benchmarks/bench_sim.py
# measures 50,000-90,000): what work estimates in messages are converted with.
OPERATIONS_PER_SECOND = 50_000
# Above this many lot operations in all replications (about a quarter of an hour of
# CPU) `ssbfab simulate` asks for --yes: a typo in --reps or --days must not start
# hours of work unasked. Four replication-years of a 50 GWh/yr plant are ~1e7.
WORK_LIMIT = 5e7
CALENDAR_DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class MachineSpec:
    option: str
    batch_lots: int  # lots per batch cycle; 0 for a continuous machine
    mean_time: float  # h per lot (continuous) or per cycle (batch), at the chosen level
    distribution: str  # deterministic | exponential | gamma | lognormal
    cv: float
    mtbf: float  # mean operating hours between failures (inf: never fails)
    mttr: float  # mean repair hours
    maint_every: float  # operating hours between planned stops (inf: none)
    maint_duration: float


@dataclass(frozen=True)
class StepModel:
    name: str
    unit: str
    lot: float  # units started per lot (the step's unit)
    pieces: int  # pieces per lot over which scrap is drawn binomially
    yield_: float  # first pass, at the level and dew-point class (before rework)
    level: str
    machines: tuple[MachineSpec, ...]  # one entry per machine
    option_label: str  # option names joined by '+'
    inputs: tuple[tuple[int, float], ...]  # (index of upstream step, units taken per lot)
    buffer_capacity: float  # units of this step's output the buffer after it holds (inf: sink)
    environment: str
    excursion_effect: str  # "" (not moisture sensitive), "loss" or "stop"
    extra_loss: float  # extra scrap fraction of a lot that meets an excursion ("loss")
    sensitive_kg: float  # kg of moisture-sensitive material per unit of this step
    h2s_cm3: float  # cm3 H2S released per unit processed at the reference dew point
    h2s_process_cm3: float = 0.0  # cm3 H2S the process vents per unit started (`h2s_process`)
    # good output per operating hour the configuration's target needs from this step, at
    # the nominal yields downstream (step unit/h; NaN without a target or a cell)
    target_good_per_h: float = math.nan
    rework_share: float = 0.0  # of the scrap, sent to rework (`Step.rework`)
    rework_yield: float = 0.0  # of the reworked, back as good output
    # moisture damage by dose (`moisture.dose`): the loss curve ((ppmv·h, share), ...),
    # the share of the time the material is open to the air, whether the wait of its
    # inputs in dry-room buffers counts, and the factor at the nominal dose (targets)
    dose_doses: tuple[float, ...] = ()  # ppmv·h (`Dose.curve`)
    dose_losses: tuple[float, ...] = ()
    open_share: float = 1.0
    dose_from_inputs: bool = False
    nominal_dose_factor: float = 1.0
    room: int = 0  # the room it works in: 0 the plant's dry room, k >= 1 `LineModel.rooms[k-1]`
    # ionic conductivity kept over the dose (`dose.conductivity`: (ppmv·h, retention)
    # points; empty: none), the relative conductivity of full capacity, and the capacity
    # fraction at the nominal dose (what the targets and the nominal cell energy assume)
    cond_doses: tuple[float, ...] = ()
    cond_retentions: tuple[float, ...] = ()
    full_capacity_at: float = 1.0
    nominal_capacity: float = 1.0
    # exact buffer accounting (buffer.py): amounts of this step's output in whole quanta,
    # ints, or floats holding whole numbers when every level stays below 2^53 (_quantise)
    quantum: float = 1.0  # units of this step's output per quantum
    piece_quanta: int | float = 0  # quanta per piece (lot / pieces)
    capacity_quanta: int | float = 0  # the buffer after this step (0: the final step's sink)
    input_quanta: tuple[int | float, ...] = ()  # per input, quanta of its buffer taken per lot

    @property
    def effective_yield(self) -> float:
        """Good output per unit started at the nominal dose, with the rework recovered
        (`LineGraph.yield_at`)."""
        y = self.yield_ * self.nominal_dose_factor
        return y + (1.0 - y) * self.rework_share * self.rework_yield

    @property
    def is_source(self) -> bool:
        return not self.inputs


@dataclass(frozen=True)
class DryRoomModel:
    present: bool  # some step works in the dry room
    dew_point: float  # degC, the class's set point
    peak: float  # degC during an excursion
    rate: float  # excursions per operating hour
    duration: float  # mean hours
    threshold: float  # degC above which sulfide exposure is counted
    water_ratio: float  # ppmv at the set point / ppmv at the H2S reference dew point
    water_ratio_peak: float  # the same during an excursion
    ppmv: float = math.nan  # water at the set point (Magnus formula over ice)
    ppmv_peak: float = math.nan  # water during an excursion


@dataclass(frozen=True)
class LineModel:
    route: str
    route_file: str
    steps: tuple[StepModel, ...]  # topological order; the last is the final step
    dry_room: DryRoomModel
    hours: float  # simulated operating hours (the horizon, warm-up included)
    warmup: float  # operating hours discarded
    days: float
    warmup_days: float
    operating_hours_per_year: float
    cell_energy_kwh: float  # NaN for a bare line
    dew_point_class: str
    capacity_gwh: float
    levels: dict[str, str]  # step -> setting level simulated
    warnings: tuple[str, ...]
    # a zoned plant: the rooms of its named zones (each with its own excursions; argon
    # none) and the class of each
    rooms: tuple[DryRoomModel, ...] = ()
    zone_classes: dict[str, str] = dataclass_field(default_factory=dict)

    @property
    def final(self) -> int:
        return len(self.steps) - 1


def hours_per_day(route: Route) -> float:
    """Operating hours in one calendar day (the plant calendar spread over the year)."""
    return route.economics.operating_hours_per_year / CALENDAR_DAYS_PER_YEAR


def bare_config(route: Route, dew_point_class: str | None = None) -> PlantConfig:
    """The configuration a bare line (or any route without a plan) runs when no plan is
    given: per step the first level and max(min_count, 1) machines of the first
    option; the step's own lot size (no larger than that option's batch); the
    driest allowed dry-room class (each zone its driest), as `size_for_capacity` does."""
    from ..config import PlantConfig, StepChoice
    from ..graph import LineGraph

    graph = LineGraph.of(route)
    dpc = dew_point_class or graph.driest or ""
    steps = {}
    for node in graph.in_file_order():
        s = node.spec
        opt = s.options[0]
        lot = min(s.lot, opt.batch_size) if opt.is_batch else s.lot
        steps[s.name] = StepChoice(level=s.setting_levels[0].name,
                                   machines={opt.name: max(opt.min_count, 1)}, lot_size=lot)
    # each zone in its driest class too, unless a class is forced (then every zone's)
    zones = {} if dew_point_class else graph.driest_zones
    return PlantConfig(route=route, steps=steps, dew_point_class=dpc, capacity_gwh=math.nan,
                       meta={"sized_by": "bare_config"}, zone_classes=zones)


def check_run(days: float, warmup_days: float, reps: int, workers: int | None = None) -> None:
    """Bad run arguments are input errors (exit 2), never a traceback or a hang."""
    problems = []

    def bad(field: str, msg: str) -> None:
        problems.append(Problem("arguments", None, field, msg))

    for name, v in (("days", days), ("warmup_days", warmup_days)):
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            bad(name, f"expected a finite number of days, found {v!r}")
    if not problems:
        if days <= 0:
            bad("days", f"the horizon must be positive, found {days:g} days")
        if warmup_days < 0:
            bad("warmup_days", f"the warm-up must not be negative, found {warmup_days:g} days")
        elif days > 0 and warmup_days >= days:
            bad("warmup_days", f"the horizon ({days:g} days) must be longer than the warm-up "
                               f"({warmup_days:g} days): nothing would be measured")
    if not isinstance(reps, int) or reps < 1:
        bad("reps", f"expected at least 1 replication, found {reps!r}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        bad("workers", f"expected at least 1 worker process, found {workers!r}")
    if problems:
        raise InputError(problems)


def compile_config(config: PlantConfig, days: float = 365.0,
                   warmup_days: float = 30.0) -> LineModel:
    """Check a configuration and compile it for the simulator (times in operating hours;
    `days` and `warmup_days` in calendar days)."""
    from ..graph import LineGraph

    check_run(days, warmup_days, 1)
    route = config.route
    graph = LineGraph.of(route)
    file = config.meta.get("file") or route.file or route.name
    problems: list[Problem] = []

    def bad(field: str, msg: str) -> None:
        problems.append(Problem(file, None, field, msg))

    dpc = config.dew_point_class
    # the class matters where there is a dry room (moisture-sensitive steps are in it)
    class_ok = graph.class_problem(dpc) is None
    if graph.dry_steps and not class_ok:
        bad("dew_point_class", graph.class_problem(dpc) or "")
    dry = _dry_room(route, graph, dpc if class_ok else None)
    # a zoned plant: each named zone is a room of its own (rooms[k - 1] for room k;
    # room 0 is the plant's), at the class the configuration chose for it
    zone_classes: dict[str, str] = {}
    for z in graph.named_zones:
        c = config.zone_classes.get(z.name, dpc)  # a zone not named: the plant's class
        why = graph.zone_problem(z.name, c)
        if why is not None:
            bad(f"zones.{z.name}", why)
        else:
            zone_classes[z.name] = c
    rooms = tuple(_dry_room(route, graph, zone_classes.get(z.name), zone=True)
                  for z in graph.named_zones)
    room_of = {st: k + 1 for k, z in enumerate(graph.named_zones) for st in z.steps}
    step_class = graph.step_classes(dpc, zone_classes)
    index = {name: i for i, name in enumerate(graph.order)}
    hpd = hours_per_day(route)
    steps: list[StepModel] = []
    for node in graph.steps:
        name = node.name
        s = node.spec
        choice = config.steps.get(name)
        if choice is None:
            bad(f"steps.{name}", f"the configuration has no entry for step {name!r}")
            continue
        try:
            level = s.level(choice.level)
        except KeyError:
            bad(f"steps.{name}.level", f"unknown level {choice.level!r}; expected one of "
                f"{', '.join(lv.name for lv in s.setting_levels)}")
            continue
        # a class the route may not use is reported once, above
        cls = step_class[name]
        ok = (class_ok if name not in room_of else cls is not None)
        y = (graph.first_pass_yield(name, level.name, cls) if ok or not node.sensitive
             else math.nan)
        dose = s.moisture.dose if s.moisture is not None else None
        dose_kw: dict = {}
        if dose is not None and ok:
            assert cls is not None
            # the simulator draws the loss from the dose each lot meets: its base yield
            # is the level's, and the nominal factor only sets the targets
            factor = node.moisture[cls]
            y = min(1.0, node.level_yield[level.name])
            xs, fs = dose.curve
            dose_kw = dict(dose_doses=xs, dose_losses=fs, open_share=dose.open_share, nominal_dose_factor=factor,
                           dose_from_inputs=any(graph.node(u).dry_room for u in node.inputs))
            if dose.conductivity is not None:
                cx, cr = dose.conductivity.curve
                dose_kw.update(cond_doses=cx, cond_retentions=cr,
                               full_capacity_at=dose.conductivity.full_capacity_at,
                               nominal_capacity=node.capacity[cls])  # its zone's class
        lot = float(choice.lot_size)
        if not (lot > 0 and math.isfinite(lot)):
            bad(f"steps.{name}.lot_size", f"lot size must be positive, found {lot!r}")
            continue
        if lot > MAX_PIECES:
            bad(f"steps.{name}.lot_size", f"a lot of {lot:g} {s.unit} has more pieces than "
                f"scrap can be drawn over; expected at most {MAX_PIECES:.3g} {s.unit}")
            continue
        machines: list[MachineSpec] = []
        used = []
        for opt in s.options:
            n = choice.machines.get(opt.name, 0)
            if not isinstance(n, int) or n < 0:
                bad(f"steps.{name}.machines.{opt.name}", f"expected a whole number >= 0, found {n!r}")
                continue
            if n == 0:
                continue
            used.append(opt.name)
            k = 0
            if opt.is_batch:
                if lot > opt.batch_size * (1 + 1e-9):
                    bad(f"steps.{name}.lot_size", f"lot of {lot:g} {s.unit} is larger than the "
                        f"batch of {opt.name!r} ({opt.batch_size:g} {s.unit})")
                    continue
                k = max(1, int(math.floor(opt.batch_size / lot + 1e-9)))
                assert opt.cycle_time is not None  # a batch option has one (the schema says so)
                mean = opt.cycle_time / level.rate_factor
            else:
                mean = lot / (opt.rate_per_hour * level.rate_factor)
            m = opt.maintenance
            spec = MachineSpec(
                option=opt.name, batch_lots=k, mean_time=mean, distribution=opt.distribution,
                cv=float(opt.cv), mtbf=opt.mtbf or math.inf, mttr=opt.mttr or 0.0,
                maint_every=m.every if m else math.inf, maint_duration=m.duration if m else 0.0)
            machines.extend([spec] * n)
        for opt_name in choice.machines:
            if opt_name not in [o.name for o in s.options]:
                bad(f"steps.{name}.machines.{opt_name}", f"unknown option {opt_name!r}; expected "
                    f"one of {', '.join(o.name for o in s.options)}")
        if not machines:
            bad(f"steps.{name}.machines", f"step {name!r} must produce but has zero machines")
            continue
        inputs = tuple((index[u], lot * graph.ratio[(u, name)]) for u in node.inputs)
        cap = math.inf if node.final else s.buffer * lot
        mo = s.moisture
        h2s = (mo.h2s_release * node.sensitive_kg * 1000.0) if mo is not None else 0.0  # cm3/g * g
        steps.append(StepModel(
            name=name, unit=s.unit, lot=lot, pieces=max(1, round(lot)), yield_=y,
            level=level.name, machines=tuple(machines), option_label="+".join(used),
            inputs=inputs, buffer_capacity=cap, environment=s.environment,
            excursion_effect=(mo.excursion.effect if mo is not None else ""),
            extra_loss=(mo.excursion.extra_loss if mo is not None else 0.0),
            sensitive_kg=node.sensitive_kg, h2s_cm3=h2s,
            h2s_process_cm3=s.h2s_process * 1000.0,  # cm3/g × 1000 g/kg
            rework_share=s.rework.share if s.rework else 0.0,
            rework_yield=s.rework.yield_ if s.rework else 0.0, room=room_of.get(name, 0),
            **dose_kw))
    if problems:
        raise InputError(problems)
    levels = {n: c.level for n, c in config.steps.items()}
    # a good cell delivers the design's energy × the chosen level's capacity_factor × the
    # capacity kept after the nominal doses (replications scale it by the doses they see)
    cell_kwh = (graph.cell_energy(levels, dpc if class_ok else None, zone_classes=zone_classes)
                if graph.cell is not None else math.nan)
    steps = _with_targets(steps, graph, float(config.capacity_gwh),
                          route.economics.operating_hours_per_year, cell_kwh)
    warnings = _check_buffers(steps, file, route, graph)
    steps = _quantise(steps, file, route, graph)
    warnings += [f"beyond the route's limits: {m}"
                 for m in config.meta.get("beyond_limits", ())]
    model = LineModel(
        route=route.name, route_file=route.file, steps=tuple(steps), dry_room=dry,
        hours=days * hpd, warmup=warmup_days * hpd, days=float(days),
        warmup_days=float(warmup_days),
        operating_hours_per_year=route.economics.operating_hours_per_year,
        cell_energy_kwh=cell_kwh, dew_point_class=config.dew_point_class,
        capacity_gwh=float(config.capacity_gwh), levels=levels, warnings=tuple(warnings),
        rooms=rooms, zone_classes=zone_classes)
    _check_length(model, file)
    return model


def _with_targets(steps: list[StepModel], graph: LineGraph, capacity_gwh: float,
                  hours_per_year: float, cell_kwh: float) -> list[StepModel]:
    """Each step's good output per operating hour that `capacity_gwh` good GWh/yr needs,
    at the yields simulated (the line graph's flow per good cell × cells per hour of
    cells that deliver `cell_kwh` each)."""
    if not (capacity_gwh > 0 and math.isfinite(capacity_gwh)) or graph.cell is None:
        return steps
    good, _ = graph.flows({sm.name: sm.effective_yield for sm in steps})
    cells_per_h = capacity_gwh * 1e6 / cell_kwh / hours_per_year
    return [replace(sm, target_good_per_h=good[sm.name] * cells_per_h) for sm in steps]


def _dry_room(route: Route, graph: LineGraph, dpc: str | None,
              zone: bool = False) -> DryRoomModel:
    """The dry room in class `dpc` (None: not an allowed class, already reported); of a
    named zone (`zone`: present, its steps are in it); argon (`ARGON`): a
    mini-environment at `dry_rooms.argon_dew_point` without excursions."""
    from ..data.schema import ARGON, PLANT_ZONE
    from ..data.units import dew_point_to_ppmv

    dr = route.shared.dry_rooms
    present = zone or any(z.name == PLANT_ZONE for z in graph.zones)
    if dpc == ARGON and dr.argon_dew_point is not None:
        ref = dew_point_to_ppmv(dr.h2s_reference_dew_point)
        water = dew_point_to_ppmv(dr.argon_dew_point)
        return DryRoomModel(present=True, dew_point=dr.argon_dew_point, peak=dr.argon_dew_point,
                            rate=0.0, duration=0.0, threshold=dr.sulfide_exposure_threshold,
                            water_ratio=water / ref, water_ratio_peak=water / ref, ppmv=water,
                            ppmv_peak=water)
    c = graph.dry_rooms.get(dpc) if dpc is not None else None
    if c is None:
        return DryRoomModel(False, math.nan, math.nan, 0.0, 0.0, dr.sulfide_exposure_threshold,
                            1.0, 1.0)
    ppmv: dict[str, float] = {}
    bad_dp: list[Problem] = []
    for field, value in (("h2s_reference_dew_point", dr.h2s_reference_dew_point),
                         (f"classes.{c.name}.dew_point", c.dew_point),
                         (f"classes.{c.name}.excursions.peak", c.excursions.peak)):
        try:
            ppmv[field] = dew_point_to_ppmv(value)
        except ValueError as exc:  # a dew point the water content cannot be computed for
            bad_dp.append(Problem(route.shared.files.get("dry_rooms", "dry_rooms.yaml"), None,
                                  field, str(exc)))
    if bad_dp:
        raise InputError(bad_dp)
    ref = ppmv["h2s_reference_dew_point"]
    return DryRoomModel(
        present=present, dew_point=c.dew_point, peak=c.excursions.peak,
        rate=c.excursions.rate if present else 0.0, duration=c.excursions.duration,
        threshold=dr.sulfide_exposure_threshold,
        water_ratio=ppmv[f"classes.{c.name}.dew_point"] / ref,
        water_ratio_peak=ppmv[f"classes.{c.name}.excursions.peak"] / ref,
        ppmv=ppmv[f"classes.{c.name}.dew_point"],
        ppmv_peak=ppmv[f"classes.{c.name}.excursions.peak"])


def _check_buffers(steps: list[StepModel], file: str, route: Route,
                   graph: LineGraph) -> list[str]:
    """A buffer that cannot hold one downstream lot's input can never release that lot:
    the line would deadlock. Lots that need more than half a buffer make the lot model
    misstate blocking (DESIGN.md: keep lots no larger than the buffers they pass)."""
    problems, warnings = [], []
    for c in steps:
        for u_idx, need in c.inputs:
            u = steps[u_idx]
            if need > u.buffer_capacity * (1 + 1e-9):
                pos = graph.node(u.name).position
                problems.append(Problem(
                    file, route.line_of("line", pos, "buffer"), f"line.{pos}.buffer",
                    f"the buffer after {u.name!r} holds {u.buffer_capacity:g} {u.unit} "
                    f"({u.buffer_capacity / u.lot:g} lots of {u.lot:g}), but one lot of "
                    f"{c.name!r} ({c.lot:g} {c.unit}) needs {need:g} {u.unit}: the line could "
                    f"never start it. Expected a buffer of at least "
                    f"{math.ceil(need / u.lot - 1e-9):,.6g} lots, or a smaller lot at {c.name!r}"))
            elif need > 0.5 * u.buffer_capacity:
                warnings.append(
                    f"a lot of {c.name!r} needs {need:g} {u.unit}, more than half the buffer "
                    f"after {u.name!r} ({u.buffer_capacity:g} {u.unit}): lots this large "
                    f"relative to the buffer make the lot model misstate blocking")
    if problems:
        raise InputError(problems)
    return warnings


def _quantise(steps: list[StepModel], file: str, route: Route,
              graph: LineGraph) -> list[StepModel]:
    """Each buffer's amounts as whole numbers of its quantum (buffer.py): the upstream
    step's piece (lot / pieces) and every consumer's draw per lot. Floats when the
    highest level the buffer can reach (its capacity or the largest draw, plus a lot
    from every upstream machine blocked at once, which the overfill rule lets in) is
    below 2^52, so float arithmetic on them is exact; Python ints above. A draw of zero
    would let a consumer make something from nothing."""
    from dataclasses import replace

    from .buffer import quantum_for, to_quanta

    draws: dict[int, list[float]] = {i: [] for i in range(len(steps))}
    problems = []
    for c in steps:
        for u, need in c.inputs:
            if not (need > 0 and math.isfinite(need)):
                pos = graph.node(c.name).position
                problems.append(Problem(
                    file, route.line_of("line", pos, "inputs"), f"line.{pos}.inputs",
                    f"one lot of {c.name!r} draws {need!r} {steps[u].unit} of "
                    f"{steps[u].name!r}; expected a positive, finite amount"))
            draws[u].append(need)
    if problems:
        raise InputError(problems)
    quantum = {}
    for i, s in enumerate(steps):
        q = quantum_for([s.lot / s.pieces, *draws[i]])
        if q == 0.0:
            pos = graph.node(s.name).position
            raise InputError(Problem(
                file, route.line_of("line", pos, "lot_size"), f"line.{pos}.lot_size",
                f"the amounts of {s.name!r} passed between steps are too small to count "
                f"(a lot of {s.lot:g} {s.unit}, draws of "
                f"{', '.join(f'{d:g}' for d in draws[i]) or 'none'}); expected lots and "
                f"draws above 1e-299 {s.unit}"))
        quantum[i] = q
    out = []
    for i, s in enumerate(steps):
        q = quantum[i]
        piece_q = to_quanta(s.lot / s.pieces, q)
        lot_q = s.pieces * piece_q
        cap_q = (round(s.buffer_capacity / s.lot) * lot_q
                 if math.isfinite(s.buffer_capacity) else 0)
        input_q = tuple(to_quanta(need, quantum[u]) for u, need in s.inputs)
        highest = max([cap_q, *(to_quanta(d, q) for d in draws[i])]) + (
            len(s.machines) + 1) * lot_q
        as_float = float if highest < 2**52 else int
        out.append(replace(s, quantum=q, piece_quanta=as_float(piece_q),
                           capacity_quanta=as_float(cap_q), input_quanta=input_q))
    # a consumer's draws take the type of the buffer it draws from
    kind = {i: type(m.piece_quanta) for i, m in enumerate(out)}
    return [replace(m, input_quanta=tuple(kind[u](q) for (u, _), q in
                                          zip(m.inputs, m.input_quanta, strict=True)))
            for m in out]


def max_operations(model: LineModel) -> float:
    """Upper bound of the lot operations one replication processes (every machine
    always busy over the horizon, warm-up included)."""
    return sum(model.hours / m.mean_time * max(1, m.batch_lots)
               for s in model.steps for m in s.machines)


def _check_length(model: LineModel, file: str) -> None:
    """Refuse a replication with more lot operations than MAX_OPERATIONS, which would
    otherwise look like a hang."""
    ops = max_operations(model)
    if ops > MAX_OPERATIONS:
        raise InputError(Problem(
            file, None, "lot_size",
            f"one replication could process up to {ops:.3g} lots (limit {MAX_OPERATIONS:.0e}): "
            f"expected larger lots or a shorter horizon (--days)"))


def check_work(model: LineModel, reps: int, limit: float = WORK_LIMIT) -> None:
    """Refuse a run of more than `limit` lot operations in all (at most `max_operations`
    per replication): exit 2 saying how much work it is and how to confirm it."""
    per = max_operations(model)
    total = per * reps
    if total <= limit:
        return
    seconds = total / OPERATIONS_PER_SECOND
    took = (f"{seconds / 3600:,.1f} h" if seconds >= 3600 else f"{seconds / 60:,.0f} min")
    raise InputError(Problem(
        "arguments", None, "--reps" if per <= limit else "--days",
        f"{reps:,} replication(s) of {model.days:g} days of up to {per:,.3g} lot operations "
        f"each make up to {total:,.3g} in all, about {took} of CPU at "
        f"{OPERATIONS_PER_SECOND:,} operations/s, above the limit of {limit:,.3g} a run "
        f"starts unasked: pass --yes to run it anyway, or fewer --reps or --days"))
