"""Commands on the data: `routes`, `cell`, `materials`, `validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import JsonOpt, LinesOpt, app, emit_json, handle_errors, table


@app.command()
@handle_errors
def routes(json_: JsonOpt = False, lines: LinesOpt = None):
    """List the shipped routes with kWh per cell, Wh/kg, Wh/L and materials cost per kWh."""
    from ..summary import route_summaries

    rows = route_summaries(lines)
    if json_:
        emit_json(rows)
        return
    table("ssbfab routes", ["route", "form", "electrolyte", "kWh/cell", "Wh/kg", "Wh/L",
                            "materials $/kWh"],
          [[r["name"], r["form"], r["electrolyte"], f"{r['energy_kwh']:.3f}",
            f"{r['wh_per_kg']:.0f}", f"{r['wh_per_l']:.0f}",
            f"{r['materials_cost_per_kwh']:.1f}"] for r in rows],
          caption="materials cost at nominal yields, default levels, driest allowed dry room; "
                  f"{rows[0]['currency'] if rows else 'USD'} of the economics' currency year")


@app.command()
@handle_errors
def cell(route: Annotated[str, typer.Argument(help="Route name or path to a route file")],
         json_: JsonOpt = False, lines: LinesOpt = None):
    """Cell design of a route: capacity, energy, mass, volume and the bill of materials."""
    from ..summary import cell_report

    doc = cell_report(route, lines)
    if json_:
        emit_json(doc)
        return
    keys = ["capacity_ah", "nominal_v", "energy_wh", "mass_kg", "volume_l", "wh_per_kg",
            "wh_per_l", "cathode_area_m2", "cathode_areal_capacity_mah_cm2",
            "materials_cost_per_kwh"]
    table(f"cell: {doc['route']}", ["quantity", "value"],
          [[k, f"{doc[k]:.4g}"] for k in keys])
    table("bill of materials (bought per good cell)", ["material", "quantity", "unit",
                                                        "in cell", "$/kWh"],
          [[b["material"], f"{b['quantity']:.4g}", b["unit"], f"{b['design_quantity']:.4g}",
            f"{b['cost_per_kwh']:.2f}"] for b in doc["bom"]])


@app.command()
@handle_errors
def materials(route: Annotated[str, typer.Argument(help="Route name or path to a route file")],
              json_: JsonOpt = False, lines: LinesOpt = None):
    """Materials the line makes itself, with the mass and cost share of their raws."""
    from ..summary import materials_report

    doc = materials_report(route, lines)
    if json_:
        emit_json(doc)
        return
    if not doc["materials"]:
        print(f"{doc['route']}: the line makes no material itself")
    for m in doc["materials"]:
        table(f"{m['name']} (made at {m['step']}): {m['cost_per_kg']:.2f} {m['currency']}/kg "
              "of raw materials", ["raw", "mass %", "cost %"],
              [[r["name"], f"{100 * r['mass_fraction']:.1f}", f"{100 * r['cost_share']:.1f}"]
               for r in m["raw"]])


@app.command()
@handle_errors
def validate(files: Annotated[list[Path], typer.Argument(help="Data files to check")],
             lines: LinesOpt = None):
    """Check data files (routes, materials, dry rooms, economics); print what was checked."""
    from ..data.loader import load_any
    from ..errors import InputError, Problem

    problems: list[Problem] = []
    for f in files:
        try:
            kind = load_any(f, lines)
            print(f"ok  {f}  ({kind})")
        except InputError as exc:
            problems.extend(exc.problems)
            print(f"BAD {f}")
    if problems:
        raise InputError(problems)
