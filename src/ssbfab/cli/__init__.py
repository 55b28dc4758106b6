"""Command line: `ssbfab COMMAND ...`, one module per command group.

Heavy modules (pandas, pyomo, simpy) are imported inside the commands so that
`ssbfab --help` is instant. Bad input exits 2 with a message naming file, line and
field; "no plan exists" exits 3; neither shows a Python traceback. With `--json` a
command prints exactly one JSON document on stdout and nothing else there.
"""

from __future__ import annotations

# importing a command module registers its commands on `app`
from . import compare, data, opt, roadmap, sim, study  # noqa: F401
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
