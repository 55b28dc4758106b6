"""The transition planner: which lines to build, convert and retire, year by year.

    from ssbfab.roadmap import plan_roadmap
    result = plan_roadmap("studies/roadmaps/transition.yaml")
    result.lines, result.production, result.summary   # pandas DataFrames

See docs/roadmap.md for the roadmap file and the model.
"""

from __future__ import annotations


def plan_roadmap(*args, **kwargs):
    from .solve import plan_roadmap as run

    return run(*args, **kwargs)


def load_roadmap(path):
    from .load import load_roadmap as run

    return run(path)


__all__ = ["plan_roadmap", "load_roadmap"]
