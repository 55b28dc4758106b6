"""Jobs used by the study tests, registered by name with `register_jobs()` (Dask
workers import this module through PYTHONPATH to unpickle them).

`logged_materials` appends the Li2S price it ran with to a log file before doing the
materials job, so a test can count how often each scenario was computed.
`buggy` raises a programming error for one Li2S price.

`python -m study_jobs ARGS` runs `ssbfab ARGS` with these jobs registered: the way a
command line gets jobs of its own (a scenario file only names them).
"""

from __future__ import annotations

import os
import time

from ssbfab.study.jobs import materials, register


def logged_materials(route, options, seed):
    price = route.all_materials["Li2S"].price_text
    delay = float(options.params.get("delay", 0.0))
    if delay:
        time.sleep(delay)
    # one write() of a short line with O_APPEND is atomic between processes
    fd = os.open(options.params["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{price}\n".encode())
    finally:
        os.close(fd)
    return materials(route, options, seed)


def buggy(route, options, seed):
    if route.all_materials["Li2S"].price_text.startswith("2e6"):
        return {}["no such key"]  # a bug, not a bad scenario
    return materials(route, options, seed)


def register_jobs() -> None:
    register("logged_materials", logged_materials)
    register("buggy", buggy)


if __name__ == "__main__":
    import study_jobs  # this module under its importable name, for the workers

    study_jobs.register_jobs()
    from ssbfab.cli import main

    main()
