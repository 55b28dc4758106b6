"""Loading a roadmap file and the equipment reuse table, with the checks that need the
routes' own data (which route qualifies for which segment, step names in the reuse
table). Every problem names file, line and field; the CLI exits 2."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator, model_validator

from ..data.loader import default_lines_dir, load_shared, resolve_route, route_files
from ..data.problems import _validation_problems
from ..data.schema import FieldProblem, Fraction, Route, Strict, Years, _range
from ..data.sources import _unwrap_sources
from ..data.yamlio import line_of, load_yaml
from ..errors import Problem, SpecError, closest
from .schema import Roadmap, interpolate


class StepReuse(Strict):
    from_: str  # the old route's step whose machines the new step reuses
    share: Fraction  # share of the new step's equipment value the old machines cover

    model_config = {**Strict.model_config}
    _frac = _range("share", strict=False, high=1.0)

    @model_validator(mode="before")
    @classmethod
    def _alias(cls, v):
        if isinstance(v, dict) and "from" in v:
            v = {("from_" if k == "from" else k): x for k, x in v.items()}
        return v


class Conversion(Strict):
    """Converting a line of route `from` into a line of route `to` (same size)."""

    from_: str
    to: str
    downtime: Years  # the line produces nothing for this long
    retrofit: Fraction  # paid to adapt reused machines, as a share of their value
    building: Fraction = 1.0  # share of the building (and dry-room shell) reused
    dry_room: Fraction = 0.0  # share of the dry-room plant reused
    steps: dict[str, StepReuse]

    _frac = _range("building", "dry_room", strict=False, high=1.0)

    @model_validator(mode="before")
    @classmethod
    def _alias(cls, v):
        if isinstance(v, dict) and "from" in v:
            v = {("from_" if k == "from" else k): x for k, x in v.items()}
        return v

    @field_validator("retrofit")
    @classmethod
    def _retrofit(cls, v):
        if not 0 <= v < 1:
            raise ValueError(f"expected a share in [0, 100 %) of the reused value, found {v:.0%}")
        return v

    @field_validator("steps")
    @classmethod
    def _once(cls, v):
        seen: dict[str, str] = {}
        for to_step, r in v.items():
            if r.from_ in seen:
                raise ValueError(f"old step {r.from_!r} is reused by both {seen[r.from_]!r} and "
                                 f"{to_step!r}; a machine can be reused once")
            seen[r.from_] = to_step
        return v


class ReuseTable(Strict):
    description: str | None = None
    conversions: list[Conversion]


@dataclass(frozen=True)
class LoadedRoadmap:
    roadmap: Roadmap
    file: str
    marks: dict
    routes: dict[str, Route]
    conversions: dict[tuple[str, str], Conversion]
    qualifies: dict[tuple[str, str], bool]  # (route, segment) -> the cell meets the segment
    reuse_file: str

    def line(self, *path: Any) -> int | None:
        return line_of(self.marks, path)


def _validate(model, path: Path, what: str):
    raw, marks = load_yaml(path)
    file = str(path)
    if not isinstance(raw, dict):
        raise SpecError(Problem(file, 1, "", f"expected a mapping ({what}) at the top level"))
    problems: list[Problem] = []
    sources: dict[str, str] = {}
    clean = _unwrap_sources(raw, (), None, file, marks, sources, problems)
    obj = None
    try:
        obj = model.model_validate(clean)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, file, marks, model=model, data=clean))
    if problems:
        raise SpecError(problems)
    return obj, marks


def load_reuse(path: str | Path, routes: dict[str, Route]) -> dict[tuple[str, str], Conversion]:
    """The reuse table, checked against the routes it names (steps must exist)."""
    path = Path(path)
    table, marks = _validate(ReuseTable, path, "a reuse table with `conversions:`")
    file = str(path)
    problems: list[Problem] = []
    out: dict[tuple[str, str], Conversion] = {}
    for i, c in enumerate(table.conversions):
        if c.from_ not in routes or c.to not in routes:
            continue  # a conversion between routes the roadmap does not use is ignored
        old = {s.name for s in routes[c.from_].line}
        new = {s.name for s in routes[c.to].line}
        for to_step, r in c.steps.items():
            if to_step not in new:
                problems.append(Problem(file, line_of(marks, ("conversions", i, "steps", to_step)),
                                        f"conversions.{i}.steps.{to_step}",
                                        f"route {c.to!r} has no step {to_step!r}"
                                        f"{closest(to_step, new)}"))
            if r.from_ not in old:
                problems.append(Problem(
                    file, line_of(marks, ("conversions", i, "steps", to_step, "from")),
                    f"conversions.{i}.steps.{to_step}.from",
                    f"route {c.from_!r} has no step {r.from_!r}{closest(r.from_, old)}"))
        if (c.from_, c.to) in out:
            problems.append(Problem(file, line_of(marks, ("conversions", i)), f"conversions.{i}",
                                    f"a second conversion {c.from_} -> {c.to}"))
        out[(c.from_, c.to)] = c
    if problems:
        raise SpecError(problems)
    return out


def _qualifies(route: Route, seg) -> bool:
    from ..cell import design

    cell = design(route)
    req = seg.requires
    if cell.wh_per_kg < req.min_wh_per_kg or cell.wh_per_l < req.min_wh_per_l:
        return False
    return not (req.no_liquid and route.form in ("liquid", "semi-solid"))


def load_roadmap(path: str | Path) -> LoadedRoadmap:
    """Load and check a roadmap file (see docs/roadmap.md for its fields)."""
    path = Path(path)
    raw, _ = load_yaml(path)
    folder = raw.get("lines") if isinstance(raw, dict) else None
    lines_dir = (path.parent / folder) if isinstance(folder, str) else default_lines_dir()
    # the shared data first: prices in the roadmap are read with its currency rates
    shared = load_shared(lines_dir)
    rm, marks = _validate(Roadmap, path, "a roadmap")
    file = str(path)
    problems: list[Problem] = []

    def bad(loc: tuple, msg: str) -> None:
        problems.append(Problem(file, line_of(marks, loc), ".".join(map(str, loc)), msg))

    shipped = {f.stem for f in route_files(lines_dir)}
    routes: dict[str, Route] = {}
    for name in rm.routes:
        if name not in shipped:
            bad(("routes", name), f"unknown route {name!r}{closest(name, shipped)}; routes in "
                                  f"{lines_dir}/routes: {', '.join(sorted(shipped))}")
            continue
        routes[name] = resolve_route(name, lines_dir, shared=shared)
    for i, o in enumerate(rm.owned):
        if o.route not in rm.routes:
            bad(("owned", i, "route"), f"owned route {o.route!r} is not under `routes:`"
                                       f"{closest(o.route, rm.routes)}")
        if o.built > rm.periods.start:
            bad(("owned", i, "built"), f"an owned line built in {o.built}, after the roadmap "
                                       f"starts ({rm.periods.start}); expected a past year")
    if problems:
        raise SpecError(problems)
    qualifies = {(r, g): _qualifies(routes[r], seg) for r in routes for g, seg in
                 rm.segments.items()}
    years = rm.periods.years
    for g, seg in rm.segments.items():
        able = [r for r in routes if qualifies[(r, g)]]
        if not able:
            bad(("segments", g, "requires"),
                f"no route qualifies for segment {g!r} (needs "
                f"{seg.requires.min_wh_per_kg:g} Wh/kg, {seg.requires.min_wh_per_l:g} Wh/L"
                f"{', no liquid' if seg.requires.no_liquid else ''}); the routes reach: "
                + ", ".join(f"{r} {_cellinfo(routes[r])}" for r in routes))
            continue
        owned_able = any(o.route in able for o in rm.owned)
        first = min(rm.routes[r].pilot_from + math.ceil(rm.routes[r].lead_time - 1e-9)
                    for r in able)
        for y in years:
            if y < first and interpolate(seg.demand, y) > 0 and not owned_able:
                bad(("segments", g, "demand"),
                    f"demand of {interpolate(seg.demand, y):g} GWh/yr in {y}, before any "
                    f"qualifying route can produce (first in {first}: "
                    f"{', '.join(able)}); expected no demand before {first}")
                break
    mats = set().union(*(r.all_materials for r in routes.values())) if routes else set()
    for m in rm.prices:
        if m not in mats:
            bad(("prices", m), f"unknown material {m!r}{closest(m, mats)}")
    for name, entry in rm.routes.items():
        if rm.learning_mode != "none" and entry.learning is not None and \
                rm.learning_mode == "exogenous" and not entry.learning.path:
            bad(("routes", name, "learning", "path"),
                "exogenous learning needs the route's cumulative output by year (`path`)")
    if problems:
        raise SpecError(problems)
    reuse_file = Path(rm.reuse) if rm.reuse else lines_dir / "reuse.yaml"
    if rm.reuse and not reuse_file.is_absolute():
        reuse_file = path.parent / reuse_file
    conversions = load_reuse(reuse_file, routes) if reuse_file.exists() else {}
    return LoadedRoadmap(rm, file, marks, routes, conversions, qualifies, str(reuse_file))


def _cellinfo(route: Route) -> str:
    from ..cell import design

    c = design(route)
    return f"({c.wh_per_kg:.0f} Wh/kg, {c.wh_per_l:.0f} Wh/L, {route.form})"


__all__ = ["load_roadmap", "load_reuse", "LoadedRoadmap", "Conversion", "FieldProblem"]
