"""Commands of the simulator, optimiser, comparison and studies.

Each part keeps its command in its own module; importing it here registers it on
the shared Typer app. Imports inside those modules stay lazy.
"""

from . import cli_compare, cli_opt, cli_sim, cli_study  # noqa: F401
