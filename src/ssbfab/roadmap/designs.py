"""Line designs: what one line of a route costs and makes, as the plant optimiser designs it.

The planner never sizes machines itself: a line of route r at size S GWh/yr is the plan
`ssbfab.opt.optimize` finds (or, with `confirm=True`, the plan the simulate–optimise
loop confirms, costed with the simulated statistics). From it the planner takes

- capex (USD): equipment per step, building (with the dry room's extra), dry-room plant;
- fixed operating cost (USD/yr, paid while the line stands): labour, overheads of the
  convention (fixed O&M and labour overhead under `annuity`), dry-room energy;
- variable cost (USD per good GWh): materials at the data's prices, and process energy;
- the materials cost split by material, so that a price path re-prices it linearly
  (the plant design is held fixed when prices move — a design optimised at the first
  period's prices; re-optimising per price changes machine choices only at the margin).

Designs are cached in memory and on disk (keyed by the SHA-256 of the route's data
files, the size, the costing, the confirmation settings and the price overrides), so
periods and runs that need the same line pay for it once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..data.schema import Route

CACHE_ENV = "SSBFAB_CACHE"
_MEMORY: dict[str, LineDesign] = {}


@dataclass(frozen=True)
class LineDesign:
    route: str
    size_gwh: float  # good GWh/yr the line is designed for
    costing: str  # convention of cost_per_kwh
    cost_per_kwh: float  # USD/kWh at full output under `costing`
    equipment_by_step: dict[str, float]  # USD of machines per step
    building_usd: float  # floor × building cost + the dry room's extra building cost
    dry_room_usd: float  # dehumidification plant
    fixed_usd_per_year: float  # labour + overheads + dry-room energy + argon (annuity convention)
    process_energy_usd_per_gwh: float  # process energy, H2S abatement and rework per GWh
    materials_usd_per_gwh: float  # at the data's prices
    materials_share: dict[str, float]  # share of the materials cost per material
    base_prices: dict[str, float]  # USD per basis unit (kg, m², m³) of each material
    machines: dict[str, dict[str, int]]  # step -> option -> count
    wh_per_kg: float
    wh_per_l: float
    liquid: bool  # the cell holds liquid electrolyte (liquid or semi-solid route)
    confirmed: str  # how the output was confirmed ("simulation: ..." or "optimiser only")
    floor_area_m2: float = 0.0
    meta: dict = field(default_factory=dict)
    # good output the simulation confirmed, as a share of size_gwh (≤ 1): a line the
    # loop could not bring to its target makes only this much (1 without confirmation)
    output_share: float = 1.0

    @property
    def capex_usd(self) -> float:
        return sum(self.equipment_by_step.values()) + self.building_usd + self.dry_room_usd

    def materials_usd_per_gwh_at(self, prices: dict[str, float]) -> float:
        """Materials per good GWh with some materials re-priced (USD per basis unit)."""
        factor = 0.0
        for m, share in self.materials_share.items():
            base = self.base_prices.get(m, 0.0)
            factor += share * (prices[m] / base if m in prices and base > 0 else 1.0)
        return self.materials_usd_per_gwh * factor


def _cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "ssbfab" / "designs"


DESIGN_FORMAT = 3


def _key(route: Route, size_gwh: float, costing: str, confirm: dict | None) -> str:
    h = hashlib.sha256()
    for f in [route.file, *sorted(route.shared.files.values())]:
        h.update(Path(f).read_bytes() if f and Path(f).exists() else f.encode())
    # the code's format: raise it when what a design holds or how it is computed changes
    # (3: the chosen supply's materials), so entries written by older code are not reused
    h.update(json.dumps([route.name, round(size_gwh, 9), costing, confirm or {}, DESIGN_FORMAT],
                        sort_keys=True).encode())
    return h.hexdigest()[:32]


def line_design(route: Route, size_gwh: float, *, costing: str = "annuity",
                confirm: dict | None = None, cache: bool = True) -> LineDesign:
    """The line of `route` for `size_gwh` good GWh/yr (see the module docstring).

    `confirm`: None (optimiser only) or keyword arguments of `ssbfab.run_loop` (days,
    reps, seed ...) to confirm the output by simulation. Raises NoPlanError when the
    optimiser finds no plan (the message names the limiting step)."""
    key = _key(route, size_gwh, costing, confirm)
    if cache and key in _MEMORY:
        return _MEMORY[key]
    path = _cache_dir() / f"{key}.json"
    if cache and path.exists():
        try:
            design = LineDesign(**json.loads(path.read_text()))
            _MEMORY[key] = design
            return design
        except (ValueError, TypeError):
            pass  # an unreadable cache entry is recomputed, never trusted
    design = _compute(route, size_gwh, costing, confirm)
    _MEMORY[key] = design
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # a temporary name of this process's own: test workers and study workers may
            # write the same design at once, and the rename is what makes it atomic
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(asdict(design)))
            tmp.replace(path)
        except OSError:
            pass  # a read-only home only loses the disk cache
    return design


def _compute(route: Route, size_gwh: float, costing: str, confirm: dict | None) -> LineDesign:
    from ..bom import bill_of_materials
    from ..cell import design as cell_design
    from ..cost import evaluate, material_prices
    from ..errors import NoPlanError

    stats = None
    share = 1.0
    if confirm is not None:
        from ..loop import run_loop

        res = run_loop(route, size_gwh, costing=costing, **confirm)
        if res.plan is None or res.final is None:
            raise NoPlanError(f"{route.name} at {size_gwh:g} GWh/yr: {res.reason}")
        config, stats = res.plan.config, res.stats
        share = min(1.0, res.final.ratio)
        how = (f"simulation: {res.final.ratio:.3f} of target over the loop's replications"
               + ("" if res.converged else f" (not converged: {res.reason})"))
        if share < 1.0:
            how += f"; the roadmap counts {share:.3f} × {size_gwh:g} GWh/yr per line"
    else:
        from ..opt import optimize

        plan = optimize(route, size_gwh, costing=costing)
        if plan.config is None:
            raise NoPlanError(f"{route.name} at {size_gwh:g} GWh/yr: {plan.status.reason}")
        config = plan.config
        how = "optimiser only (nominal availability and yields)"
    ann = evaluate(config, stats, costing="annuity")
    shown = ann if costing == "annuity" else evaluate(config, stats, costing=costing)
    prim = ann.primary
    equipment = {s: p["equipment_capex"] for s, p in ann.primary_by_step.items()}
    kwh = ann.good_kwh_per_year
    gwh = kwh / 1e6
    # argon flows per installed machine (fixed); H2S abatement and rework go with the
    # units started, like process energy (variable per GWh)
    fixed = (prim["labour"] + prim["dry_room_energy"] + prim["inert_gas"]
             + ann.per_year["overheads"])
    variable = prim["process_energy"] + prim["h2s_abatement"] + prim["rework"]
    cell = cell_design(route)
    # the materials of the supply the plan chose (make or buy), not the route's first
    bom = bill_of_materials(config.route, config.yields(), cell)
    total_m = sum(b.cost_per_cell for b in bom)
    prices = material_prices(config.route)
    return LineDesign(
        route=route.name, size_gwh=size_gwh, costing=costing,
        cost_per_kwh=shown.cost_per_kwh, equipment_by_step=equipment,
        building_usd=prim["building_capex"], dry_room_usd=prim["dry_room_capex"],
        fixed_usd_per_year=fixed, process_energy_usd_per_gwh=variable / gwh,
        materials_usd_per_gwh=prim["materials"] / gwh,
        materials_share={b.material: b.cost_per_cell / total_m for b in bom} if total_m else {},
        base_prices={m: p for m, (p, _) in prices.items()},
        machines={s: dict(c.machines) for s, c in config.steps.items()},
        wh_per_kg=cell.wh_per_kg, wh_per_l=cell.wh_per_l,
        liquid=route.form in ("liquid", "semi-solid"), confirmed=how,
        floor_area_m2=ann.floor_area_m2, output_share=share,
        meta={"annuity_cost_per_kwh": ann.cost_per_kwh, "dew_point_class": config.dew_point_class},
    )
