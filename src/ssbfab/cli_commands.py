"""Commands of the simulator, optimiser, comparison and studies.

Each part keeps its command in its own module; importing it here registers it on
the shared Typer app. Imports inside those modules stay lazy.
"""

from . import cli_compare  # noqa: E402,F401
from . import cli_study  # noqa: E402,F401
from . import cli_sim  # noqa: F401
from . import cli_opt  # noqa: E402,F401
