"""pandas tables of a simulation: per step, a summary, and per replication.

Tidy and self-describing: every estimate is three columns (`x`, `x_ci95_low`,
`x_ci95_high`; the summary adds how each interval was made and a note when it rests
on few events, see `ssbfab.stats`); units are in `DataFrame.attrs["units"]`. The same frames are
written as CSV by `ssbfab simulate --out`.
"""

from __future__ import annotations

import math

import pandas as pd

STEP_UNITS = {
    "utilization": "fraction of machine-time", "availability": "fraction of machine-time",
    "blocked": "fraction of machine-time", "starved": "fraction of machine-time",
    "yield": "good/started", "throughput_per_h": "step unit per operating hour",
    "wip_mean": "step unit",
    "availability_operating": "fraction of busy + down machine-time",
    "shortfall": "fraction of the good output the target needs from the step",
}


def make_tables(model, stats, reps: list[dict]) -> dict[str, pd.DataFrame]:
    rows = []
    for sm in model.steps:
        s = stats.steps[sm.name]
        row = {"step": sm.name, "unit": sm.unit, "option": sm.option_label,
               "machines": len(sm.machines), "level": sm.level, "lot_size": sm.lot,
               "yield_nominal": sm.yield_}
        for key, e in (("utilization", s.utilization), ("availability", s.availability),
                       ("blocked", s.blocked), ("starved", s.starved), ("yield", s.yield_),
                       ("throughput_per_h", s.throughput_per_h), ("wip_mean", s.wip_mean),
                       ("availability_operating", s.availability_operating),
                       ("shortfall", s.shortfall)):
            row[key] = e.mean
            row[f"{key}_ci95_low"] = e.ci95_low
            row[f"{key}_ci95_high"] = e.ci95_high
        rows.append(row)
    steps = pd.DataFrame(rows)
    steps.attrs["units"] = dict(STEP_UNITS, lot_size="step unit")

    summary_rows = [
        ("good_cells_per_year", stats.good_cells_per_year, "cell/yr"),
        ("good_gwh_per_year", stats.good_gwh_per_year, "GWh/yr"),
        ("overall_yield", stats.overall_yield, "fraction"),
        ("lead_time_h", stats.lead_time_h, "h (operating time)"),
        ("excursion_hours", stats.dry_room.excursion_hours, "h/yr"),
        ("sulfide_exposure_kg_h", stats.dry_room.sulfide_exposure_kg_h, "kg*h/yr"),
        ("h2s_estimate", stats.dry_room.h2s_estimate, "L/yr"),
    ]
    summary = pd.DataFrame(
        [{"metric": m, "mean": e.mean, "ci95_low": e.ci95_low, "ci95_high": e.ci95_high,
          "unit": u, "method": e.method, "note": e.note} for m, e, u in summary_rows]
        + [{"metric": "bottleneck", "mean": math.nan, "ci95_low": math.nan,
            "ci95_high": math.nan, "unit": stats.bottleneck, "method": "", "note": ""}])
    summary.attrs["route"] = stats.route

    rep_rows = []
    for i, r in enumerate(reps):
        rep_rows.append({"rep": i, **{k: r[k] for k in (
            "good_cells_per_year", "good_gwh_per_year", "overall_yield", "lead_time_h",
            "excursion_hours", "sulfide_exposure_kg_h", "h2s_estimate", "events",
            "operations")}})
    replications = pd.DataFrame(rep_rows)

    long_rows = []
    for i, r in enumerate(reps):
        for name, st in r["steps"].items():
            long_rows.append({"rep": i, "step": name, **st})
    step_reps = pd.DataFrame(long_rows)
    return {"steps": steps, "summary": summary, "replications": replications,
            "step_replications": step_reps}


def write_outputs(result, out_dir) -> list:
    import json
    from pathlib import Path

    from ..io import json_clean

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from ..errors import InputError, Problem

        raise InputError(Problem(str(out), None, "--out",
                                 f"cannot create the folder: {exc}")) from None
    files = {"stats.json": json.dumps(json_clean(result.stats.to_dict()), indent=2,
                                      allow_nan=False) + "\n"}
    for name, df in result.tables.items():
        files[f"{name}.csv"] = df.to_csv(index=False)
    from ..io import write_atomic

    return [write_atomic(out / name, text) for name, text in files.items()]
