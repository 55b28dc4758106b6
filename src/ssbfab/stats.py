"""LineStats: what the simulator hands to the optimiser (and to reports).

Small, typed and JSON-round-trippable so that `ssbfab simulate --out` can write it
and `ssbfab optimize --stats` can read it back. Means come with 95 % confidence
intervals over replications (Student t).

What the cost function and the optimiser read are fields, per step
(`StepStats.availability_operating`, `yield_`, `level`, `shortfall`) and per line
(`LineStats.dew_point_class`); a statistic that was not measured (hand-made
statistics, or a file that lacks it) is `NOT_MEASURED` (NaN) or None, and
`cost.observed` says what it uses instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, Problem


@dataclass(frozen=True)
class Estimate:
    mean: float
    ci95_low: float
    ci95_high: float

    @classmethod
    def of(cls, values) -> Estimate:
        """Mean and 95 % t-interval of replication values (a point if one value)."""
        vals = [float(v) for v in values]
        n = len(vals)
        if n == 0:
            return cls(math.nan, math.nan, math.nan)
        m = sum(vals) / n
        if n == 1:
            return cls(m, m, m)
        var = sum((v - m) ** 2 for v in vals) / (n - 1)
        from scipy.stats import t

        half = float(t.ppf(0.975, n - 1)) * math.sqrt(var / n)
        return cls(m, m - half, m + half)

    def to_dict(self) -> dict:
        return {"mean": self.mean, "ci95_low": self.ci95_low, "ci95_high": self.ci95_high}


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
                    "shortfall": est(s.shortfall),
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
            "warnings": list(self.warnings),
            "per_rep": {k: list(v) for k, v in self.per_rep.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LineStats:
        """Read a stats.json document (`to_dict`); one written before the typed fields
        (which kept them under `extra`) is read as well."""
        d = _from_extra(d)

        def num(v: Any) -> float:
            return math.nan if v is None else float(v)  # JSON null: not computable (NaN)

        def est(x: Any) -> Estimate:
            if x is None or isinstance(x, (int, float)):
                return Estimate(num(x), num(x), num(x))
            return Estimate(num(x["mean"]), num(x["ci95_low"]), num(x["ci95_high"]))

        def reps(x: Any) -> dict[str, tuple[float, ...]]:
            return {str(k): tuple(num(v) for v in vals) for k, vals in (x or {}).items()}

        def opt_str(v: Any) -> str | None:
            return None if v is None else str(v)

        steps = {
            s["step"]: StepStats(
                step=s["step"], option=s["option"], machines=int(s["machines"]),
                utilization=est(s["utilization"]), availability=est(s["availability"]),
                blocked=est(s["blocked"]), starved=est(s["starved"]), yield_=est(s["yield"]),
                throughput_per_h=est(s["throughput_per_h"]), wip_mean=est(s["wip_mean"]),
                availability_operating=est(s.get("availability_operating")),
                shortfall=est(s.get("shortfall")), level=opt_str(s.get("level")),
                nominal_yield=num(s.get("nominal_yield")), lot_size=num(s.get("lot_size")),
                per_rep=reps(s.get("per_rep")),
            )
            for s in d["steps"]
        }
        dr = d["dry_room"]
        return cls(
            route=d["route"], seed=int(d["seed"]), reps=int(d["reps"]), days=float(d["days"]),
            warmup_days=float(d.get("warmup_days", 0.0)), steps=steps,
            good_cells_per_year=est(d["good_cells_per_year"]),
            good_gwh_per_year=est(d["good_gwh_per_year"]),
            overall_yield=est(d["overall_yield"]), lead_time_h=est(d["lead_time_h"]),
            bottleneck=d["bottleneck"],
            dry_room=DryRoomStats(est(dr["excursion_hours"]), est(dr["sulfide_exposure_kg_h"]),
                                  est(dr["h2s_estimate"])),
            events=int(d["events"]), wall_s=float(d["wall_s"]),
            dew_point_class=opt_str(d.get("dew_point_class")),
            capacity_gwh=num(d.get("capacity_gwh")),
            operating_hours_per_year=num(d.get("operating_hours_per_year")),
            simulated_hours=num(d.get("simulated_hours")),
            warmup_hours=num(d.get("warmup_hours")), operations=int(d.get("operations") or 0),
            warnings=tuple(str(w) for w in d.get("warnings") or ()),
            per_rep=reps(d.get("per_rep")),
        )

    @classmethod
    def read(cls, path: str | Path) -> LineStats:
        """Read a stats.json (or the folder holding one); a bad file is an InputError."""
        path = Path(path)
        if path.is_dir():
            path = path / "stats.json"
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise InputError(Problem(str(path), None, "", "file not found")) from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(Problem(str(path), None, "", f"not a stats file written by "
                                     f"`ssbfab simulate --out`: {exc!r}")) from None


def _from_extra(d: dict[str, Any]) -> dict[str, Any]:
    """A stats.json of an earlier ssbfab kept the per-step level, lot, nominal yield,
    operating availability and per-replication values, and the line's class, target
    and hours, under `extra`: the same document with them where they are now."""
    extra = d.get("extra")
    if not isinstance(extra, dict):
        return d
    out = {**{k: extra[k] for k in (*_LINE_VALUES, "warnings") if k in extra}, **d}
    per_rep = extra.get("per_rep") or {}
    out.setdefault("per_rep", {k: v for k, v in per_rep.items() if k != "steps"})
    by_step = {"level": extra.get("levels") or {}, "lot_size": extra.get("lots") or {},
               "nominal_yield": extra.get("nominal_yield") or {},
               "availability_operating": extra.get("availability_operating") or {},
               "per_rep": per_rep.get("steps") or {}}
    out["steps"] = [{**{k: v[s["step"]] for k, v in by_step.items() if s["step"] in v}, **s}
                    for s in d["steps"]]
    return out
