"""Parameter overrides by dotted path into the route and shared data.

A study changes inputs such as `materials.Li2S.price: "0.5e6 CNY/t"` or
`line.cathode_coating.levels.standard.yield: "92 %"`. Overrides are applied to the
*raw* YAML data before validation, so an overridden value goes through exactly the
same unit parsing and range checks as a value typed into the file; nothing in the
simulator or optimiser needs to know that a value was overridden.

Where a path points:

- `economics.<field>...`  → lines/economics.yaml (path relative to the file's root;
  `economics.currency_rates.CNY: "0.14 USD"` re-prices everything quoted in CNY)
- `dry_rooms.<field>...`  → lines/dry_rooms.yaml (`dry_rooms.classes.dp-60.power`)
- `materials.<name>.<field>` → lines/materials.yaml, and also the route's own
  `materials:` entry when the route overrides that field (otherwise the route's
  value would silently win over the study's)
- anything else → the route file (`plant.floor_area`, `line.<step>.<field>`,
  `cell.cathode.thickness`, `dry_room_classes`).

Items of a list are addressed by their `name` (`line.cathode_coating`,
`levels.standard`, `options.slot_die_coater`) or by their index. An unknown path is
an `OverrideError` naming the path and the closest valid key.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ..errors import InputError, Problem, closest

SHARED_KINDS = ("economics", "materials", "dry_rooms")
_META_KEYS = ("source", "note")
# Paths a study may not change, and why (said in the error).
_FORBIDDEN = {
    "name": "names tie the data together (steps, options, levels, classes); override "
            "the fields of the item instead",
}


class OverrideError(InputError):
    """An override path that does not exist, or a value that cannot replace the old one."""


@dataclass(frozen=True)
class Overrides:
    """Dotted path -> new value, as it would be written in the YAML file.

    `file` and `study` say where the overrides come from: they become the `source:`
    of every overridden number, and `lines` (path -> line in `file`) lets an error
    point at the line of the scenario file that set the path.
    """

    values: Mapping[str, Any]
    file: str = ""
    study: str = ""
    lines: Mapping[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.values)

    @staticmethod
    def kind_of(path: str) -> str:
        """'economics', 'materials', 'dry_rooms' or 'route': which file a path edits."""
        head = path.split(".", 1)[0]
        return head if head in SHARED_KINDS else "route"

    @property
    def shared_paths(self) -> dict[str, Any]:
        return {p: v for p, v in self.values.items() if self.kind_of(p) != "route"}

    def apply(self, kind: str, raw: dict, file: str, shared=None) -> dict:
        """Return a copy of one file's raw data with the overrides for that file set.

        `kind` is 'economics', 'materials', 'dry_rooms' or 'route'; for a route,
        `shared` (a loaded `SharedData`) tells which materials the shared file holds.
        """
        mine = [(p, v) for p, v in self.values.items() if self._targets(p, kind)]
        if not mine:
            return raw
        out = copy.deepcopy(raw)
        problems: list[Problem] = []
        for path, value in mine:
            try:
                _apply_one(out, kind, path, value, self._source(path), shared)
            except _PathError as exc:
                problems.append(Problem(self.file or "<overrides>", self.lines.get(path), path,
                                        f"{exc} (in {file})"))
        if problems:
            raise OverrideError(problems)
        return out

    def check(self, raws: Mapping[str, dict], files: Mapping[str, str], shared=None) -> list[Problem]:
        """Problems of every path against the given raw files (kind -> raw data)."""
        problems: list[Problem] = []
        for kind, raw in raws.items():
            try:
                self.apply(kind, raw, files.get(kind, kind), shared)
            except OverrideError as exc:
                problems.extend(exc.problems)
        return problems

    def _source(self, path: str) -> str:
        where = self.file + (f" line {self.lines[path]}" if path in self.lines else "")
        who = f"study {self.study}" if self.study else "override"
        return f"{who} ({where})" if where else who

    def _targets(self, path: str, kind: str) -> bool:
        k = self.kind_of(path)
        return k == kind or (kind == "route" and k == "materials")


class _PathError(Exception):
    pass


# ----------------------------------------------------------------------------- the walk


def _root_model(kind: str):
    from . import schema as spec

    class MaterialsFile(BaseModel):
        materials: dict[str, spec.Material]

    return {"economics": spec.Economics, "dry_rooms": spec.DryRooms,
            "materials": MaterialsFile, "route": spec.Route}[kind]


def _shape(annotation) -> tuple[str, Any]:
    """('model', M), ('dict', M|None), ('list', M|None) or ('leaf', None)."""
    ann = annotation
    while True:
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            ann = typing.get_args(ann)[0]
            continue
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            ann = models[0] if models else args[0]
            if len(args) > 1 and not models:
                return "leaf", None
            continue
        break
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "model", ann
    origin = typing.get_origin(ann)
    if origin is dict:
        inner = typing.get_args(ann)[1]
        s = _shape(inner)
        return "dict", s[1] if s[0] == "model" else None
    if origin is list:
        s = _shape(typing.get_args(ann)[0])
        return "list", s[1] if s[0] == "model" else None
    return "leaf", None


def _fields(model) -> dict[str, Any]:
    """Field name or alias -> annotation."""
    out = {}
    for name, fi in model.model_fields.items():
        out[fi.alias or name] = fi.annotation
    return out


def _is_wrapper(x) -> bool:
    return isinstance(x, dict) and "value" in x and set(x) <= {"value", *_META_KEYS}


def _keys(d: dict) -> list[str]:
    return [str(k) for k in d if k not in _META_KEYS]


def _apply_one(raw: dict, kind: str, path: str, value: Any, source: str, shared) -> None:
    parts = path.split(".")
    for p in parts:
        if p in _FORBIDDEN:
            raise _PathError(f"`{p}` cannot be overridden: {_FORBIDDEN[p]}")
        if not p:
            raise _PathError("empty segment in the path (two dots, or a dot at an end)")
    if kind in ("economics", "dry_rooms"):
        parts = parts[1:]
        if not parts:
            raise _PathError(f"name a field of {kind}, e.g. {kind}.<field>")
    elif kind == "route" and parts[0] == "materials":
        # the route's own `materials:` entry, only where it holds the overridden field
        if len(parts) < 3:
            raise _PathError("write materials.<material>.<field>, e.g. materials.Li2S.price")
        name, fld = parts[1], parts[2]
        local = raw.get("materials") or {}
        shared_names = set(shared.materials) if shared is not None else set()
        if name in local and (fld in local[name] or name not in shared_names):
            pass  # fall through: set it in the route file
        elif name in shared_names:
            return  # the shared file carries it; nothing of the route's to change
        else:
            known = sorted(shared_names | set(local))
            raise _PathError(f"unknown material {name!r}{closest(name, known)}")
    elif kind == "materials":
        if len(parts) < 3:
            raise _PathError("write materials.<material>.<field>, e.g. materials.Li2S.price")
        if parts[1] not in (raw.get("materials") or {}):
            return  # a material of the route only: the route's pass sets it (or says unknown)
    _set(raw, parts, value, source, _root_model(kind))


def _set(raw: dict, parts: list[str], value: Any, source: str, model) -> None:
    cur: Any = raw
    shape: tuple[str, Any] = ("model", model)
    walked: list[str] = []
    for i, seg in enumerate(parts):
        last = i == len(parts) - 1
        if _is_wrapper(cur):
            cur = cur["value"]
        where = ".".join(walked) or "the top level"
        if isinstance(cur, dict):
            fields = _fields(shape[1]) if shape[0] == "model" else {}
            key: str | int = seg
            if seg not in cur and seg.isdigit() and int(seg) in cur:
                key = int(seg)  # a year key (currency_rates_by_year.2025)
            if key in cur:
                child_ann = fields.get(seg)
                if last:
                    _replace(cur, key, value, source, ".".join(parts))
                    return
                cur = cur[key]
            elif shape[0] == "model" and seg in fields and last:
                cur[seg] = {"value": value, "source": source}  # an optional field the file omits
                return
            else:
                valid = _keys(cur) + ([f for f in fields if f not in cur] if shape[0] == "model" else [])
                raise _PathError(f"unknown key {seg!r} under {where}{closest(seg, valid)}; "
                                 f"valid: {', '.join(sorted(set(valid)))}")
            if shape[0] == "model":
                shape = _shape(child_ann) if child_ann is not None else ("leaf", None)
            elif shape[0] == "dict":
                shape = ("model", shape[1]) if shape[1] else ("leaf", None)
        elif isinstance(cur, list):
            idx = _find_item(cur, seg)
            if idx is None:
                names = [str(x.get("name")) for x in cur if isinstance(x, dict) and "name" in x]
                raise _PathError(f"no item {seg!r} in {where}{closest(seg, names)}; "
                                 f"items: {', '.join(names) or f'0..{len(cur) - 1}'}")
            if last:
                _replace_item(cur, idx, value, source, ".".join(parts))
                return
            cur = cur[idx]
            shape = ("model", shape[1]) if shape[0] == "list" and shape[1] else ("leaf", None)
        else:
            raise _PathError(f"{where} is a value ({cur!r}), it has no field {seg!r}")
        walked.append(seg)


def _find_item(items: list, seg: str) -> int | None:
    for j, x in enumerate(items):
        if isinstance(x, dict) and str(x.get("name")) == seg:
            return j
    if seg.isdigit() and int(seg) < len(items):
        return int(seg)
    return None


def _is_leaf(x) -> bool:
    if _is_wrapper(x):
        return _is_leaf(x["value"])
    if isinstance(x, list):
        return all(not isinstance(v, (dict, list)) for v in x)
    return not isinstance(x, dict)


def _replace(d: dict, key: str | int, value: Any, source: str, path: str) -> None:
    old = d[key]
    if isinstance(old, dict) and {"value", "date"} <= set(old) and _is_leaf(value):
        # a dated price: the study sets its central value; its date and currency year
        # stay (they say which rates convert it), its range is the data's, not the study's
        d[key] = {**{k: v for k, v in old.items() if k not in ("low", "high")},
                  "value": value, "source": source}
        return
    if not _is_leaf(old):
        keys = _keys(old["value"] if _is_wrapper(old) else old) if isinstance(old, dict) else []
        what = f"a mapping; override one of its fields: {', '.join(keys)}" if keys else "a list of items"
        raise _PathError(f"{path} is {what}")
    if not _is_leaf(value):
        raise _PathError(f"{path}: expected a single value (a number, a quantity with its unit, "
                         f"a word or a list of words), found {value!r}")
    d[key] = {"value": value, "source": source}


def _replace_item(items: list, idx: int, value: Any, source: str, path: str) -> None:
    if isinstance(items[idx], dict):
        raise _PathError(f"{path} is a whole item; override one of its fields: "
                         f"{', '.join(_keys(items[idx]))}")
    if not _is_leaf(value):
        raise _PathError(f"{path}: expected a single value, found {value!r}")
    items[idx] = {"value": value, "source": source}


def as_overrides(x) -> Overrides | None:
    """Accept None, an `Overrides`, or a plain mapping of path -> value."""
    if x is None or isinstance(x, Overrides):
        return x or None
    if isinstance(x, Mapping):
        return Overrides(dict(x)) if x else None
    raise TypeError(f"overrides must be a mapping of path -> value, not {type(x).__name__}")
