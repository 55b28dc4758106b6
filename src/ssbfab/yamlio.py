"""Read YAML safely and remember where every key and item stands in the file.

Error messages must name the line; PyYAML's composed node tree carries the marks,
so we compose once, construct the plain data with the safe constructor, and walk
the same tree to map each path (tuple of keys and indices) to its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import Problem, SpecError

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


def loads_yaml(text: str, name: str = "<string>") -> tuple[Any, dict[Path_, int]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError(Problem(name, 1, "", "the file is empty; expected a YAML mapping"))
        marks: dict[Path_, int] = {}
        duplicates: list[Problem] = []
        _walk(node, (), marks, duplicates, name)
        if duplicates:
            raise SpecError(duplicates)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(s for s in (exc.context, exc.problem) if s)
        raise SpecError(Problem(name, line, "", f"YAML syntax error: {msg}")) from None
    except yaml.YAMLError as exc:
        raise SpecError(Problem(name, None, "", f"YAML error: {exc}")) from None
    finally:
        loader.dispose()
    return data, marks


def _walk(node, path: Path_, marks, problems, name) -> None:
    marks.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(name, key_node.start_mark.line + 1, ".".join(map(str, path + (key,))),
                            "duplicate key")
                )
            seen.add(key)
            marks[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), marks, problems, name)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), marks, problems, name)


def line_of(marks: dict[Path_, int], path: Path_) -> int | None:
    """Line of the deepest known prefix of `path`."""
    path = tuple(path)
    while path:
        if path in marks:
            return marks[path]
        path = path[:-1]
    return marks.get(())
