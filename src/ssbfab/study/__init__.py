"""What-if studies: scenario files, sweeps on Dask into a DuckDB store, summaries.

    from ssbfab.study import load_study, sweep, load, summarize
    report = sweep("studies/li2s_price.yaml", out="results/li2s_price", workers=2)
    df = load("results/li2s_price")          # one row per scenario, pandas
    summary = summarize("results/li2s_price")  # tables and figures
"""

from .runner import SweepReport, sweep
from .scenarios import Study, load_study
from .store import load

__all__ = ["Study", "SweepReport", "load", "load_study", "summarize", "sweep"]


def summarize(out, **kwargs):
    """See `ssbfab.study.summarize.summarize` (imported lazily: it needs matplotlib)."""
    from .summarize import summarize as run

    return run(out, **kwargs)
