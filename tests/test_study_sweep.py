"""Sweeps: the same rows whatever runs them, failures recorded, bugs not hidden,
and a SIGKILLed study resumes without recomputing or losing anything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import study_jobs
from ssbfab import bom
from ssbfab.data import resolve_route
from ssbfab.study import load, sweep
from ssbfab.study.scenarios import load_study
from ssbfab.summary import default_yields

TESTS = Path(__file__).parent
study_jobs.register_jobs()
EXAMPLE = TESTS / "data" / "study-polymer.yaml"
VOLATILE = ["seconds", "worker", "created_at"]


def _env() -> dict:
    env = dict(os.environ)
    # workers import the tests' job module; `python -m` children need the tests folder
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="module")
def study_file(tmp_path_factory, lines_dir) -> Path:
    d = tmp_path_factory.mktemp("study")
    p = d / "grid.yaml"
    # 2 routes x 2 prices x 2 coating yields; '150 %' is a bad value: 4 failed scenarios
    p.write_text(textwrap.dedent(f"""\
        study: grid
        job: materials
        lines: {lines_dir}
        routes: [sulfide-lpscl, {EXAMPLE}]
        grid:
          materials.Li2S.price: ["0.5e6 CNY/t", "3e6 CNY/t"]
          line.cathode_coating.levels.fast.yield: ["88 %", "150 %"]
        """))
    return p


def _rows(out: Path):
    df = load(out).drop(columns=VOLATILE)
    return df.sort_values("scenario_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def serial(study_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    report = sweep(study_file, out=out, workers=0)
    return out, report


def test_serial_rows_count_failures_and_costs(serial, study_file, lines_dir):
    out, report = serial
    assert (report.total, report.ok, report.failed, report.errors) == (8, 4, 4, [])
    df = load(out)
    assert len(df) == 8 and df["scenario_id"].is_unique
    bad = df[df["status"] == "failed"]
    assert len(bad) == 4
    assert all("yield" in e and "150 %" in e for e in bad["error"])
    assert bad["cost_per_kwh"].isna().all()
    # a row's cost is what loading the route with the same overrides gives directly
    row = df[(df["status"] == "ok") & (df["route"] == "sulfide-lpscl")].iloc[0]
    route = resolve_route("sulfide-lpscl", lines_dir, overrides=row["inputs"])
    assert row["cost_per_kwh"] == pytest.approx(
        bom.materials_cost_per_kwh(route, default_yields(route)), rel=1e-12)
    assert row["materials.Li2S.price"] == pytest.approx(
        float(row["inputs"]["materials.Li2S.price"].split()[0]))
    assert row["cost.materials"] == row["cost_per_kwh"]


def test_one_and_two_local_workers_give_the_same_rows(serial, study_file, tmp_path):
    expected = _rows(serial[0])
    for n in (1, 2):
        out = tmp_path / f"w{n}"
        report = sweep(study_file, out=out, workers=n)
        assert report.ok + report.failed == 8
        got = _rows(out)
        assert got.equals(expected), got.compare(expected)


@pytest.fixture(scope="module", autouse=True)
def _cluster_processes(tmp_path_factory):
    """A Dask scheduler and a worker process, started as separate processes when the
    module starts (they boot while the first tests run). The scheduler picks its own
    free port (port 0) and writes its address to a scheduler file, which the worker
    and the tests read: no port is chosen here, so none can be taken in between."""
    sched_file = tmp_path_factory.mktemp("dask") / "scheduler.json"
    py = sys.executable
    procs = [subprocess.Popen([py, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--scheduler-file", str(sched_file),
                               "--no-dashboard"], env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        procs.append(subprocess.Popen([py, "-m", "distributed.cli.dask_worker",
                                       "--scheduler-file", str(sched_file),
                                       "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                                      env=_env(), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        yield sched_file
    finally:
        # SIGKILL by pid: a graceful close takes seconds; the nanny's worker processes
        # exit by themselves when their parent dies (distributed watches the parent)
        for p in reversed(procs):
            p.kill()
            p.wait()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture(scope="module")
def scheduler(_cluster_processes):
    """The address the scheduler chose, once it and both workers are up."""
    import json

    from distributed import Client

    deadline = time.monotonic() + 60
    addr = None
    while addr is None:
        try:  # the file may not exist yet, or be half written
            addr = json.loads(_cluster_processes.read_text())["address"]
        except (OSError, ValueError, KeyError):
            assert time.monotonic() < deadline, "the Dask scheduler wrote no address in 60 s"
            time.sleep(0.05)
    with Client(addr, timeout="60s") as c:
        c.wait_for_workers(2, timeout=60)
    return addr


def test_external_scheduler_gives_the_same_rows(serial, study_file, scheduler, tmp_path):
    out = tmp_path / "sched"
    report = sweep(study_file, out=out, scheduler=scheduler)
    assert report.workers == f"Dask scheduler {scheduler}"
    got = _rows(out)
    assert got.equals(_rows(serial[0]))
    # the workers were other processes than this one
    assert not any(w.endswith(f":{os.getpid()}") for w in load(out)["worker"])


def test_rerun_skips_done_and_failed_scenarios(serial, study_file):
    out, _ = serial
    before = load(out).set_index("scenario_id")["created_at"]
    report = sweep(study_file, out=out, workers=0)
    assert (report.total, report.skipped, report.ran) == (8, 8, 0)
    after = load(out).set_index("scenario_id")["created_at"]
    assert after.equals(before)


def test_bug_is_recorded_then_exit_1_with_traceback_and_recomputed(tmp_path, lines_dir):
    from typer.testing import CliRunner

    from ssbfab.cli import app

    p = tmp_path / "bug.yaml"
    p.write_text(textwrap.dedent(f"""\
        study: bug
        job: buggy
        lines: {lines_dir}
        routes: [sulfide-lpscl]
        grid: {{materials.Li2S.price: ["1e6 CNY/t", "2e6 CNY/t", "3e6 CNY/t"]}}
        """))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["sweep", str(p), "--workers", "0", "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert "KeyError" in res.output and "Traceback" in res.output
    df = load(out).set_index("label")
    assert list(df["status"].sort_index()) == ["ok", "error", "ok"]
    assert "no such key" in df.loc["materials.Li2S.price=2e6 CNY/t", "error"]
    first = df["created_at"]
    res = CliRunner().invoke(app, ["sweep", str(p), "--workers", "0", "--out", str(out)])
    assert res.exit_code == 1 and "2 already done (skipped); 1 to run" in " ".join(res.output.split())
    df2 = load(out).set_index("label")
    assert len(df2) == 3
    changed = df2["created_at"] != first
    assert list(changed.sort_index()) == [False, True, False]


def test_sigkill_then_rerun_recomputes_nothing_finished(tmp_path, lines_dir):
    n = 10
    log = tmp_path / "computed.log"
    prices = [f"{0.2 + 0.2 * i:.1f}e6 CNY/t" for i in range(n)]
    p = tmp_path / "kill.yaml"
    p.write_text(textwrap.dedent(f"""\
        study: kill
        job: logged_materials
        lines: {lines_dir}
        routes: [sulfide-lpscl]
        options: {{params: {{log: "{log}", delay: 0.3}}}}
        grid: {{materials.Li2S.price: {prices}}}
        """))
    out = tmp_path / "out"
    # `python -m study_jobs` is the ssbfab command line with the tests' jobs registered
    cmd = [sys.executable, "-m", "study_jobs", "sweep", str(p), "--workers", "1", "--out",
           str(out)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= 4:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        else:
            pytest.fail("the sweep computed nothing in 120 s")
    finally:
        # SIGKILL the sweep's driver only, as `kill -9 PID` would; its Dask worker
        # processes exit by themselves when their parent is gone
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    kept = load(out).set_index("scenario_id")
    assert 0 < len(kept) < n
    assert (kept["status"] == "ok").all()
    # the same command; in this process (--workers 0) only to spare a cluster start-up
    rerun = subprocess.run(cmd[:-4] + ["--workers", "0"] + cmd[-2:], env=_env(),
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(kept)} already done (skipped)" in " ".join(rerun.stderr.split())
    final = load(out).set_index("scenario_id")
    assert len(final) == n and final.index.is_unique
    assert set(final.index) == {s.scenario_id for s in load_study(p).scenarios()}
    computed = log.read_text().splitlines()
    for sid, row in kept.iterrows():
        price = row["inputs"]["materials.Li2S.price"]
        assert computed.count(price) == 1, price  # not computed again
        assert final.loc[sid, "created_at"] == row["created_at"]
    assert set(computed) == set(prices)


def test_optimize_job_rows_and_infeasible_target(tmp_path, lines_dir):
    from ssbfab.opt import optimize

    p = tmp_path / "opt.yaml"
    p.write_text(textwrap.dedent(f"""\
        study: opt
        job: optimize
        lines: {lines_dir}
        routes: [sulfide-lpscl]
        grid: {{plant.default_capacity: ["10 GWh/yr", "500 GWh/yr"]}}
        """))
    out = tmp_path / "out"
    report = sweep(p, out=out, workers=0)
    assert (report.ok, report.failed, report.errors) == (1, 1, [])
    df = load(out).set_index("capacity_gwh")
    assert df.loc[500.0, "status"] == "failed"
    assert df.loc[500.0, "error"].startswith("no plan (infeasible)")
    plan = optimize(resolve_route("sulfide-lpscl", lines_dir), 10.0, threads=1)
    ok = df.loc[10.0]
    assert ok["cost_per_kwh"] == pytest.approx(plan.cost.cost_per_kwh, rel=1e-9)
    assert ok["capex"] == pytest.approx(plan.cost.capex_total, rel=1e-9)
    parts = {k: v for k, v in ok.items() if isinstance(k, str) and k.startswith("cost.")}
    assert sum(parts.values()) == pytest.approx(ok["cost_per_kwh"], rel=1e-9)


def test_changed_data_is_said_and_recomputed(tmp_path, lines_dir):
    import shutil

    copy = tmp_path / "lines"
    shutil.copytree(lines_dir, copy)
    p = tmp_path / "c.yaml"
    p.write_text(textwrap.dedent(f"""\
        study: changed
        job: materials
        lines: {copy}
        routes: [sulfide-lpscl]
        grid: {{materials.Li2S.price: ["1e6 CNY/t", "2e6 CNY/t"]}}
        """))
    out = tmp_path / "out"
    sweep(p, out=out, workers=0)
    mat = copy / "materials.yaml"
    mat.write_text(mat.read_text() + "# edited\n")  # any change to the text is a new input
    notes = []
    report = sweep(p, out=out, workers=0,
                   on_event=lambda kind, **i: notes.extend(i.get("warnings", [])))
    assert (report.skipped, report.ok) == (0, 2)
    assert len(notes) == 1 and "data of sulfide-lpscl" in notes[0] and "2 rows" in notes[0]
    assert len(load(out)) == 2 and len(load(out, stale=True)) == 4

