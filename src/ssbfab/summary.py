"""Route summaries for the CLI and notebooks: cell, materials, route list."""

from __future__ import annotations

from pathlib import Path

from . import bom
from .cell import design
from .data.loader import load_shared, resolve_route, route_files
from .data.schema import Route
from .flow import default_yields


def cell_report(name: str, lines: Path | None = None, route: Route | None = None,
                overrides=None) -> dict:
    """Cell design and bill of materials; `overrides` (path -> value, as `--set`)
    change inputs for this report."""
    route = route or resolve_route(name, lines, overrides=overrides)
    c = design(route)
    lines_ = bom.bill_of_materials(route, default_yields(route), c)
    # per kWh delivered at the default yields' levels and class (the cost's divisor)
    kwh = bom.delivered_energy_kwh(route, c)
    return {
        "route": route.name,
        "capacity_ah": c.capacity_ah,
        "nominal_v": c.nominal_v,
        "energy_wh": c.energy_wh,
        "mass_kg": c.mass_kg,
        "volume_l": c.volume_l,
        "wh_per_kg": c.wh_per_kg,
        "wh_per_l": c.wh_per_l,
        "cathode_area_m2": c.cathode_area_m2,
        "cathode_areal_capacity_mah_cm2": c.cathode_areal_capacity_mah_cm2,
        "sheets": c.sheets,
        "delivered_energy_wh": kwh * 1000.0,
        "materials_cost_per_kwh": sum(b.cost_per_cell for b in lines_) / kwh,
        "currency": "USD",
        "currency_year": route.economics.currency_year,
        "bom": [
            {"material": b.material, "quantity": b.quantity, "unit": b.unit,
             "design_quantity": b.design_quantity, "price": b.price,
             "cost_per_kwh": b.cost_per_kwh(c, kwh)}
            for b in lines_
        ],
    }


def materials_report(name: str, lines: Path | None = None, overrides=None) -> dict:
    route = resolve_route(name, lines, overrides=overrides)
    return {
        "route": route.name,
        "materials": [
            {"name": m.name, "step": m.step, "cost_per_kg": m.cost_per_kg, "currency": "USD",
             "raw": [{"name": r.name, "mass_fraction": r.mass_fraction,
                      "cost_share": r.cost_share, "price_per_kg": r.price} for r in m.raw]}
            for m in bom.made_materials(route)
        ],
        "checks": _share_checks(route),
        "supply": _supply_costs(route),
    }


def _supply_costs(route) -> list[dict]:
    """Cost per kg of each make-or-buy option (`ssbfab.supply`)."""
    from .supply import option_costs

    return [{"material": c.material, "option": c.option, "steps": list(c.steps),
             "kg_per_year": c.kg_per_year, "materials_per_kg": c.materials,
             "energy_per_kg": c.energy, "machines_per_kg": c.machines, "h2s_per_kg": c.h2s,
             "cost_per_kg": c.total, "machines": c.machine_counts, "currency": "USD"}
            for c in option_costs(route)]


def _share_checks(route) -> list[dict]:
    """The Li2S share of LPSCl's raw cost at 2.5 M CNY/t, where the route makes LPSCl:
    a check of the price deck against the figure [qu-seed] reports (82 %)."""
    made = {m.name for m in bom.made_materials(route)}
    if "LPSCl" not in made:
        return []
    share = bom.raw_cost_share_at(route, "LPSCl", "Li2S", bom.LI2S_CHECK_CNY_PER_T)
    return [{"made": "LPSCl", "raw": "Li2S", "at_cny_per_t": bom.LI2S_CHECK_CNY_PER_T,
             "share": share, "reported_share": 0.82, "reported_by": "qu-seed"}]


def route_summaries(lines: Path | None = None, overrides=None) -> list[dict]:
    shared = load_shared(lines, overrides)
    out = []
    for f in route_files(lines):
        route = resolve_route(str(f), lines, shared=shared, overrides=overrides)
        if route.cell is None:
            continue
        rep = cell_report(route.name, lines, route=route)
        out.append({
            "name": route.name, "form": route.form, "electrolyte": route.electrolyte,
            "path": str(f), "energy_kwh": rep["energy_wh"] / 1000.0,
            "wh_per_kg": rep["wh_per_kg"], "wh_per_l": rep["wh_per_l"],
            "materials_cost_per_kwh": rep["materials_cost_per_kwh"], "currency": "USD",
            "currency_year": rep["currency_year"],
        })
    return out
