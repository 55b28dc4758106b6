"""Random synthetic routes, for testing the optimiser against brute force and for the
benchmark's large line. Not data: every number is drawn from a seeded generator.

A synthetic route is a tree of steps that merges into one final cell step; each
step has its own unit (kg, m², sheet or cell) and a plain amount per cell, so the
graph's ratios differ from 1; setting levels trade rate against yield; some steps sit
in the dry room and lose yield in the wetter classes. The route defines its own
materials, so it does not depend on the shared materials file. Rates are drawn so
that each option needs about `machines` machines at `cells_per_hour` good cells per
hour (`capacity_for` gives the matching target in GWh/yr).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..data.loader import load_route
from ..data.schema import Route

CLASSES = {1: ["dp-40"], 2: ["dp-40", "dp-60"], 3: ["dp-40", "dp-50", "dp-60"]}
_AMOUNT = {"kg": (0.2, 0.6, "kg"), "m2": (1.0, 3.0, "m^2"), "sheet": (10, 40, "sheet"),
           "cell": (1, 1, "cell")}
_MATERIAL = {"kg": ("syn_powder", "kg/kg"), "m2": ("syn_foil", "m^2/m^2"),
             "sheet": ("syn_film", "m^2/sheet"), "cell": ("syn_pack", "kg/cell")}


def _cell() -> dict:
    return {
        "capacity": "60 A*h", "nominal_voltage": "3.7 V",
        "electrode_width": "0.3 m", "electrode_height": "0.1 m",
        "cathode": {"components": {"syn_cathode": "100 %"}, "active": "syn_cathode",
                    "thickness": "70 um", "porosity": "25 %", "collector": "syn_foil",
                    "collector_thickness": "12 um"},
        "anode": {"components": {"syn_anode": "100 %"}, "active": "syn_anode",
                  "porosity": "30 %", "collector": "syn_foil", "collector_thickness": "8 um"},
        "separator": {"components": {"syn_film": "100 %"}, "thickness": "15 um",
                      "porosity": "40 %"},
        "packaging": {"syn_pack": "30 g"},
    }


def _materials(rng, scrap_credit: bool) -> dict:
    credit = f"{rng.uniform(10, 40):.1f} %" if scrap_credit else "0 %"
    return {
        "syn_cathode": {"price": "25 USD/kg", "density": "4.6 g/cm^3",
                        "specific_capacity": "200 mA*h/g"},
        "syn_anode": {"price": "10 USD/kg", "density": "2.2 g/cm^3",
                      "specific_capacity": "350 mA*h/g"},
        "syn_film": {"price": "0.9 USD/m^2", "density": "0.95 g/cm^3"},
        "syn_foil": {"price": "0.6 USD/m^2", "density": "5 g/cm^3"},
        "syn_pack": {"price": "8 USD/kg", "density": "1.6 g/cm^3"},
        "syn_powder": {"price": f"{rng.uniform(5, 60):.2f} USD/kg", "density": "3 g/cm^3",
                       "scrap_credit": credit},
    }


def route_document(n_steps: int, n_options: int, n_levels: int | tuple[int, int], n_classes: int,
                   seed: int, *, cells_per_hour: float = 500.0, machines: tuple[int, int] = (1, 3),
                   floor_area: float = 1e9, dry_room_area: float = 1e9,
                   count_limits: bool = False, scrap_credit: bool = False,
                   name: str | None = None) -> dict:
    """The YAML document of a random route (see the module docstring).

    `n_levels` is a number or a (low, high) range drawn per step; `count_limits` draws
    min_count/max_count on some options; areas are the plant's limits in m²."""
    rng = np.random.default_rng(seed)
    classes = CLASSES[n_classes]
    steps = []
    # a tree: each step but the last feeds one later step; the last step makes cells
    consumer = {i: int(rng.integers(i + 1, n_steps)) for i in range(n_steps - 1)}
    for i in range(n_steps):
        final = i == n_steps - 1
        unit = "cell" if final else str(rng.choice(["kg", "m2", "sheet", "cell"]))
        lo, hi, u = _AMOUNT[unit]
        per = float(rng.uniform(lo, hi)) if unit != "sheet" else int(rng.integers(int(lo), int(hi)))
        per_text = "cell" if unit == "cell" else f"{per:.4g} {u}"
        amount = 1.0 if unit == "cell" else float(f"{per:.4g}")
        nl = n_levels if isinstance(n_levels, int) else int(rng.integers(n_levels[0], n_levels[1] + 1))
        dry = bool(rng.random() < 0.5)
        step: dict[str, Any] = {"name": f"s{i:02d}", "unit": unit, "per_cell": per_text,
                "inputs": [f"s{j:02d}" for j, c in consumer.items() if c == i],
                "environment": "dry_room" if dry else "ambient", "buffer": 4}
        mat, basis = _MATERIAL[unit]
        step["materials"] = [{"material": mat, "amount": f"{rng.uniform(0.01, 1.0):.4g} {basis}"}]
        if nl == 1:
            step["yield"] = f"{rng.uniform(92, 99.5):.2f} %"
        else:
            levels = []
            for k in range(nl):
                rf = float(rng.uniform(0.6, 1.6))
                y = min(99.9, 99.5 - 6.0 * (rf - 0.6) + rng.normal(0, 0.8))
                levels.append({"name": f"L{k}", "rate_factor": round(rf, 4),
                               "yield": f"{max(80.0, y):.3f} %",
                               "energy_factor": round(float(rng.uniform(0.7, 1.4)), 4)})
            step["levels"] = levels
        if dry and len(classes) > 1 and rng.random() < 0.7:
            factors = sorted(rng.uniform(0.85, 0.995, len(classes) - 1).tolist()) + [1.0]
            step["moisture"] = {"yield_factor": {c: f"{100 * f:.2f} %"
                                                 for c, f in zip(classes, factors, strict=True)},
                                "excursion": {"effect": "loss", "extra_loss": "5 %"}}
        options = []
        for k in range(n_options):
            m = float(rng.uniform(machines[0], machines[1]))
            rate = amount * cells_per_hour / m * float(rng.uniform(0.9, 1.1))
            opt: dict[str, Any] = {"name": f"o{k}", "capex": f"{rng.uniform(0.5, 10):.4g} MUSD",
                   "power": f"{rng.uniform(10, 300):.4g} kW",
                   "footprint": f"{rng.uniform(50, 500):.4g} m^2",
                   "operators_per_shift": round(float(rng.uniform(0.2, 2.0)), 3)}
            if rng.random() < 0.3:
                cycle = float(rng.uniform(1, 8))
                opt["batch"] = f"{rate * cycle:.6g} {u}"
                opt["cycle_time"] = f"{cycle:.4g} h"
            else:
                opt["rate"] = f"{rate:.6g} {u}/h"
            if rng.random() < 0.7:
                opt["mtbf"] = f"{rng.uniform(100, 1000):.4g} h"
                opt["mttr"] = f"{rng.uniform(1, 10):.4g} h"
            if count_limits and rng.random() < 0.3:
                opt["max_count"] = int(rng.integers(1, 3))
            if count_limits and rng.random() < 0.15:
                opt["min_count"] = 1
                opt["max_count"] = max(opt.get("max_count", 1), 2)
            options.append(opt)
        step["options"] = options
        batches = [float(o["batch"].split()[0]) for o in options if "batch" in o]
        lot = min([max(1.0, amount * cells_per_hour)] + batches)  # a lot fits in any batch
        step["lot_size"] = f"{lot:.6g} {u}"
        steps.append(step)
    return {
        "source": f"illustrative (synthetic instance, seed {seed})",
        "name": name or f"synthetic-{seed}",
        "form": "all-solid", "electrolyte": "synthetic",
        "dry_room_classes": classes,
        "materials": _materials(rng, scrap_credit),
        "cell": _cell(),
        "plant": {"floor_area": f"{floor_area:.6g} m^2", "dry_room_area": f"{dry_room_area:.6g} m^2",
                  "default_capacity": "1 GWh/yr"},
        "line": steps,
    }


def write_route(folder: str | Path, doc: dict) -> Path:
    path = Path(folder) / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def synthetic_route(folder: str | Path, *args, shared=None, **kw) -> Route:
    """Write a random route (arguments of `route_document`) to `folder` and load it."""
    return load_route(write_route(folder, route_document(*args, **kw)), shared=shared)


def capacity_for(route: Route, cells_per_hour: float) -> float:
    """GWh/yr of good cells that `cells_per_hour` good cells per operating hour make."""
    from ..cell import design

    return cells_per_hour * route.economics.operating_hours_per_year * design(route).energy_kwh / 1e6
