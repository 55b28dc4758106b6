"""Read YAML safely and remember where every key and item stands in the file.

Error messages must name the line; PyYAML's composed node tree carries the marks,
so we compose once, construct the plain data with the safe constructor, and walk
the same tree to map each path (tuple of keys and indices) to its line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, SpecError, shorten

Path_ = tuple[Any, ...]


def load_yaml(path: str | Path) -> tuple[Any, dict[Path_, int]]:
    """Return (data, marks) where marks[(key, 0, key2)] is a 1-based line number."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(Problem(name, None, "", "file not found")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(Problem(name, None, "", f"cannot read file: {exc}")) from None
    return loads_yaml(text, name)


# libyaml's safe loader when PyYAML was built with it: the same nodes, marks and safe
# constructor, parsed about ten times faster, which matters for studies that load a
# route per scenario; the pure-Python one otherwise.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loads_yaml(text: str, name: str = "<string>") -> tuple[Any, dict[Path_, int]]:
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError(Problem(name, 1, "", "the file is empty; expected a YAML mapping"))
        marks: dict[Path_, int] = {}
        duplicates: list[Problem] = []
        _walk(node, (), marks, duplicates, name, [MAX_NODES], loader.construct_object)
        if duplicates:
            raise SpecError(duplicates)
        data = loader.construct_document(node)
        if data is None:  # "---" or "~" alone: a document with nothing in it
            raise SpecError(Problem(name, 1, "", "the file is empty; expected a YAML mapping"))
    except yaml.constructor.ConstructorError as exc:
        # the safe constructor refuses language-specific tags (!!python/object ...):
        # data files must never run code
        mark = exc.problem_mark or exc.context_mark
        tag = re.search(r"tag '([^']*)'", exc.problem or "")
        found = tag.group(1).replace("tag:yaml.org,2002:", "!!") if tag else "a tag"
        raise SpecError(Problem(
            name, mark.line + 1 if mark else None, "",
            f"YAML tag {found} is not allowed; expected plain YAML (mappings, lists, "
            "strings, numbers): ssbfab reads data files with a safe loader")) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(s for s in (exc.context, exc.problem) if s)
        raise SpecError(Problem(name, line, "", f"YAML syntax error: {msg}{_hint(msg)}")) from None
    except yaml.YAMLError as exc:
        raise SpecError(Problem(name, None, "", f"YAML error: {exc}")) from None
    finally:
        loader.dispose()
    return data, marks


def _hint(msg: str) -> str:
    """A likely fix for the commonest YAML mistakes."""
    if "mapping values are not allowed" in msg:
        return "; quote a value that contains ': ' (e.g. \"a: b\"), or check the indentation"
    if "found character '\\t'" in msg:
        return "; indent with spaces, not tabs"
    if "could not find expected ':'" in msg or "expected <block end>" in msg:
        return "; check the indentation and the quotes of the lines above"
    return ""


# Limits on what a document may expand to. Aliases (*name) repeat anchored content
# without repeating its text, so nine lines of nested aliases ("billion laughs") expand
# to 10^9 nodes; the walk below is the first to expand them, and stops at the budget.
# The shipped route files have under 1,000 nodes and nest at most 6 deep.
MAX_NODES = 50_000
MAX_DEPTH = 50
# The largest float has 309 digits; a longer integer is no number ssbfab can use, and
# past 4,300 digits Python refuses to read it at all (a ValueError, not a YAML error).
MAX_INT_DIGITS = 309
_STR, _INT = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int"


def _walk(node, path: Path_, marks, problems, name, budget: list[int], construct) -> None:
    """Record the line of every path and the duplicate keys, within the node budget
    (`budget[0]` nodes left) and MAX_DEPTH; construct each typed scalar (`construct`,
    the loader's, which keeps it for the document) so that one that cannot be read
    (a date 2022-13-45, `!!int abc`) is reported at its line."""
    budget[0] -= 1
    if budget[0] < 0:
        raise SpecError(Problem(
            name, node.start_mark.line + 1, "",
            f"the document expands to more than {MAX_NODES:,} values (YAML aliases *name "
            "repeat what an &anchor holds); expected a data file, not an alias bomb"))
    if len(path) > MAX_DEPTH:
        raise SpecError(Problem(
            name, node.start_mark.line + 1, _dotted(path[:3]) + "...",
            f"lists and mappings nested more than {MAX_DEPTH} deep; expected the shape of an "
            "ssbfab data file"))
    marks.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR:
            return
        where = (name, node.start_mark.line + 1, _dotted(path))
        if node.tag == _INT and len(node.value) > MAX_INT_DIGITS:
            problems.append(Problem(*where, f"a whole number of {len(node.value):,} characters "
                                            "is too large for a float; expected at most "
                                            f"{MAX_INT_DIGITS} digits"))
            return
        try:
            construct(node)
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            kind = node.tag.rsplit(":", 1)[-1]
            problems.append(Problem(*where, f"cannot read {shorten(node.value)} as a YAML {kind}"
                                            f" ({shorten(str(exc), 60)}); quote it to make it "
                                            "a text, or correct it"))
    elif isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(name, key_node.start_mark.line + 1,
                                        _dotted(path),
                                        "a key must be a plain name, found a list or mapping"))
                continue
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(name, key_node.start_mark.line + 1, _dotted(path + (key,)),
                            f"duplicate key {shorten(key)} (first at line {seen[key]}); expected each "
                            "key once in a mapping")
                )
            seen.setdefault(key, key_node.start_mark.line + 1)
            marks[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), marks, problems, name, budget, construct)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), marks, problems, name, budget, construct)


def _dotted(path: Path_) -> str:
    """A path as dotted text, each part cut (a key may be a million characters long)."""
    return ".".join(p if len(p) <= 80 else p[:80] + "..." for p in map(str, path))


def line_of(marks: Mapping[Path_, int], path: Path_) -> int | None:
    """Line of the deepest known prefix of `path`."""
    path = tuple(path)
    while path:
        if path in marks:
            return marks[path]
        path = path[:-1]
    return marks.get(())
