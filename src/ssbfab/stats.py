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
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError, Problem

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
            events = x.get("events")
            return Estimate(num(x["mean"]), num(x["ci95_low"]), num(x["ci95_high"]),
                            str(x.get("method", "t")), None if events is None else int(events))

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
