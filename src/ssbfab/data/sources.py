"""Sources of numbers: every number in a data file carries a `source:` (on it or on an
enclosing mapping) or the word `illustrative`. Unwrapping `{value, source}` wrappers
and recording each number's source happen here, before the schema sees the data."""

from __future__ import annotations

import re
from typing import Any

from ..errors import Problem, shorten
from .yamlio import line_of

_NUMBER_TEXT = re.compile(r"^\s*[-+]?(\d|\.\d)")
# Keys whose numbers are not physical data (names, flags, counts of lots in a buffer
# still need a source; only these structural ones are exempt).
_NO_SOURCE_NEEDED = {"currency_year", "name"}


def _unwrap_sources(raw: Any, path: tuple, inherited: str | None, file: str, marks,
                     sources: dict, problems: list[Problem]) -> Any:
    """Replace {value, source} wrappers by their value; record every number's source;
    report numbers that have neither a source nor an enclosing one."""
    if isinstance(raw, dict):
        if set(raw) <= {"value", "source", "note"} and "value" in raw:
            src = raw.get("source") or inherited
            _record(raw["value"], path, src, file, marks, sources, problems)
            return raw["value"]
        here = raw.get("source", inherited) if isinstance(raw.get("source"), str) else inherited
        out = {}
        for k, v in raw.items():
            if k in ("source", "note"):
                continue  # kept in the sources table, not in the typed model
            if k == "description":
                out[k] = v
                continue
            out[k] = _unwrap_sources(v, path + (k,), here, file, marks, sources, problems)
        return out
    if isinstance(raw, list):
        return [_unwrap_sources(v, path + (i,), inherited, file, marks, sources, problems)
                for i, v in enumerate(raw)]
    _record(raw, path, inherited, file, marks, sources, problems)
    return raw


def _record(value, path, src, file, marks, sources, problems) -> None:
    is_number = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        isinstance(value, str) and _NUMBER_TEXT.match(value)
    )
    if not is_number or (path and path[-1] in _NO_SOURCE_NEEDED):
        return
    dotted = ".".join(map(str, path))
    if not src:
        problems.append(Problem(file, line_of(marks, path), dotted,
                                f"the number {shorten(value)} has no source; add `source:` here or on an "
                                "enclosing mapping (a citation, or the word `illustrative`)"))
    else:
        sources[dotted] = src

