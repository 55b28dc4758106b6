"""Loading data files: a route file plus the shared files (materials, dry rooms,
economics) into a checked `Route`; any ssbfab data file for `ssbfab validate`.

Loading runs in two phases: the schema (pydantic) checks shape, units and ranges;
`checks.check_route` then checks what needs the whole picture; every source key a
`source:` cites (`[key]`) must be an entry of the bibliography (`bibliography`). All
report file, line, field, what was found and what was expected, through `SpecError`."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from ..errors import Problem, SpecError, closest, shorten
from .bibliography import check_citations
from .checks import _check_recipes, check_route
from .problems import _validation_problems
from .schema import RATES, RATES_BY_YEAR, DryRooms, Economics, Material, Route, SharedData
from .sources import _unwrap_sources
from .yamlio import line_of, load_yaml

# ----------------------------------------------------------------------------- loading

DATA_DIR_ENV = "SSBFAB_LINES"


def default_lines_dir() -> Path:
    """The `lines/` folder: $SSBFAB_LINES, else the checkout's lines/ beside src/."""
    import os

    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "lines" / "materials.yaml").exists():
            return parent / "lines"
    return Path.cwd() / "lines"


def _read(path: Path, problems_ok: bool = False, overrides=None, kind: str = "route",
          shared=None):
    data, marks = load_yaml(path)
    if not isinstance(data, dict):
        raise SpecError(Problem(str(path), 1, "", f"expected a mapping at the top level, found {type(data).__name__}"))
    if overrides:
        # a study's overrides edit the raw data, so they pass the same checks as typed values
        data = overrides.apply(kind, data, str(path), shared)
    return data, marks


def _as_overrides(x):
    """None, or a study's `Overrides` (a plain {dotted.path: value} mapping is converted)."""
    if x is None:
        return None
    from .overrides import as_overrides

    return as_overrides(x)




def load_shared(lines_dir: str | Path | None = None, overrides=None) -> SharedData:
    """Load lines/materials.yaml, dry_rooms.yaml and economics.yaml.

    `overrides` ({"materials.Li2S.price": "1e6 CNY/t", ...}, see ssbfab.study.overrides)
    replace values of these files before validation."""
    d = Path(lines_dir) if lines_dir else default_lines_dir()
    files = {k: d / f"{k}.yaml" for k in ("economics", "materials", "dry_rooms")}
    return _load_shared_files(files, _as_overrides(overrides))


def _load_shared_files(files: dict[str, Path], overrides=None) -> SharedData:
    problems: list[Problem] = []
    econ_raw, econ_marks = _read(files["economics"], overrides=overrides, kind="economics")
    problems.extend(check_citations(econ_raw, str(files["economics"]), econ_marks))
    economics = _validate_or_collect(Economics, econ_raw, str(files["economics"]), econ_marks, problems)
    if economics is None:
        # the other files' prices are read through its exchange rates: without them every
        # foreign price would be reported as a currency without a rate
        raise SpecError(problems)
    # every other file's prices are read through this data set's own exchange rates
    rates = rate_context(economics)
    mat_raw, mat_marks = _read(files["materials"], overrides=overrides, kind="materials")
    problems.extend(check_citations(mat_raw, str(files["materials"]), mat_marks))
    materials = None
    if "materials" not in mat_raw or not isinstance(mat_raw["materials"], dict):
        problems.append(Problem(str(files["materials"]), 1, "materials", "expected a mapping `materials:`"))
    else:
        extra = set(mat_raw) - {"materials", "source", "description"}
        for k in extra:
            problems.append(Problem(str(files["materials"]), line_of(mat_marks, (k,)), k,
                                    "unknown key; expected `materials`"))
        materials = {}
        for name, m in mat_raw["materials"].items():
            obj = _validate_or_collect(Material, m, str(files["materials"]), mat_marks, problems,
                                       root=("materials", name), inherit=mat_raw.get("source"),
                                       context=rates)
            if obj is not None:
                materials[name] = obj
    dry_raw, dry_marks = _read(files["dry_rooms"], overrides=overrides, kind="dry_rooms")
    problems.extend(check_citations(dry_raw, str(files["dry_rooms"]), dry_marks))
    dry = _validate_or_collect(DryRooms, dry_raw, str(files["dry_rooms"]), dry_marks, problems,
                               context=rates)
    if problems:
        raise SpecError(problems)
    if materials is not None:
        _check_recipes(materials, str(files["materials"]), mat_marks)
    return SharedData(materials=materials, dry_rooms=dry, economics=economics,
                      files={k: str(v) for k, v in files.items()})


def rate_context(economics: Economics) -> dict:
    """The validation context that converts prices: the currency year's rates, and the
    rates of every year a dated price may use (its own year's)."""
    by_year = {**economics.currency_rates_by_year,
               economics.currency_year: economics.currency_rates}
    return {RATES: economics.currency_rates, RATES_BY_YEAR: by_year}


def _validate_or_collect(model, raw, file, marks, problems, root=(), inherit=None, context=None):
    sources: dict[str, str] = {}
    local: list[Problem] = []
    clean = _unwrap_sources(raw, root, inherit, file, marks, sources, local)
    problems.extend(local)
    try:
        return model.model_validate(clean, context=context)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, file, marks, root, model=model, data=clean))
        return None


def load_route(path: str | Path, shared: SharedData | None = None,
               lines_dir: str | Path | None = None, overrides=None) -> Route:
    """Load and fully check one route (or bare line) file.

    `overrides` (dotted path -> value) replace values before validation; paths into
    the shared files apply only when this call loads them (`shared` is None)."""
    overrides = _as_overrides(overrides)
    shared = shared or load_shared(lines_dir, overrides)
    path = Path(path)
    raw, marks = _read(path, overrides=overrides, kind="route", shared=shared)
    file = str(path)
    problems: list[Problem] = check_citations(raw, file, marks)
    sources: dict[str, str] = {}
    clean = _unwrap_sources(raw, (), None, file, marks, sources, problems)
    route = None
    try:
        route = Route.model_validate(clean, context=rate_context(shared.economics))
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, file, marks, model=Route, data=clean))
    if problems:
        raise SpecError(problems)
    assert route is not None  # a failed validation leaves problems
    route._file = file
    route._marks = marks
    route._shared = shared
    route._sources = sources
    check_route(route)
    # make or buy: the route runs each material's first supply option until the
    # optimiser chooses (`Route.with_supply`); `route.full` keeps every option
    return route.with_supply() if route.supply else route


def route_files(lines_dir: str | Path | None = None) -> list[Path]:
    """The route files of a lines folder (its routes/*.yaml); SpecError if it has none:
    listing "no routes" for a wrong folder would pass for a successful run."""
    d = Path(lines_dir) if lines_dir else default_lines_dir()
    folder = d / "routes"
    if not folder.is_dir():
        raise SpecError(Problem(str(d), None, "", "the folder has no routes/ subfolder; expected "
                                "a lines folder with routes/<name>.yaml and the shared files "
                                "(materials.yaml, dry_rooms.yaml, economics.yaml)"))
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise SpecError(Problem(str(folder), None, "", "no route files (*.yaml) in the folder; "
                                "expected at least one route"))
    return files


def resolve_route(name_or_path: str, lines_dir: str | Path | None = None,
                  shared: SharedData | None = None, overrides=None) -> Route:
    """A route by its name (a file in lines/routes/) or by a path to a route file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return load_route(p, shared=shared, lines_dir=lines_dir, overrides=overrides)
    files = {f.stem: f for f in route_files(lines_dir)}
    if name_or_path not in files:
        raise SpecError(Problem(name_or_path, None, "route",
                                f"no route named {shorten(name_or_path)}{closest(name_or_path, files)}; "
                                f"shipped routes: {', '.join(sorted(files))}"))
    return load_route(files[name_or_path], shared=shared, lines_dir=lines_dir,
                      overrides=overrides)


def load_any(path: str | Path, lines_dir: str | Path | None = None) -> str:
    """Validate any ssbfab data file; return what kind it was. Used by `ssbfab validate`."""
    path = Path(path)
    raw, marks = _read(path)
    d = Path(lines_dir) if lines_dir else default_lines_dir()
    if {"line", "cell", "plant", "form"} & set(raw):
        load_route(path, lines_dir=d)
        return "route"
    files = {k: d / f"{k}.yaml" for k in ("economics", "materials", "dry_rooms")}
    if "materials" in raw:
        files["materials"] = path
        _load_shared_files(files)
        return "materials"
    if "classes" in raw:
        files["dry_rooms"] = path
        _load_shared_files(files)
        return "dry_rooms"
    if "conversions" in raw:
        from .reuse import load_reuse

        shared = load_shared(d)
        load_reuse(path, {f.stem: load_route(f, shared=shared) for f in route_files(d)})
        return "reuse"
    if "volumes" in raw and "routes" in raw:  # lines/batpac5_scaling.yaml
        from ..scaled import check_file

        shared = load_shared(d)
        check_file(path, [load_route(f, shared=shared) for f in route_files(d)])
        return "batpac5_scaling"
    if "currency_rates" in raw:
        files["economics"] = path
        _load_shared_files(files)
        return "economics"
    raise SpecError(Problem(str(path), 1, "", "not an ssbfab file: expected a route (with `line:`), "
                            "materials (`materials:`), dry rooms (`classes:`) or economics "
                            "(`currency_rates:`), a reuse table (`conversions:`) or a BatPaC "
                            "scaling table (`volumes:` and `routes:`)"))
