"""Certify a plan by simulation: is the plant's expected annual good output at least
the target, at a stated confidence?

The rule (what `run_loop` accepts a plan by):

- The quantity is the plant's *expected* good GWh per year in steady state under the
  model: N identical lines make N times one line's mean (`Plan.lines`). One line is
  simulated; each replication r (stream r of the seed) gives one value of N x the
  line's annual good GWh. It is a statement about the mean rate, not a prediction
  that any one calendar year reaches the target.
- The bound is the one-sided Student-t lower confidence bound of that mean at
  `confidence` (default 0.95): LCB = mean - t(1 - a/K, n - 1) s / sqrt(n), and the
  plan is *certified* when LCB >= target. The matching upper bound decides the other
  way: UCB < target means the plan is *short*.
- Replications are added sequentially on a schedule fixed in advance: the bound is
  examined after n0, 2 n0, 4 n0, ... replications and at `max_reps` (K looks in all),
  stopping at the first look that decides. Looking several times at a growing sample
  and stopping when the bound clears the target inflates the error rate (with K
  uncorrected looks at 5 % each it can approach K x 5 %). The correction used is
  Bonferroni over the planned looks: each look uses a = (1 - confidence) / K, so the
  probability of certifying a plan whose true mean is below the target is at most
  1 - confidence over all looks together (union bound), and likewise for calling a
  plan short that is not. It is conservative: a plan sized just above the target
  needs more replications to be certified than a single fixed-size test would.
- A plan still undecided after `max_reps` replications is not certified.
- Futility: a plan whose mean is below the target at a look that does not decide is
  given no more replications (decision "below", not certified). More could certify
  it only if the mean rose by more than the bound's half-width, and the loop re-plans
  such a plan anyway, with more capacity. Stopping without certifying can only lower
  the chance of certifying, so the error bound above still holds; the price is some
  power (a plan just above the target whose first looks fall below it is re-planned,
  a little dearer). Measured on halide-catholyte at 50 GWh/yr: its first plan, 2.9 %
  short, took 8 replications to be called short; it now stops at 4.

Assumptions that the bound rests on, stated so they can be judged: replication
values are independent (separate streams) and close enough to normal for the t
quantile (each is an average over thousands of lots, so the central limit theorem
applies; tests/test_certify.py measures the error rates on a line with a known
throughput); the warm-up removes the start-up bias (the loop lengthens it when the
lead time exceeds it). The guarantee is per plan tested: the loop may test several
plans in turn, and they share their random streams (common random numbers, below),
so their errors are correlated, not independent.

Common random numbers: every plan the loop or the candidate search simulates uses
the same seed, so replication r of every plan draws from the same streams
(`sim.streams`: one stream per station and purpose). Differences between plans then
reflect the plans, not the draws.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .errors import InputError, Problem

if TYPE_CHECKING:
    from .sim import SimResult

DEFAULT_CONFIDENCE = 0.95
DEFAULT_MAX_REPS = 32  # replications at most before an undecided plan is left uncertified


@dataclass(frozen=True)
class Certificate:
    """What the sequential rule decided about one plan: `decision` is "certified"
    (LCB >= target), "short" (UCB < target), "below" (neither, with the mean below the
    target: stopped for futility) or "undecided" (neither after `max_reps`).
    GWh/yr of the whole plant; `lcb_gwh`/`ucb_gwh` are Bonferroni-corrected one-sided
    bounds at `confidence` over `looks` planned looks."""

    target_gwh: float
    confidence: float
    reps: int  # replications the decision rests on
    looks: int  # looks planned (the Bonferroni divisor)
    mean_gwh: float
    lcb_gwh: float
    ucb_gwh: float
    decision: str

    @property
    def certified(self) -> bool:
        return self.decision == "certified"

    def describe(self, target_gwh: float | None = None) -> str:
        """One sentence for a loop's reason; `target_gwh`: the plant's target when the
        bound was compared with less (a loop's tolerance), for the wording."""
        pct = 100 * self.confidence
        target = self.target_gwh if target_gwh is None else target_gwh
        level = (f"the target {target:g} GWh/yr" if math.isclose(target, self.target_gwh)
                 else f"{self.target_gwh:.4g} GWh/yr (the tolerance below the target "
                      f"{target:g} GWh/yr)")
        if self.decision == "certified":
            return (f"certified: the {pct:g} % lower confidence bound of the simulated good "
                    f"output, {self.lcb_gwh:.4g} GWh/yr over {self.reps} replications, is at "
                    f"least {level} (mean {100 * self.mean_gwh / target:.1f} % of the target)")
        if self.decision == "below":
            return (f"below: the mean, {100 * self.mean_gwh / target:.1f} % of the target over "
                    f"{self.reps} replications, is below {level}, and the {pct:g} % bounds "
                    f"{self.lcb_gwh:.4g} and {self.ucb_gwh:.4g} GWh/yr do not decide")
        if self.decision == "short":
            return (f"short: the {pct:g} % upper confidence bound, {self.ucb_gwh:.4g} GWh/yr "
                    f"over {self.reps} replications, is below the target")
        return (f"undecided after {self.reps} replications: {level} lies between the "
                f"{pct:g} % bounds {self.lcb_gwh:.4g} and {self.ucb_gwh:.4g} GWh/yr")


def check_options(confidence: float, max_reps: int, reps: int) -> None:
    """InputError unless 0.5 <= confidence < 1 and max_reps is a whole number >= reps."""
    if (isinstance(confidence, bool) or not isinstance(confidence, (int, float))
            or not math.isfinite(confidence) or not 0.5 <= confidence < 1.0):
        raise InputError(Problem("arguments", None, "confidence",
                                 f"expected a confidence level in [0.5, 1), e.g. 0.95, found "
                                 f"{confidence!r}"))
    if isinstance(max_reps, bool) or not isinstance(max_reps, int) or max_reps < max(2, reps):
        raise InputError(Problem("arguments", None, "max_reps",
                                 f"expected a whole number of replications >= the first "
                                 f"look's ({reps}) and >= 2, found {max_reps!r}"))


def schedule(first: int, max_reps: int) -> tuple[int, ...]:
    """Replication counts at which the bound is examined: first, 2 first, 4 first, ...,
    then max_reps (each look at most max_reps)."""
    n = max(1, first)
    out = []
    while n < max_reps:
        out.append(n)
        n *= 2
    out.append(max_reps)
    return tuple(out)


def decide(values: Sequence[float], target_gwh: float, confidence: float,
           looks: int) -> Certificate:
    """The decision on per-replication plant outputs `values` (GWh/yr) at one of
    `looks` planned looks. One value (no spread to measure) decides nothing."""
    vals = [float(v) for v in values]
    n = len(vals)
    m = sum(vals) / n
    if n < 2:
        return Certificate(target_gwh, confidence, n, looks, m, -math.inf, math.inf,
                           "undecided")
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (n - 1))
    alpha = (1.0 - confidence) / looks
    half = _t_quantile(1.0 - alpha, n - 1) * sd / math.sqrt(n)
    lcb, ucb = m - half, m + half
    decision = ("certified" if lcb >= target_gwh else "short" if ucb < target_gwh
                else "undecided")
    return Certificate(target_gwh, confidence, n, looks, m, lcb, ucb, decision)


@lru_cache(maxsize=256)
def _t_quantile(p: float, df: int) -> float:
    """Student-t quantile (cached: the sequential rule asks for the same few often)."""
    from scipy.stats import t

    return float(t.ppf(p, df))


def certify(sim: SimResult, goal_gwh: float, *, lines: int = 1,
            confidence: float = DEFAULT_CONFIDENCE, max_reps: int = DEFAULT_MAX_REPS,
            workers: int | None = None,
            progress: Callable[[str], None] | None = None) -> tuple[SimResult, Certificate]:
    """Decide whether a plant of `lines` lines like the one `sim` simulated makes at
    least `goal_gwh` good GWh/yr in expectation: looks after the replications `sim`
    has, then after twice as many, and so on up to `max_reps`, adding replications on
    the streams that follow (`sim.more_replications`) until a look decides. Returns
    the simulation with every replication run and the decision. A look that does not
    decide with the mean below `goal_gwh` stops there ("below": futility, see the
    module's docstring)."""
    from .sim import more_replications

    looks = schedule(len(sim.stats.per_rep["good_gwh_per_year"]), max_reps)
    while True:
        values = [lines * v for v in sim.stats.per_rep["good_gwh_per_year"]]
        cert = decide(values, goal_gwh, confidence, len(looks))
        more = next((r for r in looks if r > cert.reps), None)
        if cert.decision != "undecided" or more is None:
            return sim, cert
        if cert.mean_gwh < goal_gwh:
            return sim, dataclasses.replace(cert, decision="below")
        if progress is not None:
            progress(f"undecided at {cert.reps} replications (bounds {cert.lcb_gwh:.4g}–"
                     f"{cert.ucb_gwh:.4g} GWh/yr); {more} in all")
        sim = more_replications(sim, more - cert.reps, workers=workers)
