"""`ssbfab sweep` and `ssbfab study summarize`: what-if studies from the command line.

Exit codes of `sweep` (docs/studies.md): 0 when every scenario of the study has a
result; 4 when some failed for a reason of their own (a bad override value, no plan
for the target, a loop that did not confirm it), every row written; 1 when a
scenario hit a bug (all other results are kept; the traceback is shown at the end);
2 for a bad scenario file, an unreadable store or a study above the work limit
without --yes (nothing runs); 130 when interrupted (rows written so far are kept;
rerun the same command to continue). 3 keeps its meaning for the other commands
(no feasible plan); a sweep records such a scenario as failed and exits 4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import JsonOpt, app, emit_json, handle_errors, table

SOME_FAILED = 4  # exit code: some scenarios failed for a reason of their own, all rows written
BUG = 1  # exit code: some scenario hit a bug

study_app = typer.Typer(help="Analyse what-if studies written by `ssbfab sweep`.",
                        no_args_is_help=True)
app.add_typer(study_app, name="study")


@app.command()
@handle_errors
def sweep(
    scenarios: Annotated[Path, typer.Argument(help="Scenario file (see studies/*.yaml)")],
    workers: Annotated[int | None, typer.Option(
        "--workers", "-w", help="Local worker processes (default: one per CPU; 0 = run in "
                                "this process without Dask)")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                            "(its workers need ssbfab installed)")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output folder holding results.duckdb (default: results/<study>/)")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check the file and print the scenario count; run nothing")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", help="Start a study of more scenarios than the work limit (2,000)")] = False,
):
    """Run every scenario of a study that the results store does not hold yet.

    Exit codes: 0 all scenarios have a result, 4 some failed (all rows written),
    1 a bug in some scenario, 2 bad input (nothing runs), 130 interrupted."""
    from rich.console import Console

    from ..errors import InputError
    from ..study.runner import MAX_SCENARIOS, default_out
    from ..study.runner import sweep as run
    from ..study.scenarios import load_study

    if workers is not None and workers < 0:
        raise InputError(f"--workers: expected 0 or more, found {workers}")
    if workers is not None and scheduler:
        raise InputError("give --workers or --scheduler, not both (a scheduler has its own workers)")
    console = Console(stderr=True)
    study = load_study(scenarios)
    out = out or default_out(study)
    n_routes = len(study.spec.routes)
    limit = None if yes else MAX_SCENARIOS
    if dry_run:
        console.print(f"study {study.name}: {study.n_points:,} design points x {n_routes} "
                      f"routes = {study.n_scenarios:,} scenarios ({study.spec.job}); "
                      f"results would go to {out / 'results.duckdb'}")
        if study.n_scenarios > MAX_SCENARIOS:
            console.print(f"more than the work limit of {MAX_SCENARIOS:,} scenarios: the sweep "
                          "starts only with --yes")
        for w in study.warnings:
            console.print(f"[yellow]warning[/]: {w}")
        return

    state: dict = {}

    def on_event(kind: str, **info) -> None:
        if kind == "start":
            console.print(f"study [bold]{study.name}[/]: {info['total']} scenarios "
                          f"({study.n_points:,} points x {n_routes} routes, job "
                          f"{study.spec.job}); {info['skipped']} already done (skipped); "
                          f"{info['todo']} to run"
                          + (f" on {info['workers']}" if info["todo"] else ""))
            for w in info["warnings"]:
                console.print(f"[yellow]warning[/]: {w}")
            if info["todo"]:
                state["bar"] = _progress(console)
                state["bar"].start()
                state["task"] = state["bar"].add_task("starting workers", total=info["todo"])
                state["n"] = {"ok": 0, "failed": 0, "error": 0}
        elif kind == "row":
            row = info["row"]
            n = state["n"]
            n[row["status"]] = n.get(row["status"], 0) + 1
            state["bar"].update(state["task"], advance=1, description=(
                f"ok {n['ok']}  failed {n['failed']}  [red]error {n['error']}[/]"
                if n["error"] else f"ok {n['ok']}  failed {n['failed']}"))
            if row["status"] == "error" and n["error"] == 1:
                # show the first bug at once, so that a long study can be stopped early
                state["bar"].console.print(f"[red]bug in scenario {row['scenario_id']} "
                                           f"({row['route']}, {row['label']}):[/]\n{row['error']}")

    try:
        report = run(study, out=out, workers=workers, scheduler=scheduler, on_event=on_event,
                     max_scenarios=limit)
    except KeyboardInterrupt:
        _stop(state)
        console.print(f"interrupted: finished scenarios are in {out / 'results.duckdb'}; "
                      "rerun the same command to run the rest")
        raise typer.Exit(130) from None
    finally:
        _stop(state)
    console.print(f"{report.ok} ok, {report.failed} failed, {len(report.errors)} errors in "
                  f"{report.seconds:.1f} s; results: {out / 'results.duckdb'} "
                  f"(`ssbfab study summarize {out}`)")
    if report.errors:
        for sid, route, label, tb in report.errors[:3]:
            console.print(f"\n[red]bug in scenario {sid} ({route}, {label}):[/]\n{tb}")
        if len(report.errors) > 3:
            console.print(f"... and {len(report.errors) - 3} more scenarios with errors "
                          "(column `error` of the store)")
        console.print("[red]some scenarios hit a bug (status 'error'); they are recorded and "
                      "a rerun will compute them again[/]")
        raise typer.Exit(BUG)
    failed = report.statuses.get("failed", 0)
    if failed:
        console.print(f"{failed} of {report.total} scenarios failed (status 'failed', reason in "
                      f"column `error`; a rerun skips them): exit code {SOME_FAILED}")
        raise typer.Exit(SOME_FAILED)


def _progress(console):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console)


def _stop(state: dict) -> None:
    bar = state.pop("bar", None)
    if bar is not None:
        bar.stop()


@study_app.command("summarize")
@handle_errors
def summarize_cmd(
    out: Annotated[Path, typer.Argument(help="Output folder of a sweep (holds results.duckdb)")],
    study: Annotated[str | None, typer.Option("--study", help="Only this study")] = None,
    figures: Annotated[bool, typer.Option(
        "--figures/--no-figures", help="Write PNG figures and CSV tables to DIR/summary/")] = True,
    json_: JsonOpt = False,
):
    """Cost per route (P10/P50/P90 for sampled designs, the range for grids and
    one-at-a-time designs), tornado, crossovers, sensitivity and cost against plant size."""
    import math

    from ..study.summarize import summarize

    summaries = summarize(out, study=study, figures=figures)
    if json_:
        emit_json([{"study": s.study, **{name: t.to_dict(orient="records")
                                         for name, t in s.tables().items()},
                    "figures": [str(p) for p in s.figures]} for s in summaries])
        return

    def fmt(v) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.4g}"
        return str(v)

    captions = {"range": "lowest and highest cost over the points studied, USD per good kWh "
                         "(a grid's points are chosen, not drawn: no percentiles)",
                "sensitivity": "partial rank correlation with cost per kWh, other inputs held; "
                               "p_value: chance of so large a value with no effect",
                "counts": None}
    for s in summaries:
        for name, t in s.tables().items():
            if t is None or t.empty:
                continue
            if name == "crossovers":  # a sentence each: the table is in --json and the CSV
                print(f"{s.study}: crossovers against {t['baseline'].iloc[0]}")
                for f in t["finding"].drop_duplicates():
                    print(f"  {f}")
                continue
            table(f"{s.study}: {name}", [str(c) for c in t.columns],
                  [[fmt(v) for v in row] for row in t.itertuples(index=False)],
                  caption=captions.get(name, "costs in USD per good kWh"))
        if s.figures:
            print(f"{s.study}: {len(s.figures)} files in {Path(out) / 'summary' / s.study}")
