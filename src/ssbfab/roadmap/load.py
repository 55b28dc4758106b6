"""Loading a roadmap file, with the checks that need the routes' own data (which route
qualifies for which segment); the reuse table is `ssbfab.data.reuse`. Every problem names file, line and field; the CLI exits 2."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.loader import default_lines_dir, load_shared, resolve_route, route_files
from ..data.reuse import Conversion, _validate, load_reuse
from ..data.schema import FieldProblem, Route, _parse_price
from ..data.yamlio import line_of, load_yaml
from ..errors import Problem, SpecError, closest
from .schema import Roadmap, interpolate


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
    for m, path_ in rm.prices.items():
        if m not in mats:
            bad(("prices", m), f"unknown material {m!r}{closest(m, mats)}")
        for year, text in path_.items():
            try:
                value, _ = _parse_price(text, shared.economics.currency_rates)
            except ValueError as exc:
                bad(("prices", m, year), str(exc))
                continue
            if value < 0:
                bad(("prices", m, year), "a price must not be negative")
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
