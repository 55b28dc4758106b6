"""LineStats: what the simulator hands to the optimiser (and to reports).

Small, typed and JSON-round-trippable so that `ssbfab simulate --out` can write it
and `ssbfab optimize --stats` can read it back. Means come with 95 % confidence
intervals over replications (Student t).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class DryRoomStats:
    excursion_hours: Estimate
    sulfide_exposure_kg_h: Estimate
    h2s_estimate: Estimate  # litres of H2S released per year (estimate)


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
    extra: dict = field(default_factory=dict)

    # -------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
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
            **({"extra": self.extra} if self.extra else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> LineStats:
        def num(v) -> float:
            return math.nan if v is None else float(v)  # JSON null: not computable (NaN)

        def est(x) -> Estimate:
            if x is None or isinstance(x, (int, float)):
                return Estimate(num(x), num(x), num(x))
            return Estimate(num(x["mean"]), num(x["ci95_low"]), num(x["ci95_high"]))

        steps = {
            s["step"]: StepStats(
                step=s["step"], option=s["option"], machines=int(s["machines"]),
                utilization=est(s["utilization"]), availability=est(s["availability"]),
                blocked=est(s["blocked"]), starved=est(s["starved"]), yield_=est(s["yield"]),
                throughput_per_h=est(s["throughput_per_h"]), wip_mean=est(s["wip_mean"]),
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
            events=int(d["events"]), wall_s=float(d["wall_s"]), extra=d.get("extra", {}),
        )

    @classmethod
    def read(cls, path: str | Path) -> LineStats:
        path = Path(path)
        if path.is_dir():
            path = path / "stats.json"
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise InputError(Problem(str(path), None, "", "file not found")) from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(Problem(str(path), None, "", f"not a stats file written by "
                                     f"`ssbfab simulate --out`: {exc!r}")) from None
