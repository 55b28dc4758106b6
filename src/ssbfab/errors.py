"""Errors a user can act on: bad input names file, line, field, found and expected.

The CLI turns these into a message and exit code 2 (bad input) or 3 (no plan
exists); programming errors are left to raise.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class InputError(Exception):
    """Bad input (a data file, a plan, an argument). Exit code 2."""

    exit_code = 2

    def __init__(self, problems: Problem | Iterable[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem("", None, "", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SpecError(InputError):
    """A route or shared data file that does not validate."""


class NoPlanError(Exception):
    """The optimiser proved that no plan meets the target. Exit code 3."""

    exit_code = 3


# Names longer than this are not typos of a name: matching them would only cost time.
_LONGEST_NAME = 200


def closest(name: str, candidates: Iterable[str]) -> str:
    """' (did you mean X?)' for a typo, or '' when nothing is close."""
    if len(name) > _LONGEST_NAME:
        return ""
    names = [c for c in candidates if len(c) <= _LONGEST_NAME]
    match = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def shorten(value: object, limit: int = 80) -> str:
    """repr of a value from the input, cut to about `limit` characters, so that a long
    value (a whole mapping, a million-character string) cannot flood a message."""
    if isinstance(value, str) and len(value) > limit:
        # cut before repr: the repr of a huge string is itself huge
        return repr(value[:limit]) + f" ... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."
