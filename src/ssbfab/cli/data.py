"""Commands on the data: `routes`, `cell`, `materials`, `validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import JsonOpt, LinesOpt, SetOpt, app, emit_json, handle_errors, overrides_from, table


@app.command()
@handle_errors
def routes(json_: JsonOpt = False, set_: SetOpt = None, lines: LinesOpt = None):
    """List the shipped routes with kWh per cell, Wh/kg, Wh/L and materials cost per kWh."""
    from ..summary import route_summaries

    rows = route_summaries(lines, overrides_from(set_))
    if json_:
        emit_json(rows)
        return
    table("ssbfab routes", ["route", "form", "kWh/cell", "Wh/kg", "Wh/L", "materials $/kWh",
                            "electrolyte"],
          [[r["name"], r["form"], f"{r['energy_kwh']:.3f}", f"{r['wh_per_kg']:.0f}",
            f"{r['wh_per_l']:.0f}", f"{r['materials_cost_per_kwh']:.1f}", r["electrolyte"]]
           for r in rows],
          names=2,
          caption="materials cost at nominal yields, default levels, driest allowed dry room; "
                  + (f"{rows[0]['currency']} of {rows[0]['currency_year']}" if rows else ""))


_CELL_ROWS = [  # key in cell_report, label with unit, decimals
    ("capacity_ah", "capacity, Ah", 1), ("nominal_v", "nominal voltage, V", 2),
    ("energy_wh", "energy, Wh", 1),
    ("delivered_energy_wh", "delivered (first levels, driest class), Wh", 1),
    ("mass_kg", "mass, kg", 4), ("volume_l", "volume, L", 4),
    ("wh_per_kg", "specific energy, Wh/kg", 1), ("wh_per_l", "energy density, Wh/L", 1),
    ("cathode_area_m2", "cathode area, m²", 3),
    ("cathode_areal_capacity_mah_cm2", "cathode areal capacity, mAh/cm²", 2),
    ("materials_cost_per_kwh", "materials cost, USD/kWh", 2),
]


@app.command()
@handle_errors
def cell(route: Annotated[str, typer.Argument(help="Route name or path to a route file")],
         json_: JsonOpt = False, set_: SetOpt = None, lines: LinesOpt = None):
    """Cell design of a route: capacity, energy, mass, volume and the bill of materials."""
    from ..summary import cell_report

    doc = cell_report(route, lines, overrides=overrides_from(set_))
    if json_:
        emit_json(doc)
        return
    table(f"cell: {doc['route']}", ["quantity", "value", "key in --json"],
          [[label, f"{doc[k]:,.{d}f}", k] for k, label, d in _CELL_ROWS])
    table("bill of materials (bought per good cell)", ["material", "quantity", "unit",
                                                        "in cell", "$/kWh"],
          [[b["material"], f"{b['quantity']:.4g}", b["unit"], f"{b['design_quantity']:.4g}",
            f"{b['cost_per_kwh']:.2f}"] for b in doc["bom"]])


@app.command()
@handle_errors
def materials(route: Annotated[str, typer.Argument(help="Route name or path to a route file")],
              json_: JsonOpt = False, set_: SetOpt = None, lines: LinesOpt = None):
    """Materials the line makes itself, with the mass and cost share of their raws."""
    from ..summary import materials_report

    doc = materials_report(route, lines, overrides=overrides_from(set_))
    if json_:
        emit_json(doc)
        return
    if not doc["materials"] and not doc.get("supply"):
        print(f"{doc['route']}: the line makes no material itself")
    for m in doc["materials"]:
        table(f"{m['name']} (made at {m['step']}): {m['cost_per_kg']:.2f} {m['currency']}/kg "
              "of raw materials", ["raw", "mass %", "cost %"],
              [[r["name"], f"{100 * r['mass_fraction']:.1f}", f"{100 * r['cost_share']:.1f}"]
               for r in m["raw"]])
    if doc.get("supply"):
        table("make or buy: USD per kg delivered by each supply option (default plant size)",
              ["material", "option", "t/yr", "materials", "energy", "machines", "H2S", "total"],
              [[c["material"], c["option"], f"{c['kg_per_year'] / 1000:,.0f}",
                f"{c['materials_per_kg']:.2f}", f"{c['energy_per_kg']:.2f}",
                f"{c['machines_per_kg']:.2f}", f"{c['h2s_per_kg']:.2f}", f"{c['cost_per_kg']:.2f}"]
               for c in doc["supply"]])
    for c in doc.get("checks", []):
        print(f"check: {c['raw']} is {100 * c['share']:.1f} % of {c['made']}'s raw-material "
              f"cost at {c['at_cny_per_t'] / 1e6:g} M CNY/t\n"
              f"       ([{c['reported_by']}] reports {100 * c['reported_share']:.0f} %; the "
              "P2S5 price is illustrative)")


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
