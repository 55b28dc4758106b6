"""The line simulator: SimPy model of a plant configuration, with statistics.

    from ssbfab.sim import simulate
    result = simulate(config, days=365, warmup_days=30, reps=4, seed=1)
    result.stats    # LineStats, the hand-off to the optimiser
    result.tables   # pandas: "steps", "summary", "replications", "step_replications"

Parts: `linemodel` (configuration -> checked, picklable numbers), `model` (the
SimPy processes of one replication), `buffer` (finite FIFO buffers with
blocking), `streams` (seeded random streams), `run` (replications in processes
and their statistics), `tables` (pandas).
"""

from .linemodel import LineModel, bare_config, compile_config
from .run import SimResult, more_replications, run_model, simulate

__all__ = ["LineModel", "SimResult", "bare_config", "compile_config", "more_replications",
           "run_model", "simulate"]
