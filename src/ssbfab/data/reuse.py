"""The equipment reuse table (lines/reuse.yaml): which machines of one route a line of
another route can reuse when it is converted, at what retrofit cost and downtime. Checked
against the routes it names (their steps must exist; a machine is reused at most once)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError, field_validator, model_validator

from ..errors import Problem, SpecError, closest
from .problems import _validation_problems
from .schema import Fraction, Route, Strict, Years, _range
from .sources import _unwrap_sources
from .yamlio import line_of, load_yaml


class _FromKey(Strict):
    """A record with a `from:` key (a Python keyword), read into the field `from_`."""

    @model_validator(mode="before")
    @classmethod
    def _alias(cls, v):
        if isinstance(v, dict) and "from" in v:
            v = {("from_" if k == "from" else k): x for k, x in v.items()}
        return v


class StepReuse(_FromKey):
    from_: str  # the old route's step whose machines the new step reuses
    share: Fraction  # share of the new step's equipment value the old machines cover

    model_config = {**Strict.model_config}
    _frac = _range("share", strict=False, high=1.0)


class Conversion(_FromKey):
    """Converting a line of route `from` into a line of route `to` (same size)."""

    from_: str
    to: str
    downtime: Years  # the line produces nothing for this long
    retrofit: Fraction  # paid to adapt reused machines, as a share of their value
    building: Fraction = 1.0  # share of the building (and dry-room shell) reused
    dry_room: Fraction = 0.0  # share of the dry-room plant reused
    steps: dict[str, StepReuse]

    _frac = _range("building", "dry_room", strict=False, high=1.0)

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
