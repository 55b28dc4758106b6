"""Pydantic's validation errors turned into located `Problem`s: the field's dotted
path and line, what was found and what was expected (valid keys, allowed values,
the closest name)."""

from __future__ import annotations

import difflib
import functools
import types
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ValidationError

from ..errors import Problem, closest, shorten
from . import units
from .schema import FieldProblem, QuantityKind, Strict
from .yamlio import _dotted, line_of


def _validation_problems(exc: ValidationError, file: str, marks, root: tuple = (),
                         model: type[BaseModel] | None = None, data: Any = None) -> list[Problem]:
    """Turn pydantic's errors into Problems: the field's dotted path and line, what was
    found and what was expected (valid keys, allowed values, the closest name).

    `model` is the model that was validated (default: found by pydantic's title);
    `data` is the validated mapping, used to name the step an error sits in.
    """
    model = model or _strict_models().get(exc.title)
    problems = []
    errors = exc.errors()
    # a typo gives "unknown key" and "missing" for the same field: keep only the first,
    # which names both ("unknown key 'capx' (did you mean 'capex'?)")
    suggested = set()
    for err in errors:
        if err["type"] == "extra_forbidden" and model is not None:
            loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and "[" in x))
            valid = _keys_of(_annotation_at(model, loc[:-1]))
            match = difflib.get_close_matches(str(loc[-1]), list(valid), n=1, cutoff=0.6)
            if match:
                suggested.add(loc[:-1] + (match[0],))
    for err in errors:
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and "[" in x))
        if err["type"] == "missing" and (loc in suggested or tuple(
                "yield" if x == "yield_" else x for x in loc) in suggested):
            continue
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblem):
            loc += tuple(int(x) if x.isdigit() else x for x in cause.field.split("."))
        ann = _annotation_at(model, loc) if model is not None else None
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        key = str(loc[-1]) if loc else ""
        if key == "yield_":
            key = "yield"
        if err["type"] == "extra_forbidden":
            valid = _keys_of(_annotation_at(model, loc[:-1])) if model is not None else set()
            msg = f"unknown key {shorten(key)}{closest(key, valid)}"
            if valid:
                msg += f"; expected one of: {', '.join(sorted(valid))}"
        elif err["type"] == "missing":
            msg = f"required field {shorten(key)} is missing"
            hint = _describe(ann)
            if hint:
                msg += f"; expected {hint}"
        elif err["type"] == "literal_error":
            allowed = [str(a) for a in typing.get_args(_strip(ann))] if ann is not None else []
            found = err.get("input")
            msg = f"found {shorten(found)}; expected one of: {', '.join(allowed) or err['msg']}"
            if isinstance(found, str):
                msg += closest(found, allowed)
        elif err["type"] in _NUMBER_TYPES and "input" in err:
            msg = _number_message(err["type"], err["input"])
        elif err["type"] == "string_type" and isinstance(err.get("input"), (int, float)):
            msg = _text_message(key, err["input"])
        elif "input" in err and err["type"] not in ("value_error", "assertion_error"):
            msg = f"{msg}; found {shorten(err['input'])}"
        step = _step_name(data, loc)
        if step:
            msg += f" [step {shorten(step)}]"
        full = root + tuple("yield" if x == "yield_" else x for x in loc)
        problems.append(Problem(file, line_of(marks, full), _dotted(full), msg))
    return problems


# Fields whose text is a quantity, and an example, for "found the bare number ..."
_TEXT_QUANTITIES = {"lot_size": "500 cell", "batch": "200 cell", "rate": "60 sheet/min",
                    "per_cell": "2 sheet", "amount": "0.12 kg/m^2", "price": "26 USD/kg"}


def _text_message(key: str, found: Any) -> str:
    what = (f"the boolean {str(found).lower()}" if isinstance(found, bool)
            else f"the number {shorten(found)}")
    if key in _TEXT_QUANTITIES:
        return (f"expected a quantity with its unit, such as \"{_TEXT_QUANTITIES[key]}\", "
                f"found {what}")
    return f"expected a text, found {what}"


# pydantic's error types for a value that is not the number a field wants
_NUMBER_TYPES = {"int_type", "int_from_float", "int_parsing", "float_type", "float_parsing",
                 "finite_number"}


def _number_message(kind: str, found: Any) -> str:
    """'expected a ..., found ...' for a number field given something else: strict fields
    take no booleans ("buffer: true" is not 1) and no numbers written as text."""
    want = "a whole number" if kind.startswith("int") else "a number"
    if kind == "finite_number":
        return f"expected a finite number, found {shorten(found)}"
    if isinstance(found, bool):
        return f"expected {want}, found the boolean {str(found).lower()}"
    if isinstance(found, int):  # an int a float cannot hold
        return f"the integer {shorten(found, 40)} is too large for a float; expected {want}"
    if isinstance(found, str):
        return f"expected {want} (unquoted), found the text {shorten(found)}"
    return f"expected {want}, found {shorten(found)}"


def _step_name(data: Any, loc: tuple) -> str | None:
    if (isinstance(data, dict) and len(loc) >= 2 and loc[0] == "line"
            and isinstance(loc[1], int) and isinstance(data.get("line"), list)
            and loc[1] < len(data["line"]) and isinstance(data["line"][loc[1]], dict)):
        name = data["line"][loc[1]].get("name")
        return name if isinstance(name, str) else None
    return None


@functools.cache
def _strict_models() -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}
    todo = [Strict]
    while todo:
        cls = todo.pop()
        out[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return out


def _strip(annotation):
    """The annotation without Optional/Annotated wrappers (None if ambiguous)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _annotation_at(model: type[BaseModel], loc: tuple):
    """The type annotation found by walking `loc` (field names, list indices, dict keys)
    down from `model`; None when the path leaves the schema."""
    ann: Any = model
    for part in loc:
        ann = _strip(ann)
        origin = typing.get_origin(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            fields = ann.model_fields
            f = fields.get(part) or next(
                (fi for fi in fields.values() if fi.alias == part), None)
            if f is None:
                return None
            ann = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
        elif origin is list:
            ann = typing.get_args(ann)[0]
        elif origin is dict:
            ann = typing.get_args(ann)[1]
        else:
            return None
    return ann


def _keys_of(annotation) -> set[str]:
    """Valid keys of the model an annotation stands for."""
    ann = _strip(annotation)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return {fi.alias or n for n, fi in ann.model_fields.items()}
    return set()


def _quantity_kind(annotation) -> str | None:
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, QuantityKind):
            return str(meta)
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is Annotated or typing.get_origin(arg) in (
                typing.Union, types.UnionType):
            kind = _quantity_kind(arg)
            if kind:
                return kind
    return None


def _describe(annotation) -> str:
    """What a field expects, in words, for 'required field ... is missing'."""
    if annotation is None:
        return ""
    kind = _quantity_kind(annotation)
    if kind:
        return f"a quantity such as \"{units._example(kind)}\""
    ann = _strip(annotation)
    if typing.get_origin(ann) is Literal:
        return "one of: " + ", ".join(map(str, typing.get_args(ann)))
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "a mapping with keys: " + ", ".join(sorted(_keys_of(ann)))
    if typing.get_origin(ann) is list:
        return "a list"
    if typing.get_origin(ann) is dict:
        return "a mapping"
    return {str: "a text", int: "a whole number", float: "a number", bool: "true or false"}.get(
        ann, "")


