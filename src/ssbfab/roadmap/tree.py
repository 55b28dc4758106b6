"""Scenario trees in a roadmap file (`uncertainty:`), and what each scenario changes.

```yaml
uncertainty:
  stages: [2026, 2029, 2032]        # decision years; the first is the roadmap's start
  branches:                         # what is learnt at the start of each later stage
    2029:
      - {name: li2s-cheap, probability: "30 %", inputs: {prices.Li2S: 0.5}}
      - {name: li2s-base,  probability: "70 %"}
    2032:
      - {name: fast, probability: "50 %", inputs: {routes.sulfide-lpscl.learning: "25 %"}}
      - {name: slow, probability: "50 %", inputs: {routes.sulfide-lpscl.learning: "10 %"}}
  # or, instead of `branches`, a generated tree (`branches` draws per node and stage):
  # generate: {seed: 7, branches: 3, inputs: {prices.Li2S: {distribution: lognormal,
  #            median: 1, sigma: 0.5, stage: 2029}}}
  risk: {alpha: "90 %", weight: 0.5}  # max E[NPV] + weight·CVaR_alpha(NPV)
  reserve: {route: sulfide-lpscl, size: "0.2 GWh/yr"}
```

Every node of a stage has the same branches (explicit trees) or its own draws (generated
trees); the scenarios are the paths from the root to the leaves, their probability the
product of the branch probabilities.

Uncertain inputs, by name:

| input | value | applies |
|---|---|---|
| `prices.MATERIAL` | a factor on the price path, or a path `{year: "price"}` | from the branch's year on |
| `segments.SEG.demand` | a factor, or a path `{year: "GWh/yr"}` | from the branch's year on |
| `segments.SEG.price` | a factor, or a path `{year: "USD/kWh"}` | from the branch's year on |
| `routes.ROUTE.learning` | the learning rate ("20 %") | the whole scenario |
| `routes.ROUTE.yield` | mature yield as a share of the line design's ("90 %") | the whole scenario |
| `routes.ROUTE.volume_from` | the first year a volume line may be started | the whole scenario |

Paths change from the year the branch is learnt, so every period of a stage has the same
data in all scenarios that share the stage's node; factors of successive stages multiply.
The three route properties are facts about the technology that the branch *reveals*: they
hold over the whole scenario (a sulfide line built in 2027 produced at the yield that is
only known in 2029), and each is revealed at one stage only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ..data.schema import FieldProblem, Fraction, GWhPerYear, Strict, _parse_price
from ..errors import Problem, SpecError, closest
from ..study import designs as sampling
from ..study.scenarios import DistSpec

PATH_KINDS = ("price", "demand", "segment_price")  # factor or path, from the branch year
ROUTE_KINDS = ("learning", "yield", "volume_from")  # a property of the whole scenario
MAX_SCENARIOS = 2000
_BASIS_TEXT = {"kg": "kg", "m2": "m^2", "m3": "m^3"}


class Branch(Strict):
    name: str
    probability: Fraction
    inputs: dict[str, float | int | str | dict[int, float | int | str]] = Field(
        default_factory=dict)  # input name -> value (see the module docstring)

    @model_validator(mode="after")
    def _p(self):
        if not (math.isfinite(self.probability) and 0 <= self.probability <= 1):
            raise FieldProblem("probability", f"expected 0 to 100 %, found {self.probability:g}")
        return self


class Sampled(DistSpec):
    """An input's distribution (as in study files) and the stage at which it is learnt."""

    stage: int | None = None  # a stage year (default: the second stage)


class Generate(Strict):
    seed: int
    branches: int  # draws per node at each stage that reveals an input
    method: Literal["latin_hypercube", "random"] = "latin_hypercube"
    inputs: dict[str, Sampled]

    @model_validator(mode="after")
    def _n(self):
        if not 1 <= self.branches <= 50:
            raise FieldProblem("branches", f"expected 1 to 50 draws per node, found {self.branches}")
        if not self.inputs:
            raise FieldProblem("inputs", "expected at least one uncertain input")
        return self


class Risk(Strict):
    """CVaR_alpha(NPV): the expected NPV of the worst (1 − alpha) share of scenarios
    (alpha = 0: the expectation). The objective is E[NPV] + weight·CVaR_alpha(NPV)."""

    alpha: Fraction = 0.9
    weight: float = 0.0

    @model_validator(mode="after")
    def _range(self):
        if not 0 <= self.alpha < 1:
            raise FieldProblem("alpha", f"expected 0 <= alpha < 100 %, found {self.alpha:g}")
        if not (math.isfinite(self.weight) and 0 <= self.weight <= 1e3):
            raise FieldProblem("weight", f"expected a weight in [0, 1000], found {self.weight:g}")
        return self


class Reserve(Strict):
    """The strategic reserve option: a line of `route` at `size` in the first stage."""

    route: str
    size: GWhPerYear


class Uncertainty(Strict):
    stages: list[int]  # decision years; stage t runs from stages[t] to the next stage
    branches: dict[int, list[Branch]] = Field(default_factory=dict)  # stage year -> branches
    generate: Generate | None = None
    risk: Risk = Field(default_factory=Risk)
    reserve: Reserve | None = None
    gap: float | None = None  # relative MIP gap of each stochastic solve (default: the file's)
    time_limit: float | None = None  # seconds per stochastic solve (default: the file's)

    @model_validator(mode="after")
    def _shape(self):
        if not self.stages:
            raise FieldProblem("stages", "expected at least one stage year")
        if any(b <= a for a, b in zip(self.stages, self.stages[1:], strict=False)):
            raise FieldProblem("stages", f"expected increasing years, found {self.stages}")
        if self.branches and self.generate is not None:
            raise FieldProblem("generate", "give either `branches` or `generate`, not both")
        for y, bs in self.branches.items():
            if y not in self.stages[1:]:
                raise FieldProblem("branches", f"branches at {y}, which is not a later stage "
                                               f"of {self.stages}")
            if not bs:
                raise FieldProblem("branches", f"no branches at {y}")
            names = [b.name for b in bs]
            if len(set(names)) < len(names):
                raise FieldProblem("branches", f"branch names at {y} repeat: {names}")
            total = sum(b.probability for b in bs)
            if abs(total - 1.0) > 1e-6:
                raise FieldProblem("branches", f"probabilities at {y} sum to {total:.6g}; "
                                               f"expected 1")
        if self.generate is not None:
            for name, s in self.generate.inputs.items():
                if s.stage is not None and s.stage not in self.stages[1:]:
                    raise FieldProblem("generate", f"{name}: stage {s.stage} is not a later "
                                                   f"stage of {self.stages}")
                if s.stage is None and len(self.stages) < 2:
                    raise FieldProblem("generate", "a generated tree needs a second stage")
        for f in ("gap", "time_limit"):
            v = getattr(self, f)
            if v is not None and not (math.isfinite(v) and (0 <= v < 1 if f == "gap" else v > 0)):
                raise FieldProblem(f, "expected 0 <= gap < 1" if f == "gap" else
                                      "expected a positive number of seconds")
        return self


# ----------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Change:
    """One branch's change of one input: `value` is ("factor", f), ("path", {year: v})
    or, for route properties, a number (rate, yield share, year)."""

    year: int  # stage year at which it is learnt
    input: str
    value: Any


@dataclass(frozen=True)
class Scenario:
    name: str  # branch names joined by "/" ("root" for the one-scenario tree)
    probability: float
    nodes: tuple[str, ...]  # node of each stage (stage 0: "root"; then the branch path)
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Tree:
    stages: list[int]
    scenarios: list[Scenario]
    inputs: list[str]  # the uncertain inputs the tree changes, in file order

    def signature(self, s: Scenario, name: str) -> tuple:
        """What scenario `s` learns about input `name`, over the whole tree (equal
        signatures: the same realisation of that input)."""
        return tuple((c.year, repr(c.value)) for c in s.changes if c.input == name)


def _kind(name: str) -> tuple[str, str] | None:
    """(kind, target) of an input name, None if malformed."""
    parts = name.split(".")
    if len(parts) == 2 and parts[0] == "prices":
        return "price", parts[1]
    if len(parts) == 3 and parts[0] == "segments" and parts[2] in ("demand", "price"):
        return ("demand" if parts[2] == "demand" else "segment_price"), parts[1]
    if len(parts) == 3 and parts[0] == "routes" and parts[2] in ROUTE_KINDS:
        return parts[2], parts[1]
    return None


def _known(name: str) -> tuple[str, str]:
    """(kind, target) of an input name the tree has already checked."""
    kind = _kind(name)
    assert kind is not None, name
    return kind


def build_tree(lr) -> Tree:
    """The scenario tree of a loaded roadmap (one scenario if it has no `uncertainty:`),
    checked against the roadmap (input names, values, years). Raises SpecError naming
    file, line and field."""
    rm = lr.roadmap
    u = rm.uncertainty
    if u is None:
        return Tree([rm.periods.start], [Scenario("root", 1.0, ("root",), ())], [])
    problems: list[Problem] = []

    def bad(loc: tuple, msg: str) -> None:
        problems.append(Problem(lr.file, lr.line("uncertainty", *loc),
                                ".".join(map(str, ("uncertainty", *loc))), msg))

    years = rm.periods.years
    if u.stages[0] != rm.periods.start:
        bad(("stages",), f"the first stage must be the roadmap's first year "
                         f"{rm.periods.start}, found {u.stages[0]}")
    for y in u.stages[1:]:
        if y not in years:
            bad(("stages",), f"stage year {y} is not a period of the roadmap "
                             f"({years[0]}..{years[-1]} step {rm.periods.step})")
    if problems:
        raise SpecError(problems)
    # per stage (after the first): a function node -> list of (branch name, prob, changes)
    levels: list[list[list[tuple[str, float, tuple[Change, ...]]]]] = []
    if u.generate is None:
        revealed: dict[str, int] = {}
        for y in u.stages[1:]:
            opts = []
            for i, b in enumerate(u.branches.get(y, [])):
                ch = []
                for name, raw in b.inputs.items():
                    loc = ("branches", y, i, "inputs", name)
                    value = _check_input(lr, name, raw, y, loc, bad)
                    if value is None:
                        continue
                    kind = _known(name)[0]
                    if kind in ROUTE_KINDS:
                        if revealed.get(name, y) != y:
                            bad(loc, f"{name} is a property of the route, revealed once; it is "
                                     f"already given at {revealed[name]}")
                        revealed[name] = y
                    ch.append(Change(y, name, value))
                opts.append((b.name, b.probability, tuple(ch)))
            levels.append([opts or [("", 1.0, ())]])  # same branches at every node
        inputs = list(dict.fromkeys(n for bs in u.branches.values() for b in bs for n in b.inputs))
    else:
        levels, inputs = _generated(lr, u, bad)
    if problems:
        raise SpecError(problems)
    count = math.prod(len(lv[0]) for lv in levels) if levels else 1
    if count > MAX_SCENARIOS:
        raise SpecError(Problem(lr.file, lr.line("uncertainty"), "uncertainty",
                                f"the tree has {count} scenarios; expected at most "
                                f"{MAX_SCENARIOS} (fewer branches or stages)"))
    # a scenario's node at stage t is its branch path up to t; its name, the named branches
    scenarios = [Scenario("root", 1.0, ("root",), ())]
    for lv in levels:
        nxt = []
        for j, s in enumerate(scenarios):
            opts = lv[j] if len(lv) > 1 else lv[0]
            for name, p, changes in opts:
                nodes = (*s.nodes, f"{s.nodes[-1]}/{name or '-'}")
                label = "/".join(x for x in (s.name if s.name != "root" else "", name) if x)
                nxt.append(Scenario(label or "root", s.probability * p, nodes,
                                    s.changes + changes))
        scenarios = nxt
    return Tree(list(u.stages), scenarios, inputs)


def _generated(lr, u: Uncertainty, bad):
    """Per stage and node, `branches` draws (probability 1/n each) of the inputs learnt
    at that stage; the draws of node j at stage t come from the seed and (t, j) alone."""
    g = u.generate
    assert g is not None  # called for a generated tree only
    at: dict[int, list[tuple[str, Any]]] = {y: [] for y in u.stages[1:]}
    for name, spec in g.inputs.items():
        loc = ("generate", "inputs", name)
        kind = _kind(name)
        if kind is None or _check_target(lr, name, kind, loc, bad) is None:
            if kind is None:
                bad(loc, _bad_name(name))
            continue
        at[spec.stage or u.stages[1]].append((name, spec.to_dist()))
    levels: list = []
    nodes = 1
    failed = [False]

    def stop(loc, msg):  # one message per input, not one per draw
        if not failed[0]:
            bad(loc, msg)
        failed[0] = True

    for t, y in enumerate(u.stages[1:]):
        dists = at[y]
        if not dists:
            levels.append([[("", 1.0, ())]])
            continue
        per_node = []
        for j in range(nodes):
            seed = int(np.random.SeedSequence([g.seed, t, j]).generate_state(1)[0])
            us = sampling.unit_samples(g.branches, len(dists), seed, g.method)
            opts = []
            for k in range(g.branches):
                ch = []
                for c, (name, dist) in enumerate(dists):
                    x = float(dist.ppf(np.array([us[k, c]]))[0])
                    raw = sampling.Quantity(x, dist.unit).text()
                    v = _check_input(lr, name, raw, y, ("generate", "inputs", name), stop,
                                     sampled=True)
                    if v is None:
                        return levels, list(g.inputs)
                    else:
                        ch.append(Change(y, name, v))
                opts.append((f"d{k}", 1.0 / g.branches, tuple(ch)))
            per_node.append(opts)
        levels.append(per_node)
        nodes *= g.branches
    return levels, list(g.inputs)


def _bad_name(name: str) -> str:
    return (f"unknown uncertain input {name!r}; expected prices.MATERIAL, segments.SEG.demand, "
            f"segments.SEG.price, routes.ROUTE.learning, routes.ROUTE.yield or "
            f"routes.ROUTE.volume_from")


def _check_target(lr, name: str, kind: tuple[str, str], loc, bad) -> str | None:
    rm = lr.roadmap
    k, target = kind
    if k == "price":
        mats = set(rm.prices) | set().union(*(r.all_materials for r in lr.routes.values()))
        if target not in mats:
            bad(loc, f"unknown material {target!r}{closest(target, mats)}")
            return None
    elif k in ("demand", "segment_price"):
        if target not in rm.segments:
            bad(loc, f"unknown segment {target!r}{closest(target, rm.segments)}")
            return None
        if k == "segment_price" and not rm.segments[target].price:
            bad(loc, f"segment {target!r} has no price path to change")
            return None
    else:
        if target not in rm.routes:
            bad(loc, f"unknown route {target!r}{closest(target, rm.routes)}")
            return None
        if k == "learning" and rm.routes[target].learning is None:
            bad(loc, f"route {target!r} has no `learning:` whose rate could change")
            return None
    return target


def _check_input(lr, name: str, raw: Any, year: int, loc, bad, sampled: bool = False):
    """The normalised value of one input change, or None (after reporting why)."""
    from ..data import units

    kind = _kind(name)
    if kind is None:
        bad(loc, _bad_name(name))
        return None
    if _check_target(lr, name, kind, loc, bad) is None:
        return None
    k, target = kind
    what = "a sampled value" if sampled else "found"
    try:
        if k in PATH_KINDS:
            if isinstance(raw, dict):
                if sampled:
                    raise ValueError("expected a factor")
                early = [y for y in raw if y < year]
                if early:
                    raise ValueError(f"a path learnt in {year} gives years before it ({early}); "
                                     f"expected years from {year} on")
                path = {int(y): _path_value(lr, k, v) for y, v in raw.items()}
                if not path:
                    raise ValueError("expected a path with at least one year")
                return ("path", path)
            f = units.parse_quantity(raw, "fraction") if isinstance(raw, str) else float(raw)
            if not (math.isfinite(f) and 0 <= f <= 100):
                raise ValueError(f"expected a non-negative factor on the path (at most 100), "
                                 f"{what} {raw!r}")
            return ("factor", float(f))
        if isinstance(raw, dict):
            raise ValueError("expected one value, not a path")
        if k == "volume_from":
            y = float(raw) if not isinstance(raw, str) else float(raw.split()[0])
            e = lr.roadmap.routes[target]
            if not math.isfinite(y) or round(y) < e.pilot_from or round(y) > 2200:
                raise ValueError(f"expected a year from the route's pilot ({e.pilot_from}) on, "
                                 f"{what} {raw!r}")
            return int(round(y))
        v = units.parse_quantity(raw, "fraction")
        if k == "learning" and not (math.isfinite(v) and 0 <= v <= 0.6):
            raise ValueError(f"expected a learning rate in [0, 60 %], {what} {raw!r}")
        if k == "yield" and not (math.isfinite(v) and 0 < v <= 2):
            raise ValueError(f"expected a share of the design's yield in (0, 200 %], {what} {raw!r}")
        return float(v)
    except (ValueError, TypeError) as exc:
        bad(loc, str(exc))
        return None


def _rates(lr) -> dict[str, float]:
    """USD per unit of each currency of the loaded data (prices may be in CNY)."""
    return next(iter(lr.routes.values())).economics.currency_rates


def _path_value(lr, kind: str, v: Any) -> float | tuple[float, str]:
    """A path's value in the planner's units (a price: USD per basis unit and the basis)."""
    from ..data import units

    if kind == "price":
        x, basis = _parse_price(str(v), _rates(lr))
        return (x, basis)
    x = units.parse_quantity(v, "energy_per_year" if kind == "demand" else "price_energy",
                             _rates(lr))
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"expected a non-negative value, found {v!r}")
    return x


# ----------------------------------------------------------------------------- scenario data


def base_state(lr, inputs: Sequence[str] = ()) -> dict[str, Any]:
    """The roadmap's own value of every input a tree may change, on the period years:
    paths as {year: value} (prices as (USD per basis unit, basis)), route properties;
    `inputs` adds the data price of materials the roadmap gives no path for."""
    rm = lr.roadmap
    years = rm.periods.years
    from .paths import interpolate

    state: dict[str, Any] = {}
    for m, path in rm.prices.items():
        parsed = {y: _parse_price(t, _rates(lr)) for y, t in path.items()}
        basis = next(iter(parsed.values()))[1]
        state[f"prices.{m}"] = {y: (interpolate({a: v for a, (v, _) in parsed.items()}, y), basis)
                                for y in years}
    for g, seg in rm.segments.items():
        state[f"segments.{g}.demand"] = {y: interpolate(seg.demand, y) for y in years}
        if seg.price:
            state[f"segments.{g}.price"] = {y: interpolate(seg.price, y) for y in years}
    for r, e in rm.routes.items():
        if e.learning is not None:
            state[f"routes.{r}.learning"] = e.learning.rate
        state[f"routes.{r}.yield"] = 1.0
        state[f"routes.{r}.volume_from"] = e.volume_from
    for name in inputs:
        if name.startswith("prices.") and name not in state:
            state[name] = _material_base(lr, name)
    return state


def _material_base(lr, name: str) -> dict[int, tuple[float, str]]:
    """A material without a price path in the roadmap: its data price, flat."""
    from ..cost import material_prices

    m = name.split(".", 1)[1]
    for route in lr.routes.values():
        prices = material_prices(route)
        if m in prices:
            p, basis = prices[m]
            return {y: (p, basis) for y in lr.roadmap.periods.years}
    raise KeyError(m)


def scenario_state(lr, changes: tuple[Change, ...], base: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """The inputs of a scenario: the base state with its changes applied in stage order."""
    state = dict(base if base is not None else base_state(lr))
    years = lr.roadmap.periods.years
    from .paths import interpolate

    for c in changes:
        k = _known(c.input)[0]
        if k in PATH_KINDS:
            if c.input not in state:  # a material priced only by its data
                state[c.input] = _material_base(lr, c.input)
            old = state[c.input]
            how, val = c.value
            new = {}
            for y in years:
                if y < c.year:
                    new[y] = old[y]
                elif how == "factor":
                    new[y] = (old[y][0] * val, old[y][1]) if k == "price" else old[y] * val
                elif k == "price":
                    new[y] = (interpolate({a: v for a, (v, _) in val.items()}, y),
                              next(iter(val.values()))[1])
                else:
                    new[y] = interpolate(val, y)
            state[c.input] = new
        else:
            state[c.input] = c.value
    return state


def mean_state(states: list[dict[str, Any]], probs: list[float]) -> dict[str, Any]:
    """The expected-value inputs: paths averaged year by year, rates and yields averaged,
    the year a route arrives averaged and rounded to a whole year."""
    out: dict[str, Any] = {}
    keys = list(dict.fromkeys(k for s in states for k in s))
    for key in keys:
        vals = [s[key] for s in states if key in s]
        ps = [p for s, p in zip(states, probs, strict=True) if key in s]
        total = sum(ps)
        v0 = vals[0]
        if isinstance(v0, dict):
            if isinstance(next(iter(v0.values())), tuple):
                out[key] = {y: (sum(p * v[y][0] for v, p in zip(vals, ps, strict=True)) / total,
                                v0[y][1]) for y in v0}
            else:
                out[key] = {y: sum(p * v[y] for v, p in zip(vals, ps, strict=True)) / total
                            for y in v0}
        elif key.endswith(".volume_from"):
            out[key] = int(round(sum(p * v for v, p in zip(vals, ps, strict=True)) / total))
        else:
            out[key] = sum(p * v for v, p in zip(vals, ps, strict=True)) / total
    return out


def roadmap_for(lr, state: dict[str, Any]):
    """The loaded roadmap with a scenario's inputs (a new LoadedRoadmap; the routes'
    data, marks and reuse table are shared) and the yield share per route."""
    rm = lr.roadmap
    base = base_state(lr, [k for k in state if k.startswith("prices.")])
    prices = dict(rm.prices)
    segments = dict(rm.segments)
    routes = dict(rm.routes)
    yields: dict[str, float] = {}
    for key, v in state.items():
        if key in base and v == base[key]:
            continue
        k, target = _known(key)
        if k == "price":
            prices[target] = {y: f"{x!r} USD/{_BASIS_TEXT.get(b, b)}" for y, (x, b) in v.items()}
        elif k == "demand":
            segments[target] = segments[target].model_copy(update={"demand": dict(v)})
        elif k == "segment_price":
            segments[target] = segments[target].model_copy(update={"price": dict(v)})
        elif k == "learning":
            e = routes[target]
            routes[target] = e.model_copy(update={"learning": e.learning.model_copy(
                update={"rate": float(v)})})
        elif k == "volume_from":
            routes[target] = routes[target].model_copy(update={"volume_from": int(v)})
        elif k == "yield":
            yields[target] = float(v)
    new = rm.model_copy(update={"prices": prices, "segments": segments, "routes": routes})
    return dataclasses.replace(lr, roadmap=new), yields


def with_yields(d, yields: dict[str, float]):
    """PlanningData with mature yields scaled per route: a line makes `share` of its good
    output, and each good kWh needs 1/share of the materials and energy (scrap, as the
    ramp-up's yields do in `compile_data`)."""
    if not yields or all(abs(v - 1.0) < 1e-15 for v in yields.values()):
        return d
    route = {c.key: c.route for c in d.cohorts}
    ramp = {kp: v * yields.get(route[kp[0]], 1.0) for kp, v in d.ramp.items()}
    variable = {kp: v / yields.get(route[kp[0]], 1.0) for kp, v in d.variable.items()}
    return dataclasses.replace(d, ramp=ramp, variable=variable)


def check_reserve(lr) -> None:
    """The reserve option must name a route of the roadmap and one of its line sizes,
    startable in the first stage."""
    rm = lr.roadmap
    u = rm.uncertainty
    if u is None or u.reserve is None:
        return
    r = u.reserve
    loc = ("uncertainty", "reserve")
    if r.route not in rm.routes:
        raise SpecError(Problem(lr.file, lr.line(*loc, "route"), "uncertainty.reserve.route",
                                f"unknown route {r.route!r}{closest(r.route, rm.routes)}"))
    e = rm.routes[r.route]
    sizes = e.sizes or rm.line_sizes
    if not any(abs(s - r.size) < 1e-9 for s in sizes):
        raise SpecError(Problem(lr.file, lr.line(*loc, "size"), "uncertainty.reserve.size",
                                f"{r.size:g} GWh/yr is not a line size of {r.route} "
                                f"({', '.join(f'{s:g}' for s in sizes)} GWh/yr)"))
    first_end = u.stages[1] if len(u.stages) > 1 else rm.periods.end + 1
    first = [y for y in rm.periods.years if y < first_end]
    # as `compile_data` allows: pilot lines from pilot_from until volume production
    # begins, larger lines from volume_from on
    if r.size <= e.pilot_size:
        ok = [y for y in first if e.pilot_from <= y < max(e.volume_from, e.pilot_from + 1)]
        when = f"from {e.pilot_from} until {max(e.volume_from, e.pilot_from + 1) - 1}"
    else:
        ok = [y for y in first if y >= e.volume_from]
        when = f"from {e.volume_from}"
    if not ok:
        raise SpecError(Problem(lr.file, lr.line(*loc), "uncertainty.reserve",
                                f"a {r.size:g} GWh/yr line of {r.route} may be started only "
                                f"{when}, not in the first stage ({u.stages[0]}.."
                                f"{first_end - 1}); expected a line the first stage can start"))


def stage_of_periods(years: list[int], stages: list[int]) -> list[int]:
    """Stage index of each period: the last stage whose year is not after it."""
    return [max(t for t, y in enumerate(stages) if y <= yr) for yr in years]


__all__ = ["Uncertainty", "Branch", "Generate", "Sampled", "Risk", "Reserve", "Tree",
           "Scenario", "Change", "build_tree", "base_state", "scenario_state", "mean_state",
           "roadmap_for", "with_yields", "check_reserve", "stage_of_periods"]
