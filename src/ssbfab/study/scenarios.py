"""Scenario files: what a study runs, checked as strictly as a route file.

A scenario file (studies/*.yaml) names the routes, the job run per scenario, fixed
overrides (`base`) and at most one design over override paths:

```yaml
study: li2s_price
job: optimize                      # optimize | simulate | loop | materials | a registered name
routes: [sulfide-lpscl, liquid-nmc811-graphite]
baseline: liquid-nmc811-graphite   # for crossovers (default: the route of form `liquid`)
seed: 1
options: {capacity_gwh: 10}
base: {economics.electricity_price: "0.10 USD/kWh"}
grid:
  materials.Li2S.price: ["0.5e6 CNY/t", "1e6 CNY/t", "2e6 CNY/t", "3e6 CNY/t"]
# or  one_at_a_time: {path: [low, high], ...}
# or  samples: {n: 64, seed: 7, method: latin_hypercube,
#               parameters: {path: {distribution: triangular, low: .., mode: .., high: ..}}}
```

Every scenario = one route x one design point. Its id is a hash of everything that
determines its result (route and shared data as text, job, options, overrides,
seed), so a rerun recognises finished scenarios and a changed input is a new one.
Errors name the file, line and field, what was found and what was expected.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from ..data.overrides import Overrides
from ..data.yamlio import line_of, load_yaml
from ..errors import InputError, Problem, closest
from . import designs, jobs
from .options import JobOptions, StrictModel

SHARED_FILES = ("economics", "materials", "dry_rooms")

Value = str | float | int | bool | list[str]


class DistSpec(StrictModel):
    distribution: Literal["uniform", "triangular", "normal", "lognormal"]
    low: Value | None = None
    high: Value | None = None
    mode: Value | None = None
    mean: Value | None = None
    sd: Value | None = None
    median: Value | None = None
    sigma: float | None = None  # lognormal: standard deviation of ln(x)

    _NEEDS = {"uniform": ("low", "high"), "triangular": ("low", "mode", "high"),
              "normal": ("mean", "sd"), "lognormal": ("median", "sigma")}

    @model_validator(mode="after")
    def _args(self):
        need = self._NEEDS[self.distribution]
        allowed = set(need) | ({"low", "high"} if self.distribution in ("normal", "lognormal")
                               else set())
        given = {k for k in ("low", "high", "mode", "mean", "sd", "median", "sigma")
                 if getattr(self, k) is not None}
        missing = [k for k in need if k not in given]
        if missing:
            raise ValueError(f"a {self.distribution} distribution needs {', '.join(need)}; "
                             f"missing {', '.join(missing)}")
        extra = sorted(given - allowed)
        if extra:
            raise ValueError(f"a {self.distribution} distribution takes {', '.join(sorted(allowed))}; "
                             f"remove {', '.join(extra)}")
        self.to_dist()  # numbers, units and order
        return self

    def to_dist(self) -> designs.Dist:
        names = [k for k in ("low", "mode", "high", "mean", "sd", "median")
                 if getattr(self, k) is not None]
        qs: dict[str, designs.Quantity] = {}
        for k in names:
            q = designs.split_quantity(getattr(self, k))
            if q is None:
                raise ValueError(f"{k}: expected a number or a quantity such as \"2.5e6 CNY/t\", "
                                 f"found {getattr(self, k)!r}")
            qs[k] = q
        unit = qs[names[0]].unit
        args = {k: designs.to_unit(q, unit) for k, q in qs.items()}
        for k, x in args.items():
            if not math.isfinite(x):
                raise ValueError(f"{k}: expected a finite number, found {getattr(self, k)!r}")
        if self.sigma is not None:
            if not self.sigma > 0:
                raise ValueError(f"sigma must be positive, found {self.sigma:g}")
            args["sigma"] = float(self.sigma)
        d = self.distribution
        if "low" in args and "high" in args and not args["low"] < args["high"]:
            raise ValueError(f"need low < high, found {args['low']:g} and {args['high']:g} {unit}")
        if d == "triangular" and not args["low"] <= args["mode"] <= args["high"]:
            raise ValueError("need low <= mode <= high")
        if d == "normal" and not args["sd"] > 0:
            raise ValueError(f"sd must be positive, found {args['sd']:g}")
        if d == "lognormal" and not args["median"] > 0:
            raise ValueError(f"median must be positive, found {args['median']:g}")
        return designs.Dist(d, unit, args)


MAX_SEED = 2**63 - 1  # seeds are stored as a signed 64-bit integer


def _seed(v: int | None) -> int | None:
    if v is not None and not 0 <= v <= MAX_SEED:
        raise ValueError(f"a seed is a whole number from 0 to 2**63 - 1 ({MAX_SEED}); found {v}")
    return v


class Samples(StrictModel):
    n: int = Field(ge=1, le=1_000_000)
    seed: int | None = Field(None, strict=True)  # default: the study's seed
    method: Literal["latin_hypercube", "random"] = "latin_hypercube"
    parameters: dict[str, DistSpec] = Field(min_length=1)

    _check_seed = field_validator("seed")(_seed)


class StudySpec(StrictModel):
    study: str
    description: str | None = None
    job: str = "optimize"
    routes: list[str] = Field(min_length=1)
    baseline: str | None = None
    lines: str | None = None  # data folder, relative to the scenario file
    seed: int = Field(1, strict=True)  # strict: `true` or 1.5 is not a seed
    seeds: Literal["common", "per_scenario"] = "common"
    options: JobOptions = Field(default_factory=JobOptions)
    base: dict[str, Value] = Field(default_factory=dict)
    grid: dict[str, list[Value]] | None = None
    one_at_a_time: dict[str, list[Value]] | None = None
    samples: Samples | None = None

    @field_validator("study")
    @classmethod
    def _name(cls, v):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", v):
            raise ValueError(f"a study name is letters, digits, '_', '.', '-'; found {v!r}")
        return v

    _check_seed = field_validator("seed")(_seed)

    @field_validator("job")
    @classmethod
    def _job(cls, v):
        # a name from a fixed list, never an import path: reading a file must not run code
        names = jobs.job_names()
        if v not in names:
            what = (f"{v!r} is an import path; a scenario file names a job, it does not import "
                    "one" if ":" in v or "." in v else f"unknown job {v!r}{closest(v, names)}")
            raise ValueError(f"{what}; jobs: {', '.join(names)} (a job of your own is "
                             "registered from Python: ssbfab.study.jobs.register(name, function))")
        return v

    @field_validator("routes")
    @classmethod
    def _unique(cls, v):
        dup = sorted({r for r in v if v.count(r) > 1})
        if dup:
            raise ValueError(f"route listed twice: {', '.join(dup)}")
        return v

    @field_validator("grid", "one_at_a_time")
    @classmethod
    def _values(cls, v):
        if v is not None:
            if not v:
                raise ValueError("name at least one parameter")
            for p, vals in v.items():
                if not vals:
                    raise ValueError(f"{p}: give at least one value")
        return v  # values listed twice are found by `_parameters`, which knows their lines

    @model_validator(mode="after")
    def _one_design(self):
        given = [k for k in ("grid", "one_at_a_time", "samples") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one design, found {' and '.join(given)}")
        if self.baseline is not None and self.baseline not in self.routes:
            raise ValueError(f"baseline {self.baseline!r} is not one of the routes"
                             f"{closest(self.baseline, self.routes)}")
        return self

    @property
    def design_kind(self) -> str:
        for k in ("grid", "one_at_a_time", "samples"):
            if getattr(self, k) is not None:
                return k
        return "single"


# ----------------------------------------------------------------------------- loaded study


@dataclass(frozen=True)
class Parameter:
    """A design parameter: its path, and the unit its numbers are kept in ('' if bare)."""

    path: str
    unit: str
    numeric: bool


@dataclass(frozen=True)
class Scenario:
    """One route at one design point: everything a worker needs, as plain data."""

    study: str
    scenario_id: str
    point: int
    label: str
    route: str
    job: str
    overrides: dict[str, Any]  # base + point values, path -> value as written
    numbers: dict[str, float | None]  # design parameters as numbers in their unit
    options: dict[str, Any]
    seed: int


@dataclass(frozen=True)
class Study:
    spec: StudySpec
    file: str
    lines_dir: Path
    route_paths: dict[str, Path]  # route as listed -> file
    route_forms: dict[str, str]
    texts: dict[str, str]  # relative data file name -> text (what the workers load)
    parameters: dict[str, Parameter]
    baseline: str | None
    marks: dict = field(default_factory=dict, repr=False)
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.study

    @property
    def n_points(self) -> int:
        """Design points, counted without building them (a grid can be huge)."""
        s = self.spec
        if s.grid is not None:
            return math.prod(len(v) for v in s.grid.values())
        if s.one_at_a_time is not None:
            return 1 + sum(len(v) for v in s.one_at_a_time.values())
        return s.samples.n if s.samples is not None else 1

    @property
    def n_scenarios(self) -> int:
        return self.n_points * len(self.spec.routes)

    @cached_property
    def points(self) -> list[designs.Point]:
        """The design's points, built on first use (see `n_points` to count them)."""
        s = self.spec
        if s.grid is not None:
            return designs.grid(s.grid)
        if s.one_at_a_time is not None:
            return designs.one_at_a_time(s.one_at_a_time)
        if s.samples is not None:
            dists = {p: d.to_dist() for p, d in s.samples.parameters.items()}
            seed = s.seed if s.samples.seed is None else s.samples.seed
            return designs.sample(dists, s.samples.n, seed, s.samples.method)
        return [designs.Point(0, {}, "base")]

    def overrides(self, values: dict[str, Any]) -> Overrides:
        lines = {p: line_of(self.marks, self._where(p)) for p in values}
        return Overrides(values, file=self.file, study=self.name,
                         lines={p: n for p, n in lines.items() if n})

    def _where(self, path: str) -> tuple:
        s = self.spec
        if path in s.base:
            return ("base", path)
        kind = s.design_kind
        return (kind, "parameters", path) if kind == "samples" else (kind, path)

    def data_hash(self, route: str) -> str:
        """Hash of the texts a scenario of `route` reads (its route and the shared files)."""
        h = hashlib.sha256()
        for name in (*[f"{k}.yaml" for k in SHARED_FILES], route_key(route)):
            h.update(name.encode() + b"\0" + self.texts[name].encode() + b"\0")
        return h.hexdigest()

    def scenarios(self) -> list[Scenario]:
        """Every route x design point, in design order."""
        out = []
        options = self.spec.options.model_dump(exclude_defaults=True)
        hashes = {r: self.data_hash(r) for r in self.spec.routes}
        for pt in self.points:
            values = {**self.spec.base, **pt.values}
            nums = {}
            for p, par in self.parameters.items():
                q = designs.split_quantity(pt.values.get(p)) if p in pt.values else None
                nums[p] = designs.to_unit(q, par.unit) if (q is not None and par.numeric) else None
            for route in self.spec.routes:
                content = {"route": route, "data": hashes[route], "job": self.spec.job,
                           "options": options, "overrides": values,
                           "seed": self.spec.seed, "seeds": self.spec.seeds}
                digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str)
                                        .encode()).hexdigest()
                seed = self.spec.seed
                if self.spec.seeds == "per_scenario":
                    # from the content, not the position: adding a point changes no other seed
                    seed = int(digest[:8], 16)
                out.append(Scenario(self.name, digest[:16], pt.index, pt.label, route,
                                    self.spec.job, values, nums, options, seed))
        return out

    def to_dict(self) -> dict:
        """What the store keeps about the study (for summaries)."""
        return {"study": self.name, "file": self.file, "job": self.spec.job,
                "design": self.spec.design_kind, "routes": list(self.spec.routes),
                "forms": self.route_forms, "baseline": self.baseline,
                "parameters": {p: {"unit": q.unit, "numeric": q.numeric}
                               for p, q in self.parameters.items()},
                "base": dict(self.spec.base), "spec": self.spec.model_dump(mode="json"),
                "data_hashes": {r: self.data_hash(r) for r in self.spec.routes}}


def route_key(route: str) -> str:
    """Name of a route's file among the texts shipped to workers."""
    return f"routes/{Path(route).stem}.yaml"


def load_study(path: str | Path) -> Study:
    """Read and check a scenario file against the data it names (exit 2 on problems)."""
    from ..data import loader as specmod

    path = Path(path)
    file = str(path)
    raw, marks = load_yaml(path)
    if not isinstance(raw, dict):
        raise InputError(Problem(file, 1, "", "expected a mapping with `study:`, `routes:` ..."))
    try:
        spec = StudySpec.model_validate(raw)
    except ValidationError as exc:
        raise InputError(_problems(exc, file, marks)) from None

    def bad(loc: tuple, msg: str) -> Problem:
        return Problem(file, line_of(marks, loc), ".".join(map(str, loc)), msg)

    lines_dir = (path.parent / spec.lines) if spec.lines else specmod.default_lines_dir()
    if not (lines_dir / "economics.yaml").exists():
        raise InputError(bad(("lines",), f"no economics.yaml in the data folder {lines_dir}"))
    shared = specmod.load_shared(lines_dir)
    texts = {f"{k}.yaml": (lines_dir / f"{k}.yaml").read_text(encoding="utf-8")
             for k in SHARED_FILES}
    problems: list[Problem] = []
    # route_files refuses a folder without routes: ask it only when a route is named
    by_name = any(Path(r).suffix not in (".yaml", ".yml") for r in spec.routes)
    known = {f.stem: f for f in specmod.route_files(lines_dir)} if by_name else {}
    route_paths: dict[str, Path] = {}
    for i, r in enumerate(spec.routes):
        p = Path(r)
        if p.suffix in (".yaml", ".yml"):
            p = p if p.is_absolute() else path.parent / p
            if not p.exists():
                problems.append(bad(("routes", i), f"route file {r!r} not found (looked at {p})"))
                continue
        elif r in known:
            p = known[r]
        else:
            problems.append(bad(("routes", i), f"no route named {r!r}{closest(r, known)}; "
                                               f"routes in {lines_dir}: {', '.join(sorted(known))}"))
            continue
        route_paths[r] = p
    keys = [route_key(r) for r in route_paths]
    if len(set(keys)) != len(keys):
        problems.append(bad(("routes",), "two routes have the same file name"))
    need = jobs.NEEDS.get(spec.job)
    if need is not None and importlib.util.find_spec(need) is None:
        problems.append(bad(("job",), f"job {spec.job!r} needs {need}, which this "
                                      "installation does not have yet"))
    dpc = spec.options.dew_point_class
    classes = [c.name for c in shared.dry_rooms.classes]
    if dpc is not None and dpc not in classes:
        problems.append(bad(("options", "dew_point_class"),
                            f"unknown dry-room class {dpc!r}{closest(dpc, classes)}; known: "
                            f"{', '.join(classes)}"))
    if problems:
        raise InputError(problems)

    # the data each route reads, loaded once here so that a typo fails now, not per row
    raw_routes: dict[str, dict] = {}
    forms: dict[str, str] = {}
    for r, p in route_paths.items():
        route = specmod.load_route(p, shared=shared, lines_dir=lines_dir)
        forms[r] = route.form
        texts[route_key(r)] = p.read_text(encoding="utf-8")
        raw_routes[r], _ = load_yaml(p)

    parameters = _parameters(spec, file, marks)
    baseline = spec.baseline or next((r for r in spec.routes if forms[r] == "liquid"), None)
    study = Study(spec, file, lines_dir, route_paths, forms, texts, parameters, baseline, marks)
    warnings = _check_paths(study, shared, raw_routes)
    return Study(spec, file, lines_dir, route_paths, forms, texts, parameters, baseline, marks,
                 warnings)


def _parameters(spec: StudySpec, file: str, marks) -> dict[str, Parameter]:
    """The design's parameters with the unit their numbers are kept in; values listed
    twice, also after unit conversion ("1 kg" and "1000 g"), are errors at their line."""
    kind = spec.design_kind
    problems = []
    params: dict[str, Parameter] = {}
    if kind in ("grid", "one_at_a_time"):
        for p, vals in getattr(spec, kind).items():
            try:
                nums, unit = designs.numbers(vals)
            except ValueError as exc:
                problems.append(Problem(file, line_of(marks, (kind, p)), f"{kind}.{p}", str(exc)))
                continue
            params[p] = Parameter(p, unit, nums is not None)
            problems += _listed_twice(vals, nums, unit, file, marks, (kind, p))
    elif kind == "samples":
        assert spec.samples is not None  # design_kind says so
        for p, d in spec.samples.parameters.items():
            params[p] = Parameter(p, d.to_dist().unit, True)
    for p in sorted(set(params) & set(spec.base)):
        problems.append(Problem(file, line_of(marks, ("base", p)), f"base.{p}",
                                f"{p} is also a design parameter; set it in one place"))
    if problems:
        raise InputError(problems)
    return params


def _listed_twice(vals: list, nums: list[float] | None, unit: str, file: str, marks,
                  loc: tuple) -> list[Problem]:
    first: dict[Any, int] = {}
    out = []
    for j, v in enumerate(vals):
        # numbers compared to 12 significant digits: unit factors are not exact in binary
        key = float(f"{nums[j]:.12g}") if nums is not None else json.dumps(v, sort_keys=True)
        i = first.setdefault(key, j)
        if i == j:
            continue
        same = (f"equals {vals[i]!r} (value {i + 1}) after unit conversion, both "
                f"{nums[j]:.12g}{' ' + unit if unit else ''}" if nums is not None and vals[i] != v
                else f"is also value {i + 1}")
        out.append(Problem(file, line_of(marks, (*loc, j)), ".".join(loc),
                           f"value listed twice: {v!r} {same}; give each value once"))
    return out


def _check_paths(study: Study, shared, raw_routes: dict[str, dict]) -> list[str]:
    """Unknown override paths: an error when no route knows the path (a typo), a
    warning when only some do (those scenarios will fail with the reason)."""
    spec = study.spec
    paths: dict[str, Any] = dict(spec.base)
    for p in study.parameters:
        paths[p] = _first_value(spec, p)
    ov = study.overrides(paths)
    shared_raw = {k: load_yaml(study.lines_dir / f"{k}.yaml")[0] for k in SHARED_FILES}
    files = {k: str(study.lines_dir / f"{k}.yaml") for k in SHARED_FILES}
    problems = ov.check(shared_raw, files)
    bad_shared = {p.field for p in problems}
    per_route: dict[str, list[Problem]] = {}
    for r, raw in raw_routes.items():
        for prob in ov.check({"route": raw}, {"route": str(study.route_paths[r])}, shared):
            if prob.field not in bad_shared:
                per_route.setdefault(prob.field, []).append(prob)
    warnings = []
    for path, probs in per_route.items():
        if len(probs) == len(raw_routes):
            problems.append(probs[0])
        else:
            warnings.append(f"{path}: " + "; ".join(p.message for p in probs)
                            + " - those scenarios will be recorded as failed")
    if problems:
        raise InputError(problems)
    return warnings


def _first_value(spec: StudySpec, path: str) -> Any:
    if spec.grid and path in spec.grid:
        return spec.grid[path][0]
    if spec.one_at_a_time and path in spec.one_at_a_time:
        return spec.one_at_a_time[path][0]
    assert spec.samples is not None  # a parameter comes from grid, one_at_a_time or samples
    d = spec.samples.parameters[path]
    return next(getattr(d, k) for k in ("low", "mode", "mean", "median", "high")
                if getattr(d, k) is not None)


# the member a value of type `Value` failed to be, as pydantic names it in a location
_UNION_MEMBERS = {"str", "float", "int", "bool"}


def _problems(exc: ValidationError, file: str, marks) -> list[Problem]:
    out = []
    union: dict[tuple, list[ErrorDetails]] = {}
    for err in exc.errors():
        if any(isinstance(x, str) and ("[" in x or x in _UNION_MEMBERS) for x in err["loc"]):
            # a value that is none of a union's members: one message, not one per member
            base = tuple(x for x in err["loc"]
                         if not (isinstance(x, str) and ("[" in x or x in _UNION_MEMBERS)))
            union.setdefault(base, []).append(err)
            continue
        out.append(_problem(err, tuple(err["loc"]), file, marks))
    for loc, errs in union.items():
        found = repr(errs[0].get("input"))
        what = ("a finite number" if any("finite" in e["msg"] for e in errs) else
                'a number, a quantity such as "2.5e6 CNY/t", true/false or a list of names')
        out.append(Problem(file, line_of(marks, loc), ".".join(map(str, loc)),
                           f"expected {what}; found {found[:80]}"))
    return out


def _problem(err: ErrorDetails, loc: tuple, file: str, marks) -> Problem:
    """One pydantic error as a Problem at its line, with the closest valid key."""
    msg = err["msg"].removeprefix("Value error, ")
    key = str(loc[-1]) if loc else ""
    if err["type"] == "extra_forbidden":
        valid = _valid_keys(loc[:-1])
        msg = f"unknown key {key!r}{closest(key, valid)}; expected one of: {', '.join(valid)}"
    elif err["type"] == "missing":
        msg = f"required field {key!r} is missing"
    elif err["type"] not in ("value_error", "assertion_error") and "input" in err:
        found = repr(err["input"])
        msg = f"{msg}; found {found if len(found) < 80 else found[:80] + ' ...'}"
    return Problem(file, line_of(marks, loc), ".".join(map(str, loc)), msg)


def _valid_keys(loc: tuple) -> list[str]:
    """Keys allowed in the mapping at `loc` of a scenario file."""
    from ..data.overrides import _shape

    shape: tuple[str, Any] = ("model", StudySpec)
    for part in loc:
        if shape[0] == "model":
            fi = shape[1].model_fields.get(part)
            if fi is None:
                return []
            shape = _shape(fi.annotation)
        elif shape[0] in ("dict", "list") and shape[1] is not None:
            shape = ("model", shape[1])
        else:
            return []
    return sorted(shape[1].model_fields) if shape[0] == "model" else []
