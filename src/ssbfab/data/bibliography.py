"""The bibliography (docs/sources.md) and the check that every source key a data file
cites, `[key]` in a `source:` text, is an entry of it.

The bibliography is a markdown file with one `### key` heading per source followed by
`- field: value` lines (authors, title, venue, year, doi or address ...). It is read
once per file and kept: studies load a route per scenario.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Problem, closest
from .problems import _step_name
from .yamlio import line_of

SOURCES_ENV = "SSBFAB_SOURCES"
REQUIRED_FIELDS = ("authors", "title", "venue", "year")

_KEY = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# What a citation looks like in a source text: a word in square brackets. Looser than
# _KEY on purpose, so that `[BatPaC5]` or `[batpac_5]` is reported as an unknown key
# with a suggestion instead of passing as prose; bracketed text with spaces is prose.
_CITED = re.compile(r"\[([A-Za-z0-9][A-Za-z0-9._-]*)\]")
_HEADING = re.compile(r"^###\s+(.*?)\s*$")
_FIELD = re.compile(r"^-\s+([a-z][a-z ]*):\s*(.*?)\s*$")

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Entry:
    """One source: its key, the line of its heading and its fields (name -> text)."""

    key: str
    line: int
    fields: Mapping[str, str]


@dataclass(frozen=True)
class Bibliography:
    """The parsed bibliography. `found` is False when the file does not exist; `problems`
    are malformed entries (a bad key, a duplicate, a missing required field)."""

    file: Path
    found: bool
    entries: Mapping[str, Entry] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.entries)


def default_sources_file() -> Path:
    """docs/sources.md: $SSBFAB_SOURCES, else the checkout's docs/ beside src/ (found
    the way `default_lines_dir` finds lines/), else ./docs/sources.md."""
    env = os.environ.get(SOURCES_ENV)
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "docs" / "sources.md"
        if candidate.is_file():
            return candidate
    return Path.cwd() / "docs" / "sources.md"


def load_bibliography(path: str | Path | None = None) -> Bibliography:
    """The bibliography at `path` (default: `default_sources_file()`), parsed once."""
    return _parse(Path(path) if path is not None else default_sources_file())


@functools.lru_cache(maxsize=8)
def _parse(path: Path) -> Bibliography:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Bibliography(file=path, found=False)
    entries: dict[str, Entry] = {}
    problems: list[Problem] = []
    current: tuple[str, int, dict[str, str]] | None = None
    last_field: str | None = None

    def close() -> None:
        if current is None:
            return
        key, line, fields = current
        missing = [f for f in REQUIRED_FIELDS if not fields.get(f)]
        if missing:
            problems.append(Problem(str(path), line, key, f"entry lacks {', '.join(missing)}; "
                                    f"expected `- field: value` lines for {', '.join(REQUIRED_FIELDS)}"))
        if key in entries:
            problems.append(Problem(str(path), line, key, f"duplicate key (first at line "
                                    f"{entries[key].line}); expected each key once"))
        else:
            entries[key] = Entry(key, line, dict(fields))

    for number, raw in enumerate(text.splitlines(), start=1):
        heading = _HEADING.match(raw)
        if heading or raw.startswith("## ") or raw.startswith("# "):
            close()
            current, last_field = None, None
            if heading:
                key = heading.group(1)
                if not _KEY.match(key):
                    problems.append(Problem(str(path), number, key, "not a source key; expected "
                                            "lowercase letters, digits and hyphens (e.g. batpac5)"))
                current = (key, number, {})
            continue
        if current is None:
            continue
        item = _FIELD.match(raw)
        if item:
            last_field = item.group(1)
            current[2][last_field] = item.group(2)
        elif raw.startswith("  ") and raw.strip() and last_field:
            current[2][last_field] += " " + raw.strip()  # a wrapped field value
    close()
    return Bibliography(file=path, found=True, entries=entries, problems=tuple(problems))


def cited_keys(text: str) -> list[str]:
    """The keys cited in one source text, in order: `"[batpac5] Table 3, [gm-moisture-2022]"`
    -> `["batpac5", "gm-moisture-2022"]`."""
    return _CITED.findall(text)


def source_texts(raw: Any, path: Path_ = ()) -> dict[Path_, str]:
    """Every `source:` text of a raw (YAML-parsed) data tree, by the path of its
    `source` key, e.g. `("line", 3, "options", 0, "source")`."""
    out: dict[Path_, str] = {}
    if isinstance(raw, dict):
        for k, v in raw.items():
            if k == "source" and isinstance(v, str):
                out[path + (k,)] = v
            else:
                out.update(source_texts(v, path + (k,)))
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            out.update(source_texts(v, path + (i,)))
    return out


def citation_problems(sources: Mapping[Path_, str],
                      bibliography: Bibliography | None = None) -> list[tuple[Path_, str]]:
    """(path, message) for every cited key that the bibliography does not hold, or, when
    the bibliography file is missing, for every cited key (it cannot be checked)."""
    bib = bibliography if bibliography is not None else load_bibliography()
    out: list[tuple[Path_, str]] = []
    for path, text in sources.items():
        for key in cited_keys(text):
            if not bib.found:
                out.append((path, f"cannot check source key [{key}]: the bibliography {bib.file} "
                            f"does not exist; expected docs/sources.md beside src/, or set "
                            f"{SOURCES_ENV} to the path of the bibliography"))
            elif key not in bib.entries:
                out.append((path, f"unknown source key [{key}]{closest(key, bib.entries)}; "
                            f"expected a key of {bib.file} (a `### key` heading there), "
                            "a full citation without brackets, or `illustrative`"))
    return out


def check_citations(raw: Any, file: str, marks: Mapping[Path_, int],
                    bibliography: Bibliography | None = None) -> list[Problem]:
    """Problems (file, line, field) for the unknown source keys of one data file."""
    out = []
    for path, message in citation_problems(source_texts(raw), bibliography):
        step = _step_name(raw, path)
        if step:
            message += f" [step {step!r}]"
        out.append(Problem(file, line_of(marks, path), ".".join(map(str, path)), message))
    return out
