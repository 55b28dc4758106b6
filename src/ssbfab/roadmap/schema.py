"""The roadmap file: periods, market segments, routes and when they arrive, what the
company owns, learning, and material price paths — validated as strictly as route files.

Numbers carry units ("10 GWh/yr", "8 %", "2 yr", "120 USD/kWh", "2.5e6 CNY/t") and a
`source:` (or `illustrative`), like every other data file. Paths over time are mappings
from a year to a value; between the years given the value is interpolated linearly, and
before the first (after the last) year it is held at the first (last) value.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..data.schema import (
    USD,
    FieldProblem,
    Fraction,
    GWhPerYear,
    KWh,
    PriceEnergy,
    Strict,
    Years,
    _range,
)
from .paths import interpolate
from .tree import Uncertainty


class Periods(Strict):
    start: int  # first year planned
    end: int  # last year planned (inclusive)
    step: int = 1  # years per period

    @model_validator(mode="after")
    def _order(self):
        if not 1900 <= self.start <= 2200:
            raise FieldProblem("start", f"expected a calendar year, found {self.start}")
        if self.step < 1 or self.step > 10:
            raise FieldProblem("step", f"expected 1 to 10 years per period, found {self.step}")
        if self.end < self.start:
            raise FieldProblem("end", f"the last year {self.end} is before the first {self.start}")
        if (self.end - self.start) // self.step + 1 > 60:
            raise FieldProblem("end", "more than 60 periods; expected a coarser `step`")
        return self

    @property
    def years(self) -> list[int]:
        return list(range(self.start, self.end + 1, self.step))


class Requirements(Strict):
    """What a cell must reach to serve a segment; the routes' own cell data decide."""

    min_wh_per_kg: float = 0.0
    min_wh_per_l: float = 0.0
    no_liquid: bool = False  # safety class: no liquid electrolyte in the cell

    _nonneg = _range("min_wh_per_kg", "min_wh_per_l", strict=False)


class Segment(Strict):
    description: str | None = None
    demand: dict[int, GWhPerYear]  # GWh/yr by year
    price: dict[int, PriceEnergy] = Field(default_factory=dict)  # what a kWh fetches there
    requires: Requirements = Field(default_factory=Requirements)
    must_serve: bool = False  # demand must be met (always so under objective: cost)

    _nonneg = _range("demand", "price", strict=False)

    @field_validator("demand")
    @classmethod
    def _some_demand(cls, v):
        if not v:
            raise ValueError("expected demand for at least one year")
        return v


class Ramp(Strict):
    """A new line's first cells: its yield starts below the route's mature yield and rises
    with the line's own cumulative good output (not its age: a line run at half load
    ramps half as fast), linearly from `start_yield` to 100 % of the mature yield.

    `to_mature` is the cumulative good output per line at which the yield is mature, in
    years of the line's design output ("2 yr": twice its size in GWh), so one ramp
    serves every line size. The MILP carries the cumulative input this takes,
    G(q) = ∫0^q dx / y(x), as `pieces` linear pieces, exact at their ends."""

    start_yield: Fraction  # yield of the first cells, as a share of the mature yield
    to_mature: Years  # cumulative good output per line until mature (years of design output)
    pieces: int = 2  # linear pieces of G over the ramp in the MILP (binaries per piece)
    # optional: mature at the latest this long after the line starts producing, whatever
    # its output (engineering improves yields with time too); bounds the ramp's binaries
    mature_by: Years | None = None

    _frac = _range("start_yield", high=1.0)
    _pos = _range("to_mature", "mature_by")

    @model_validator(mode="before")
    @classmethod
    def _age_based(cls, v):
        # the age-based ramp of earlier roadmap files: say what replaced it
        if isinstance(v, dict) and ("first_year_output" in v or "years_to_mature" in v):
            raise FieldProblem("first_year_output" if "first_year_output" in v else
                               "years_to_mature",
                               "the age-based ramp (first_year_output, years_to_mature) was "
                               "replaced by one over the line's cumulative output: expected "
                               "`start_yield` (share of the mature yield) and `to_mature` "
                               "(cumulative good output per line, in years of design output)")
        return v

    @model_validator(mode="after")
    def _pieces(self):
        if not 1 <= self.pieces <= 8:
            raise FieldProblem("pieces", f"expected 1 to 8 pieces, found {self.pieces}")
        return self

    def yield_at(self, q: float) -> float:
        """Yield (share of mature) at cumulative good output q per line (years of output)."""
        y0 = self.start_yield
        return min(1.0, y0 + (1.0 - y0) * q / self.to_mature)

    def input_at(self, q: float) -> float:
        """G(q) = ∫0^q dx / y(x): the cumulative input (years of design output at mature
        yield, i.e. what the cells consumed) that q of good output took."""
        y0, m = self.start_yield, self.to_mature
        qm = min(q, m)
        ramp = m * math.log(self.yield_at(qm) / y0) / (1.0 - y0) if y0 < 1.0 else qm
        return ramp + max(0.0, q - m)

    def breakpoints(self) -> list[float]:
        """Cumulative good output per line (years of output) at the pieces' ends."""
        return [self.to_mature * i / self.pieces for i in range(self.pieces + 1)]


class Learning(Strict):
    """Wright's law: unit cost × (1 - rate) per doubling of cumulative output."""

    rate: Fraction  # cost reduction per doubling (operating cost; capex too unless capex_rate)
    # capex of new lines and conversions' new equipment: its own rate per doubling; without
    # it capex learns at `rate` on an exogenous path and not at all endogenously
    capex_rate: Fraction | None = None
    reference: KWh  # cumulative output at which the line design's cost holds ("2 GWh")
    initial: KWh = 0.0  # the company's cumulative output of the route at the start
    first: KWh = 1e5  # the curve is flat below this cumulative output (pilot scale)
    # exogenous mode: the route's cumulative output by year (industry or the company's plan)
    path: dict[int, KWh] = Field(default_factory=dict)

    _rate = _range("rate", "capex_rate", strict=False, high=0.6)
    _pos = _range("reference", "first", "path")
    _nonneg = _range("initial", strict=False)

    def multiplier(self, cumulative_kwh: float, rate: float | None = None) -> float:
        """Unit cost relative to the line design's: (Q / reference)^-b, flat below `first`
        (b from `rate`, default the operating cost's)."""
        b = -math.log2(1.0 - (self.rate if rate is None else rate))
        q = max(cumulative_kwh, self.first)
        return (q / self.reference) ** (-b)


class RouteEntry(Strict):
    """A route the company may build: when, how fast, what a line of it is."""

    pilot_from: int  # first year a pilot-size line may be started
    volume_from: int  # first year a larger line may be started (pilot lines stop then)
    pilot_size: GWhPerYear = 0.0  # lines up to this size are pilot lines
    sizes: list[GWhPerYear] | None = None  # line sizes (default: the roadmap's line_sizes)
    lead_time: Years  # from the decision to build until the line produces
    life: Years  # a line's equipment life
    learning: Learning | None = None
    ramp: Ramp | None = None

    _pos = _range("life")
    _nonneg = _range("lead_time", "pilot_size", strict=False)

    @model_validator(mode="after")
    def _years(self):
        if self.volume_from < self.pilot_from:
            raise FieldProblem("volume_from", f"volume production ({self.volume_from}) before "
                                              f"the pilot ({self.pilot_from})")
        if self.sizes is not None:
            if not self.sizes:
                raise FieldProblem("sizes", "expected at least one line size")
            if any(s <= 0 for s in self.sizes):
                raise FieldProblem("sizes", "line sizes must be positive")
        return self


class Owned(Strict):
    """Lines the company already has when the roadmap starts (brownfield)."""

    route: str
    lines: int
    size: GWhPerYear
    built: int  # year it started producing (its vintage)

    _pos = _range("size", "lines")


class Myopic(Strict):
    """Rolling horizon: decide with `foresight` years in view, fix the first `step`, move on."""

    foresight: int
    step: int = 1

    @model_validator(mode="after")
    def _sizes(self):
        if self.foresight < 1 or self.step < 1 or self.step > self.foresight:
            raise FieldProblem("foresight", "expected 1 <= step <= foresight (years)")
        return self


class Roadmap(Strict):
    name: str
    description: str | None = None
    periods: Periods
    discount_rate: Fraction
    objective: Literal["npv", "cost"] = "npv"
    learning_mode: Literal["none", "exogenous", "endogenous"] = "exogenous"
    endogenous_breakpoints: int = 6  # segments of the piecewise-linear cost curve
    costing: Literal["annuity", "batpac5"] = "annuity"  # cost per kWh shown per route
    line_sizes: list[GWhPerYear]  # default line sizes for every route (GWh/yr)
    budget: dict[int, USD] = Field(default_factory=dict)  # capex cap per year
    salvage: Literal["book_value", "none"] = "book_value"
    # which lines may retire before their life ends: the lines owned at the start (new
    # lines run their life or are converted), or every line (a much harder MILP)
    retire: Literal["owned", "all"] = "owned"
    unmet_penalty: PriceEnergy | None = None  # cost objective: price of demand not served
    routes: dict[str, RouteEntry]
    segments: dict[str, Segment]
    owned: list[Owned] = Field(default_factory=list)
    prices: dict[str, dict[int, str]] = Field(default_factory=dict)  # material -> year -> price
    reuse: str | None = None  # reuse table (default: the lines folder's reuse.yaml)
    lines: str | None = None  # data folder (default: the project's lines/)
    myopic: Myopic | None = None
    time_limit: float = 120.0  # seconds for the MILP
    gap: float = 1e-3
    uncertainty: Uncertainty | None = None  # a scenario tree (see tree.py, docs/roadmap.md)

    _rate = _range("discount_rate", strict=False, high=0.5)
    _budget = _range("budget", strict=False)

    @field_validator("prices")
    @classmethod
    def _prices(cls, v):
        # the prices are read with the data's exchange rates in `load.load_roadmap`
        for mat, path in v.items():
            if not path:
                raise ValueError(f"price path of {mat!r} is empty")
        return v

    @model_validator(mode="after")
    def _whole(self):
        if not self.line_sizes or any(s <= 0 for s in self.line_sizes):
            raise FieldProblem("line_sizes", "expected at least one positive line size")
        if not self.routes:
            raise FieldProblem("routes", "expected at least one route")
        if not self.segments:
            raise FieldProblem("segments", "expected at least one market segment")
        if not 1 <= self.endogenous_breakpoints <= 20:
            raise FieldProblem("endogenous_breakpoints", "expected 1 to 20")
        if self.time_limit <= 0 or not 0 <= self.gap < 1:
            raise FieldProblem("time_limit", "expected a positive time limit and 0 <= gap < 1")
        return self


__all__ = ["Roadmap", "RouteEntry", "Segment", "Owned", "Learning", "Ramp", "Periods",
           "Requirements", "Myopic", "interpolate"]
