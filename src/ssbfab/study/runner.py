"""Run a study: every scenario not yet in the store, on local processes or a Dask cluster.

The driver (the process that runs `ssbfab sweep`) expands the scenario file into
scenarios, asks the store which are already done, and hands the rest to workers as
plain data: the texts of the data files, the overrides, options and seed, with the
job function the study names (registered in the driver, see `jobs.register`). A worker writes the texts to a folder of its own, loads and validates the
route under the overrides, runs the job and returns a row; models are rebuilt on the
worker and never pickled. The driver writes each row as soon as it arrives (DuckDB
has one writer), so a killed sweep loses only the scenarios in flight, and a rerun
computes only what is missing.

What separates a bad scenario from a bug: `InputError` (bad data or override),
`NoPlanError` (no plan meets the target) and a job result with status 'failed' give
a row with status 'failed' and the reason; the study goes on and a rerun skips it.
Any other exception is a bug: its row has status 'error' and the traceback, the
study goes on (so that the other results are kept), the command exits non-zero at
the end showing the traceback, and a rerun computes that scenario again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..data.yamlio import line_of
from ..errors import InputError, Problem
from .jobs import Job, get_job
from .scenarios import Scenario, Study, load_study, route_key
from .store import Store

# A sweep of more scenarios than this starts only when asked (`ssbfab sweep --yes`,
# `sweep(..., max_scenarios=None)`): a grid of millions is more often a slip than a plan.
MAX_SCENARIOS = 2_000


@dataclass
class SweepReport:
    """What one sweep did. `errors` holds (scenario_id, route, label, traceback) of bugs;
    `statuses`: the study's current scenarios in the store by status after the sweep
    (rows skipped because done before included)."""

    study: str
    out: Path
    total: int
    skipped: int
    ok: int = 0
    failed: int = 0
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)
    seconds: float = 0.0
    workers: str = ""
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def ran(self) -> int:
        return self.ok + self.failed + len(self.errors)


Event = Callable[..., None]


def default_out(study: Study) -> Path:
    """results/<study name> (the loader checked that the name is a plain name)."""
    from ..io import inside

    return inside("results", study.name)


def data_texts(study: Study) -> dict[str, dict[str, str]]:
    """Per data hash: the texts of the files a scenario of that route reads."""
    shared = {k: v for k, v in study.texts.items() if not k.startswith("routes/")}
    return {study.data_hash(r): {**shared, route_key(r): study.texts[route_key(r)]}
            for r in study.spec.routes}


def tasks(study: Study, scenarios: list[Scenario]) -> list[dict]:
    """The plain-data inputs of each scenario (the data texts travel separately,
    once per route: see `data_texts`)."""
    out = []
    for s in scenarios:
        ov = study.overrides(s.overrides)
        rk = route_key(s.route)
        out.append({
            "study": s.study, "scenario_id": s.scenario_id, "point": s.point, "label": s.label,
            "route": s.route, "form": study.route_forms[s.route], "job": s.job,
            "overrides": s.overrides, "numbers": s.numbers, "options": s.options, "seed": s.seed,
            "file": study.file, "lines": dict(ov.lines),
            "route_key": rk,
            "data_hash": study.data_hash(s.route),
            "origin_route": str(study.route_paths[s.route]),
            "origin_lines": str(study.lines_dir),
        })
    return out


def sweep(study: Study | str | Path, out: str | Path | None = None, workers: int | None = None,
          scheduler: str | None = None, on_event: Event | None = None,
          max_scenarios: int | None = MAX_SCENARIOS) -> SweepReport:
    """Run every scenario of `study` that `OUT/results.duckdb` does not hold yet.

    workers: local worker processes (default: one per CPU); 0 runs in this process
    without Dask (for debugging). scheduler: address of an existing Dask scheduler
    ("tcp://host:8786"); its workers need ssbfab installed, not the data files.
    on_event(kind, **info) is called with 'start' (total, skipped, todo, warnings,
    workers), 'row' (row) and 'end' (report). A study of more than `max_scenarios`
    scenarios is refused before anything is written (InputError); None lifts the limit.
    """
    if not isinstance(study, Study):
        study = load_study(study)
    check_work(study, max_scenarios)
    out = Path(out) if out is not None else default_out(study)
    emit = on_event or (lambda kind, **info: None)
    started = datetime.now(UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    scenarios = study.scenarios()
    with Store(out) as store:
        params = {p: {"unit": q.unit, "numeric": q.numeric} for p, q in study.parameters.items()}
        info = study.to_dict()
        done, previous, stale = store.begin(info, scenarios, params)
        todo = [s for s in scenarios if s.scenario_id not in done]
        notes = list(study.warnings) + _changes(previous, info, stale)
        where = _where(workers, scheduler, len(todo))
        report = SweepReport(study.name, out, len(scenarios), len(scenarios) - len(todo),
                             workers=where)
        emit("start", total=len(scenarios), skipped=report.skipped, todo=len(todo),
             warnings=notes, workers=where)

        def take(row: dict) -> None:
            store.write(row)
            if row["status"] == "ok":
                report.ok += 1
            elif row["status"] == "failed":
                report.failed += 1
            else:
                report.errors.append((row["scenario_id"], row["route"], row["label"],
                                      row["error"] or ""))
            emit("row", row=row)

        try:
            if todo:
                _execute(tasks(study, todo), data_texts(study), get_job(study.spec.job),
                         workers, scheduler, take)
        finally:
            report.seconds = time.perf_counter() - t0
            store.log_run(study.name, started, report.total, report.skipped, report.ok,
                          report.failed, len(report.errors), where)
        report.statuses = store.statuses(study.name)
    emit("end", report=report)
    return report


def check_work(study: Study, max_scenarios: int | None = MAX_SCENARIOS) -> None:
    """Refuse (exit 2) a study of more than `max_scenarios` scenarios, saying how many."""
    n = study.n_scenarios
    if max_scenarios is None or n <= max_scenarios:
        return
    kind = study.spec.design_kind
    routes = len(study.spec.routes)
    raise InputError(Problem(
        study.file, line_of(study.marks, (kind,)), kind,
        f"{n:,} scenarios ({study.n_points:,} design points x {routes} route"
        f"{'s' if routes != 1 else ''}) is more than the work limit of {max_scenarios:,} "
        "scenarios per sweep; check the design, or start it anyway with `ssbfab sweep --yes` "
        "(Python: sweep(..., max_scenarios=None))"))


def _changes(previous: dict | None, info: dict, stale: int) -> list[str]:
    """Why scenarios done before are not reused: which inputs changed since the last sweep."""
    if previous is None or not stale:
        return []
    what = []
    old, new = previous.get("data_hashes", {}), info["data_hashes"]
    changed = [r for r in new if r in old and old[r] != new[r]]
    if changed:
        what.append("the data of " + ", ".join(changed) + " (route or shared files)")
    if previous.get("spec") != info["spec"]:
        what.append("the scenario file")
    if not what:
        return []  # said at the sweep where the inputs changed
    return [f"{' and '.join(what)} changed since the last sweep: {stale} rows in the store now "
            "belong to an earlier version of this study; they are kept "
            "(`load(DIR, stale=True)`) but not reused or summarised"]


def _where(workers: int | None, scheduler: str | None, n: int) -> str:
    if scheduler:
        return f"Dask scheduler {scheduler}"
    if workers == 0:
        return "this process (no Dask)"
    return f"{_n_workers(workers, n)} local worker processes"


def _n_workers(workers: int | None, n: int) -> int:
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            workers = os.cpu_count() or 1
    return max(1, min(workers, max(n, 1)))


def _execute(batch: list[dict], texts: dict[str, dict[str, str]], job: Job,
             workers: int | None, scheduler: str | None, take: Callable[[dict], None]) -> None:
    if workers == 0 and not scheduler:
        for t in batch:
            take(run_task(t, texts[t["data_hash"]], job))
        return
    import logging

    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = _connect(scheduler)
    else:
        import dask

        # one thread per process: the solver and the simulator are CPU-bound Python.
        # Dask's sampling profiler (every 10 ms) and 100 ms monitors take the GIL from
        # the job for nothing a study reads; they measurably slow a task, so they go.
        quiet = {"distributed.worker.profile.enabled": False,
                 "distributed.admin.system-monitor.interval": "2s",
                 "distributed.admin.system-monitor.gil.enabled": False,
                 "distributed.worker.memory.monitor-interval": "1s"}
        with dask.config.set(quiet), _workers_ignore_sigint():
            cluster = LocalCluster(n_workers=_n_workers(workers, len(batch)),
                                   threads_per_worker=1, processes=True, dashboard_address=":0",
                                   silence_logs=logging.ERROR)
        client = Client(cluster)
    token = os.urandom(4).hex()
    try:
        # the data texts go to every worker once, not with each of thousands of tasks
        # (in a list: scattering a dict would scatter each of its values)
        shipped = {h: client.scatter([x], broadcast=True, hash=False)[0]
                   for h, x in texts.items()}
        futures = {client.submit(run_task, t, shipped[t["data_hash"]], job,
                                 key=f"ssbfab-{t['scenario_id']}-{token}", pure=False): t
                   for t in batch}
        for fut in as_completed(futures):
            t = futures.pop(fut)
            try:
                row = fut.result()
            except Exception as exc:  # the worker died or the cluster lost the task
                row = _row(t)
                row.update(status="error", error=f"the task was lost on the cluster: "
                                                 f"{type(exc).__name__}: {exc}")
            take(row)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _workers_ignore_sigint():
    """Start worker processes with SIGINT ignored (an ignored signal stays ignored in a
    spawned child): Ctrl-C in a terminal reaches the whole process group, and only the
    driver should act on it, closing the cluster in order instead of workers dying."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _connect(scheduler: str):
    """A client of an existing cluster that has at least one worker (exit 2 if not)."""
    from distributed import Client

    try:
        client = Client(scheduler, timeout="30s")
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there: "
                         f"{exc}") from None
    try:
        client.wait_for_workers(1, timeout=60)
    except TimeoutError:
        client.close()
        raise InputError(f"--scheduler {scheduler}: no worker joined the scheduler within "
                         "60 s (start some with `dask worker ADDRESS --nthreads 1`)") from None
    return client


# ----------------------------------------------------------------------------- worker side


def _row(task: dict) -> dict:
    keys = ("study", "scenario_id", "point", "label", "route", "form", "job", "seed", "data_hash")
    row: dict[str, Any] = {k: task[k] for k in keys}
    row["inputs"] = dict(task["overrides"])
    row["numbers"] = dict(task["numbers"])
    return row


def run_task(task: dict, texts: dict[str, str], job: Job) -> dict:
    """Run one scenario from its plain-data inputs (`texts`: relative file name ->
    text of each data file it reads) with the job function the study names, and
    return its row. Never raises for a scenario's own failure; a bug comes back as
    status 'error' with its traceback."""
    from ..data.loader import load_route, load_shared
    from ..data.overrides import Overrides
    from ..errors import NoPlanError
    from .jobs import JobResult
    from .options import JobOptions

    t0 = time.perf_counter()
    row = _row(task)
    data_dir = None
    try:
        data_dir = _materialise(texts, task["data_hash"])
        ov = Overrides(task["overrides"], file=task["file"], study=task["study"],
                       lines=task["lines"])
        shared = load_shared(data_dir, ov)
        route = load_route(data_dir / task["route_key"], shared=shared, lines_dir=data_dir,
                           overrides=ov)
        options = JobOptions.model_validate(task["options"])
        result = job(route, options, task["seed"])
        if not isinstance(result, JobResult):
            raise TypeError(f"job {task['job']!r} returned {type(result).__name__}, "
                            "expected a JobResult")
        row.update(_result_columns(result))
    except (InputError, NoPlanError) as exc:
        msg = _relabel(str(exc), task, data_dir)
        if task["overrides"]:
            msg += "\n(this scenario sets " + ", ".join(
                f"{p} = {v!r}" for p, v in task["overrides"].items()) + ")"
        row.update(status="failed", error=msg)
    except Exception:
        row.update(status="error", error=_relabel(traceback.format_exc(), task, data_dir))
    row["seconds"] = time.perf_counter() - t0
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return row


def _result_columns(r) -> dict:
    lo, hi = r.good_gwh_ci95 if r.good_gwh_ci95 else (None, None)
    if r.status not in ("ok", "failed"):
        raise ValueError(f"a JobResult status is 'ok' or 'failed', found {r.status!r}")
    return {"status": r.status, "error": r.reason, "cost_per_kwh": r.cost_per_kwh,
            "breakdown": dict(r.breakdown), "capex": r.capex, "good_gwh": r.good_gwh,
            "good_gwh_ci95_low": lo, "good_gwh_ci95_high": hi, "line_yield": r.line_yield,
            "bottleneck": r.bottleneck, "h2s_estimate": r.h2s_estimate,
            "sulfide_exposure_kg_h": r.sulfide_exposure_kg_h,
            "yields": dict(r.yields), "dew_point_class": r.dew_point_class,
            "capacity_gwh": r.capacity_gwh, "solver_status": r.solver_status,
            "plan": r.plan, "sim": r.sim, "extra": dict(r.extra)}


def _materialise(texts: dict[str, str], data_hash: str) -> Path:
    """The data files of a scenario as a folder on this machine, written once per
    content hash (a worker may not share the driver's file system)."""
    root = Path(tempfile.gettempdir()) / f"ssbfab-study-{os.getuid() if hasattr(os, 'getuid') else 0}"
    final = root / data_hash[:24]
    if final.exists():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    for name, text in texts.items():
        p = tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    try:
        tmp.rename(final)  # atomic: another process may have won the race, which is fine
    except OSError:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _relabel(text: str, task: dict, data_dir: Path | None) -> str:
    """Name the user's files in messages, not the worker's copies."""
    if data_dir is None:
        return text
    text = text.replace(str(data_dir / task["route_key"]), task["origin_route"])
    return text.replace(str(data_dir), task["origin_lines"])
