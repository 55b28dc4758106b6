"""The planner's numbers: a roadmap file and its line designs compiled into plain
coefficients per period, route, line size and cohort. The MILP (`model`) and the
independent cash-flow check in the tests read this one object.

Time: period p starts in year `years[p]` and lasts `step` years. Capex is paid at the
start of the period in which a line is started (or converted); operating flows are paid
at the end of each year; the remaining book value of what stands at the horizon's end
(straight line over the route's `life`) is credited at the end of the last period.

A *cohort* is a set of identical lines of one route and size that start producing in
the same period: new lines (built), converted lines (from another route, keeping the
building and whatever the reuse table allows), or lines the company already owns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .designs import LineDesign
from .load import LoadedRoadmap
from .schema import interpolate


@dataclass(frozen=True)
class Cohort:
    key: str  # e.g. "new:sulfide-lpscl:10:2029"
    kind: str  # new | conv | owned
    route: str
    size: float  # GWh/yr
    decided: int  # period index of the decision (capex); -1 for owned lines
    start: int  # first period it may produce
    last: int  # last period it may produce (may lie beyond the horizon)
    source: str | None = None  # conv: the route converted from
    owned_lines: int = 0
    vintage: float = 0.0  # year it first produced (owned) or will (new, conv)

    def produces_in(self, p: int) -> bool:
        return self.start <= p <= self.last


@dataclass(frozen=True)
class PlanningData:
    name: str
    objective: str  # npv | cost
    years: list[int]
    step: int
    rate: float
    routes: list[str]
    segments: list[str]
    sizes: dict[str, list[float]]
    designs: dict[tuple[str, float], LineDesign]
    cohorts: list[Cohort]
    qualifies: dict[tuple[str, str], bool]
    demand: dict[tuple[str, int], float]  # GWh/yr
    price: dict[tuple[str, int], float]  # USD/kWh (0 when not given)
    must_serve: dict[str, bool]
    unmet_penalty: float | None  # USD/kWh
    budget: dict[int, float]  # USD per year of the period, when capped
    capex: dict[str, float]  # cohort -> USD per line (with learning: endogenous, at the
    # start's cumulative output; conversions net of reuse)
    new_capex: dict[str, float]  # cohort -> USD a new line of the target route costs then
    fixed: dict[tuple[str, int], float]  # (cohort, p) -> USD/yr per operating line
    variable: dict[tuple[str, int], float]  # (cohort, p) -> USD per GWh of input (good, mature)
    ramp: dict[tuple[str, int], float]  # (cohort, p) -> share of design output, mature
    life_years: dict[str, float]  # route -> a line's life
    salvage_kind: str  # book_value | none
    retire: str  # all | owned: which cohorts may retire early
    conversions: dict[str, list[tuple[str, int]]]  # source cohort -> [(target cohort, p)]
    crf: dict[str, tuple[float, float]]  # route -> (CRF equipment, CRF building), annuity
    # endogenous learning: route -> (breakpoints kWh, premium USD at each, initial kWh)
    learning_curve: dict[str, tuple[list[float], list[float], float]] = field(default_factory=dict)
    # yield ramp of new and converted lines: route -> (cumulative good output per line at
    # the breakpoints, the input G it took there), both in years of the line's design output
    ramp_curve: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    ramp_periods: dict[str, int] = field(default_factory=dict)  # route -> periods ramping at most
    # endogenous learning on capex: route -> multiplier at each breakpoint of its
    # learning curve; cohort -> USD per line that follows it (at multiplier 1)
    capex_curve: dict[str, list[float]] = field(default_factory=dict)
    capex_learns: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def ramps(self, c: Cohort, p: int | None = None) -> bool:
        """Whether a cohort's yield ramps up (new and converted lines of a route with a
        ramp) — in period p, if given: not once `mature_by` has passed."""
        if c.kind == "owned" or c.route not in self.ramp_curve:
            return False
        return p is None or p - c.start < self.ramp_periods.get(c.route, len(self.years))

    @property
    def periods(self) -> list[int]:
        return list(range(len(self.years)))

    def flow_discount(self, p: int) -> float:
        """Present value of 1 USD/yr paid at the end of each year of period p."""
        t0 = self.years[p] - self.years[0]
        return sum((1 + self.rate) ** -(t0 + k + 1) for k in range(self.step))

    def capex_discount(self, p: int) -> float:
        return (1 + self.rate) ** -(self.years[p] - self.years[0])

    def salvage_share(self, c: Cohort, P: int | None = None) -> float:
        """Share of a cohort's capex still on the books when the plan ends after period
        P − 1 (default: the horizon's end): straight line over the route's life."""
        P = len(self.years) if P is None else P
        if self.salvage_kind == "none" or c.last < P - 1:
            return 0.0
        end = self.years[P - 1] + self.step
        used = end - c.vintage if c.kind == "owned" else (P - c.start) * self.step
        return max(0.0, 1.0 - used / self.life_years[c.route])

    def book_share(self, c: Cohort, p: int) -> float:
        """Share of a cohort's capex on the books at the start of period p (what a line
        retired then is sold or written off at, when salvage is counted)."""
        if self.salvage_kind == "none":
            return 0.0
        t = self.years[p]
        used = t - c.vintage if c.kind == "owned" else (p - c.start) * self.step
        return max(0.0, 1.0 - used / self.life_years[c.route])

    @property
    def end_discount(self) -> float:
        return (1 + self.rate) ** -(self.years[-1] + self.step - self.years[0])


def _crf(rate: float, years: float) -> float:
    return rate / (1 - (1 + rate) ** -years) if rate > 0 else 1.0 / years


def compile_data(lr: LoadedRoadmap, designs: dict[tuple[str, float], LineDesign]
                 ) -> PlanningData:
    """Coefficients of the planner from a loaded roadmap and its line designs."""
    rm = lr.roadmap
    years = rm.periods.years
    L = rm.periods.step
    P = len(years)
    routes = list(rm.routes)
    sizes = {r: list(rm.routes[r].sizes or rm.line_sizes) for r in routes}
    notes: list[str] = []

    def lead(r: str) -> int:
        return math.ceil(rm.routes[r].lead_time / L - 1e-9)

    def life(r: str) -> int:
        return max(1, round(rm.routes[r].life / L))

    def exo(r: str, p: int, capex: bool = False) -> float:
        ln = rm.routes[r].learning
        if rm.learning_mode != "exogenous" or ln is None or not ln.path:
            return 1.0
        return ln.multiplier(interpolate(ln.path, years[p]), ln.capex_rate if capex else None)

    def prices_at(p: int) -> dict[str, float]:
        from ..data.schema import _parse_price

        rates = next(iter(lr.routes.values())).economics.currency_rates
        return {m: interpolate({y: _parse_price(t, rates)[0] for y, t in path.items()}, years[p])
                for m, path in rm.prices.items()}

    def may_start(r: str, size: float, year: int) -> bool:
        """Pilot-size lines are started (built or converted to) from pilot_from until
        volume production begins; larger lines from volume_from on."""
        e = rm.routes[r]
        if size <= e.pilot_size:
            return e.pilot_from <= year < max(e.volume_from, e.pilot_from + 1)
        return year >= e.volume_from

    cohorts: list[Cohort] = []
    for r in routes:
        for k in sizes[r]:
            for b in range(P):
                start = b + lead(r)
                if start > P - 1:
                    continue
                if not may_start(r, k, years[b]):
                    continue
                cohorts.append(Cohort(f"new:{r}:{k:g}:{years[b]}", "new", r, k, b, start,
                                      start + life(r) - 1, vintage=years[start]))
    for i, o in enumerate(rm.owned):
        left = o.built + rm.routes[o.route].life - years[0]
        last = math.ceil(left / L - 1e-9) - 1
        if last < 0:
            notes.append(f"owned line {i} ({o.route}, built {o.built}) is past its life at the start")
            continue
        cohorts.append(Cohort(f"owned:{o.route}:{o.size:g}:{o.built}:{i}", "owned", o.route,
                              o.size, -1, 0, last, owned_lines=o.lines, vintage=o.built))
        if o.size not in sizes[o.route]:
            sizes[o.route].append(o.size)
    conversions: dict[str, list[tuple[str, int]]] = {}
    conv_cohorts: list[Cohort] = []
    for (a, b_route), conv in lr.conversions.items():
        down = math.ceil(conv.downtime / L - 1e-9)
        for src in cohorts:
            if src.route != a:
                continue
            for p in range(max(src.start, 0), min(src.last, P - 1) + 1):
                if not may_start(b_route, src.size, years[p]):
                    continue
                start = p + down
                if start > P - 1:
                    continue
                key = f"conv:{a}>{b_route}:{src.size:g}:{years[p]}"
                if not any(c.key == key for c in conv_cohorts):
                    conv_cohorts.append(Cohort(key, "conv", b_route, src.size, p, start,
                                               start + life(b_route) - 1, source=a,
                                               vintage=years[start]))
                conversions.setdefault(src.key, []).append((key, p))
    cohorts.extend(conv_cohorts)
    for r in routes:
        sizes[r] = sorted(set(sizes[r]))

    capex: dict[str, float] = {}
    new_capex: dict[str, float] = {}
    fixed: dict[tuple[str, int], float] = {}
    variable: dict[tuple[str, int], float] = {}
    ramp: dict[tuple[str, int], float] = {}
    price_cache = {p: prices_at(p) for p in range(P)}
    # endogenous learning on capex: the multiplier at the company's cumulative output
    # when the line is started (the first breakpoint, `initial`, in the first period)
    start_mult = {}
    for r in routes:
        ln = rm.routes[r].learning
        if rm.learning_mode == "endogenous" and ln is not None and ln.capex_rate is not None:
            start_mult[r] = ln.multiplier(ln.initial, ln.capex_rate)
    capex_learns: dict[str, float] = {}
    for c in cohorts:
        d = designs[(c.route, c.size)]
        mult = start_mult.get(c.route, exo(c.route, max(c.decided, 0), capex=True))
        if c.kind == "new":
            capex_learns[c.key] = d.capex_usd
            capex[c.key] = d.capex_usd * mult
        elif c.kind == "conv":
            assert c.source is not None  # a converted cohort names its source route
            old = designs[(c.source, c.size)]
            conv = lr.conversions[(c.source, c.route)]
            added, retrofit = conversion_parts(old, d, conv)
            # the new equipment follows the route's experience curve; the retrofit of
            # what is reused does not
            capex_learns[c.key] = added
            capex[c.key] = added * mult + retrofit
        else:
            capex[c.key] = d.capex_usd  # sunk; counts only for the book value left
        new_capex[c.key] = d.capex_usd * (mult if c.decided >= 0 else 1.0)
        for p in range(P):
            if not c.produces_in(p):
                continue
            m = exo(c.route, p)
            # what a line makes at mature yield: the output the simulation confirmed (the
            # ramp-up below it follows the line's cumulative output, in the MILP)
            ramp[(c.key, p)] = d.output_share
            fixed[(c.key, p)] = d.fixed_usd_per_year * m
            variable[(c.key, p)] = (d.materials_usd_per_gwh_at(price_cache[p])
                                    + d.process_energy_usd_per_gwh * m)

    segs = list(rm.segments)
    demand = {(g, p): interpolate(rm.segments[g].demand, years[p]) for g in segs for p in range(P)}
    price = {(g, p): (interpolate(rm.segments[g].price, years[p]) if rm.segments[g].price else 0.0)
             for g in segs for p in range(P)}
    econ = next(iter(lr.routes.values())).economics.annuity
    crf = {r: (_crf(econ.discount_rate, econ.equipment_life),
               _crf(econ.discount_rate, econ.building_life)) for r in routes}
    curve = {}
    capex_curve: dict[str, list[float]] = {}
    if rm.learning_mode == "endogenous":
        for r in routes:
            ln = rm.routes[r].learning
            if ln is None:
                continue
            big = max(sizes[r])
            d = designs[(r, big)]
            ell = (d.fixed_usd_per_year / big + d.process_energy_usd_per_gwh) / 1e6  # USD/kWh
            top = ln.initial + 1e6 * L * sum(demand[(g, p)] for g in segs for p in range(P)
                                              if lr.qualifies[(r, g)])
            xs = breakpoints(ln.initial, max(ln.first, ln.initial), top, rm.endogenous_breakpoints)
            curve[r] = (xs, [premium(ln, ell, x) for x in xs], ln.initial)
            if ln.capex_rate is not None:
                capex_curve[r] = [ln.multiplier(x, ln.capex_rate) for x in xs]
    # yield ramp-up over a line's cumulative good output: breakpoints q and the input
    # G(q) they took, per line in years of design output (owned lines are mature)
    coh_route = {c.key: c.route for c in cohorts}
    ramp_curve = {r: (rp.breakpoints(), [rp.input_at(q) for q in rp.breakpoints()])
                  for r in routes if (rp := rm.routes[r].ramp) is not None}
    # periods a line may still be ramping (from its first): all, or until `mature_by`
    ramp_periods = {r: (math.ceil(rp.mature_by / L - 1e-9) if rp.mature_by is not None else P)
                    for r in routes if (rp := rm.routes[r].ramp) is not None}
    return PlanningData(
        name=rm.name, objective=rm.objective, years=years, step=L, rate=rm.discount_rate,
        routes=routes, segments=segs, sizes=sizes, designs=designs, cohorts=cohorts,
        qualifies=dict(lr.qualifies), demand=demand, price=price,
        must_serve={g: rm.objective == "cost" or rm.segments[g].must_serve for g in segs},
        unmet_penalty=rm.unmet_penalty,
        budget={p: interpolate(rm.budget, years[p]) for p in range(P)} if rm.budget else {},
        capex=capex, new_capex=new_capex, fixed=fixed, variable=variable, ramp=ramp,
        life_years={r: rm.routes[r].life for r in routes}, salvage_kind=rm.salvage,
        retire=rm.retire,
        conversions=conversions, crf=crf, learning_curve=curve, ramp_curve=ramp_curve,
        ramp_periods=ramp_periods, capex_curve=capex_curve,
        capex_learns={k: v for k, v in capex_learns.items() if coh_route[k] in capex_curve},
        notes=notes)


def conversion_capex(old: LineDesign, new: LineDesign, conv) -> float:
    """What converting a line of `old`'s route into one of `new`'s costs (USD): the new
    line's capex, less the value reused (each old step at most once, never more than it
    had), plus the retrofit of what is reused."""
    return sum(conversion_parts(old, new, conv))


def conversion_parts(old: LineDesign, new: LineDesign, conv) -> tuple[float, float]:
    """A conversion's cost in two parts (USD): what the new line needs beyond what is
    reused (new equipment, building and dry room), and the retrofit of what is reused."""
    reused = 0.0
    for to_step, r in conv.steps.items():
        reused += r.share * min(new.equipment_by_step.get(to_step, 0.0),
                                old.equipment_by_step.get(r.from_, 0.0))
    retrofit = conv.retrofit * reused
    reused += conv.building * min(new.building_usd, old.building_usd)
    reused += conv.dry_room * min(new.dry_room_usd, old.dry_room_usd)
    return new.capex_usd - reused, retrofit


def premium(ln, ell_usd_per_kwh: float, q_kwh: float) -> float:
    """USD of extra operating cost over the line design's, summed over cumulative output
    0..q: ∫ ℓ·(m(x) − 1) dx with m Wright's multiplier (flat below `first`)."""
    b = -math.log2(1.0 - ln.rate)
    first, ref = ln.first, ln.reference
    m1 = (first / ref) ** (-b)
    if q_kwh <= first:
        return ell_usd_per_kwh * (m1 - 1.0) * q_kwh
    tail = ref ** b * (q_kwh ** (1 - b) - first ** (1 - b)) / (1 - b) if b != 1 else \
        ref * math.log(q_kwh / first)
    return ell_usd_per_kwh * ((m1 - 1.0) * first + tail - (q_kwh - first))


def breakpoints(initial: float, low: float, high: float, n: int) -> list[float]:
    """`initial`, then n geometric steps from `low` to `high` (exact at each)."""
    high = max(high, low * 1.0001)
    xs = [initial] + [low * (high / low) ** (i / n) for i in range(n + 1)]
    out: list[float] = []
    for x in sorted(xs):
        if not out or x > out[-1] * (1 + 1e-12):
            out.append(x)
    return out
