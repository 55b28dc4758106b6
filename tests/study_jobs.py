"""Jobs used by the study tests (imported by Dask workers through PYTHONPATH/sys.path).

`logged_materials` appends the Li2S price it ran with to a log file before doing the
materials job, so a test can count how often each scenario was computed.
`buggy` raises a programming error for one Li2S price.
"""

from __future__ import annotations

import os
import time

from ssbfab.study.jobs import materials


def logged_materials(route, options, seed):
    price = route.all_materials["Li2S"].price
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
    if route.all_materials["Li2S"].price.startswith("2e6"):
        return {}["no such key"]  # a bug, not a bad scenario
    return materials(route, options, seed)
