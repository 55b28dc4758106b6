"""Helpers for the simulator tests: small bare line files written on the fly."""

from __future__ import annotations

from pathlib import Path

import yaml

from ssbfab.sim.linemodel import CALENDAR_DAYS_PER_YEAR


def step(name: str, unit: str = "cell", *, inputs=None, rate=None, batch=None, cycle=None,
         dist: str = "deterministic", cv=None, mtbf=None, mttr=None, yield_="100 %",
         lot=1, buffer=4, per_cell=None, environment=None, moisture=None, materials=None,
         maintenance=None, options=None) -> dict:
    """One step of a bare line; amounts in the step's unit (`unit`)."""
    u = "m^2" if unit == "m2" else unit
    s: dict = {"name": name, "unit": unit, "per_cell": per_cell or f"1 {u}",
               "yield": yield_, "lot_size": f"{lot} {u}", "buffer": buffer}
    if inputs:
        s["inputs"] = inputs
    if environment:
        s["environment"] = environment
    if moisture:
        s["moisture"] = moisture
    if materials:
        s["materials"] = materials
    if options is None:
        opt: dict = {"name": f"{name}_m", "capex": "1 MUSD", "footprint": "10 m^2",
                     "distribution": dist}
        if batch is not None:
            opt["batch"] = f"{batch} {u}"
            opt["cycle_time"] = f"{cycle} h"
        else:
            opt["rate"] = f"{rate} {u}/h"
        if cv is not None:
            opt["cv"] = cv
        if mtbf is not None:
            opt["mtbf"] = f"{mtbf} h"
            opt["mttr"] = f"{mttr} h"
        if maintenance is not None:
            opt["maintenance"] = maintenance
        options = [opt]
    s["options"] = options
    return s


def write_line(folder: Path, steps: list[dict], name: str = "test-line") -> Path:
    doc = {"name": name, "form": "line", "source": "illustrative", "line": steps}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def load_line(folder: Path, steps: list[dict], name: str = "test-line", shared=None):
    from ssbfab.data import load_route

    return load_route(write_line(folder, steps, name), shared=shared)


def days_for(route, hours: float) -> float:
    """Calendar days that hold `hours` of operating time on the route's calendar."""
    return hours / (route.economics.operating_hours_per_year / CALENDAR_DAYS_PER_YEAR)


def config_with(route, machines: dict[str, int] | None = None, lots: dict | None = None):
    """bare_config with some machine counts or lot sizes changed."""
    from dataclasses import replace

    from ssbfab.sim import bare_config

    cfg = bare_config(route)
    steps = dict(cfg.steps)
    for name, n in (machines or {}).items():
        c = steps[name]
        steps[name] = replace(c, machines={next(iter(c.machines)): n})
    for name, lot in (lots or {}).items():
        steps[name] = replace(steps[name], lot_size=float(lot))
    return replace(cfg, steps=steps)




def inside(values, truth: float, checks: int = 1, slack: float = 0.0,
           false_alarm: float = 1e-3) -> bool:
    """Whether `truth` lies in a Student-t interval over the per-replication `values`
    (a step's or the line's `per_rep`) at a two-sided false-alarm rate of `false_alarm / checks`:
    a test that makes `checks` such checks fails by chance less than `false_alarm` of
    the time (Bonferroni), whatever random streams it gets. `slack` adds a known bias
    allowance (same unit as the values). The replications are independent and each is
    a long run, so their means are close to normal."""
    import math

    from scipy.stats import t

    vals = [float(v) for v in values]
    n = len(vals)
    m = sum(vals) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (n - 1))
    half = t.ppf(1 - false_alarm / checks / 2, n - 1) * sd / math.sqrt(n)
    return m - half - slack <= truth <= m + half + slack
