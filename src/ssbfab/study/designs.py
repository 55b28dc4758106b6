"""Designs: which points of the parameter space a study visits.

- `grid`: every combination of the listed values (full factorial);
- `one_at_a_time`: a base point and, per parameter, each listed value with every
  other parameter at its base (the data behind a tornado chart);
- `sample`: n points drawn from per-parameter distributions (uniform, triangular,
  normal, lognormal), by Latin hypercube or plain random sampling, from a seed.

A parameter value is what the YAML file would hold ("0.5e6 CNY/t", "92 %", 3,
["dp-60"]). Values written as a number and a unit are also kept as a number in one
unit per parameter (the unit of the first value given), so that summaries can sort,
interpolate and plot them.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_NUM_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Point:
    """One point of a design: override values by path, and a label for tables."""

    index: int
    values: dict[str, Any]  # path -> value as written in YAML
    label: str = ""
    varied: tuple[str, ...] = ()  # for one-at-a-time: the parameter moved from base


@dataclass(frozen=True)
class Quantity:
    """A number with a unit text as written ("2.5e6", "CNY/t"); unit '' if bare."""

    magnitude: float
    unit: str

    def text(self) -> str | float:
        # a value with a unit goes back into YAML as a string; a bare number stays a number
        if not self.unit:
            return self.magnitude
        return f"{self.magnitude:.12g} {self.unit}"


def split_quantity(value: Any) -> Quantity | None:
    """Number and unit of a value ("0.5e6 CNY/t" -> 500000, 'CNY/t'); None if not numeric."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Quantity(float(value), "")
    if isinstance(value, str):
        m = _NUM_UNIT.match(value)
        if m:
            return Quantity(float(m.group(1)), m.group(2))
    return None


def to_unit(q: Quantity, unit: str) -> float:
    """Magnitude of `q` in `unit`. A currency converts only to itself (kCNY to CNY):
    exchange rates belong to each scenario's data, not to the design."""
    if q.unit == unit:
        return q.magnitude
    from ..data import units

    try:
        src = units._parse(f"{q.magnitude!r} {q.unit}" if q.unit else repr(q.magnitude))
        return float(src.to(units._normalise(unit) if unit else "dimensionless").magnitude)
    except Exception as exc:  # pint raises several types
        hint = ("; write every value of a parameter in one currency" if "[currency" in str(exc)
                else "")
        raise ValueError(f"{q.magnitude:g} {q.unit} cannot be converted to {unit or 'a bare number'}: "
                         f"{exc}{hint}") from None


def numbers(values: Sequence[Any]) -> tuple[list[float] | None, str]:
    """All values as numbers in the unit of the first; (None, '') if any is not numeric,
    or if they are in different currencies (each scenario converts its prices through
    its own exchange rates, so values in CNY and in USD share no axis).
    ValueError for units that do not convert and for non-finite numbers ("1e400 kg")."""
    parsed = [split_quantity(v) for v in values]
    qs = [q for q in parsed if q is not None]
    if not qs or len(qs) < len(parsed):
        return None, ""
    unit = qs[0].unit
    try:
        out = [to_unit(q, unit) for q in qs]
    except ValueError as exc:
        if "one currency" in str(exc):
            return None, ""
        raise
    for v, x in zip(values, out, strict=True):
        if not math.isfinite(x):
            raise ValueError(f"expected finite numbers, found {v!r}")
    return out, unit


# ----------------------------------------------------------------------------- grid


def grid(parameters: Mapping[str, Sequence[Any]]) -> list[Point]:
    """Full factorial: prod(len(values)) points, the last parameter varying fastest."""
    paths = list(parameters)
    out = []
    for i, combo in enumerate(itertools.product(*(parameters[p] for p in paths))):
        values = dict(zip(paths, combo, strict=True))
        out.append(Point(i, values, ", ".join(f"{p}={_short(v)}" for p, v in values.items())))
    return out


def one_at_a_time(parameters: Mapping[str, Sequence[Any]]) -> list[Point]:
    """A base point (no parameter moved) then each value of each parameter alone:
    1 + sum(len(values)) points."""
    out = [Point(0, {}, "base")]
    for p, vals in parameters.items():
        for v in vals:
            out.append(Point(len(out), {p: v}, f"{p}={_short(v)}", varied=(p,)))
    return out


def _short(v: Any) -> str:
    return str(v) if not isinstance(v, float) else f"{v:.6g}"


# ----------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class Dist:
    """A distribution of one parameter, in the unit `unit` (texts in the YAML).

    uniform(low, high); triangular(low, mode, high); normal(mean, sd) optionally
    truncated to [low, high]; lognormal(median, sigma) with sigma the standard
    deviation of the logarithm, optionally truncated.
    """

    kind: str
    unit: str
    args: dict[str, float] = field(default_factory=dict)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF at probabilities u in [0, 1)."""
        from scipy import stats

        a = self.args
        if self.kind == "uniform":
            return a["low"] + u * (a["high"] - a["low"])
        if self.kind == "triangular":
            width = a["high"] - a["low"]
            c = (a["mode"] - a["low"]) / width if width > 0 else 0.5
            return stats.triang.ppf(u, c, loc=a["low"], scale=width)
        if self.kind == "normal":
            lo, hi = a.get("low", -math.inf), a.get("high", math.inf)
            alpha, beta = (lo - a["mean"]) / a["sd"], (hi - a["mean"]) / a["sd"]
            return stats.truncnorm.ppf(u, alpha, beta, loc=a["mean"], scale=a["sd"])
        if self.kind == "lognormal":
            mu, s = math.log(a["median"]), a["sigma"]
            lo = math.log(a["low"]) if a.get("low", 0) > 0 else -math.inf
            hi = math.log(a["high"]) if "high" in a else math.inf
            return np.exp(stats.truncnorm.ppf(u, (lo - mu) / s, (hi - mu) / s, loc=mu, scale=s))
        raise ValueError(f"unknown distribution {self.kind!r}")

    def value(self, x: float) -> Any:
        return Quantity(float(x), self.unit).text()


def unit_samples(n: int, d: int, seed: int, method: str = "latin_hypercube") -> np.ndarray:
    """n x d probabilities in [0, 1): Latin hypercube (each row of each column in its
    own 1/n stratum) or independent uniform; the same seed gives the same array."""
    if method == "latin_hypercube":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d, rng=np.random.default_rng(seed)).random(n)
    if method == "random":
        return np.random.default_rng(seed).random((n, d))
    raise ValueError(f"unknown sampling method {method!r}")


def sample(dists: Mapping[str, Dist], n: int, seed: int,
           method: str = "latin_hypercube") -> list[Point]:
    """n points, the parameters sampled jointly (independent marginals)."""
    paths = list(dists)
    u = unit_samples(n, len(paths), seed, method)
    cols = {p: dists[p].ppf(u[:, j]) for j, p in enumerate(paths)}
    return [Point(i, {p: dists[p].value(cols[p][i]) for p in paths}, f"sample {i}")
            for i in range(n)]
