"""LineStats: what the simulator hands to the optimiser (and to reports).

Small, typed and JSON-round-trippable so that `ssbfab simulate --out` can write it
and `ssbfab optimize --stats` can read it back. Every mean comes with a 95 %
confidence interval whose method suits the quantity (`Estimate.method`):

- `t`: Student-t over replication means (unbounded quantities: output, WIP, lead time);
- `logit-t`: fractions in [0, 1] (availability, yields, utilisation, blocked and
  starved shares): a t-interval for the mean on the logit scale by the delta method,
  transformed back, so that it stays inside [0, 1] and always contains the mean;
- `log-t`: non-negative quantities (the H2S estimate): the same on the log scale,
  so that it stays non-negative;
- `gamma`: sums of rare events (dry-room excursion hours, sulfide exposure): the
  Fay-Feuer gamma interval for a weighted sum of Poisson counts, which is the exact
  (Garwood) Poisson interval when every event contributes the same amount, and has
  an upper bound even when no event was seen;
- `single` (one replication: no interval, low = high = mean) and `exact` (a value
  that cannot vary, such as zero excursions in a dry room without excursions).

An estimate that rests on few events (`events` < `FEW_EVENTS`) carries a `note`.

What the cost function and the optimiser read are fields, per step
(`StepStats.availability_operating`, `yield_`, `level`, `shortfall`) and per line
(`LineStats.dew_point_class`); a statistic that was not measured (hand-made
statistics, or a file that lacks it) is `NOT_MEASURED` (NaN) or None, and
`cost.observed` says what it uses instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from .data.schema import FieldProblem, Route, Strict
from .errors import InputError, Problem, closest

CONFIDENCE = 0.95
FEW_EVENTS = 5  # fewer events than this: an estimate says little, and says so


def _t(n: int) -> float:
    """Two-sided 95 % Student-t quantile with n - 1 degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.5 + CONFIDENCE / 2, n - 1))


def _mean_sd(vals: list[float]) -> tuple[float, float]:
    n = len(vals)
    m = sum(vals) / n
    return m, (math.sqrt(sum((v - m) ** 2 for v in vals) / (n - 1)) if n > 1 else 0.0)


def poisson_interval(k: int) -> tuple[float, float]:
    """Exact (Garwood) 95 % interval for the mean of a Poisson count observed as k:
    (chi2(2.5 %, 2k) / 2, chi2(97.5 %, 2k + 2) / 2); (0, 3.689) for k = 0."""
    from scipy.stats import chi2

    if k < 0:
        raise ValueError(f"a count is not negative, found {k}")
    a = 1 - CONFIDENCE
    lo = float(chi2.ppf(a / 2, 2 * k)) / 2 if k > 0 else 0.0
    return lo, float(chi2.ppf(1 - a / 2, 2 * k + 2)) / 2


def gamma_interval(total: float, sum_sq: float, largest: float) -> tuple[float, float]:
    """95 % interval for the expected value of a sum of event contributions (Fay &
    Feuer 1997, Stat. Med. 16:791, "Confidence intervals for directly standardized
    rates: a method based on the gamma distribution"): `total` = sum of the events'
    contributions w_i, `sum_sq` = sum of w_i^2, `largest` = the largest w_i.

    With equal contributions w it is w times the Garwood interval of the count; its
    lower bound is 0 without events. For contributions that vary at random (a
    compound Poisson sum) pass as `largest` the larger of the largest seen and the
    expected contribution of one event: with few events the largest seen understates
    the spread. So used, its coverage of exponentially sized events measured 94-99 %
    at 0.5 to 100 expected events (tests/test_stats_intervals.py)."""
    from scipy.stats import chi2

    a = 1 - CONFIDENCE
    lo = 0.0
    if total > 0 and sum_sq > 0:
        lo = sum_sq / (2 * total) * float(chi2.ppf(a / 2, 2 * total**2 / sum_sq))
    v, y = sum_sq + largest**2, total + largest
    if v <= 0:
        return 0.0, 0.0  # no event could contribute anything
    return lo, v / (2 * y) * float(chi2.ppf(1 - a / 2, 2 * y**2 / v))


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95 % interval; `method` says how the interval was made (see the
    module docstring); `events`: for rare-event quantities, how many events it rests on."""

    mean: float
    ci95_low: float
    ci95_high: float
    method: str = "t"
    events: int | None = None

    @property
    def note(self) -> str:
        """Why the interval says little ('' when there is nothing to say)."""
        if self.method == "single":
            return "one replication: no interval"
        if self.events is not None and self.events < FEW_EVENTS:
            return (f"rests on {self.events} event{'' if self.events == 1 else 's'} only: too "
                    "few to say much; simulate longer or more replications")
        return ""

    @classmethod
    def of(cls, values: Iterable[float]) -> Estimate:
        """Mean and 95 % Student-t interval of replication values (unbounded quantities)."""
        vals = [float(v) for v in values]
        if not vals:
            return cls(math.nan, math.nan, math.nan)
        m, sd = _mean_sd(vals)
        if len(vals) == 1:
            return cls(m, m, m, "single")
        half = _t(len(vals)) * sd / math.sqrt(len(vals))
        return cls(m, m - half, m + half)

    @classmethod
    def fraction(cls, values: Iterable[float]) -> Estimate:
        """Mean and 95 % interval of replication values of a fraction in [0, 1]: a
        t-interval on the logit scale by the delta method, logit(m) +- t s / (sqrt(n)
        m (1 - m)), transformed back (as svyciprop's "logit" method). It lies inside
        (0, 1) and contains the mean m. A window ratio such as a yield can pass 1 in
        one replication (lots started before the warm-up ended count as good, not as
        started); the values are averaged as they are (clipping each would bias the
        mean down) and only a mean outside [0, 1] is clipped."""
        vals = [float(v) for v in values]
        if not vals:
            return cls(math.nan, math.nan, math.nan, "logit-t")
        m, sd = _mean_sd(vals)
        m = min(max(m, 0.0), 1.0)
        if len(vals) == 1:
            return cls(m, m, m, "single")
        if sd == 0 or not 0 < m < 1:
            return cls(m, m, m, "logit-t")  # every replication saw the same value
        half = _t(len(vals)) * sd / math.sqrt(len(vals)) / (m * (1 - m))
        c = math.log(m / (1 - m))
        return cls(m, _expit(c - half), _expit(c + half), "logit-t")

    @classmethod
    def positive(cls, values: Iterable[float], events: int | None = None) -> Estimate:
        """Mean and 95 % interval of replication values of a non-negative quantity: a
        t-interval on the log scale by the delta method, log(m) +- t s / (sqrt(n) m),
        transformed back; non-negative, contains the mean."""
        vals = [float(v) for v in values]
        if not vals:
            return cls(math.nan, math.nan, math.nan, "log-t", events)
        if min(vals) < 0:
            raise ValueError(f"a non-negative quantity, found {min(vals):g}")
        m, sd = _mean_sd(vals)
        if len(vals) == 1:
            return cls(m, m, m, "single", events)
        if sd == 0 or m == 0:
            return cls(m, m, m, "log-t", events)
        half = _t(len(vals)) * sd / math.sqrt(len(vals)) / m
        return cls(m, m * math.exp(-half), m * math.exp(half), "log-t", events)

    @classmethod
    def rare(cls, mean: float, events: int, total: float, sum_sq: float, largest: float,
             scale: float) -> Estimate:
        """A quantity made of rare events: `mean` = scale x `total`, where `total` sums
        the contributions of `events` events over every replication (`sum_sq` their
        squares, `largest` as `gamma_interval` takes it). The interval is scale x
        `gamma_interval`."""
        lo, hi = gamma_interval(total, sum_sq, largest)
        return cls(mean, scale * lo, scale * hi, "gamma", events)

    @classmethod
    def exact(cls, value: float) -> Estimate:
        """A value that cannot vary (no interval to give)."""
        return cls(value, value, value, "exact")

    def to_dict(self) -> dict:
        d = {"mean": self.mean, "ci95_low": self.ci95_low, "ci95_high": self.ci95_high,
             "method": self.method}
        if self.events is not None:
            d["events"] = self.events
        if self.note:
            d["note"] = self.note
        return d


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


NOT_MEASURED = Estimate(math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class StepStats:
    step: str
    option: str  # option names joined by '+' when a step mixes options
    machines: int
    utilization: Estimate  # fraction of machine-time processing
    availability: Estimate  # fraction of machine-time not failed or in maintenance
    blocked: Estimate  # fraction of machine-time holding finished work with no room downstream
    starved: Estimate  # fraction of machine-time up and idle for want of input
    yield_: Estimate  # good out / started, observed
    throughput_per_h: Estimate  # good units out per hour (step's unit)
    wip_mean: Estimate  # units in the step's queue and machines, time-average
    # up share of the hours the machines were wanted (busy or down): idle machines do not
    # fail, so this is the availability a capacity plan needs
    availability_operating: Estimate = NOT_MEASURED
    # share of the good output per hour that the configuration's target needs from the
    # step (at nominal yields downstream) that it did not make: max(0, 1 - made / needed)
    shortfall: Estimate = NOT_MEASURED
    # mean water dose a lot met at a step with a dose curve (`moisture.dose`), ppmv·h:
    # the room's ppmv over its exposure, buffer waits and excursions included
    water_dose: Estimate = NOT_MEASURED
    # mean share of the design capacity the lots of a step with a conductivity curve
    # (`moisture.dose.conductivity`) leave the cells, at the doses they met
    capacity_retained: Estimate = NOT_MEASURED
    level: str | None = None  # the setting level simulated (None: not recorded)
    nominal_yield: float = math.nan  # the yield scrap was drawn with (level x moisture factor)
    lot_size: float = math.nan  # units of the step's unit per lot
    per_rep: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # metric -> values


@dataclass(frozen=True)
class DryRoomStats:
    excursion_hours: Estimate
    sulfide_exposure_kg_h: Estimate
    h2s_estimate: Estimate  # litres of H2S released per year (estimate)


# the per-step and line-level fields that are plain values, not estimates, in stats.json
_STEP_VALUES = ("level", "nominal_yield", "lot_size")
_LINE_VALUES = ("dew_point_class", "capacity_gwh", "operating_hours_per_year",
                "simulated_hours", "warmup_hours", "operations")


@dataclass(frozen=True)
class LineStats:
    route: str
    seed: int
    reps: int
    days: float
    warmup_days: float
    steps: dict[str, StepStats]
    good_cells_per_year: Estimate
    good_gwh_per_year: Estimate
    overall_yield: Estimate
    lead_time_h: Estimate
    bottleneck: str
    dry_room: DryRoomStats
    events: int
    wall_s: float
    dew_point_class: str | None = None  # the dry-room class simulated (None: not recorded)
    capacity_gwh: float = math.nan  # the configuration's target, good GWh/yr (NaN: none)
    operating_hours_per_year: float = math.nan
    simulated_hours: float = math.nan  # operating hours per replication, warm-up included
    warmup_hours: float = math.nan  # operating hours discarded per replication
    operations: int = 0  # lot operations, all replications
    warnings: tuple[str, ...] = ()
    per_rep: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # metric -> values
    zone_classes: Mapping[str, str] = field(default_factory=dict)  # named zone -> class simulated

    # -------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """The stats.json document (`simulate --out`), read back by `from_dict`."""
        def est(e: Estimate) -> dict:
            return e.to_dict()

        return {
            "route": self.route,
            "seed": self.seed,
            "reps": self.reps,
            "days": self.days,
            "warmup_days": self.warmup_days,
            "good_cells_per_year": est(self.good_cells_per_year),
            "good_gwh_per_year": est(self.good_gwh_per_year),
            "overall_yield": est(self.overall_yield),
            "lead_time_h": est(self.lead_time_h),
            "bottleneck": self.bottleneck,
            "steps": [
                {
                    "step": s.step, "option": s.option, "machines": s.machines,
                    "utilization": est(s.utilization), "availability": est(s.availability),
                    "blocked": est(s.blocked), "starved": est(s.starved),
                    "yield": est(s.yield_), "throughput_per_h": est(s.throughput_per_h),
                    "wip_mean": est(s.wip_mean),
                    "availability_operating": est(s.availability_operating),
                    "shortfall": est(s.shortfall), "water_dose": est(s.water_dose),
                    "capacity_retained": est(s.capacity_retained),
                    **{k: getattr(s, k) for k in _STEP_VALUES},
                    "per_rep": {k: list(v) for k, v in s.per_rep.items()},
                }
                for s in self.steps.values()
            ],
            "dry_room": {
                "excursion_hours": est(self.dry_room.excursion_hours),
                "sulfide_exposure_kg_h": est(self.dry_room.sulfide_exposure_kg_h),
                "h2s_estimate": est(self.dry_room.h2s_estimate),
            },
            "events": self.events,
            "wall_s": self.wall_s,
            **{k: getattr(self, k) for k in _LINE_VALUES},
            **({"zones": dict(self.zone_classes)} if self.zone_classes else {}),
            "warnings": list(self.warnings),
            "per_rep": {k: list(v) for k, v in self.per_rep.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], file: str = "<stats>",
                  marks: dict | None = None) -> LineStats:
        """Statistics from their JSON form (`to_dict`), checked first (`StatsFile`): an
        InputError names `file`, the line (from `marks`) and the field of anything that
        is not what `simulate --out` writes, e.g. an availability of 50 (fractions are
        0-1). A file of an earlier ssbfab, which kept the level, class, operating
        availability, lots and hours under `extra`, reads the same."""
        from pydantic import ValidationError

        from .data.problems import _validation_problems

        try:
            f = StatsFile.model_validate(d)
        except ValidationError as exc:
            raise InputError(_validation_problems(exc, file, marks or {}, model=StatsFile,
                                                  data=d)) from None
        old = f.extra  # where an earlier ssbfab kept what are fields now
        old_steps = old.per_rep.get("steps") or {}

        def num(v: float | None) -> float:
            return math.nan if v is None else float(v)  # null: not computable

        def est(e: StatsEstimate | None) -> Estimate:
            if e is None:
                return NOT_MEASURED
            return Estimate(num(e.mean), num(e.ci95_low), num(e.ci95_high), e.method, e.events)

        def reps(x: Mapping[str, Any]) -> dict[str, tuple[float, ...]]:
            return {str(k): tuple(num(v) for v in vals) for k, vals in x.items()
                    if isinstance(vals, list)}

        def first(new: Any, earlier: Any) -> Any:
            return new if new is not None else earlier

        steps = {
            s.step: StepStats(
                step=s.step, option=s.option, machines=s.machines,
                utilization=est(s.utilization), availability=est(s.availability),
                blocked=est(s.blocked), starved=est(s.starved), yield_=est(s.yield_),
                throughput_per_h=est(s.throughput_per_h), wip_mean=est(s.wip_mean),
                availability_operating=est(first(s.availability_operating,
                                                 old.availability_operating.get(s.step))),
                shortfall=est(s.shortfall), water_dose=est(s.water_dose),
                capacity_retained=est(s.capacity_retained),
                level=first(s.level, old.levels.get(s.step)),
                nominal_yield=num(first(s.nominal_yield, old.nominal_yield.get(s.step))),
                lot_size=num(first(s.lot_size, old.lots.get(s.step))),
                per_rep=reps(s.per_rep or old_steps.get(s.step) or {}),
            )
            for s in f.steps
        }
        dr = f.dry_room
        return cls(
            route=f.route, seed=f.seed, reps=f.reps, days=f.days, warmup_days=f.warmup_days,
            steps=steps, good_cells_per_year=est(f.good_cells_per_year),
            good_gwh_per_year=est(f.good_gwh_per_year), overall_yield=est(f.overall_yield),
            lead_time_h=est(f.lead_time_h), bottleneck=f.bottleneck,
            dry_room=DryRoomStats(est(dr.excursion_hours), est(dr.sulfide_exposure_kg_h),
                                  est(dr.h2s_estimate)),
            events=f.events, wall_s=f.wall_s,
            dew_point_class=first(f.dew_point_class, old.dew_point_class),
            capacity_gwh=num(first(f.capacity_gwh, old.capacity_gwh)),
            operating_hours_per_year=num(first(f.operating_hours_per_year,
                                               old.operating_hours_per_year)),
            simulated_hours=num(first(f.simulated_hours, old.simulated_hours)),
            warmup_hours=num(first(f.warmup_hours, old.warmup_hours)),
            operations=first(f.operations, old.operations) or 0,
            zone_classes=dict(f.zones),
            warnings=tuple(first(f.warnings, old.warnings) or ()),
            per_rep=reps(f.per_rep or {k: v for k, v in old.per_rep.items() if k != "steps"}),
        )

    @classmethod
    def read(cls, path: str | Path, route: Route | None = None) -> LineStats:
        """Read a stats.json (or the folder `simulate --out` wrote it into). With a
        `route`, the names in the file (route, steps, levels, dry-room class) must be
        the route's: statistics of steps it does not have would be silently unused."""
        from .io import read_json

        path = Path(path)
        if path.is_dir():
            path = path / "stats.json"
        data, marks = read_json(path, "statistics written by `ssbfab simulate --out`")
        stats = cls.from_dict(data, str(path), marks)
        if route is not None:
            problems = stats._route_problems(route, str(path), marks)
            if problems:
                raise InputError(problems)
        return stats

    def _route_problems(self, route: Route, file: str, marks: dict) -> list[Problem]:
        from .data.yamlio import line_of
        from .graph import LineGraph

        def bad(paths: tuple[tuple, ...], msg: str) -> None:
            # the first path the file has (a file of an earlier ssbfab: the one under `extra`)
            path = next((p for p in paths if line_of(marks, p) is not None), paths[0])
            problems.append(Problem(file, line_of(marks, path), ".".join(map(str, path)), msg))

        problems: list[Problem] = []
        if self.route != route.name:
            bad((("route",),), f"the statistics are of route {self.route!r}, not {route.name!r}")
            return problems
        # a plan of another supply choice simulates other options' steps: the route's
        # full line (every supply option) names them all
        graph = LineGraph.of(route.full)
        names = set(graph.listed)
        for i, (step, st) in enumerate(self.steps.items()):
            if step not in names:
                bad((("steps", i, "step"),), f"unknown step {step!r} of route {route.name!r}"
                    f"{closest(step, names)}; expected one of: {', '.join(graph.order)}")
                continue
            known = [lv.name for lv in graph.node(step).levels]
            if st.level is not None and st.level not in known:
                bad((("steps", i, "level"), ("extra", "levels", step)),
                    f"unknown level {st.level!r} of step {step!r}{closest(st.level, known)}; "
                    f"expected one of: {', '.join(known)}")
        if not self.steps:
            bad((("steps",),), f"no statistics for any step of route {route.name!r}")
        dpc = self.dew_point_class
        why = graph.class_problem(dpc) if dpc is not None and graph.classes else None
        if why is not None:
            bad((("dew_point_class",), ("extra", "dew_point_class")), why)
        for z, c in self.zone_classes.items():
            why = graph.zone_problem(z, c)
            if why is not None:
                bad((("zones", z),), why)
        return problems


# ----------------------------------------------------------------------------- the file schema
# What `simulate --out` writes, as strict models: numbers are finite JSON numbers
# (null, or NaN, where not computable), counts whole numbers, and each estimate's
# mean lies in the range its meaning allows. Intervals are not range-checked: a
# t-interval of a fraction near 1 may reach past it.


def _as_estimate(v: Any) -> Any:
    """A plain number (or null) stands for an estimate without an interval."""
    if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)):
        return {"mean": v, "ci95_low": v, "ci95_high": v}
    return v


class _StatsModel(Strict):
    model_config = ConfigDict(strict=True, allow_inf_nan=False)


def _nan_is_null(v: Any) -> Any:
    """NaN is how `LineStats.to_dict()` says "not computable", as null is in the file;
    infinities stay refused."""
    return None if isinstance(v, float) and math.isnan(v) else v


MaybeNumber = Annotated[float | None, BeforeValidator(_nan_is_null)]


class StatsEstimate(_StatsModel):
    mean: MaybeNumber
    ci95_low: MaybeNumber
    ci95_high: MaybeNumber
    method: Literal["t", "logit-t", "log-t", "gamma", "single", "exact"] = "t"
    events: Annotated[int, Field(ge=0)] | None = None
    note: str | None = None  # written for readers (Estimate.note), not read back

    # (low, high) of the mean, set by subclasses; None: no bound
    _low: ClassVar[float | None] = None
    _high: ClassVar[float | None] = None

    @model_validator(mode="after")
    def _check(self):
        m, lo, hi = self.mean, self.ci95_low, self.ci95_high
        if m is not None:
            if self._high == 1.0 and not 0.0 <= m <= 1.0:
                hint = ("a simulated share above 1 means the window was too short for the "
                        "line to fill: simulate longer, with a longer warm-up"
                        if 1.0 < m <= 1.5 else "fractions, not percentages: 95 % is 0.95")
                raise FieldProblem("mean", f"a fraction must lie in [0, 1], found {m:g} "
                                   f"({hint})")
            if self._low is not None and m < self._low:
                raise FieldProblem("mean", f"must be >= {self._low:g}, found {m:g}")
            tol = 1e-9 * max(1.0, abs(m))
            if (lo is not None and lo > m + tol) or (hi is not None and hi < m - tol):
                raise FieldProblem("ci95_low" if lo is not None and lo > m + tol else "ci95_high",
                                   f"the interval [{lo}, {hi}] must contain the mean {m:g}")
        return self


class StatsFraction(StatsEstimate):
    _low: ClassVar[float | None] = 0.0
    _high: ClassVar[float | None] = 1.0


class StatsNonNegative(StatsEstimate):
    _low: ClassVar[float | None] = 0.0


FractionEst = Annotated[StatsFraction, BeforeValidator(_as_estimate)]
NonNegativeEst = Annotated[StatsNonNegative, BeforeValidator(_as_estimate)]
Count = Annotated[int, Field(ge=0)]


class StatsStep(_StatsModel):
    step: str
    option: str
    machines: Count
    utilization: FractionEst
    availability: FractionEst
    blocked: FractionEst
    starved: FractionEst
    yield_: FractionEst = Field(alias="yield")
    throughput_per_h: NonNegativeEst
    wip_mean: NonNegativeEst
    # absent from a file of an earlier ssbfab (it kept them under `extra`)
    availability_operating: FractionEst | None = None
    shortfall: FractionEst | None = None
    water_dose: NonNegativeEst | None = None
    capacity_retained: FractionEst | None = None
    level: str | None = None
    nominal_yield: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    lot_size: Annotated[float, Field(gt=0)] | None = None
    per_rep: dict[str, list[MaybeNumber]] = Field(default_factory=dict)


class StatsDryRoom(_StatsModel):
    excursion_hours: NonNegativeEst
    sulfide_exposure_kg_h: NonNegativeEst
    h2s_estimate: NonNegativeEst


class StatsExtra(_StatsModel):
    """Where a stats.json of an earlier ssbfab kept what are fields now; others pass
    unchecked."""

    model_config = ConfigDict(extra="allow")
    levels: dict[str, str] = Field(default_factory=dict)
    dew_point_class: str | None = None
    availability_operating: dict[str, FractionEst] = Field(default_factory=dict)
    nominal_yield: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict)
    lots: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    capacity_gwh: MaybeNumber = None
    operating_hours_per_year: MaybeNumber = None
    simulated_hours: MaybeNumber = None
    warmup_hours: MaybeNumber = None
    operations: Count | None = None
    warnings: list[str] | None = None
    per_rep: dict[str, Any] = Field(default_factory=dict)


class StatsFile(_StatsModel):
    route: str
    seed: Count
    reps: Annotated[int, Field(ge=1)]
    days: Annotated[float, Field(gt=0)]
    warmup_days: Annotated[float, Field(ge=0)] = 0.0
    good_cells_per_year: NonNegativeEst
    good_gwh_per_year: NonNegativeEst
    overall_yield: FractionEst
    lead_time_h: NonNegativeEst
    bottleneck: str
    steps: list[StatsStep]
    dry_room: StatsDryRoom
    events: Count
    wall_s: Annotated[float, Field(ge=0)] = 0.0  # compare's stats.json leaves it out
    dew_point_class: str | None = None
    zones: dict[str, str] = Field(default_factory=dict)  # zoned plant: zone -> class simulated
    capacity_gwh: MaybeNumber = None
    operating_hours_per_year: MaybeNumber = None
    simulated_hours: MaybeNumber = None
    warmup_hours: MaybeNumber = None
    operations: Count | None = None
    warnings: list[str] | None = None
    per_rep: dict[str, list[MaybeNumber]] = Field(default_factory=dict)
    extra: StatsExtra = Field(default_factory=StatsExtra)  # a file of an earlier ssbfab

    @model_validator(mode="after")
    def _window(self):
        if self.warmup_days >= self.days:
            raise FieldProblem("warmup_days", f"the warm-up ({self.warmup_days:g} days) must "
                               f"be shorter than the horizon ({self.days:g} days)")
        seen: set[str] = set()
        for i, s in enumerate(self.steps):
            if s.step in seen:
                raise FieldProblem(f"steps.{i}.step", f"step {s.step!r} is listed twice")
            seen.add(s.step)
        return self
