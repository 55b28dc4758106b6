"""Replications (in this process or in worker processes) and their statistics.

`simulate(config, ...)` compiles the configuration once, runs `reps` replications
on independent streams spawned from `seed`, and turns the raw accumulators of
each into per-replication metrics, then into means with 95 % intervals
(`LineStats`; `ssbfab.stats` says which interval each kind of quantity gets) and
pandas tables. Replication r always uses stream r, and results
are gathered in replication order, so the numbers do not depend on `workers`.

Workers receive the compiled `LineModel` (plain numbers, picklable) rather than a
route file path: a route edited in memory simulates exactly as given, and workers
never parse YAML or units. They are started with `forkserver` where the platform
has it (spawn elsewhere), never plain fork, which is unsafe in a process that may
hold threads (a progress display, a Dask client).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import InputError, Problem
from .linemodel import LineModel, check_run, check_work, compile_config, max_operations
from .model import run_replication

if TYPE_CHECKING:
    import pandas as pd

    from ..config import PlantConfig
    from ..stats import LineStats, StepStats

# Below this many lot operations in all (about a second of simulation) the default
# runs in this process: starting worker processes costs about as much.
SMALL_RUN_OPERATIONS = 100_000

# per step: the metrics estimated (mean and interval) and those also kept per replication
STEP_METRICS = ("utilization", "availability", "blocked", "starved", "yield",
                "throughput_per_h", "wip_mean", "availability_operating", "shortfall",
                "water_dose", "capacity_retained")
# StepStats.per_rep; `reworked`: units of scrap reworked back into good output (part of good)
STEP_REP_METRICS = (*STEP_METRICS, "started", "good", "scrapped", "reworked")
LINE_REP_METRICS = ("good_cells_per_year", "good_gwh_per_year", "overall_yield", "lead_time_h",
                    "excursion_hours", "sulfide_exposure_kg_h", "h2s_estimate", "excursions",
                    "events", "operations")  # LineStats.per_rep
# shares of machine-time, yields and shortfalls: fractions, whose intervals must stay in [0, 1]
FRACTIONS = frozenset({"utilization", "availability", "blocked", "starved", "yield",
                       "availability_operating", "shortfall"})


@dataclass(frozen=True)
class SimResult:
    """What `simulate` returns: the optimiser's hand-off and tables for people."""

    stats: LineStats
    tables: dict[str, pd.DataFrame]
    model: LineModel = field(repr=False)
    raw: list[dict] = field(repr=False, default_factory=list)  # per-replication accumulators

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.model.warnings

    def to_dict(self) -> dict:
        """The `ssbfab simulate --json` document (LineStats as JSON)."""
        return self.stats.to_dict()

    def write(self, out_dir) -> list:
        """Write stats.json (readable by `LineStats.read`) and one CSV per table into
        `out_dir`, each under a temporary name then renamed: a killed run leaves no
        half-written file. Returns the paths written."""
        from .tables import write_outputs

        return write_outputs(self, out_dir)


def simulate(config: PlantConfig, days: float = 365, warmup_days: float = 30, reps: int = 4,
             seed: int = 1, workers: int | None = None,
             progress: Callable[[float, float], None] | None = None,
             max_work: float | None = None) -> SimResult:
    """Simulate a plant configuration.

    days: horizon in calendar days, warm-up included (each day holds the plant's
    operating hours per year / 365 of simulated operating time); warmup_days:
    discarded at the start; reps: independent replications; seed: root of the
    random streams (same seed, same numbers, whatever `workers`); workers: worker
    processes (None: min(reps, CPU count), but this process for a run of under
    ~100,000 lot operations, where starting processes costs more than it saves;
    1: in this process; always this process inside a daemonic process such as a
    Dask worker); progress: called as progress(done, total) in replications
    (fractions while running in-process); max_work: refuse (InputError) a run of
    more lot operations in all replications than this (`linemodel.check_work`;
    None: no limit but the per-replication MAX_OPERATIONS).

    Rates in the result are per operating hour; `good_cells_per_year` and the dry
    room's figures are per year of operating_hours_per_year."""
    check_run(days, warmup_days, reps, workers)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InputError(Problem("arguments", None, "seed",
                                 f"expected a whole number >= 0, found {seed!r}"))
    model = compile_config(config, days, warmup_days)
    if max_work is not None:
        check_work(model, reps, max_work)
    return run_model(model, reps=reps, seed=seed, workers=workers, progress=progress)


def run_model(model: LineModel, reps: int = 4, seed: int = 1, workers: int | None = None,
              progress: Callable[[float, float], None] | None = None) -> SimResult:
    """Run the replications of a compiled model and gather their statistics."""
    t0 = time.perf_counter()
    raws = run_replications(model, reps, seed, workers, progress)
    wall = time.perf_counter() - t0
    return aggregate(model, raws, seed, wall)


def run_replications(model: LineModel, reps: int, seed: int, workers: int | None = None,
                     progress: Callable[[float, float], None] | None = None,
                     start: int = 0) -> list[dict]:
    """Raw accumulators of replications start .. start + reps - 1, in replication order."""
    if workers is None:
        n = min(reps, os.cpu_count() or 1)
        if max_operations(model) * reps < SMALL_RUN_OPERATIONS:
            n = 1  # starting worker processes would cost more than the run itself
    else:
        n = min(workers, reps)
    if multiprocessing.current_process().daemon:
        n = 1  # a daemonic process (e.g. a Dask worker) may not start processes
    if n > 1:
        try:
            return _in_workers(model, reps, seed, n, progress, start)
        except BrokenProcessPool:
            # typically a script without `if __name__ == "__main__":`, which worker
            # processes re-import; the replications are the same in this process
            warnings.warn("worker processes failed to start (does the calling script "
                          "guard its code with `if __name__ == \"__main__\":`?); running "
                          "the replications in this process", RuntimeWarning, stacklevel=3)
    raws = []
    for r in range(reps):
        cb = None if progress is None else (lambda f, r=r: progress(r + f, reps))
        raws.append(run_replication(model, seed, start + r, cb))
    return raws


def more_replications(result: SimResult, reps: int, workers: int | None = None) -> SimResult:
    """`result` with `reps` more replications, on the streams that follow its own
    (replication len(result.raw) onward): the same numbers as simulating them all at
    once, so that a sequential rule can add replications without repeating any."""
    t0 = time.perf_counter()
    seed = result.stats.seed
    raws = run_replications(result.model, reps, seed, workers, start=len(result.raw))
    wall = time.perf_counter() - t0
    return aggregate(result.model, [*result.raw, *raws], seed, result.stats.wall_s + wall)


def _in_workers(model: LineModel, reps: int, seed: int, n: int, progress,
                start: int = 0) -> list[dict]:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        # workers fork from a server that has the model imported already
        ctx.set_forkserver_preload(["ssbfab.sim.model"])
    out: list[dict | None] = [None] * reps
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        futures = {pool.submit(run_replication, model, seed, start + r): r for r in range(reps)}
        done = 0
        for f in as_completed(futures):
            out[futures[f]] = f.result()
            done += 1
            if progress is not None:
                progress(done, reps)
    return out  # type: ignore[return-value]


# ----------------------------------------------------------------------------- statistics


def replication_metrics(model: LineModel, raw: dict) -> dict:
    """One replication's metrics from its raw accumulators (rates per operating hour)."""
    tw = raw["window_h"]
    per_year = model.operating_hours_per_year / tw
    steps = {}
    for sm, s in zip(model.steps, raw["steps"], strict=True):
        mh = s["machines"] * tw
        steps[sm.name] = {
            "utilization": s["busy_h"] / mh,
            "availability": 1.0 - s["down_h"] / mh,
            # up share of the time the machines were wanted (busy or down): what a
            # capacity plan should use, since idle machines do not fail
            "availability_operating": (s["busy_h"] / (s["busy_h"] + s["down_h"])
                                       if s["busy_h"] + s["down_h"] > 0 else math.nan),
            "blocked": s["blocked_h"] / mh,
            "starved": s["starved_h"] / mh,
            "yield": s["good"] / s["started"] if s["started"] > 0 else math.nan,
            "throughput_per_h": s["good"] / tw,
            "wip_mean": (s["machine_area"] + s["buffer_area"]) / tw,
            # share of the good output per hour the target needs that the step did not make
            "shortfall": (max(0.0, 1.0 - s["good"] / tw / sm.target_good_per_h)
                          if sm.target_good_per_h > 0 else math.nan),
            "water_dose": s["water_dose"],  # ppmv·h per lot (NaN: no dose curve)
            # share of the design capacity kept after the doses seen (NaN: no curve)
            "capacity_retained": s["capacity_retained"],
            "started": s["started"], "good": s["good"], "scrapped": s["scrapped"],
            "reworked": s["reworked"],
        }
    cells = raw["steps"][-1]["good"] * per_year
    # the nominal cell energy assumes the nominal doses: scale it by the capacity the
    # doses this replication saw left (a step that finished no lot keeps the nominal)
    kwh = model.cell_energy_kwh
    for sm, s in zip(model.steps, raw["steps"], strict=True):
        if sm.cond_doses and math.isfinite(s["capacity_retained"]):
            kwh *= s["capacity_retained"] / sm.nominal_capacity
    return {
        "steps": steps,
        "good_cells_per_year": cells,
        "good_gwh_per_year": cells * kwh / 1e6,
        "overall_yield": overall_yield(model, {k: v["yield"] for k, v in steps.items()}),
        "lead_time_h": raw["lead_sum"] / raw["lead_w"] if raw["lead_w"] > 0 else math.nan,
        "excursion_hours": raw["excursion_hours"] * per_year,
        "sulfide_exposure_kg_h": raw["exposure_kg_h"] * per_year,
        "h2s_estimate": raw["h2s_cm3"] / 1000.0 * per_year,  # litres per year
        "excursions": raw["excursions"],
        "events": raw["events"],
        "operations": sum(s["lots"] for s in raw["steps"]),
    }


def constraint(model: LineModel, steps: dict[str, StepStats]) -> str:
    """The step that limits the line's output, by the arrows of blocking and starving
    (Kuo, Lim & Meerkov 1996, "Bottlenecks in serial production lines: a
    system-theoretic approach", Math. Probl. Eng. 2:233): on an edge u -> c, a consumer
    starved more than its supplier is blocked says the constraint lies upstream of c,
    and the reverse that it lies downstream of u. On a line that merges at assembly,
    walking from the final step upstream, always to the input whose arrow points
    upstream most strongly, ends at the constraint (for a serial line: the most
    downstream step both its arrows point to).

    Why not "the step least blocked and starved": a batch step waits to fill and to
    empty its batch (starved while loading, blocked while its batch drains into a
    smaller buffer), so a constraining batch step idles more than a continuous step
    with spare capacity, and that rule named the wrong step (measured on
    halide-catholyte at 2 GWh/yr: it named a cutter with 4 % spare capacity while
    the ageing shelves, blocked 4 % of the time draining 10-lot batches into a 4-lot
    buffer, held the line 0.6 % below its target)."""
    i = model.final
    while True:
        s = steps[model.steps[i].name].starved.mean
        ups = [(s - steps[model.steps[u].name].blocked.mean, u) for u, _ in model.steps[i].inputs]
        pull, u = max(ups, default=(0.0, i))
        if not pull > 0:  # no input blocked less than this step is starved (NaN: unknown)
            return model.steps[i].name
        i = u


def overall_yield(model: LineModel, yields: dict[str, float]) -> float:
    """Yield of the worst branch: the least, over paths from a first step to the final
    step, of the product of step yields (for a serial line, the product of all)."""
    cum: list[float] = []
    for sm in model.steps:
        up = [cum[u] for u, _ in sm.inputs]
        cum.append(yields[sm.name] * (min(up) if up else 1.0))
    return cum[-1]


def dry_room_stats(model: LineModel, raws: list[dict], per_rep: dict):
    """Excursion hours and sulfide exposure per year as sums of rare events (a gamma
    interval over all the excursions seen, `Estimate.rare`), the H2S estimate as a
    non-negative quantity; each names how many excursions it rests on."""
    from ..stats import DryRoomStats, Estimate

    rooms = (model.dry_room, *model.rooms)  # a zoned plant's rooms, pooled
    exposure, h2s = per_rep["sulfide_exposure_kg_h"], per_rep["h2s_estimate"]
    # exposed all the time, not by excursions
    continuous = any(m.present and m.dew_point > m.threshold for m in rooms)
    if not any(m.present and m.rate > 0 for m in rooms):  # no excursion can happen
        return DryRoomStats(Estimate.exact(0.0), Estimate.positive(exposure) if continuous
                            else Estimate.exact(0.0), Estimate.positive(h2s))
    # the rest: excursions can happen; `n` of them were seen in all replications
    n = int(sum(r["excursions"] for r in raws))
    window = model.hours - model.warmup
    scale = model.operating_hours_per_year / (window * len(raws))  # summed raw -> mean per year

    def rare(metric: str, key: str, one: float) -> Estimate:
        # key: the raw accumulator behind `metric`; one: what one excursion adds on
        # average (see `gamma_interval` for why it enters as the largest contribution)
        return Estimate.rare(
            sum(per_rep[metric]) / len(raws), n, sum(r[key] for r in raws),
            sum(r[f"{key}_sq"] for r in raws), max([one, *(r[f"{key}_max"] for r in raws)]),
            scale)

    # one excursion lasts the class's mean duration (an input) and exposes the mean
    # kg of moisture-sensitive material held in the dry room for that long
    held_kg = sum(r["sensitive_kg_h"] for r in raws) / (window * len(raws))
    # the room whose excursions are longest sets what one excursion adds (the plant's
    # when it has excursions; the bound of `gamma_interval` needs the largest)
    m = max((r for r in rooms if r.present and r.rate > 0), key=lambda r: r.duration)
    sensitive = any(sm.sensitive_kg > 0 for sm in model.steps)
    if continuous:
        exposed = Estimate.positive(exposure)
    elif m.peak > m.threshold and sensitive:
        exposed = rare("sulfide_exposure_kg_h", "exposure_kg_h", m.duration * held_kg)
    else:  # not even an excursion passes the threshold, or nothing sensitive is held
        exposed = Estimate.exact(0.0)
    releases = any(sm.h2s_cm3 > 0 or sm.h2s_process_cm3 > 0 for sm in model.steps)
    return DryRoomStats(rare("excursion_hours", "excursion_hours", m.duration), exposed,
                        Estimate.positive(h2s, events=n) if releases else Estimate.exact(0.0))


def aggregate(model: LineModel, raws: list[dict], seed: int, wall_s: float) -> SimResult:
    from ..stats import Estimate, LineStats, StepStats
    from .tables import make_tables

    reps = [replication_metrics(model, r) for r in raws]

    def est(values, fraction: bool = False) -> Estimate:
        vals = list(values)
        if any(isinstance(v, float) and math.isnan(v) for v in vals):
            return Estimate(math.nan, math.nan, math.nan)
        return Estimate.fraction(vals) if fraction else Estimate.of(vals)

    steps = {}
    for sm in model.steps:
        col = {k: tuple(r["steps"][sm.name][k] for r in reps) for k in STEP_REP_METRICS}
        e = {k: est(col[k], k in FRACTIONS) for k in STEP_METRICS}
        steps[sm.name] = StepStats(
            step=sm.name, option=sm.option_label, machines=len(sm.machines),
            utilization=e["utilization"], availability=e["availability"],
            blocked=e["blocked"], starved=e["starved"], yield_=e["yield"],
            throughput_per_h=e["throughput_per_h"], wip_mean=e["wip_mean"],
            availability_operating=e["availability_operating"], shortfall=e["shortfall"],
            water_dose=e["water_dose"], capacity_retained=e["capacity_retained"],
            level=sm.level, nominal_yield=sm.effective_yield, lot_size=sm.lot, per_rep=col)
    bottleneck = constraint(model, steps)
    per_rep = {k: tuple(r[k] for r in reps) for k in LINE_REP_METRICS}
    stats = LineStats(
        route=model.route, seed=seed, reps=len(raws), days=model.days,
        warmup_days=model.warmup_days, steps=steps,
        good_cells_per_year=est(per_rep["good_cells_per_year"]),
        good_gwh_per_year=est(per_rep["good_gwh_per_year"]),
        overall_yield=est(per_rep["overall_yield"], fraction=True),
        lead_time_h=est(per_rep["lead_time_h"]), bottleneck=bottleneck,
        dry_room=dry_room_stats(model, raws, per_rep),
        events=int(sum(per_rep["events"])), wall_s=wall_s,
        dew_point_class=model.dew_point_class or None, capacity_gwh=model.capacity_gwh,
        operating_hours_per_year=model.operating_hours_per_year,
        simulated_hours=model.hours, warmup_hours=model.warmup,
        operations=int(sum(per_rep["operations"])), warnings=model.warnings, per_rep=per_rep,
        zone_classes=dict(model.zone_classes),
    )
    return SimResult(stats=stats, tables=make_tables(model, stats, reps), model=model,
                     raw=list(raws))
